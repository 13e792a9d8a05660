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
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <ctime>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>
#include <unordered_set>

#include "core/metrics.h"
#include "core/socketmap.h"
#include "net/endpoint.h"
#include "net/metrics_endpoint.h"
#include "resolve/engine.h"
#include "resolve/uring_server.h"

namespace asio = boost::asio;
using asio::ip::tcp;
using unix_socket = asio::local::stream_protocol;

namespace mtasts::resolve {

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

struct Server final : SocketmapHandler {
  const Config& config;
  Metrics metrics;
  std::unique_ptr<Engine> engine;
  std::vector<std::unique_ptr<asio::io_context>> ios;
  std::atomic<std::size_t> next_io{0};
  std::vector<std::unique_ptr<tcp::acceptor>> tcp_acceptors;
  std::vector<std::unique_ptr<unix_socket::acceptor>> unix_acceptors;
  std::vector<std::string> unix_paths;
  std::atomic<std::int64_t> open{0}, busy{0};
  std::atomic<bool> stopping{false};  // read by every I/O thread
  // Connections served by a thread of their own (see blocking_connection): their descriptors,
  // so that a stop can wake them, and how many there are.
  std::mutex conn_threads_mu;
  std::condition_variable conn_threads_done;
  std::unordered_set<int> conn_thread_fds;
  std::size_t conn_threads = 0;
  std::atomic<bool> hard_stop{false};  // the I/O threads are gone: cold lookups cannot finish

  Counter& replies_ok = metrics.counter("mtasts_resolver_lookups_total", "socketmap replies by status", {{"status", "OK"}});
  Counter& replies_notfound = metrics.counter("mtasts_resolver_lookups_total", "socketmap replies by status", {{"status", "NOTFOUND"}});
  Counter& replies_temp = metrics.counter("mtasts_resolver_lookups_total", "socketmap replies by status", {{"status", "TEMP"}});
  Counter& replies_dane = metrics.counter("mtasts_resolver_dane_replies_total", "OK replies that are DANE (dane, dane-only)");
  Counter& replies_perm = metrics.counter("mtasts_resolver_lookups_total", "socketmap replies by status", {{"status", "PERM"}});
  Counter& bad_netstrings = metrics.counter("mtasts_resolver_bad_requests_total", "malformed requests (connection closed for netstrings)", {{"kind", "netstring"}});
  Counter& bad_requests = metrics.counter("mtasts_resolver_bad_requests_total", "malformed requests (connection closed for netstrings)", {{"kind", "request"}});
  Counter& connections = metrics.counter("mtasts_resolver_connections_total", "connections accepted");
  Counter& rejected_connections = metrics.counter("mtasts_resolver_connections_rejected_total", "connections closed at once: max_connections reached");
  Counter& idle_closes = metrics.counter("mtasts_resolver_idle_closes_total", "connections closed after idle_timeout");

  // SocketmapHandler: what the io_uring connections (uring_server.h) call; the connection threads
  // (io = "threads") look up through lookup() too.
  bool answer_now(std::string_view payload, std::string& reply) override { return fast_answer(payload, reply); }
  void lookup(std::string payload, std::function<void(std::optional<std::string>)> done) override {
    ++busy;
    asio::co_spawn(pick_io(), answer_owned(std::move(payload)),
                   [this, done = std::move(done)](std::exception_ptr e, std::string reply) {
                     if (e) {
                       try {
                         std::rethrow_exception(e);
                       } catch (const std::exception& ex) {
                         spdlog::warn("lookup: {}", ex.what());
                       }
                       done(std::nullopt);
                     } else {
                       done(std::move(reply));
                     }
                     --busy;
                   });
  }
  void accepted() override { connections.inc(); }
  void rejected() override { rejected_connections.inc(); }
  void idle_closed() override { idle_closes.inc(); }
  void bad_netstring(std::string_view why) override {
    bad_netstrings.inc();
    spdlog::debug("closing a connection: {}", why);
  }

  explicit Server(const Config& c) : config(c) {
    metrics.gauge_fn("mtasts_resolver_connections_open", "open socketmap connections",
                     [this] { return static_cast<double>(open.load()); });
  }

  asio::io_context& pick_io() { return *ios[next_io.fetch_add(1, std::memory_order_relaxed) % ios.size()]; }

