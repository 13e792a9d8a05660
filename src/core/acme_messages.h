// The ACME resources the client reads (RFC 8555 §7.1) and the problem documents servers answer
// with (RFC 7807, RFC 8555 §6.7), parsed from untrusted JSON: every parser returns a value or an
// Error, never throws. Unknown members are ignored, as §7.1 asks.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace mtasts::acme {

struct Directory {
  std::string new_nonce, new_account, new_order;
  std::string terms_of_service;  // meta.termsOfService, may be empty
};
Result<Directory> parse_directory(std::string_view json);

struct Problem {
  std::string type;    // "urn:ietf:params:acme:error:badNonce"; "about:blank" when absent
  std::string detail;
  int status = 0;      // the HTTP status the document states, else 0
  std::vector<std::string> subproblems;  // "identifier: type: detail", one line each
  // The last part of an ACME error type ("badNonce"), or empty for other types.
  std::string acme_type() const;
};
// "type: detail (HTTP n); subproblem; ..." for messages.
std::string describe(const Problem& p);
// Never fails: a body that is not a problem document becomes {"about:blank", <short excerpt>}.
Problem parse_problem(std::string_view json, int http_status);
// Error code "acme-" + the ACME type in kebab case ("acme-bad-nonce"), else "acme-server-error";
// the message says type, detail and where it came from.
Error problem_error(const Problem& p, std::string_view what);

struct Order {
  std::string status;  // pending ready processing valid invalid
  std::vector<std::string> authorizations;
  std::string finalize;
  std::string certificate;  // when valid
  std::optional<Problem> error;
};
Result<Order> parse_order(std::string_view json);

struct Challenge {
  std::string type;  // "http-01", "tls-alpn-01", ...
  std::string url;
  std::string token;
  std::string status;
  std::optional<Problem> error;
};
struct Authorization {
  std::string status;  // pending valid invalid deactivated expired revoked
  std::string identifier;  // the dns identifier's value
  bool wildcard = false;
  std::vector<Challenge> challenges;
};
Result<Authorization> parse_authorization(std::string_view json);
Result<Challenge> parse_challenge(std::string_view json);

// RFC 9110 §10.2.3: delay-seconds or an HTTP-date; seconds to wait from `now` (>= 0), or nullopt
// when the value is neither.
std::optional<std::int64_t> parse_retry_after(std::string_view value, std::int64_t now);

// The wait before try number `retry` (1 = the first retry): what Retry-After asks when it is
// usable (never shortened), else an exponential backoff first * 2^(retry-1), capped at `cap`.
// Milliseconds.
std::int64_t retry_delay_ms(std::string_view retry_after, int retry, std::int64_t first_ms,
                            std::int64_t cap_ms, std::int64_t now);

// A token may only hold base64url characters (RFC 8555 §8.3, §8.1); it ends up in a URL path.
bool is_valid_token(std::string_view token);

}  // namespace mtasts::acme
