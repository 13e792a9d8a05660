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

// --connect-to HOST:PORT:ADDR:PORT (an empty HOST or PORT on the left matches any).
struct ConnectTo {
  std::string host;
  std::uint16_t port = 0;
  HostPort target;
};
Result<ConnectTo> parse_connect_to(std::string_view text);

// The replacement for host:port, if a rule matches (host compared case-insensitively).
std::optional<HostPort> map_connect(const std::vector<ConnectTo>& rules, std::string_view host,
                                    std::uint16_t port);

}  // namespace mtasts::net
