// Where to connect: "IP:PORT" parsing and curl-style --connect-to rules, so tests reach loopback
// servers for real host names without touching the system resolver.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace mtasts::net {

struct HostPort {
  std::string host;  // name or IP literal (IPv6 without brackets)
  std::uint16_t port = 0;
};

// "127.0.0.1:53", "[::1]:53", "127.0.0.1" (port = default_port). Errors: endpoint-invalid.
Result<HostPort> parse_host_port(std::string_view text, std::uint16_t default_port);

// "host:port", "[v6]:port": the form parse_host_port reads (and c-ares' server list takes).
std::string to_string(const HostPort& hp);

// --connect-to HOST:PORT:ADDR:PORT (an empty HOST or PORT on the left matches any). A HOST that
// is an IP literal (`127.0.0.9:25:...`, `[::1]:25:...`) makes an address rule: it matches an
// address the host name resolved to, not a name, so DNS still decides which addresses a host has
// and the rule only moves the connection to each one (how tests give an MX's A and AAAA
// addresses different servers on loopback).
struct ConnectTo {
  std::string host;  // a normalized name, a canonical IP literal (address rule), or empty
  std::uint16_t port = 0;
  HostPort target;
  bool address = false;  // HOST is an IP literal: the rule matches resolved addresses
};
Result<ConnectTo> parse_connect_to(std::string_view text);

// The replacement for host:port, if a name rule matches (host compared case-insensitively;
// address rules never match here).
std::optional<HostPort> map_connect(const std::vector<ConnectTo>& rules, std::string_view host,
                                    std::uint16_t port);

// The replacement for a resolved address and port, if an address rule matches (addresses
// compared in canonical form: "0:0::1" is "::1").
std::optional<HostPort> map_connect_address(const std::vector<ConnectTo>& rules,
                                            std::string_view address, std::uint16_t port);

// "::1" for "0:0:0::1", IPv4 unchanged; the text itself when it is no IP literal.
std::string canonical_ip(std::string_view text);

// One place to connect for a host: the address DNS gave (what findings name) and where the
// connection really goes (the same address and port, unless a rule redirects it).
struct ConnectTarget {
  std::string address;
  HostPort connect;
};

// The targets for host:port with these DNS addresses, in their order: a name rule for the host
// wins and gives one target, as curl's does (its `address` is the rule's target); otherwise one
// per address, each redirected by an address rule when one matches.
std::vector<ConnectTarget> connect_targets(const std::vector<ConnectTo>& rules,
                                           std::string_view host, std::uint16_t port,
                                           const std::vector<std::string>& addresses);

// Which of `addresses` (A then AAAA, as resolvers list them) to probe when at most `max` may be:
// taken alternately from IPv4 and IPv6 so both families are seen, returned as indices in the
// original order.
std::vector<std::size_t> pick_addresses(const std::vector<std::string>& addresses, std::size_t max);

}  // namespace mtasts::net