  // True when the hot set answers (else answer() does: bad requests, keys that are no domain,
  // lookups). Keys are mostly what the hot set holds already (Postfix asks for the next-hop
  // domain as is, lower case): those are looked up as they come, without normalizing them into a
  // string first. Only normalized names are in the hot set, and normalizing one gives itself, so
  // a hit on the raw key is the hit the normalized key would give.
  bool fast_answer(std::string_view payload, std::string& reply) {
    auto req = parse_socketmap_request(payload);
    if (!req) return false;
    const Zone& zone = config.zone(req->name);
    const auto now = static_cast<std::int64_t>(std::time(nullptr));
    if (!engine->reply_from_memory(req->key, zone, now, reply)) {
      auto domain = policy_domain_of_key(req->key);
      if (!domain || *domain == req->key || !engine->reply_from_memory(*domain, zone, now, reply))
        return false;
    }
    count(reply);
    return true;
  }

  void count(std::string_view reply) {
    if (reply.starts_with("OK")) {
      replies_ok.inc();
      if (reply.starts_with("OK dane")) replies_dane.inc();
    } else {
      (reply.starts_with("TEMP") ? replies_temp : replies_notfound).inc();
    }
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
    count(reply);
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
          idle_closes.inc();
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
          bad_netstring(r.error.message);
          ok = false;
          break;
        }
        // The hot set answers most lookups without a coroutine frame; the rest go to the engine
        // (`busy` counts those: a stop waits for them).
        std::string reply;
        if (!fast_answer(r.payload, reply)) {
          ++busy;
          reply = co_await answer(r.payload);
          --busy;
        }
        append_netstring(out, reply);
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

