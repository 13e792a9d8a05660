// TLS-RPT aggregate reports (RFC 8460 §4): the JSON model, strict validation with warnings for
// the shapes real senders produce, and serialization.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/datetime.h"
#include "core/error.h"

namespace mtasts {

inline constexpr std::size_t kMaxReportJsonSize = 32 * 1024 * 1024;

enum class PolicyType { sts, tlsa, no_policy_found };
std::string_view to_string(PolicyType type);
std::optional<PolicyType> parse_policy_type(std::string_view text);

// RFC 8460 §4.3 result types. `unknown` keeps reports with types from later registrations.
enum class ResultType {
  starttls_not_supported,
  certificate_host_mismatch,
  certificate_expired,
  certificate_not_trusted,
  validation_failure,
  tlsa_invalid,
  dnssec_invalid,
  dane_required,
  sts_policy_fetch_error,
  sts_policy_invalid,
  sts_webpki_invalid,
  unknown,
};
std::string_view to_string(ResultType type);
ResultType parse_result_type(std::string_view text);

struct FailureDetails {
  std::string result_type;  // as sent (kept verbatim for unknown types)
  ResultType type = ResultType::unknown;
  std::string sending_mta_ip;
  std::string receiving_mx_hostname;
  std::string receiving_mx_helo;
  std::string receiving_ip;
  std::uint64_t failed_session_count = 0;
  std::string additional_information;
  std::string failure_reason_code;
  friend bool operator==(const FailureDetails&, const FailureDetails&) = default;
};

struct PolicyResult {
  PolicyType policy_type = PolicyType::no_policy_found;
  std::vector<std::string> policy_string;
  std::string policy_domain;
  std::vector<std::string> mx_host;
  std::uint64_t total_successful_session_count = 0;
  std::uint64_t total_failure_session_count = 0;
  std::vector<FailureDetails> failure_details;
  friend bool operator==(const PolicyResult&, const PolicyResult&) = default;
};

struct TlsRptReport {
  std::string organization_name;
  std::string start_datetime;  // RFC 3339, as sent
  std::string end_datetime;
  std::int64_t start_epoch = 0;  // seconds since 1970-01-01T00:00:00Z
  std::int64_t end_epoch = 0;
  std::string contact_info;
  std::string report_id;
  std::vector<PolicyResult> policies;
  friend bool operator==(const TlsRptReport&, const TlsRptReport&) = default;
};

struct ReportLint {
  Findings findings;  // errors carry the JSON path in the message; column = byte offset for syntax
  std::optional<TlsRptReport> report;
};

ReportLint lint_report(std::string_view json);
Result<TlsRptReport> parse_report(std::string_view json);
std::string serialize_report(const TlsRptReport& report);


}  // namespace mtasts
