#include "reports/summary_json.h"

#include <boost/json.hpp>

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

}  // namespace mtasts::reports
