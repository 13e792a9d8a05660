// Reports sent over HTTPS (RFC 8460 §5.4): a POST with the report as the body, media type
// application/tlsrpt+gzip or application/tlsrpt+json. mtasts serve routes the POST here; this
// decides the answer. Blocking (it stores): call it from the store thread, and answer the client
// only with what it returns, after the report is committed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "reports/ingest.h"

namespace mtasts::reports {

struct HttpAnswer {
  int status = 500;     // 201 stored, 200 duplicate, 400 invalid, 403 refused, 413 too large,
                        // 415 media type, 503 store failure (retry)
  std::string message;  // one line for the response body (text/plain)
  IngestResult result;
};

// Bodies over this are refused with 413 before decoding.
inline constexpr std::size_t kMaxPostBody = 16 * 1024 * 1024;

HttpAnswer handle_report_post(std::string_view content_type, std::string_view body,
                              Ingester& ingester, std::int64_t now);

// The two halves, for a server that decodes on its I/O threads and commits reports in batches:
// the decoding the media type asks for (nullopt: `refusal` holds the 415 or 413 answer), and the
// answer for a settled result.
std::optional<InputKind> post_kind(std::string_view content_type, std::size_t body_size, HttpAnswer& refusal);
HttpAnswer answer_for(IngestResult result);

}  // namespace mtasts::reports
