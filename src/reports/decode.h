// From received bytes to a validated TLS-RPT report: a mail (.eml, Maildir file, LMTP DATA), a
// gzip file, or plain JSON, recognised by content (file names and media types lie), then
// decompressed with a cap and parsed strictly (core/report.h). Sans-I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/report.h"

namespace mtasts::reports {

enum class InputKind {
  automatic,  // sniff: gzip magic, a JSON object, else a mail
  mail,
  gzip,       // application/tlsrpt+gzip (RFC 8460 §5.4)
  json,       // application/tlsrpt+json
};

struct DecodedReport {
  TlsRptReport report;
  std::string gzipped;  // the report JSON, gzip-compressed: as received when it came gzipped
  std::string via;      // "mail+gzip", "mail+json", "gzip", "json": how it arrived
  std::string report_domain;  // mail only: TLS-Report-Domain
  std::vector<Error> warnings;
};

// Errors: input-empty, the errors of extract_mail_report (mail-too-large, mime-invalid,
// mime-no-report), gzip-invalid, gzip-too-large (decompressed over kMaxReportJsonSize), and the
// report's own (json-syntax, field-missing, field-type, datetime-invalid, ...: the first one,
// with how many more there are), and date-out-of-range: a report starting before 2016 (TLS-RPT
// did not exist) or, when `now` is given (seconds since the epoch), more than a day after it.
Result<DecodedReport> decode_report(std::string_view input, InputKind kind = InputKind::automatic,
                                    std::int64_t now = 0);

// The first year a TLS-RPT report can come from (the first drafts are from 2016).
inline constexpr std::int64_t kEarliestReportStart = 1451606400;  // 2016-01-01T00:00:00Z

}  // namespace mtasts::reports
