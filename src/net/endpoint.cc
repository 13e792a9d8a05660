#include "net/endpoint.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

#include "core/domain.h"
#include "core/ip_address.h"
#include "fmt/format.h"

namespace mtasts::net {

namespace {

Error bad(std::string_view text, std::string why) {
  return Error{"endpoint-invalid", 0, 0, fmt::format("\"{}\": {}", text, why), {}};
}

std::optional<std::uint16_t> parse_port(std::string_view s) {
  unsigned v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(v);
}

// Splits "[v6]:rest" or "host:rest" at the first colon outside brackets.
bool split_host(std::string_view text, std::string_view& host, std::string_view& rest) {
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) return false;
    host = text.substr(1, close - 1);
    rest = text.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return false;
    if (!rest.empty()) rest.remove_prefix(1);
    return true;
  }
  auto colon = text.find(':');
  host = text.substr(0, colon);
  rest = colon == std::string_view::npos ? std::string_view() : text.substr(colon + 1);
  return true;
}

// An IPv6 literal in brackets; else an IPv4 literal or a host name (RFC 5321 syntax, one final
// dot allowed).
std::optional<std::string> host_problem(std::string_view text, std::string_view host) {
  if (!text.empty() && text.front() == '[')
    return host.find(':') != std::string_view::npos && is_ip_address(host)
               ? std::nullopt
               : std::optional<std::string>("brackets hold an IPv6 address");
  if (is_ip_address(host)) return std::nullopt;
  if (host.ends_with('.')) host.remove_suffix(1);
  if (auto e = check_domain_syntax(host)) return "not an IP address or host name: " + e->message;
  return std::nullopt;
}

}  // namespace

Result<HostPort> parse_host_port(std::string_view text, std::uint16_t default_port) {
  std::string_view host, rest;
  if (!split_host(text, host, rest) || host.empty()) return bad(text, "expected ADDR:PORT");
  if (auto why = host_problem(text, host)) return bad(text, *why);
  HostPort hp{std::string(host), default_port};
  if (!rest.empty()) {
    auto port = parse_port(rest);
    if (!port || *port == 0) return bad(text, "the port must be 1-65535");
    hp.port = *port;
  } else if (text.back() == ':') {
    return bad(text, "missing port");
  }
  return hp;
}

std::string to_string(const HostPort& hp) {
  return hp.host.find(':') != std::string::npos ? fmt::format("[{}]:{}", hp.host, hp.port)
                                                : fmt::format("{}:{}", hp.host, hp.port);
}

Result<ConnectTo> parse_connect_to(std::string_view text) {
  // HOST:PORT:ADDR:PORT, where HOST and ADDR may be [IPv6].
  std::string_view host, rest;
  if (!split_host(text, host, rest)) return bad(text, "expected HOST:PORT:ADDR:PORT");
  auto colon = rest.find(':');
  if (colon == std::string_view::npos) return bad(text, "expected HOST:PORT:ADDR:PORT");
  ConnectTo rule;
  rule.address = !host.empty() && is_ip_address(host);
  if (!host.empty() && !text.starts_with('[') && !is_ip_address(host)) {
    // A host name as the checker will ask for it: lower case, A-labels, no final dot.
    auto name = normalize_domain(host);
    if (!name) return bad(text, "not an IP address or host name: " + name.error().message);
    rule.host = std::move(name).value();
  } else if (!host.empty()) {
    if (auto why = host_problem(text, host)) return bad(text, *why);
    rule.host = canonical_ip(host);
  }
  std::string_view port = rest.substr(0, colon);
  if (!port.empty()) {
    auto p = parse_port(port);
    if (!p) return bad(text, "bad port");
    rule.port = *p;
  }
  auto target = parse_host_port(rest.substr(colon + 1), rule.port);
  if (!target) return bad(text, target.error().message);
  if (target->port == 0) return bad(text, "the target needs a port");
  rule.target = *target;
  return rule;
}

std::optional<HostPort> map_connect(const std::vector<ConnectTo>& rules, std::string_view host,
                                    std::uint16_t port) {
  std::string h = ascii_lower(host);
  if (!h.empty() && h.back() == '.') h.pop_back();
  for (const auto& r : rules)
    if (!r.address && (r.host.empty() || r.host == h) && (r.port == 0 || r.port == port))
      return r.target;
  return std::nullopt;
}

std::optional<HostPort> map_connect_address(const std::vector<ConnectTo>& rules,
                                            std::string_view address, std::uint16_t port) {
  std::string a = canonical_ip(address);
  for (const auto& r : rules)
    if (r.address && r.host == a && (r.port == 0 || r.port == port)) return r.target;
  return std::nullopt;
}

std::string canonical_ip(std::string_view text) {
  std::string s(text);
  if (s.find(':') == std::string::npos) return s;
  in6_addr a{};
  char out[INET6_ADDRSTRLEN] = {};
  if (inet_pton(AF_INET6, s.c_str(), &a) != 1 || !inet_ntop(AF_INET6, &a, out, sizeof out))
    return s;
  return out;
}

std::vector<ConnectTarget> connect_targets(const std::vector<ConnectTo>& rules,
                                           std::string_view host, std::uint16_t port,
                                           const std::vector<std::string>& addresses) {
  if (auto mapped = map_connect(rules, host, port)) return {ConnectTarget{mapped->host, *mapped}};
  std::vector<ConnectTarget> out;
  for (const auto& a : addresses) {
    auto mapped = map_connect_address(rules, a, port);
    out.push_back({a, mapped ? *mapped : HostPort{a, port}});
  }
  return out;
}

std::vector<std::size_t> pick_addresses(const std::vector<std::string>& addresses, std::size_t max) {
  std::vector<std::size_t> v4, v6;
  for (std::size_t i = 0; i < addresses.size(); ++i)
    (addresses[i].find(':') == std::string::npos ? v4 : v6).push_back(i);
  std::vector<std::size_t> out;
  for (std::size_t k = 0; out.size() < max && (k < v4.size() || k < v6.size()); ++k) {
    if (k < v4.size()) out.push_back(v4[k]);
    if (k < v6.size() && out.size() < max) out.push_back(v6[k]);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace mtasts::net
