// The Store logic, once for every backend: domains, policy versions, audit log.
#include <charconv>
#include <ctime>

#include "core/domain.h"
#include "core/policy_id.h"
#include "fmt/format.h"
#include "fmt/ranges.h"
#include "generate/generate.h"
#include "store/sql.h"
#include "store/store.h"

namespace mtasts::store {

namespace {

constexpr std::string_view kDomainColumns =
    "name, mode, max_age, mx, rua, policy_id, version, created, updated";

Result<Domain> domain_from_row(const Row& r) {
  Domain d;
  d.name = r[0].value_or("");
  auto mode = parse_mode(r[1].value_or(""));
  if (!mode) return store_error("store-corrupt", fmt::format("domain {}: bad mode in the store", d.name));
  d.policy.mode = *mode;
  d.policy.max_age = static_cast<std::uint32_t>(to_int(r[2]));
  for (const auto& text : split_lines(r[3])) {
    auto p = parse_mx_pattern(text);
    if (!p) return store_error("store-corrupt", fmt::format("domain {}: bad mx in the store", d.name));
    d.policy.mx.push_back(std::move(p).value());
  }
  d.rua = split_lines(r[4]);
  d.policy_id = r[5].value_or("");
  d.version = to_int(r[6]);
  d.created = to_int(r[7]);
  d.updated = to_int(r[8]);
  return d;
}

class SqlStore final : public Store {
 public:
  explicit SqlStore(std::unique_ptr<Connection> c) : db_(std::move(c)) {}

  std::string backend() const override { return db_->backend(); }
  std::int64_t schema_version() override;
  Result<std::optional<Domain>> get_domain(const std::string& name) override;
  Result<std::vector<Domain>> list_domains(const std::string& after, std::size_t limit) override;
  Result<PutResult> put_domain(const std::string& name, const Policy& policy,
                               const std::vector<std::string>& rua, const std::string& actor,
                               std::int64_t now) override;
  Result<Domain> remove_domain(const std::string& name, const std::string& actor,
                               std::int64_t now) override;
  Result<std::int64_t> last_change() override;
  Result<std::vector<Change>> changes(std::int64_t after, const std::vector<std::int64_t>& also) override;
  Result<std::vector<PolicyVersion>> policy_history(const std::string& name) override;
  Result<std::vector<AuditEntry>> audit_log(const std::string& domain, std::size_t limit) override;

