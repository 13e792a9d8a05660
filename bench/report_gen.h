// The generated TLS-RPT reports of bench/reports_bench and bench/reports_post_load: the shape
// large senders send (one sts policy with its policy strings, a third of the reports with 1-4
// failure details; 20 domains dNN.example, 60 days, 5 organizations). Report k is distinct from
// every other by its report-id.
#pragma once

#include <cstdint>
#include <random>
#include <string>

#include "core/datetime.h"
#include "core/report.h"
#include "fmt/format.h"

namespace mtasts::bench {

inline constexpr std::size_t kGeneratedDomains = 20;

inline std::string generated_domain(std::size_t k) { return fmt::format("d{:02}.example", k % kGeneratedDomains); }

// `last_day`: the UTC midnight (epoch seconds) the newest reports start at; report k starts
// k % 60 days earlier.
inline TlsRptReport make_report(std::size_t k, std::mt19937& rnd, std::int64_t last_day = 1795132800) {
  static const char* const kOrgs[] = {"Google Inc.", "Microsoft Corporation", "Yahoo Inc.", "Comcast", "Mail.Ru"};
  static const char* const kTypes[] = {"certificate-expired", "starttls-not-supported",
                                       "certificate-host-mismatch", "sts-policy-fetch-error",
                                       "certificate-not-trusted", "validation-failure"};
  const std::string domain = generated_domain(k);
  TlsRptReport r;
  r.organization_name = kOrgs[k % 5];
  r.start_epoch = last_day - static_cast<std::int64_t>(k % 60) * 86400;
  r.end_epoch = r.start_epoch + 86399;
  r.start_datetime = utc_date(r.start_epoch) + "T00:00:00Z";
  r.end_datetime = utc_date(r.start_epoch) + "T23:59:59Z";
  r.contact_info = "smtp-tls-reporting@sender.example";
  r.report_id = fmt::format("{}_{}_{}@{}", r.start_datetime, domain, k, k % 5);
  PolicyResult p;
  p.policy_type = PolicyType::sts;
  p.policy_string.push_back("version: STSv1");
  p.policy_string.push_back("mode: testing");
  p.policy_string.push_back("mx: mx1." + domain);
  p.policy_string.push_back("mx: mx2." + domain);
  p.policy_string.push_back("max_age: 604800");
  p.policy_domain = domain;
  p.mx_host.push_back("mx1." + domain);
  p.mx_host.push_back("mx2." + domain);
  p.total_successful_session_count = 1 + rnd() % 5000;
  if (k % 3 == 0)
    for (std::size_t i = 0; i < 1 + k % 4; ++i) {
      FailureDetails f;
      f.result_type = kTypes[(k + i) % 6];
      f.sending_mta_ip = fmt::format("198.51.{}.{}", (k >> 8) % 256, (k + i) % 256);
      f.receiving_mx_hostname = fmt::format("mx{}.{}", 1 + i % 2, domain);
      f.receiving_ip = fmt::format("203.0.113.{}", 1 + i % 2);
      f.failed_session_count = 1 + rnd() % 20;
      f.additional_information = fmt::format("https://tlsrpt.example/info?id={}", k);
      p.total_failure_session_count += f.failed_session_count;
      p.failure_details.push_back(std::move(f));
    }
  r.policies.push_back(std::move(p));
  return r;
}

}  // namespace mtasts::bench
