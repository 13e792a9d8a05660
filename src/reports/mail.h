// Finding the TLS-RPT report in a mail (RFC 8460 §5.3): a `multipart/report;
// report-type="tlsrpt"` message with the report attached as application/tlsrpt+gzip or
// application/tlsrpt+json. Real senders also attach it as application/gzip,
// application/x-gzip, application/octet-stream or application/json, with or without base64,
// named .json.gz, .gz or .json: those are accepted with a warning naming what differs.
// Parsing with GMime 3; no I/O.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace mtasts::reports {

// RFC 8460 leaves the size to the receiver; reports are kilobytes, the largest senders' a few
// hundred. A mail over this is refused before it is parsed.
inline constexpr std::size_t kMaxMailSize = 16 * 1024 * 1024;

struct MailReport {
  std::string payload;     // the attachment after transfer decoding (gzip or JSON bytes)
  std::string media_type;  // as declared, lower case ("application/tlsrpt+gzip")
  std::string filename;    // as declared (may be empty)
  bool declared_gzip = false;  // the media type or the file name says gzip
  std::string report_domain;  // TLS-Report-Domain header (RFC 8460 §5.3), may be empty
  std::string submitter;      // TLS-Report-Submitter header, may be empty
  std::vector<Error> warnings;
};

// Errors: mail-too-large, mime-invalid (not a parsable message), mime-no-report (no part that
// can hold a report: the message names the parts it saw).
Result<MailReport> extract_mail_report(std::string_view message);

}  // namespace mtasts::reports
