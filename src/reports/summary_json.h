// The JSON form of a domain's report summary: what `mtasts reports summary --json` prints and
// what the API serves to the dashboard (DESIGN.md fixes the first keys).
#pragma once

#include <boost/json/fwd.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"

#include "store/report_store.h"

namespace mtasts::reports {

// {"domain","successful","failed","success_rate","reports","by_result_type":{type:N},
//  "by_organization":{org:{"successful","failed","reports"}},"verdict":"words",
//  "verdict_code","first_day","last_day","by_day":{...},"by_policy_type":{...},
//  "by_mx_host":{host:N},"top_failures":[{"result_type","receiving_mx_hostname",
//  "failure_reason_code","failed","sending_mta_ips":[...]}]}
boost::json::object summary_json(const store::DomainSummary& s);
// {"domains":[...]}
boost::json::object summaries_json(const std::vector<store::DomainSummary>& all);

double success_rate(const store::SessionCounts& c);

// The start of a summary: "" (everything), "2026-11-01", an RFC 3339 date-time, or "30d" (that
// many days before `now`). Error code since-invalid.
Result<std::int64_t> parse_since(const std::string& s, std::int64_t now);

// What `reports summary` shows: every domain with reports since `since`, or only `domain` (an
// empty summary when it has none); and that as the JSON document of summaries_json().
Result<std::vector<store::DomainSummary>> summaries(store::ReportStore& store, const std::string& domain,
                                                    std::int64_t since);
Result<boost::json::object> summary_document(store::ReportStore& store, const std::string& domain,
                                             std::int64_t since);

}  // namespace mtasts::reports
