#include "reports/summary_json.h"

#include <boost/json.hpp>

#include <charconv>
#include <ctime>

#include "core/datetime.h"
#include "fmt/format.h"
#include "reports/verdict.h"

namespace mtasts::reports {

namespace {

boost::json::object counts(const store::SessionCounts& c) {
  return {{"successful", c.successful}, {"failed", c.failed}, {"reports", c.reports}};
}


}  // namespace

double success_rate(const store::SessionCounts& c) {
  std::uint64_t total = c.successful + c.failed;
  return total ? static_cast<double>(c.successful) / static_cast<double>(total) : 0.0;
}

boost::json::object summary_json(const store::DomainSummary& s) {
  boost::json::object by_type, by_org, by_day, by_policy, by_mx;
  for (const auto& [k, v] : s.by_result_type) by_type[k] = v;
  for (const auto& [k, v] : s.by_organization) by_org[k] = counts(v);
  for (const auto& [k, v] : s.by_day) by_day[k] = counts(v);
  for (const auto& [k, v] : s.by_policy_type) by_policy[k] = counts(v);
  for (const auto& [k, v] : s.by_mx_host) by_mx[k] = v;
  boost::json::array top;
  for (const auto& f : s.top_failures) {
    boost::json::array ips;
    for (const auto& ip : f.sending_mta_ips) ips.emplace_back(ip);
    top.push_back(boost::json::object{{"result_type", f.result_type},
                                      {"receiving_mx_hostname", f.receiving_mx_hostname},
                                      {"failure_reason_code", f.failure_reason_code},
                                      {"failed", f.failed},
                                      {"sending_mta_ips", std::move(ips)}});
  }
  Verdict v = verdict(s);
  boost::json::object o;
  o["domain"] = s.domain;
  o["successful"] = s.total.successful;
  o["failed"] = s.total.failed;
  o["success_rate"] = success_rate(s.total);
  o["reports"] = s.total.reports;
  o["by_result_type"] = std::move(by_type);
  o["by_organization"] = std::move(by_org);
  o["verdict"] = v.text;
  o["verdict_code"] = v.code;
  if (s.total.reports) {
    o["first_day"] = utc_date(s.first_day);
    o["last_day"] = utc_date(s.last_day);
  }
  o["by_day"] = std::move(by_day);
  o["by_policy_type"] = std::move(by_policy);
  o["by_mx_host"] = std::move(by_mx);
  o["top_failures"] = std::move(top);
  return o;
}

boost::json::object summaries_json(const std::vector<store::DomainSummary>& all) {
  boost::json::array domains;
  for (const auto& s : all) domains.push_back(summary_json(s));
  return {{"domains", std::move(domains)}};
}

Result<std::int64_t> parse_since(const std::string& s, std::int64_t now) {
  if (s.empty()) return std::int64_t{0};
  if (s.size() >= 2 && s.back() == 'd') {
    std::int64_t days = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size() - 1, days);
    if (ec == std::errc() && p == s.data() + s.size() - 1 && days >= 0 && days < 100000)
      return now - days * 86400;
  }
  auto t = parse_rfc3339(s.size() == 10 ? s + "T00:00:00Z" : s);
  if (t) return *t;
  return Error{"since-invalid", 0, 0,
               fmt::format("since \"{}\": give a date (2026-11-01), an RFC 3339 date-time or a "
                           "number of days (30d)", s), {}};
}

Result<std::vector<store::DomainSummary>> summaries(store::ReportStore& store, const std::string& domain,
                                                    std::int64_t since) {
  auto got = store.summary(domain, since);
  if (!got) return got.error();
  std::vector<store::DomainSummary> all = std::move(got).value();
  if (all.empty() && !domain.empty()) {
    store::DomainSummary empty;
    empty.domain = domain;
    all.push_back(empty);
  }
  return all;
}

Result<boost::json::object> summary_document(store::ReportStore& store, const std::string& domain,
                                             std::int64_t since) {
  auto all = summaries(store, domain, since);
  if (!all) return all.error();
  return summaries_json(*all);
}

}  // namespace mtasts::reports
