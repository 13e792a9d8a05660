// LMTP over TCP or a Unix socket: one coroutine per connection feeding an LmtpSession, a
// watchdog timer closing idle or slow peers, delivery on one store thread.
#include "reports/lmtp_server.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <atomic>
#include <filesystem>
#include <optional>

#include "fmt/format.h"
#include "net/endpoint.h"

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;

namespace mtasts::reports {

namespace {

class Server final : public LmtpServer {
 public:
  Server(asio::io_context& io, LmtpOptions options, DeliverFn deliver)
      : io_(io), options_(std::move(options)), deliver_(std::move(deliver)) {
    if (Metrics* m = options_.metrics) {
      accepted_ = &m->counter("mtasts_lmtp_connections_total", "LMTP connections accepted");
      refused_ = &m->counter("mtasts_lmtp_connections_refused_total",
                             "LMTP connections answered 421 at once: max_connections reached");
      m->gauge_fn("mtasts_lmtp_connections_open", "open LMTP connections",
                  [this] { return static_cast<double>(connections_.load()); });
    }
  }
  ~Server() override {
    stop();
    store_.join();
    // The registry may be read after this server is gone.
    if (options_.metrics) options_.metrics->gauge_fn("mtasts_lmtp_connections_open", "open LMTP connections", [] { return 0.0; });
  }

  Result<bool> listen();
  std::string address() const override { return address_; }
  void stop() override {
    boost::system::error_code ec;
    if (tcp_) tcp_->close(ec);
    if (unix_) unix_->close(ec);
  }

 private:
  template <typename Acceptor>
  awaitable<void> accept_loop(Acceptor& acceptor);
  template <typename Socket>
  awaitable<void> serve(Socket socket);
  awaitable<IngestResult> store_one(const std::string* message) { co_return deliver_(*message); }

