#include "reports/decode.h"

#include "fmt/format.h"
#include "reports/gzip.h"
#include "reports/mail.h"

namespace mtasts::reports {

namespace {

std::string_view skip_space(std::string_view s) {
  if (s.starts_with("\xEF\xBB\xBF")) s.remove_prefix(3);
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n'))
    s.remove_prefix(1);
  return s;
}

InputKind sniff(std::string_view input) {
  if (is_gzip(input)) return InputKind::gzip;
  if (skip_space(input).starts_with('{')) return InputKind::json;
  return InputKind::mail;
}

// Parses the JSON, keeping the compressed bytes we were given (or making them).
Result<DecodedReport> from_json(std::string_view json, std::string gzipped, DecodedReport out) {
  ReportLint lint = lint_report(json);
  if (!lint.findings.valid()) {
    Error e = lint.findings.errors.front();
    if (lint.findings.errors.size() > 1)
      e.message += fmt::format(" (and {} more problem{})", lint.findings.errors.size() - 1,
                               lint.findings.errors.size() > 2 ? "s" : "");
    return e;
  }
  out.report = std::move(*lint.report);
  for (auto& w : lint.findings.warnings) out.warnings.push_back(std::move(w));
  out.gzipped = gzipped.empty() ? gzip(json) : std::move(gzipped);
  return out;
}

Result<DecodedReport> from_payload(std::string_view payload, bool declared_gzip, DecodedReport out,
                                   std::string_view prefix) {
  if (is_gzip(payload)) {
    if (!declared_gzip)
      out.warnings.push_back({"gzip-undeclared", 0, 0,
                              "the report is gzip-compressed but declared as JSON", {}});
    auto json = gunzip(payload, kMaxReportJsonSize);
    if (!json) return json.error();
    out.via = fmt::format("{}gzip", prefix);
    return from_json(*json, std::string(payload), std::move(out));
  }
  if (declared_gzip) {
    if (!skip_space(payload).starts_with('{'))
      return Error{"gzip-invalid", 0, 0, "declared as gzip, but neither gzip data nor JSON", {}};
    out.warnings.push_back({"gzip-declared-json", 0, 0,
                            "declared as gzip, but the report is plain JSON", {}});
  }
  out.via = fmt::format("{}json", prefix);
  return from_json(payload, {}, std::move(out));
}

Result<DecodedReport> check_dates(Result<DecodedReport> r, std::int64_t now) {
  if (!r) return r;
  const TlsRptReport& report = r->report;
  if (report.start_epoch < kEarliestReportStart)
    return Error{"date-out-of-range", 0, 0,
                 fmt::format("report.date-range.start-datetime: {} is before 2016, when TLS-RPT "
                             "began", report.start_datetime), {}};
  if (now > 0 && report.start_epoch > now + 86400)
    return Error{"date-out-of-range", 0, 0,
                 fmt::format("report.date-range.start-datetime: {} is in the future",
                             report.start_datetime), {}};
  return r;
}

Result<DecodedReport> decode_any(std::string_view input, InputKind kind) {
  if (skip_space(input).empty()) return Error{"input-empty", 0, 0, "the input is empty", {}};
  if (kind == InputKind::automatic) kind = sniff(input);
  switch (kind) {
    case InputKind::gzip:
      return from_payload(input, true, {}, "");
    case InputKind::json:
      return from_payload(input, false, {}, "");
    case InputKind::mail:
    case InputKind::automatic:
      break;
  }
  auto mail = extract_mail_report(input);
  if (!mail) return mail.error();
  DecodedReport out;
  out.report_domain = mail->report_domain;
  out.warnings = std::move(mail->warnings);
  return from_payload(mail->payload, mail->declared_gzip, std::move(out), "mail+");
}

}  // namespace

Result<DecodedReport> decode_report(std::string_view input, InputKind kind, std::int64_t now) {
  return check_dates(decode_any(input, kind), now);
}

}  // namespace mtasts::reports
