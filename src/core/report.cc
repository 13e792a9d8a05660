#include "core/report.h"

#include <boost/json.hpp>

#include <array>

namespace json = boost::json;

namespace mtasts {

namespace {

constexpr std::array<std::string_view, 11> kResultTypes = {
    "starttls-not-supported", "certificate-host-mismatch", "certificate-expired",
    "certificate-not-trusted", "validation-failure",       "tlsa-invalid",
    "dnssec-invalid",          "dane-required",            "sts-policy-fetch-error",
    "sts-policy-invalid",      "sts-webpki-invalid"};

}  // namespace

std::string_view to_string(PolicyType type) {
  switch (type) {
    case PolicyType::sts: return "sts";
    case PolicyType::tlsa: return "tlsa";
    case PolicyType::no_policy_found: return "no-policy-found";
  }
  return "no-policy-found";
}

std::optional<PolicyType> parse_policy_type(std::string_view text) {
  if (text == "sts") return PolicyType::sts;
  if (text == "tlsa") return PolicyType::tlsa;
  if (text == "no-policy-found") return PolicyType::no_policy_found;
  return std::nullopt;
}

std::string_view to_string(ResultType type) {
  auto i = static_cast<std::size_t>(type);
  return i < kResultTypes.size() ? kResultTypes[i] : "unknown";
}

ResultType parse_result_type(std::string_view text) {
  for (std::size_t i = 0; i < kResultTypes.size(); ++i)
    if (kResultTypes[i] == text) return static_cast<ResultType>(i);
  return ResultType::unknown;
}

std::string serialize_report(const TlsRptReport& r) {
  json::object root;
  root["organization-name"] = r.organization_name;
  root["date-range"] = {{"start-datetime", r.start_datetime}, {"end-datetime", r.end_datetime}};
  root["contact-info"] = r.contact_info;
  root["report-id"] = r.report_id;
  json::array policies;
  for (const auto& p : r.policies) {
    json::object policy;
    policy["policy-type"] = to_string(p.policy_type);
    if (!p.policy_string.empty()) {
      json::array a;
      for (const auto& s : p.policy_string) a.emplace_back(s);
      policy["policy-string"] = std::move(a);
    }
    policy["policy-domain"] = p.policy_domain;
    if (!p.mx_host.empty()) {
      json::array a;
      for (const auto& s : p.mx_host) a.emplace_back(s);
      policy["mx-host"] = std::move(a);
    }
    json::object entry;
    entry["policy"] = std::move(policy);
    entry["summary"] = {{"total-successful-session-count", p.total_successful_session_count},
                        {"total-failure-session-count", p.total_failure_session_count}};
    if (!p.failure_details.empty()) {
      json::array details;
      for (const auto& f : p.failure_details) {
        json::object d;
        d["result-type"] = f.result_type;
        auto opt = [&](const char* key, const std::string& v) {
          if (!v.empty()) d[key] = v;
        };
        opt("sending-mta-ip", f.sending_mta_ip);
        opt("receiving-mx-hostname", f.receiving_mx_hostname);
        opt("receiving-mx-helo", f.receiving_mx_helo);
        opt("receiving-ip", f.receiving_ip);
        d["failed-session-count"] = f.failed_session_count;
        opt("additional-information", f.additional_information);
        opt("failure-reason-code", f.failure_reason_code);
        details.emplace_back(std::move(d));
      }
      entry["failure-details"] = std::move(details);
    }
    policies.emplace_back(std::move(entry));
  }
  root["policies"] = std::move(policies);
  return json::serialize(root);
}

}  // namespace mtasts
