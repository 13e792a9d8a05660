#include "store/domain_edit.h"

#include "core/json.h"
#include "core/mx_pattern.h"
#include "core/txt_record.h"
#include "fmt/format.h"

namespace mtasts::store {

Result<Edited> apply_edit(const DomainEdit& edit, const std::optional<Domain>& current) {
  Edited out;
  out.policy.mode = Mode::testing;
  out.policy.max_age = 86400;
  if (current) {
    out.policy = current->policy;
    out.rua = current->rua;
  }
  if (edit.mode) {
    auto mode = parse_mode(*edit.mode);
    if (!mode)
      return Error{"mode-invalid", 0, 0, fmt::format("mode \"{}\" is not testing, enforce or none", *edit.mode),
                   "use testing, enforce or none"};
    out.policy.mode = *mode;
  }
  if (edit.max_age) {
    if (*edit.max_age > kMaxMaxAge)
      return Error{"max-age-range", 0, 0,
                   fmt::format("max_age {} is over the RFC 8461 limit of {}", *edit.max_age, kMaxMaxAge),
                   "use at most 31557600 (one year); 604800 (a week) is common"};
    out.policy.max_age = *edit.max_age;
  }
  if (edit.mx && !edit.mx->empty()) {
    auto mx = normalize_mx_list(*edit.mx);
    if (!mx) return mx.error();
    out.policy.mx = std::move(mx).value();
  } else if (edit.mx) {
    out.policy.mx.clear();
  }
  if (out.policy.mx.empty() && out.policy.mode != Mode::none)
    return Error{"mx-missing", 0, 0,
                 fmt::format("mode {} needs the MX hosts", to_string(out.policy.mode)),
                 current ? "give the MX hosts, or set mode none"
                         : "give every MX host, e.g. mx1.example.com and mx2.example.com"};
  if (edit.rua) {
    for (const auto& uri : *edit.rua)
      if (auto e = check_rua_uri(uri)) return *e;
    out.rua = *edit.rua;
  }
  return out;
}

std::optional<Error> check_remove(const Domain& d, bool force) {
  // Senders keep an enforce/testing policy cached for max_age: pulling it abruptly strands them.
  if (d.policy.mode == Mode::none || force) return std::nullopt;
  return Error{"unsafe-remove", 0, 0,
               fmt::format("{} is in mode {}; senders keep that policy cached for up to {} s "
                           "after it disappears",
                           d.name, to_string(d.policy.mode), d.policy.max_age),
               fmt::format("first set {} to mode none, wait max_age, then remove (or force it)", d.name)};
}

std::string sts_record_value(const Domain& d) { return serialize_sts_record(StsRecord{d.policy_id, {}}); }

std::optional<std::string> tlsrpt_record_value(const Domain& d) {
  if (d.rua.empty()) return std::nullopt;
  return serialize_tlsrpt_record(TlsRptRecord{d.rua, {}});
}

boost::json::object domain_json(const Domain& d) {
  boost::json::array rua;
  for (const auto& r : d.rua) rua.emplace_back(r);
  boost::json::array records;
  records.push_back({{"name", "_mta-sts." + d.name}, {"type", "TXT"}, {"value", sts_record_value(d)}});
  if (auto t = tlsrpt_record_value(d))
    records.push_back({{"name", "_smtp._tls." + d.name}, {"type", "TXT"}, {"value", *t}});
  return {{"domain", d.name},         {"policy", to_json(d.policy)},
          {"policy_text", serialize_policy(d.policy)},
          {"id", d.policy_id},        {"version", d.version},
          {"rua", std::move(rua)},    {"records", std::move(records)},
          {"created", d.created},     {"updated", d.updated}};
}

}  // namespace mtasts::store
