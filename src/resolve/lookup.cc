#include "resolve/lookup.h"

#include "core/domain.h"
#include "core/text.h"
#include "core/txt_record.h"
#include "fmt/format.h"

namespace mtasts::resolve {

TxtObservation observe_txt(const net::TxtAnswer& answer) {
  using Kind = TxtObservation::Kind;
  switch (answer.status) {
    case net::DnsStatus::ok: {
      std::vector<std::string> records;
      records.reserve(answer.records.size());
      for (const auto& strings : answer.records) records.push_back(join_txt_strings(strings));
      return classify_sts_records(records);
    }
    case net::DnsStatus::nxdomain:
      return {Kind::no_record, {}, "the _mta-sts name does not exist (NXDOMAIN)"};
    case net::DnsStatus::nodata:
      return {Kind::no_record, {}, "no TXT record at _mta-sts"};
    case net::DnsStatus::servfail:
    case net::DnsStatus::timeout:
    case net::DnsStatus::error:
      break;
  }
  return {Kind::dns_failure, {},
          fmt::format("DNS {}{}{}", net::to_string(answer.status), answer.detail.empty() ? "" : ": ",
                      answer.detail)};
}

FetchObservation judge_fetch(const net::PolicyFetch& f) {
  FetchObservation out;
  auto fail = [&](std::string_view type, std::string detail) {
    out.result_type = std::string(type);
    out.detail = std::move(detail);
    return out;
  };
  const std::string url = fmt::format("https://{}/.well-known/mta-sts.txt", f.host);
  using O = net::PolicyFetch::Outcome;
  switch (f.outcome) {
    case O::response:
      break;
    case O::cert_invalid:
      return fail("sts-webpki-invalid",
                  fmt::format("{}: certificate not acceptable ({})", f.host,
                              f.tls.errors.empty() ? "name or chain" : f.tls.errors.front()));
    default:
      return fail("sts-policy-fetch-error",
                  fmt::format("{}: {}{}{}", url, net::to_string(f.outcome), f.detail.empty() ? "" : ": ", f.detail));
  }
  if (f.status != 200)
    return fail("sts-policy-fetch-error", fmt::format("{} answered HTTP {}", url, f.status));
  std::string media = ascii_lower(trim_wsp(std::string_view(f.content_type).substr(0, f.content_type.find(';'))));
  if (media != "text/plain")
    return fail("sts-policy-fetch-error",
                fmt::format("{} is served as \"{}\", not text/plain", url, f.content_type));
  auto policy = parse_policy(f.body);
  if (!policy) return fail("sts-policy-invalid", fmt::format("{}: {}", url, policy.error().message));
  out.ok = true;
  out.policy = std::move(policy).value();
  out.text = f.body;
  return out;
}

net::awaitable<Lookup> lookup(net::Resolver& resolver, const net::FetchOptions& fetch_options,
                              std::string domain, std::optional<CachedPolicy> cached,
                              std::int64_t now, double jitter, const CacheTuning& tuning,
                              bool force) {
  Lookup out;
  if (!force && !needs_txt_check(cached, now, tuning)) {
    out.decision = from_cache(*cached, now);
    co_return out;
  }
  out.txt_checked = true;
  out.txt = observe_txt(co_await resolver.txt("_mta-sts." + domain));
  out.decision = after_txt(cached, out.txt, now, jitter, tuning);
  if (out.decision.answer != Answer::fetch) co_return out;
  out.fetch = judge_fetch(co_await net::fetch_policy(resolver, fetch_options, domain));
  out.decision = after_fetch(cached, domain, out.txt.id, *out.fetch, now, jitter, tuning);
  co_return out;
}

}  // namespace mtasts::resolve