  asio::io_context& io_;
  LmtpOptions options_;
  DeliverFn deliver_;
  asio::thread_pool store_{1};  // one thread: the store connection is used by one thread only
  std::optional<asio::ip::tcp::acceptor> tcp_;
  std::optional<asio::local::stream_protocol::acceptor> unix_;
  std::string address_;
  std::atomic<std::size_t> connections_{0};
  Counter* accepted_ = nullptr;
  Counter* refused_ = nullptr;
};

Result<bool> Server::listen() {
  boost::system::error_code ec;
  auto failed = [&](std::string what) -> Result<bool> {
    return Error{"listen-failed", 0, 0,
                 fmt::format("cannot listen on {}: {}: {}", options_.listen, what, ec.message()), {}};
  };
  if (options_.listen.starts_with("unix:")) {
    std::string path = options_.listen.substr(5);
    std::filesystem::remove(path, ec);  // a socket left by a previous run
    unix_.emplace(io_);
    asio::local::stream_protocol::endpoint ep(path);
    unix_->open(ep.protocol(), ec);
    if (!ec) unix_->bind(ep, ec);
    if (!ec) unix_->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return failed("bind");
    address_ = "unix:" + path;
    asio::co_spawn(io_, accept_loop(*unix_), asio::detached);
    return true;
  }
  // Port 0 (any free port, for tests) is not a port parse_host_port accepts: ask for 1, use 0.
  std::string text = options_.listen;
  bool any_port = text.ends_with(":0");
  if (any_port) text.back() = '1';
  auto parsed = net::parse_host_port(text, 24);
  if (!parsed) return parsed.error();
  net::HostPort hp = *parsed;
  if (any_port) hp.port = 0;
  auto addr = asio::ip::make_address(hp.host, ec);
  if (ec) return failed("not an IP address");
  asio::ip::tcp::endpoint ep(addr, hp.port);
  tcp_.emplace(io_);
  tcp_->open(ep.protocol(), ec);
  if (!ec) tcp_->set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec) tcp_->bind(ep, ec);
  if (!ec) tcp_->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return failed("bind");
  auto local = tcp_->local_endpoint(ec);
  address_ = net::to_string(net::HostPort{local.address().to_string(), local.port()});
  asio::co_spawn(io_, accept_loop(*tcp_), asio::detached);
  return true;
}

template <typename Acceptor>
awaitable<void> Server::accept_loop(Acceptor& acceptor) {
  while (acceptor.is_open()) {
    boost::system::error_code ec;
    auto socket = co_await acceptor.async_accept(asio::redirect_error(use_awaitable, ec));
    if (ec) {
      if (!acceptor.is_open() || ec == asio::error::operation_aborted) co_return;
      continue;  // EMFILE and friends: keep serving the others
    }
    if (connections_ >= options_.max_connections) {
      if (refused_) refused_->inc();
      boost::system::error_code ignored;
      asio::write(socket, asio::buffer(std::string_view("421 4.3.2 too many connections, try later\r\n")), ignored);
      continue;
    }
    if (accepted_) accepted_->inc();
    asio::co_spawn(io_, serve(std::move(socket)), asio::detached);
  }
}

template <typename Socket>
awaitable<void> Server::serve(Socket sock) {
  ++connections_;
  struct Count {
    std::atomic<std::size_t>& n;
    ~Count() { --n; }
  } count{connections_};
  // The socket and its deadline are shared with the watchdog, which closes the socket when a
  // read or write takes longer than the timeout, and may wake after this coroutine ended.
  struct Conn {
    Socket socket;
    asio::steady_timer deadline;
  };
  auto conn = std::make_shared<Conn>(Conn{std::move(sock), asio::steady_timer(io_)});
  Socket& socket = conn->socket;
  asio::steady_timer& deadline = conn->deadline;
  auto arm = [&] { deadline.expires_after(options_.timeout); };
  arm();
  asio::co_spawn(io_, [conn]() -> awaitable<void> {
    while (conn->socket.is_open()) {
      boost::system::error_code ec;
      co_await conn->deadline.async_wait(asio::redirect_error(use_awaitable, ec));
      if (conn->deadline.expiry() <= asio::steady_timer::clock_type::now()) {
        boost::system::error_code ignored;
        conn->socket.close(ignored);
        co_return;
      }
    }
  }, asio::detached);

  LmtpSession session(options_.limits, options_.hostname);
  boost::system::error_code ec;
  auto send = [&](const std::string& text) -> awaitable<bool> {
    arm();
    co_await asio::async_write(socket, asio::buffer(text), asio::redirect_error(use_awaitable, ec));
    co_return !ec;
  };
  bool open = co_await send(session.greeting());
  std::string buf(16384, '\0');
  while (open) {
    arm();
    std::size_t n = co_await socket.async_read_some(asio::buffer(buf), asio::redirect_error(use_awaitable, ec));
    if (ec) break;
    session.receive(std::string_view(buf.data(), n));
    std::string replies;  // pipelined replies go out together (RFC 2920)
    for (auto e = session.next(); e.kind != LmtpSession::Event::need_more; e = session.next()) {
      if (e.kind == LmtpSession::Event::reply) {
        replies += e.text;
      } else if (e.kind == LmtpSession::Event::close) {
        replies += e.text;
        open = false;
        break;
      } else {  // deliver: answer what came before, store, then answer for the message
        if (!replies.empty() && !(open = co_await send(replies))) break;
        replies.clear();
        // Blocking store work on the store thread; resumes here when it is committed.
        deadline.expires_at(asio::steady_timer::time_point::max());
        // (A named message and a member coroutine: GCC 12 double-frees a lambda capture moved
        // inside a co_await expression.)
        const std::string message = std::move(e.text);
        IngestResult r = co_await asio::co_spawn(store_, store_one(&message), use_awaitable);
        replies += session.delivered(r);
      }
    }
    if (!replies.empty() && !co_await send(replies)) break;
  }
  boost::system::error_code ignored;
  socket.close(ignored);
  deadline.cancel();
}

}  // namespace

Result<std::unique_ptr<LmtpServer>> LmtpServer::start(asio::io_context& io, LmtpOptions options,
                                                      DeliverFn deliver) {
  auto s = std::make_unique<Server>(io, std::move(options), std::move(deliver));
  if (auto l = s->listen(); !l) return l.error();
  return std::unique_ptr<LmtpServer>(std::move(s));
}

}  // namespace mtasts::reports