  // A connection on a thread of its own, with blocking recv and send, as Postfix's smtp processes
  // (and the fixed-answer ceiling of bench/resolver_bench) do: per query one recv and one send,
  // and the reply's wake-up of the client is a hand-over on this core rather than a preemption of
  // an event loop or a cross-core wake-up (bench/README.md, resolver_bench: 18 -> 12-15 CPU-us per
  // cached query). The idle close is the receive timeout; the send
  // timeout bounds a client that does not read. Lookups that miss the hot set are done by the
  // engine from an I/O thread, this thread waiting for the answer as the client does.
  void blocking_connection(int fd) {
    const timeval idle{static_cast<time_t>(config.idle_timeout.count()), 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &idle, sizeof idle);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &idle, sizeof idle);
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // fails on Unix sockets: fine
    std::string in, out, reply;
    char chunk[4096];
    bool ok = true;
    while (ok && !stopping) {
      ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        idle_closes.inc();
        break;
      }
      if (n <= 0) break;
      in.append(chunk, static_cast<std::size_t>(n));
      std::size_t used = 0;
      while (true) {
        auto r = parse_netstring(std::string_view(in).substr(used), kMaxSocketmapRequest);
        if (r.status == NetstringParse::Status::incomplete) break;
        if (r.status == NetstringParse::Status::error) {
          bad_netstring(r.error.message);
          ok = false;
          break;
        }
        bool answered = fast_answer(r.payload, reply);
        if (!answered) {
          answered = answer_blocking(r.payload, reply);
        }
        if (!answered) {
          ok = false;
          break;
        }
        append_netstring(out, reply);
        used += r.consumed;
      }
      in.erase(0, used);
      // Pipelined requests read together are answered with one send.
      if (!out.empty() && !send_all(fd, out)) break;
      out.clear();
    }
    --open;
    // The last touch of this Server: wait_connection_threads() may return right after.
    std::lock_guard lock(conn_threads_mu);
    conn_thread_fds.erase(fd);
    ::close(fd);
    --conn_threads;
    conn_threads_done.notify_all();
  }

  static bool send_all(int fd, std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;  // EAGAIN here is the send timeout: the client does not read
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // The engine's answer (lookup() above), waited for on this thread. False when the daemon stops
  // first or the lookup failed.
  bool answer_blocking(std::string_view payload, std::string& reply) {
    auto done = std::make_shared<std::promise<std::optional<std::string>>>();
    auto result = done->get_future();
    lookup(std::string(payload), [done](std::optional<std::string> r) { done->set_value(std::move(r)); });
    while (result.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready)
      if (hard_stop) return false;
    auto r = result.get();
    if (!r) return false;
    reply = std::move(*r);
    return true;
  }

  net::awaitable<std::string> answer_owned(std::string payload) { co_return co_await answer(payload); }

  // Hands an accepted connection to a thread of its own. False when none can be made.
  bool start_connection_thread(int fd) {
    int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0 || ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) return false;
    {
      std::lock_guard lock(conn_threads_mu);
      conn_thread_fds.insert(fd);
      ++conn_threads;
    }
    ++open;
    struct Start {
      Server* server;
      int fd;
    };
    auto* start = new Start{this, fd};
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);  // no coroutine runs here: a small stack
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t tid;
    int rc = ::pthread_create(&tid, &attr, [](void* arg) -> void* {
      std::unique_ptr<Start> s(static_cast<Start*>(arg));
      s->server->blocking_connection(s->fd);
      return nullptr;
    }, start);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
      delete start;
      --open;
      std::lock_guard lock(conn_threads_mu);
      conn_thread_fds.erase(fd);
      --conn_threads;
      return false;
    }
    return true;
  }

  // Wakes the connection threads: the idle ones (in recv) end at once; with `all`, those
  // writing too.
  void shutdown_connection_threads(bool all) {
    std::lock_guard lock(conn_threads_mu);
    for (int fd : conn_thread_fds) ::shutdown(fd, all ? SHUT_RDWR : SHUT_RD);
  }

  void wait_connection_threads() {
    std::unique_lock lock(conn_threads_mu);
    conn_threads_done.wait(lock, [this] { return conn_threads == 0; });
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
        rejected_connections.inc();
        boost::system::error_code ignored;
        sock.close(ignored);
        continue;
      }
      if (conn_threads_used() < config.connection_threads) {
        boost::system::error_code ec2;
        auto protocol = acceptor.local_endpoint().protocol();
        int fd = sock.release(ec2);
        if (!ec2) {
          if (start_connection_thread(fd)) {
            connections.inc();
            continue;
          }
          sock.assign(protocol, fd, ec2);  // no thread to be had: the I/O threads serve it
          if (ec2) {
            ::close(fd);
            continue;
          }
        }
      }
      asio::co_spawn(io, connection(std::move(sock)), asio::detached);
    }
  }

  std::size_t conn_threads_used() {
    std::lock_guard lock(conn_threads_mu);
    return conn_threads;
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
  std::unique_ptr<net::MetricsEndpoint> metrics_endpoint;
  if (!config.metrics_listen.empty()) {
    auto m = net::MetricsEndpoint::start(main_io, config.metrics_listen, s.metrics, 8461);
    if (!m) {
      error = m.error().message;
      return 2;
    }
    metrics_endpoint = std::move(m).value();
  }

  // The connections: on io_uring rings of their own (accepting too), or on threads.
  std::unique_ptr<UringServer> uring;
  if (config.io != ConnectionIo::threads) {
    UringOptions o;
    for (auto& a : s.tcp_acceptors) o.listeners.push_back({a->native_handle(), true});
    for (auto& a : s.unix_acceptors) o.listeners.push_back({a->native_handle(), false});
    o.threads = threads;
    o.idle_timeout = config.idle_timeout;
    o.max_connections = config.max_connections;
    o.open = &s.open;
    std::string why;
    uring = UringServer::start(o, s, why);
    if (uring) {
      spdlog::info("connections on io_uring ({})", uring->describe());
    } else if (config.io == ConnectionIo::io_uring) {
      error = why + " (io = \"io_uring\")";
      return 2;
    } else {
      spdlog::warn("{}: connections get a thread each (io = \"threads\")", why);
    }
  }
  for (auto& a : s.tcp_acceptors) {
    spdlog::info("listening on {}:{}", a->local_endpoint().address().to_string(), a->local_endpoint().port());
    if (!uring) asio::co_spawn(main_io, s.accept_loop(*a), asio::detached);
  }
  for (std::size_t i = 0; i < s.unix_acceptors.size(); ++i) {
    spdlog::info("listening on unix:{}", s.unix_paths[i]);
    if (!uring) asio::co_spawn(main_io, s.accept_loop(*s.unix_acceptors[i]), asio::detached);
  }
  if (metrics_endpoint) spdlog::info("metrics on http://{}/metrics", metrics_endpoint->address());

  asio::signal_set signals(main_io, SIGTERM, SIGINT);
  signals.async_wait([&](boost::system::error_code ec, int sig) {
    if (ec) return;
    spdlog::info("signal {}: closing listeners, finishing requests in progress", sig);
    s.stopping = true;
    boost::system::error_code ignored;
    for (auto& a : s.tcp_acceptors) a->close(ignored);
    for (auto& a : s.unix_acceptors) a->close(ignored);
    if (metrics_endpoint) metrics_endpoint->stop();
    s.shutdown_connection_threads(false);
    if (uring) uring->stop();  // idle connections closed, the others after their reply
    // Requests in progress get up to 5 s (their own deadlines are shorter), then everything stops.
    asio::co_spawn(main_io, [&]() -> net::awaitable<void> {
      asio::steady_timer t(main_io);
      for (int i = 0; i < 100 && (s.busy.load() > 0 || (uring && s.open.load() > 0)); ++i) {
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
  // Connection threads still waiting for the engine give up; the others are woken.
  s.hard_stop = true;
  if (uring) {
    uring->stop_now();
    uring->join();
  }
  s.shutdown_connection_threads(true);
  s.wait_connection_threads();
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
