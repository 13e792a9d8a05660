#include "core/socketmap.h"

#include "core/domain.h"
#include "core/ip_address.h"
#include "core/text.h"
#include "fmt/format.h"

namespace mtasts {

std::string encode_netstring(std::string_view payload) {
  std::string out;
  append_netstring(out, payload);
  return out;
}

void append_netstring(std::string& out, std::string_view payload) {
  char digits[24];
  auto end = fmt::format_to(digits, "{}:", payload.size());
  out.reserve(out.size() + static_cast<std::size_t>(end - digits) + payload.size() + 1);
  out.append(digits, end);
  out.append(payload);
  out += ',';
}

namespace {

NetstringParse fail(std::string code, std::size_t column, std::string message) {
  NetstringParse r;
  r.status = NetstringParse::Status::error;
  r.error = Error{std::move(code), 0, column, std::move(message), {}};
  return r;
}

}  // namespace

NetstringParse parse_netstring(std::string_view buffer, std::size_t max_length) {
  std::size_t length = 0, i = 0;
  for (; i < buffer.size() && buffer[i] != ':'; ++i) {
    if (!is_digit(buffer[i]))
      return fail("netstring-length", i + 1, "the netstring length has a byte that is not a digit");
    if (i == 1 && buffer[0] == '0')
      return fail("netstring-length", i + 1, "the netstring length has a leading zero");
    length = length * 10 + static_cast<std::size_t>(buffer[i] - '0');
    if (length > max_length)
      return fail("netstring-too-long", i + 1,
                  fmt::format("the netstring is longer than {} bytes", max_length));
  }
  if (i == buffer.size()) return {};  // still reading the length
  if (i == 0) return fail("netstring-length", 1, "the netstring has no length digits");
  std::size_t start = i + 1;
  if (buffer.size() - start < length + 1) return {};
  if (buffer[start + length] != ',')
    return fail("netstring-terminator", start + length + 1, "the netstring does not end with ','");
  NetstringParse r;
  r.status = NetstringParse::Status::complete;
  r.payload = buffer.substr(start, length);
  r.consumed = start + length + 1;
  return r;
}

Result<SocketmapRequest> parse_socketmap_request(std::string_view payload) {
  auto bad = [](std::string message) {
    return Error{"socketmap-request", 0, 0, std::move(message),
                 "send \"NAME KEY\" in one netstring, as Postfix's socketmap client does"};
  };
  auto space = payload.find(' ');
  if (space == std::string_view::npos) return bad("the request has no space between map name and key");
  if (space == 0) return bad("the request has an empty map name");
  for (char c : payload)
    if (c == '\0' || c == '\r' || c == '\n') return bad("the request has a NUL, CR or LF byte");
  return SocketmapRequest{payload.substr(0, space), payload.substr(space + 1)};
}

std::optional<std::string> policy_domain_of_key(std::string_view key) {
  // utils.filter_domain() of postfix-mta-sts-resolver: "[host]..." or "host:port".
  std::string_view host = key;
  if (auto close = key.find(']'); close != std::string_view::npos) {
    host = key.substr(0, close);
    while (!host.empty() && host.front() == '[') host.remove_prefix(1);
  } else if (auto colon = key.rfind(':'); colon != std::string_view::npos) {
    host = key.substr(0, colon);
  }
  while (!host.empty() && (host.front() == ' ' || host.front() == '\t')) host.remove_prefix(1);
  while (!host.empty() && (host.back() == ' ' || host.back() == '\t')) host.remove_suffix(1);
  while (!host.empty() && host.back() == '.') host.remove_suffix(1);
  if (host.empty() || host.front() == '.' || host.size() > kMaxDomainLength * 4) return std::nullopt;
  if (is_ip_address(host)) return std::nullopt;
  auto name = normalize_domain(host);
  if (!name || name->find('.') == std::string::npos) return std::nullopt;
  return *name;
}

}  // namespace mtasts
