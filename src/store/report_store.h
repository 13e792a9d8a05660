// TLS-RPT reports in the database (RFC 8460 §4): normalized tables (report, policy, failure
// details), idempotent by (organization-name, report-id), the raw report kept gzip-compressed
// for audit, retention, and the aggregates behind `mtasts reports summary` and the API.
// Written once on store::Connection, so SQLite and PostgreSQL share every line.
//
// Blocking by design: daemons call it from a small thread pool, never on an I/O thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/report.h"
#include "store/sql.h"

namespace mtasts::store {

struct ReportToStore {
  const TlsRptReport* report = nullptr;
  std::string_view gzipped;  // the report JSON as gzip (kept verbatim for audit)
  std::string source;        // "file:PATH", "lmtp", "https", ... for people
  std::int64_t received = 0;  // seconds since the epoch
};

struct StoredReport {
  bool stored = false;  // false: the same (organization-name, report-id) was already there
  std::int64_t id = 0;  // the row id of the report (the existing one for a duplicate)
};

// Aggregates, per policy domain. Sessions are summed over each report's policy entries for that
// domain; each report counts once however often it arrived (the store keeps it once).
struct SessionCounts {
  std::uint64_t successful = 0;
  std::uint64_t failed = 0;
  std::uint64_t reports = 0;
};

struct FailureGroup {
  std::string result_type;
  std::string receiving_mx_hostname;  // may be empty (policy-level failures)
  std::string failure_reason_code;    // may be empty
  std::uint64_t failed = 0;
  std::vector<std::string> sending_mta_ips;  // distinct, most failed sessions first (at most 10)
};

struct DomainSummary {
  std::string domain;
  SessionCounts total;
  std::int64_t first_day = 0;  // start of the earliest report (epoch seconds)
  std::int64_t last_day = 0;   // start of the latest report
  std::map<std::string, SessionCounts> by_day;           // "YYYY-MM-DD" (UTC, report start)
  std::map<std::string, SessionCounts> by_organization;  // organization-name
  std::map<std::string, SessionCounts> by_policy_type;   // sts | tlsa | no-policy-found
  std::map<std::string, std::uint64_t> by_result_type;   // failed sessions per result type
  std::map<std::string, std::uint64_t> by_mx_host;       // failed sessions per receiving MX
  std::vector<FailureGroup> top_failures;                // most failed sessions first
};

class ReportStore {
 public:
  virtual ~ReportStore() = default;

  // Stores reports, all in one transaction (every row of every report, or none). Reports seen
  // before are skipped, not stored again. Errors: store-error.
  virtual Result<std::vector<StoredReport>> put(const std::vector<ReportToStore>& reports) = 0;
  Result<StoredReport> put(const ReportToStore& report) {
    auto r = put(std::vector<ReportToStore>{report});
    if (!r) return r.error();
    return r->front();
  }
  // Per domain (all when `domain` is empty), reports starting at or after `since`.
  virtual Result<std::vector<DomainSummary>> summary(const std::string& domain,
                                                     std::int64_t since) = 0;
  virtual Result<std::uint64_t> count() = 0;
  // The raw report as received, gzip-compressed. Errors: not-found.
  virtual Result<std::string> raw(const std::string& organization, const std::string& report_id) = 0;
  // Retention: deletes reports that ended before `cutoff`; returns how many.
  virtual Result<std::uint64_t> delete_before(std::int64_t cutoff) = 0;
};

std::unique_ptr<ReportStore> make_report_store(std::unique_ptr<Connection> db);
// open_connection (migrations included) + make_report_store.
Result<std::unique_ptr<ReportStore>> open_report_store(const std::string& location);

}  // namespace mtasts::store