 private:
  Result<bool> audit(std::int64_t now, const std::string& actor, std::string_view action,
                     const std::string& domain, const std::string& detail) {
    auto r = db_->query("INSERT INTO audit_log (at, actor, action, domain, detail) VALUES ($1, $2, $3, $4, $5)",
                        {now, actor, std::string(action), domain, detail});
    if (!r) return r.error();
    return true;
  }
  std::unique_ptr<Connection> db_;
};

std::int64_t SqlStore::schema_version() {
  auto r = db_->query("SELECT MAX(version) FROM schema_migrations", {});
  return r && !r->empty() ? to_int((*r)[0][0]) : 0;
}

Result<std::int64_t> SqlStore::last_change() {
  auto r = db_->query("SELECT COALESCE(MAX(id), 0) FROM audit_log", {});
  if (!r) return r.error();
  return r->empty() ? 0 : to_int((*r)[0][0]);
}

Result<std::vector<Change>> SqlStore::changes(std::int64_t after, const std::vector<std::int64_t>& also) {
  if (also.size() > kMaxChangeIdsAgain)
    return store_error("store-error", fmt::format("changes: more than {} ids asked again", kMaxChangeIdsAgain));
  std::string sql = "SELECT id, domain FROM audit_log WHERE id > $1";
  std::vector<Param> params{after};
  if (!also.empty()) {
    sql += " OR id IN (";
    for (std::size_t i = 0; i < also.size(); ++i) {
      sql += fmt::format("{}${}", i ? ", " : "", i + 2);
      params.emplace_back(also[i]);
    }
    sql += ")";
  }
  sql += " ORDER BY id";
  auto r = db_->query(sql, params);
  if (!r) return r.error();
  std::vector<Change> out;
  out.reserve(r->size());
  for (const auto& row : *r) out.push_back({to_int(row[0]), row[1].value_or("")});
  return out;
}

Result<std::optional<Domain>> SqlStore::get_domain(const std::string& name) {
  auto rows = db_->query(fmt::format("SELECT {} FROM domains WHERE name = $1", kDomainColumns), {name});
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<Domain>();
  auto d = domain_from_row(rows->front());
  if (!d) return d.error();
  return std::optional<Domain>(std::move(d).value());
}

Result<std::vector<Domain>> SqlStore::list_domains(const std::string& after, std::size_t limit) {
  std::string sql = fmt::format("SELECT {} FROM domains WHERE name > $1 ORDER BY name", kDomainColumns);
  if (limit) sql += fmt::format(" LIMIT {}", limit);
  auto rows = db_->query(sql, {after});
  if (!rows) return rows.error();
  std::vector<Domain> out;
  out.reserve(rows->size());
  for (const auto& r : *rows) {
    auto d = domain_from_row(r);
    if (!d) return d.error();
    out.push_back(std::move(d).value());
  }
  return out;
}

Result<PutResult> SqlStore::put_domain(const std::string& name, const Policy& policy,
                                       const std::vector<std::string>& rua,
                                       const std::string& actor, std::int64_t now) {
  auto normalized = normalize_domain(name);
  if (!normalized) return normalized.error();
  const std::string& d = *normalized;
  return transaction<PutResult>(*db_, [&]() -> Result<PutResult> {
    auto rows = db_->query(fmt::format("SELECT {} FROM domains WHERE name = $1{}", kDomainColumns,
                                       db_->lock_clause()),
                           {d});
    if (!rows) return rows.error();
    PutResult out;
    std::optional<Domain> before;
    if (!rows->empty()) {
      auto b = domain_from_row(rows->front());
      if (!b) return b.error();
      before = std::move(b).value();
    }
    out.created = !before;
    const std::string id = policy_id(policy);
    out.policy_changed = !before || before->policy_id != id || !(before->policy == policy);
    std::vector<std::string> mx;
    for (const auto& p : policy.mx) mx.push_back(p.canonical());
    Domain& nd = out.domain;
    nd.name = d;
    nd.policy = policy;
    nd.rua = rua;
    nd.policy_id = id;
    nd.created = before ? before->created : now;
    nd.updated = now;
    nd.version = before ? before->version : 0;
    if (out.policy_changed) {
      // Continue numbering after any earlier life of the domain (removed, added again).
      auto last = db_->query("SELECT MAX(version) FROM policy_versions WHERE domain = $1", {d});
      if (!last) return last.error();
      nd.version = std::max(nd.version, last->empty() ? 0 : to_int((*last)[0][0])) + 1;
      auto v = db_->query(
          "INSERT INTO policy_versions (domain, version, policy_id, policy_text, created, actor) "
          "VALUES ($1, $2, $3, $4, $5, $6)",
          {d, nd.version, id, serialize_policy(policy), now, actor});
      if (!v) return v.error();
    }
    if (before) {
      out.previous_id = before->policy_id;
      auto u = db_->query(
          "UPDATE domains SET mode = $2, max_age = $3, mx = $4, rua = $5, policy_id = $6, "
          "version = $7, updated = $8 WHERE name = $1",
          {d, std::string(to_string(policy.mode)), static_cast<std::int64_t>(policy.max_age),
           join_lines(mx), join_lines(rua), id, nd.version, now});
      if (!u) return u.error();
    } else {
      auto i = db_->query(fmt::format("INSERT INTO domains ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                                      kDomainColumns),
                          {d, std::string(to_string(policy.mode)),
                           static_cast<std::int64_t>(policy.max_age), join_lines(mx),
                           join_lines(rua), id, nd.version, now, now});
      if (!i) return i.error();
    }
    std::string detail;
    if (!before) {
      detail = fmt::format("mode {}, max_age {}, mx {}, id {}", to_string(policy.mode),
                           policy.max_age, fmt::join(mx, " "), id);
    } else {
      PolicyDiff diff = diff_policies(before->policy, policy);
      if (diff.mode) detail += fmt::format("mode {} -> {}; ", to_string(diff.mode->first), to_string(diff.mode->second));
      if (diff.max_age) detail += fmt::format("max_age {} -> {}; ", diff.max_age->first, diff.max_age->second);
      for (const auto& m : diff.added_mx) detail += "+mx " + m + "; ";
      for (const auto& m : diff.removed_mx) detail += "-mx " + m + "; ";
      if (before->rua != rua) detail += fmt::format("rua {}; ", fmt::join(rua, ","));
      detail += out.policy_changed ? fmt::format("id {} -> {}", before->policy_id, id) : "policy unchanged";
    }
    if (auto a = audit(now, actor, out.created ? "domain.add" : "domain.set", d, detail); !a)
      return a.error();
    return out;
  });
}

Result<Domain> SqlStore::remove_domain(const std::string& name, const std::string& actor,
                                       std::int64_t now) {
  auto normalized = normalize_domain(name);
  if (!normalized) return normalized.error();
  const std::string& d = *normalized;
  return transaction<Domain>(*db_, [&]() -> Result<Domain> {
    auto rows = db_->query(fmt::format("SELECT {} FROM domains WHERE name = $1{}", kDomainColumns,
                                       db_->lock_clause()),
                           {d});
    if (!rows) return rows.error();
    if (rows->empty()) return store_error("not-found", fmt::format("no domain {}", d));
    auto before = domain_from_row(rows->front());
    if (!before) return before.error();
    if (auto r = db_->query("DELETE FROM domains WHERE name = $1", {d}); !r) return r.error();
    if (auto a = audit(now, actor, "domain.remove", d,
                       fmt::format("was mode {}, id {}", to_string(before->policy.mode), before->policy_id));
        !a)
      return a.error();
    return before;
  });
}

Result<std::vector<PolicyVersion>> SqlStore::policy_history(const std::string& name) {
  auto normalized = normalize_domain(name);
  if (!normalized) return normalized.error();
  auto rows = db_->query(
      "SELECT domain, version, policy_id, policy_text, created, actor FROM policy_versions "
      "WHERE domain = $1 ORDER BY version",
      {*normalized});
  if (!rows) return rows.error();
  std::vector<PolicyVersion> out;
  for (const auto& r : *rows)
    out.push_back({r[0].value_or(""), to_int(r[1]), r[2].value_or(""), r[3].value_or(""),
                   to_int(r[4]), r[5].value_or("")});
  return out;
}

Result<std::vector<AuditEntry>> SqlStore::audit_log(const std::string& domain, std::size_t limit) {
  std::string sql = "SELECT id, at, actor, action, domain, detail FROM audit_log";
  std::vector<Param> params;
  if (!domain.empty()) {
    sql += " WHERE domain = $1";
    params.emplace_back(ascii_lower(domain));
  }
  sql += fmt::format(" ORDER BY id DESC LIMIT {}", limit ? limit : 100);
  auto rows = db_->query(sql, params);
  if (!rows) return rows.error();
  std::vector<AuditEntry> out;
  for (const auto& r : *rows)
    out.push_back({to_int(r[0]), to_int(r[1]), r[2].value_or(""), r[3].value_or(""),
                   r[4].value_or(""), r[5].value_or("")});
  return out;
}

}  // namespace

Result<std::unique_ptr<Store>> open_store(const std::string& location) {
  auto c = open_connection(location);
  if (!c) return c.error();
  return std::unique_ptr<Store>(std::make_unique<SqlStore>(std::move(c).value()));
}

}  // namespace mtasts::store
