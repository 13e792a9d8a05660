#include "net/metrics_endpoint.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "fmt/format.h"
#include "net/endpoint.h"

namespace mtasts::net {

namespace asio = boost::asio;
using asio::ip::tcp;

struct MetricsEndpoint::State {
  State(asio::io_context& io, const Metrics& m) : acceptor(io), metrics(m) {}
  tcp::acceptor acceptor;
  const Metrics& metrics;
};

namespace {

asio::awaitable<void> metrics_scrape(std::shared_ptr<MetricsEndpoint::State> s, tcp::socket sock) {
  asio::steady_timer deadline(sock.get_executor(), std::chrono::seconds(5));
  deadline.async_wait([&sock](boost::system::error_code ec) {
    if (!ec) sock.close(ec);
  });
  std::string req;
  char chunk[1024];
  while (req.find("\r\n\r\n") == std::string::npos && req.size() < 8192) {
    auto [ec, n] = co_await sock.async_read_some(asio::buffer(chunk), asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    req.append(chunk, n);
  }
  const bool found = req.starts_with("GET /metrics ") || req.starts_with("GET /metrics?");
  const std::string body = found ? s->metrics.render() : "not found\n";
  const std::string resp = fmt::format(
      "HTTP/1.1 {}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
      found ? "200 OK" : "404 Not Found", body.size(), body);
  co_await asio::async_write(sock, asio::buffer(resp), asio::as_tuple(asio::use_awaitable));
  deadline.cancel();
  boost::system::error_code ignored;
  sock.shutdown(tcp::socket::shutdown_both, ignored);
}

asio::awaitable<void> metrics_accept_loop(std::shared_ptr<MetricsEndpoint::State> s) {
  for (;;) {
    auto [ec, sock] = co_await s->acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec) {
      if (!s->acceptor.is_open() || ec == asio::error::operation_aborted) co_return;
      // EMFILE and the like: keep serving, without spinning on the error.
      asio::steady_timer pause(s->acceptor.get_executor(), std::chrono::milliseconds(100));
      co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    asio::co_spawn(s->acceptor.get_executor(), metrics_scrape(s, std::move(sock)), asio::detached);
  }
}

}  // namespace

Result<std::unique_ptr<MetricsEndpoint>> MetricsEndpoint::start(asio::io_context& io, const std::string& listen,
                                                                const Metrics& metrics,
                                                                std::uint16_t default_port) {
  auto fail = [&](const std::string& why) -> Error {
    return Error{"listen-failed", 0, 0, fmt::format("metrics {}: {}", listen, why), {}};
  };
  // Port 0 (any free port, for tests) is not a port parse_host_port accepts: ask for 1, use 0.
  std::string text = listen;
  const bool any_port = text.ends_with(":0");
  if (any_port) text.back() = '1';
  auto parsed = parse_host_port(text, default_port);
  if (!parsed) return fail(parsed.error().message);
  HostPort hp = *parsed;
  if (any_port) hp.port = 0;
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(hp.host, ec);
  if (ec) return fail("listen on an IP address");
  auto s = std::make_shared<State>(io, metrics);
  tcp::endpoint ep(addr, hp.port);
  s->acceptor.open(ep.protocol(), ec);
  if (!ec) s->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) s->acceptor.bind(ep, ec);
  if (!ec) s->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail(ec.message());
  asio::co_spawn(io, metrics_accept_loop(s), asio::detached);
  return std::unique_ptr<MetricsEndpoint>(new MetricsEndpoint(std::move(s)));
}

MetricsEndpoint::~MetricsEndpoint() { stop(); }

std::string MetricsEndpoint::address() const {
  boost::system::error_code ec;
  auto ep = state_->acceptor.local_endpoint(ec);
  if (ec) return "";
  HostPort hp{ep.address().to_string(), ep.port()};
  return to_string(hp);
}

void MetricsEndpoint::stop() {
  boost::system::error_code ignored;
  if (state_->acceptor.is_open()) state_->acceptor.close(ignored);
}

}  // namespace mtasts::net
