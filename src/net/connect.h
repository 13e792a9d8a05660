// TCP connect to a host name the way a sender does: resolve (through the Resolver), map the
// addresses through the --connect-to rules, then try each address until one answers, all within
// a deadline. The steps are also separate, for callers that probe every address on its own.
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
  boost::system::error_code error;  // of the last connect that failed
};

// The host's addresses as connection targets (connect_targets() in endpoint.h). On a DNS failure
// `status` is no_address or dns_error with `detail`, and there are no targets; else ok.
struct ResolvedHost {
  ConnectStatus status = ConnectStatus::ok;
  DnsStatus dns = DnsStatus::ok;
  std::vector<std::string> cname_chain;
  std::string detail;
  std::vector<ConnectTarget> targets;
};
awaitable<ResolvedHost> resolve_host(Resolver& resolver, const std::vector<ConnectTo>& rules,
                                     std::string host, std::uint16_t port);

// Tries the targets in order until one connects; `address` is the target's DNS address.
awaitable<ConnectResult> connect_any(boost::beast::tcp_stream& stream,
                                     const std::vector<ConnectTarget>& targets,
                                     std::chrono::milliseconds timeout);

awaitable<ConnectResult> connect_host(boost::beast::tcp_stream& stream, Resolver& resolver,
                                      const std::vector<ConnectTo>& rules, std::string host,
                                      std::uint16_t port, std::chrono::milliseconds timeout);

}  // namespace mtasts::net
