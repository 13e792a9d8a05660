#include "reports/http_post.h"

#include "core/domain.h"
#include "fmt/format.h"

namespace mtasts::reports {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::optional<InputKind> post_kind(std::string_view content_type, std::size_t body_size, HttpAnswer& a) {
  // The media type without parameters ("; charset=utf-8"), compared case-insensitively.
  std::string type = ascii_lower(trim(content_type.substr(0, content_type.find(';'))));
  std::optional<InputKind> kind;
  if (type == "application/tlsrpt+gzip") kind = InputKind::gzip;
  else if (type == "application/tlsrpt+json") kind = InputKind::json;
  else {
    a.status = 415;
    a.result.error = {"media-type-invalid", 0, 0,
                      fmt::format("Content-Type \"{}\": RFC 8460 §5.4 says application/tlsrpt+gzip "
                                  "or application/tlsrpt+json", type), {}};
    a.result.outcome = Outcome::invalid;
    a.message = a.result.error.message;
    return std::nullopt;
  }
  if (body_size > kMaxPostBody) {
    a.status = 413;
    a.result.outcome = Outcome::invalid;
    a.result.error = {"input-too-large", 0, 0,
                      fmt::format("the body has {} bytes; the limit is {}", body_size, kMaxPostBody), {}};
    a.message = a.result.error.message;
    return std::nullopt;
  }
  return kind;
}

HttpAnswer answer_for(IngestResult result) {
  HttpAnswer a;
  a.result = std::move(result);
  const IngestResult& r = a.result;
  switch (r.outcome) {
    case Outcome::stored:
      a.status = 201;
      a.message = fmt::format("report {} from {} stored", r.report_id, r.organization);
      break;
    case Outcome::duplicate:
      a.status = 200;
      a.message = fmt::format("report {} from {} was already stored", r.report_id, r.organization);
      break;
    case Outcome::refused:
      a.status = 403;
      a.message = fmt::format("{}: {}", r.error.code, r.error.message);
      break;
    case Outcome::invalid:
      a.status = r.error.code == "gzip-too-large" ? 413 : 400;
      a.message = fmt::format("{}: {}", r.error.code, r.error.message);
      break;
    case Outcome::failed:
      a.status = 503;
      a.message = fmt::format("{}: the report could not be stored, try again later", r.error.code);
      break;
  }
  return a;
}

HttpAnswer handle_report_post(std::string_view content_type, std::string_view body,
                              Ingester& ingester, std::int64_t now) {
  HttpAnswer refusal;
  auto kind = post_kind(content_type, body.size(), refusal);
  if (!kind) return refusal;
  return answer_for(ingester.ingest(body, *kind, "https", now));
}

}  // namespace mtasts::reports
