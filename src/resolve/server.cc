#include "resolve/server.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <atomic>
#include <ctime>
#include <filesystem>
#include <thread>

#include "core/metrics.h"
#include "core/socketmap.h"
#include "net/endpoint.h"
#include "resolve/engine.h"

namespace asio = boost::asio;
using asio::ip::tcp;
using unix_socket = asio::local::stream_protocol;

namespace mtasts::resolve {

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

struct Server {
  const Config& config;
  Metrics metrics;
  std::unique_ptr<Engine> engine;
  std::vector<std::unique_ptr<asio::io_context>> ios;
  std::size_t next_io = 0;
  std::vector<std::unique_ptr<tcp::acceptor>> tcp_acceptors;
  std::vector<std::unique_ptr<unix_socket::acceptor>> unix_acceptors;
  std::vector<std::string> unix_paths;
  std::atomic<std::int64_t> open{0}, busy{0};
  std::atomic<bool> stopping{false};  // read by every I/O thread

  Counter& replies_ok = metrics.counter("mtasts_resolver_lookups_total", "socketmap replies by status", {{"status", "OK"}});
  Counter& replies_notfound = metrics.counter("mtasts_resolver_lookups_total", "socketmap replies by status", {{"status", "NOTFOUND"}});
  Counter& replies_temp = metrics.counter("mtasts_resolver_lookups_total", "socketmap replies by status", {{"status", "TEMP"}});
  Counter& replies_perm = metrics.counter("mtasts_resolver_lookups_total", "socketmap replies by status", {{"status", "PERM"}});
  Counter& bad_netstrings = metrics.counter("mtasts_resolver_bad_requests_total", "malformed requests (connection closed for netstrings)", {{"kind", "netstring"}});
  Counter& bad_requests = metrics.counter("mtasts_resolver_bad_requests_total", "malformed requests (connection closed for netstrings)", {{"kind", "request"}});
  Counter& connections = metrics.counter("mtasts_resolver_connections_total", "connections accepted");
  Counter& rejected = metrics.counter("mtasts_resolver_connections_rejected_total", "connections closed at once: max_connections reached");
  Counter& idle_closed = metrics.counter("mtasts_resolver_idle_closes_total", "connections closed after idle_timeout");

  explicit Server(const Config& c) : config(c) {
    metrics.gauge_fn("mtasts_resolver_connections_open", "open socketmap connections",
                     [this] { return static_cast<double>(open.load()); });
  }

  asio::io_context& pick_io() { return *ios[next_io++ % ios.size()]; }

  // True when the reply needs no lookup: a bad request, a key that is no domain, a hot entry.
  bool fast_answer(std::string_view payload, std::string& reply) {
    auto req = parse_socketmap_request(payload);
    if (!req) return false;
    auto domain = policy_domain_of_key(req->key);
    if (!domain) return false;
    auto v = engine->from_memory(*domain, static_cast<std::int64_t>(std::time(nullptr)));
    if (!v) return false;
    reply = format_reply(*v, config.zone(req->name));
    (reply.starts_with("OK") ? replies_ok : replies_notfound).inc();
    return true;
  }

  net::awaitable<std::string> answer(std::string_view payload) {
    auto req = parse_socketmap_request(payload);
    if (!req) {
      bad_requests.inc();
      replies_perm.inc();
      co_return "PERM " + req.error().message;
    }
    const Zone& zone = config.zone(req->name);
    auto domain = policy_domain_of_key(req->key);
    if (!domain) {
      replies_notfound.inc();
      co_return not_found_answer();
    }
    auto v = engine->from_memory(*domain, static_cast<std::int64_t>(std::time(nullptr)));
    if (!v) v = co_await engine->resolve(*domain, zone.timeout);
    std::string reply = format_reply(*v, zone);
    (reply.starts_with("OK") ? replies_ok : reply.starts_with("TEMP") ? replies_temp : replies_notfound).inc();
    co_return reply;
  }

