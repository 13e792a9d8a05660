#include "net/connect.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "fmt/format.h"

namespace asio = boost::asio;

namespace mtasts::net {

awaitable<ResolvedHost> resolve_host(Resolver& resolver, const std::vector<ConnectTo>& rules,
                                     std::string host, std::uint16_t port) {
  ResolvedHost out;
  // The name must resolve even under --connect-to (a sender would need it); the rules only
  // change where the connections go.
  AddressAnswer a = co_await resolver.addresses(host);
  out.dns = a.status;
  out.cname_chain = a.cname_chain;
  if (a.status != DnsStatus::ok) {
    out.status = a.status == DnsStatus::nxdomain || a.status == DnsStatus::nodata
                     ? ConnectStatus::no_address
                     : ConnectStatus::dns_error;
    out.detail = fmt::format("{}: {}", host, a.detail.empty() ? to_string(a.status) : a.detail);
    if (!a.cname_chain.empty() && out.status == ConnectStatus::no_address)  // a dangling alias
      out.detail += fmt::format(" ({} is a CNAME to {}, which {})", host, a.cname_chain.back(),
                                a.status == DnsStatus::nxdomain ? "does not exist"
                                                                : "has no A/AAAA record");
    co_return out;
  }
  out.targets = connect_targets(rules, host, port, a.addresses);
  co_return out;
}

awaitable<ConnectResult> connect_any(boost::beast::tcp_stream& stream,
                                     const std::vector<ConnectTarget>& targets,
                                     std::chrono::milliseconds timeout) {
  ConnectResult out;
  for (const auto& t : targets) {
    boost::system::error_code ec;
    auto ip = asio::ip::make_address(t.connect.host, ec);
    out.address = t.address;
    if (ec) {
      out.detail = fmt::format("bad address {}", t.connect.host);
      continue;
    }
    stream.expires_after(timeout);
    auto [cec] = co_await stream.async_connect(asio::ip::tcp::endpoint(ip, t.connect.port),
                                               asio::as_tuple(asio::use_awaitable));
    if (!cec) {
      out.status = ConnectStatus::ok;
      co_return out;
    }
    out.error = cec;
    out.status = cec == boost::beast::error::timeout ? ConnectStatus::timeout : ConnectStatus::failed;
    // Name the address DNS gave; a --connect-to redirect (tests) is said beside it.
    out.detail = t.connect.host == t.address
                     ? fmt::format("{} port {}: {}", t.address, t.connect.port, cec.message())
                     : fmt::format("{} (--connect-to {}): {}", t.address, to_string(t.connect),
                                   cec.message());
  }
  co_return out;
}

awaitable<ConnectResult> connect_host(boost::beast::tcp_stream& stream, Resolver& resolver,
                                      const std::vector<ConnectTo>& rules, std::string host,
                                      std::uint16_t port, std::chrono::milliseconds timeout) {
  ResolvedHost r = co_await resolve_host(resolver, rules, host, port);
  if (r.status != ConnectStatus::ok) {
    ConnectResult out;
    out.status = r.status;
    out.dns = r.dns;
    out.cname_chain = std::move(r.cname_chain);
    out.detail = std::move(r.detail);
    co_return out;
  }
  ConnectResult out = co_await connect_any(stream, r.targets, timeout);
  out.dns = r.dns;
  out.cname_chain = std::move(r.cname_chain);
  co_return out;
}

}  // namespace mtasts::net
