// TCP connect to a host name the way a sender does: resolve (through the Resolver, or a
// --connect-to rule), then try each address until one answers, all within a deadline.
#pragma once

#include <boost/beast/core/tcp_stream.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "net/endpoint.h"
#include "net/resolver.h"

namespace mtasts::net {

enum class ConnectStatus { ok, no_address, dns_error, failed, timeout };

struct ConnectResult {
  ConnectStatus status = ConnectStatus::failed;
  DnsStatus dns = DnsStatus::ok;
  std::vector<std::string> cname_chain;  // the host name is an alias: the names followed
  std::string address;  // the one connected to (or the last tried)
  std::string detail;
};

awaitable<ConnectResult> connect_host(boost::beast::tcp_stream& stream, Resolver& resolver,
                                      const std::vector<ConnectTo>& rules, std::string host,
                                      std::uint16_t port, std::chrono::milliseconds timeout);

}  // namespace mtasts::net
