#include "net/connect.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "fmt/format.h"

namespace asio = boost::asio;

namespace mtasts::net {

awaitable<ConnectResult> connect_host(boost::beast::tcp_stream& stream, Resolver& resolver,
                                      const std::vector<ConnectTo>& rules, std::string host,
                                      std::uint16_t port, std::chrono::milliseconds timeout) {
  ConnectResult out;
  // The name must resolve even under --connect-to (a sender would need it); the rule only
  // changes where the connection goes.
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
  std::vector<std::string> addresses = std::move(a.addresses);
  if (auto mapped = map_connect(rules, host, port)) {
    addresses = {mapped->host};
    port = mapped->port;
  }
  for (const auto& address : addresses) {
    boost::system::error_code ec;
    auto ip = asio::ip::make_address(address, ec);
    out.address = address;
    if (ec) {
      out.detail = fmt::format("bad address {}", address);
      continue;
    }
    stream.expires_after(timeout);
    auto [cec] = co_await stream.async_connect(asio::ip::tcp::endpoint(ip, port),
                                               asio::as_tuple(asio::use_awaitable));
    if (!cec) {
      out.status = ConnectStatus::ok;
      co_return out;
    }
    out.status = cec == boost::beast::error::timeout ? ConnectStatus::timeout : ConnectStatus::failed;
    out.detail = fmt::format("{} port {}: {}", address, port, cec.message());
  }
  co_return out;
}

}  // namespace mtasts::net