  template <typename Socket>
  net::awaitable<void> connection(Socket sock) {
    ++open;
    connections.inc();
    auto ex = co_await asio::this_coro::executor;
    // Idle watchdog: one timer per connection, re-armed only when it fires (reads just move
    // `last`). It runs on the connection's thread and touches the socket only while it lives.
    struct Watch {
      explicit Watch(asio::any_io_executor e) : timer(e) {}
      asio::steady_timer timer;
      std::chrono::steady_clock::time_point last = std::chrono::steady_clock::now();
      Socket* sock = nullptr;
    };
    auto watch = std::make_shared<Watch>(ex);
    watch->sock = &sock;
    asio::co_spawn(ex, [this, watch]() -> net::awaitable<void> {
      while (watch->sock) {
        watch->timer.expires_at(watch->last + config.idle_timeout);
        co_await watch->timer.async_wait(use_tuple);
        if (watch->sock && std::chrono::steady_clock::now() >= watch->last + config.idle_timeout) {
          idle_closed.inc();
          boost::system::error_code ignored;
          watch->sock->close(ignored);
          break;
        }
      }
    }, asio::detached);
    std::string in, out;
    char chunk[4096];
    bool ok = true;
    while (ok) {
      auto [ec, n] = co_await sock.async_read_some(asio::buffer(chunk), use_tuple);
      if (ec) break;
      watch->last = std::chrono::steady_clock::now();
      in.append(chunk, n);
      while (true) {
        auto r = parse_netstring(in, kMaxSocketmapRequest);
        if (r.status == NetstringParse::Status::incomplete) break;
        if (r.status == NetstringParse::Status::error) {
          bad_netstrings.inc();
          spdlog::debug("closing a connection: {}", r.error.message);
          ok = false;
          break;
        }
        ++busy;
        // The hot set answers most lookups without a coroutine frame; the rest go to the engine.
        std::string reply;
        if (!fast_answer(r.payload, reply)) reply = co_await answer(r.payload);
        --busy;
        out += encode_netstring(reply);
        in.erase(0, r.consumed);
      }
      if (!out.empty()) {
        auto [wec, wn] = co_await asio::async_write(sock, asio::buffer(out), use_tuple);
        if (wec) break;
        out.clear();
        watch->last = std::chrono::steady_clock::now();
      }
      if (stopping) break;
    }
    watch->sock = nullptr;
    watch->timer.cancel();
    boost::system::error_code ignored;
    sock.close(ignored);
    --open;
  }

  template <typename Acceptor>
  net::awaitable<void> accept_loop(Acceptor& acceptor) {
    while (!stopping) {
      auto& io = pick_io();
      auto [ec, sock] = co_await acceptor.async_accept(io, use_tuple);
      if (ec) {
        if (stopping || ec == asio::error::operation_aborted) break;
        spdlog::warn("accept: {}", ec.message());
        asio::steady_timer pause(acceptor.get_executor(), std::chrono::milliseconds(100));
        co_await pause.async_wait(use_tuple);
        continue;
      }
      if (static_cast<std::size_t>(open.load()) >= config.max_connections) {
        rejected.inc();
        boost::system::error_code ignored;
        sock.close(ignored);
        continue;
      }
      asio::co_spawn(io, connection(std::move(sock)), asio::detached);
    }
  }

  // GET /metrics (anything else 404); one request per connection, bounded and timed.
  net::awaitable<void> metrics_connection(tcp::socket sock) {
    asio::steady_timer deadline(sock.get_executor(), std::chrono::seconds(5));
    deadline.async_wait([&sock](boost::system::error_code ec) {
      if (!ec) sock.close(ec);
    });
    std::string req;
    char chunk[1024];
    while (req.find("\r\n\r\n") == std::string::npos && req.size() < 8192) {
      auto [ec, n] = co_await sock.async_read_some(asio::buffer(chunk), use_tuple);
      if (ec) co_return;
      req.append(chunk, n);
    }
    bool found = req.starts_with("GET /metrics ") || req.starts_with("GET /metrics?");
    std::string body = found ? metrics.render() : "not found\n";
    std::string resp = std::string(found ? "HTTP/1.1 200 OK\r\n" : "HTTP/1.1 404 Not Found\r\n") +
                       "Content-Type: text/plain; version=0.0.4\r\nContent-Length: " +
                       std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    co_await asio::async_write(sock, asio::buffer(resp), use_tuple);
    deadline.cancel();
    boost::system::error_code ignored;
    sock.shutdown(tcp::socket::shutdown_both, ignored);
  }

  net::awaitable<void> metrics_loop(tcp::acceptor& acceptor) {
    while (!stopping) {
      auto [ec, sock] = co_await acceptor.async_accept(use_tuple);
      if (ec) break;
      asio::co_spawn(acceptor.get_executor(), metrics_connection(std::move(sock)), asio::detached);
    }
  }
};

std::unique_ptr<tcp::acceptor> listen_tcp(asio::io_context& io, const std::string& spec, std::string& error) {
  auto hp = net::parse_host_port(spec, 8461);
  if (!hp) {
    error = spec + ": " + hp.error().message;
    return nullptr;
  }
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(hp->host, ec);
  if (ec) {
    error = spec + ": listen on an IP address";
    return nullptr;
  }
  auto a = std::make_unique<tcp::acceptor>(io);
  tcp::endpoint ep(addr, hp->port);
  a->open(ep.protocol(), ec);
  if (!ec) a->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) a->bind(ep, ec);
  if (!ec) a->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    error = spec + ": " + ec.message();
    return nullptr;
  }
  return a;
}

}  // namespace

