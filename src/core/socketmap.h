// Postfix's socketmap protocol (socketmap_table(5)): each request and each reply is one netstring
// (`LEN:BYTES,`); a request is "NAME KEY", a reply "OK data", "NOTFOUND ", "TEMP reason",
// "TIMEOUT reason" or "PERM reason". Sans-I/O: the daemon feeds its read buffer in, bytes out.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"

namespace mtasts {

// A request is a map name and a domain: postfix-mta-sts-resolver refuses more than 1024 bytes,
// and so do we. Postfix refuses replies over socketmap_max_reply_size (100000 by default).
inline constexpr std::size_t kMaxSocketmapRequest = 1024;
inline constexpr std::size_t kMaxSocketmapReply = 100000;

std::string encode_netstring(std::string_view payload);
// The same, appended to `out` (a connection's reply buffer: no string per reply).
void append_netstring(std::string& out, std::string_view payload);

// One netstring at the start of `buffer`:
//  - complete: `payload` views into `buffer`, `consumed` bytes (length, colon, payload, comma);
//  - incomplete: more bytes are needed (nothing is wrong yet);
//  - error: the stream cannot be resynchronized; close the connection. Codes: netstring-length
//    (no digits, a non-digit, a leading zero before more digits), netstring-too-long (over
//    `max_length`, seen as soon as the length digits say so), netstring-terminator (no ',').
//    `column` is the 1-based offset of the offending byte.
struct NetstringParse {
  enum class Status { complete, incomplete, error };
  Status status = Status::incomplete;
  std::string_view payload;
  std::size_t consumed = 0;
  Error error;
};
NetstringParse parse_netstring(std::string_view buffer, std::size_t max_length);

struct SocketmapRequest {
  std::string_view name;  // the map name (postfix-mta-sts-resolver: the zone)
  std::string_view key;   // what Postfix looks up: a domain, "[host]:port", ".parent.domain"...
};
// "NAME KEY": split at the first space. Errors: socketmap-request (no space, empty name, or a
// NUL/CR/LF byte in it).
Result<SocketmapRequest> parse_socketmap_request(std::string_view payload);

// The domain a TLS policy lookup key names, as postfix-mta-sts-resolver reads it: "[host]..." is
// host, "host:port" is host; lower case, spaces and trailing dots trimmed, then normalized
// (A-labels). Nothing for keys no MTA-STS policy can apply to: ".parent" lookups (Postfix asks
// for parent domains with a leading dot), IP addresses, names that are not domains.
std::optional<std::string> policy_domain_of_key(std::string_view key);

}  // namespace mtasts