int run_server(const Config& config, std::string& error) {
  // Thousands of Postfix connections need thousands of descriptors: take the hard limit.
  if (rlimit rl{}; ::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
  Server s(config);
  auto cache = store::PolicyCache::open(config.db);
  if (!cache) {
    error = cache.error().message;
    return 2;
  }
  s.engine = Engine::create(config, s.metrics, std::move(cache).value(), error);
  if (!s.engine) return 2;
  unsigned threads = config.threads ? config.threads : std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < threads; ++i) s.ios.push_back(std::make_unique<asio::io_context>(1));
  asio::io_context& main_io = *s.ios[0];

  std::vector<std::string> listen = config.listen;
  if (listen.empty()) listen.push_back("127.0.0.1:8461");
  for (const auto& spec : listen) {
    if (spec.starts_with("unix:")) {
      std::string path = spec.substr(5);
      std::error_code fec;
      if (std::filesystem::is_socket(path, fec)) std::filesystem::remove(path, fec);
      auto a = std::make_unique<unix_socket::acceptor>(main_io);
      boost::system::error_code ec;
      a->open(unix_socket(), ec);
      if (!ec) a->bind(unix_socket::endpoint(path), ec);
      if (!ec) a->listen(asio::socket_base::max_listen_connections, ec);
      if (ec) {
        error = spec + ": " + ec.message();
        return 2;
      }
      // Postfix's smtp(8) runs as another user (and maybe chrooted into the queue directory).
      ::chmod(path.c_str(), static_cast<mode_t>(config.socket_mode));
      s.unix_paths.push_back(path);
      s.unix_acceptors.push_back(std::move(a));
    } else {
      auto a = listen_tcp(main_io, spec, error);
      if (!a) return 2;
      s.tcp_acceptors.push_back(std::move(a));
    }
  }
  std::unique_ptr<tcp::acceptor> metrics_acceptor;
  if (!config.metrics_listen.empty()) {
    metrics_acceptor = listen_tcp(main_io, config.metrics_listen, error);
    if (!metrics_acceptor) return 2;
  }

  for (auto& a : s.tcp_acceptors) {
    spdlog::info("listening on {}:{}", a->local_endpoint().address().to_string(), a->local_endpoint().port());
    asio::co_spawn(main_io, s.accept_loop(*a), asio::detached);
  }
  for (std::size_t i = 0; i < s.unix_acceptors.size(); ++i) {
    spdlog::info("listening on unix:{}", s.unix_paths[i]);
    asio::co_spawn(main_io, s.accept_loop(*s.unix_acceptors[i]), asio::detached);
  }
  if (metrics_acceptor) {
    spdlog::info("metrics on http://{}:{}/metrics", metrics_acceptor->local_endpoint().address().to_string(),
                 metrics_acceptor->local_endpoint().port());
    asio::co_spawn(main_io, s.metrics_loop(*metrics_acceptor), asio::detached);
  }

  asio::signal_set signals(main_io, SIGTERM, SIGINT);
  signals.async_wait([&](boost::system::error_code ec, int sig) {
    if (ec) return;
    spdlog::info("signal {}: closing listeners, finishing requests in progress", sig);
    s.stopping = true;
    boost::system::error_code ignored;
    for (auto& a : s.tcp_acceptors) a->close(ignored);
    for (auto& a : s.unix_acceptors) a->close(ignored);
    if (metrics_acceptor) metrics_acceptor->close(ignored);
    // Requests in progress get up to 5 s (their own deadlines are shorter), then everything stops.
    asio::co_spawn(main_io, [&]() -> net::awaitable<void> {
      asio::steady_timer t(main_io);
      for (int i = 0; i < 100 && s.busy.load() > 0; ++i) {
        t.expires_after(std::chrono::milliseconds(50));
        co_await t.async_wait(use_tuple);
      }
      for (auto& io : s.ios) io->stop();
    }, asio::detached);
  });

  s.engine->start();
  std::vector<std::thread> workers;
  for (unsigned i = 1; i < threads; ++i)
    workers.emplace_back([&s, i] {
      auto guard = asio::make_work_guard(*s.ios[i]);
      s.ios[i]->run();
    });
  {
    auto guard = asio::make_work_guard(main_io);
    main_io.run();
  }
  for (auto& io : s.ios) io->stop();
  for (auto& t : workers) t.join();
  s.engine->stop();
  // Lookups still waiting on the resolution thread hold connection coroutines: destroy them
  // while their sockets' io_contexts still exist.
  s.engine.reset();
  for (const auto& p : s.unix_paths) {
    std::error_code fec;
    std::filesystem::remove(p, fec);
  }
  spdlog::info("stopped");
  return 0;
}

}  // namespace mtasts::resolve
