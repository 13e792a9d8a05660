// One connection of `mtasts serve`: TLS handshake (HTTPS), then HTTP/1.1 requests with
// keep-alive until the client closes, a limit is hit or the server drains.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <array>
#include <memory>
#include <ctime>

#include "fmt/format.h"
#include "serve/server_state.h"
#include "serve/tls_stream.h"

namespace mtasts::serve {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

namespace {

constexpr std::string_view kPolicyPath = "/.well-known/mta-sts.txt";
constexpr std::string_view kAcmePrefix = "/.well-known/acme-challenge/";

// "Date: Wed, 25 Nov 2026 14:00:00 GMT\r\n", formatted once a second per thread.
std::string_view date_header() {
  thread_local std::time_t last = 0;
  thread_local char buf[64];
  thread_local std::size_t len = 0;
  std::time_t now = std::time(nullptr);
  if (now != last) {
    struct tm t {};
    gmtime_r(&now, &t);
    len = std::strftime(buf, sizeof buf, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &t);
    last = now;
  }
  return {buf, len};
}

std::string_view reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 301: return "Moved Permanently";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 403: return "Forbidden";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 415: return "Unsupported Media Type";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
  }
}

struct Reply {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  bool head = false;  // headers only
};

std::string serialize(const Reply& r, bool keep_alive) {
  std::string out = fmt::format("HTTP/1.1 {} {}\r\nServer: mtasts\r\n{}", r.status, reason(r.status), date_header());
  out += fmt::format("Content-Type: {}\r\nContent-Length: {}\r\n", r.content_type, r.body.size());
  for (const auto& [k, v] : r.headers) out += fmt::format("{}: {}\r\n", k, v);
  out += keep_alive ? "\r\n" : "Connection: close\r\n\r\n";
  if (!r.head) out += r.body;
  return out;
}

Reply text(int status, std::string body) {
  Reply r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

// Per-connection request rate: a token bucket refilled at `rate` per second, burst `rate`.
class Bucket {
 public:
  explicit Bucket(double rate) : rate_(rate), tokens_(rate) {}
  bool take() {
    auto now = std::chrono::steady_clock::now();
    tokens_ = std::min(rate_, tokens_ + std::chrono::duration<double>(now - last_).count() * rate_);
    last_ = now;
    if (tokens_ < 1) return false;
    tokens_ -= 1;
    return true;
  }

 private:
  double rate_, tokens_;
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

// Timeouts without a timer per operation: each phase moves the connection's deadline (a plain
// store), and one watchdog timer per connection closes the socket when the deadline passes. The
// watchdog is a plain completion handler that owns the Connection with the session: no second
// coroutine, no parallel group, no cancellation slots per connection.
enum class Phase { handshake, idle, header, write };

struct Connection : SessionHandle {
  Worker& w;
  tcp::socket* socket = nullptr;  // null once the session ended
  asio::steady_timer timer;
  std::chrono::steady_clock::time_point deadline;
  Phase phase = Phase::handshake;
  std::list<SessionHandle*>::iterator self;
  explicit Connection(Worker& worker) : w(worker), timer(worker.io) {
    w.shared.counters.connections_total.inc();
    w.shared.counters.connections_open.add(1);
    self = w.sessions.insert(w.sessions.end(), this);
    close_if_idle = [this] {
      boost::system::error_code ignored;
      if (phase == Phase::idle && socket) socket->cancel(ignored);
    };
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  // The session is over (also when the io_context is destroyed with it unfinished): the
  // connection stops counting and the watchdog stops touching the socket.
  void end() {
    if (!socket) return;
    socket = nullptr;
    w.sessions.erase(self);
    w.shared.counters.connections_open.add(-1);
    w.shared.connections.fetch_sub(1, std::memory_order_relaxed);
    timer.cancel();  // the pending watchdog runs once more, sees the end and lets go
  }
  void expect(Phase p, std::chrono::milliseconds within) {
    phase = p;
    deadline = std::chrono::steady_clock::now() + within;
    // A later deadline is a plain store; an earlier one wakes the watchdog to re-arm.
    if (deadline < timer.expiry()) timer.cancel();
  }
};

void watch(std::shared_ptr<Connection> c) {
  Connection& conn = *c;
  conn.timer.expires_at(conn.deadline);
  conn.timer.async_wait([c = std::move(c)](const boost::system::error_code&) mutable {
    if (!c->socket) return;  // the session ended
    if (c->deadline > std::chrono::steady_clock::now()) return watch(std::move(c));  // moved or re-armed
    Counters& n = c->w.shared.counters;
    if (c->phase == Phase::idle) n.idle_closes.inc();
    else if (c->phase == Phase::header) n.header_timeouts.inc();
    // (a handshake cut short is counted by the session, whose handshake then fails)
    boost::system::error_code ignored;
    c->socket->close(ignored);  // the session's pending operation fails and it ends
  });
}

// Starts the watchdog over `socket`; the session ends the connection when it returns or unwinds.
struct Watched {
  std::shared_ptr<Connection> conn;
  Watched(Worker& w, tcp::socket& socket, Phase phase, std::chrono::milliseconds within)
      : conn(std::make_shared<Connection>(w)) {
    conn->socket = &socket;
    conn->expect(phase, within);
    watch(conn);
  }
  ~Watched() { conn->end(); }
  Watched(const Watched&) = delete;
  Watched& operator=(const Watched&) = delete;
};

// The admin API on the store thread; the coroutine resumes on its worker afterwards.
asio::awaitable<Reply> admin(Worker& w, ApiRequest request) {
  Shared& s = w.shared;
  s.counters.api_requests.inc();
  ApiResponse r = co_await asio::co_spawn(
      s.store_pool, [&]() -> asio::awaitable<ApiResponse> { co_return s.admin->handle(request, std::time(nullptr)); },
      asio::use_awaitable);
  Reply out;
  out.status = r.status;
  out.content_type = r.content_type;
  out.body = std::move(r.body);
  out.headers = std::move(r.headers);
  co_return out;
}

template <typename Stream>
asio::awaitable<void> serve_requests(Worker& w, Stream& stream, ListenerKind kind, Connection& conn,
                                     std::string sni) {
  Shared& s = w.shared;
  const ServeConfig& cfg = s.config;
  Counters& n = s.counters;
  beast::flat_buffer buffer;
  Bucket bucket(cfg.requests_per_second);
  for (;;) {
    if (buffer.size() == 0) {  // keep-alive: wait for the next request's first bytes
      if (s.draining.load(std::memory_order_relaxed)) co_return;
      conn.expect(Phase::idle, cfg.idle_timeout);
      auto [ec, got] = co_await stream.async_read_some(buffer.prepare(4096), use_tuple);
      if (ec) co_return;
      buffer.commit(got);
    }
    conn.expect(Phase::header, cfg.header_timeout);
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(cfg.header_limit));
    auto [ec, used] = co_await http::async_read_header(stream, buffer, parser, use_tuple);
    if (!ec && !parser.is_done()) {  // a body: how much depends on where it goes
      std::string_view t(parser.get().target().data(), parser.get().target().size());
      const bool report = s.reports && kind == ListenerKind::https && t.substr(0, t.find('?')) == cfg.report_path;
      parser.body_limit(report ? cfg.report_body_limit : cfg.api_body_limit);
      std::tie(ec, used) = co_await http::async_read(stream, buffer, parser, use_tuple);
    }
    Reply reply;
    bool keep = false;
    if (ec) {
      if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::ssl::error::stream_truncated)
        co_return;
      if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor) co_return;  // watchdog
      if (ec == http::error::header_limit) {
        n.header_too_large.inc();
        reply = text(431, "request headers too large\n");
      } else if (ec == http::error::body_limit) {
        reply = text(413, "request body too large\n");
      } else {
        n.bad_request.inc();
        reply = text(400, "bad request\n");
      }
    } else {
      auto& req = parser.get();
      keep = req.keep_alive() && !s.draining.load(std::memory_order_relaxed);
      std::string_view target(req.target().data(), req.target().size());
      std::string_view path = target.substr(0, target.find('?'));
      std::string_view host(req[http::field::host].data(), req[http::field::host].size());
      const bool get_or_head = req.method() == http::verb::get || req.method() == http::verb::head;
      if (!bucket.take()) {
        n.rate_limited.inc();
        reply = text(429, "too many requests on this connection\n");
        keep = false;
      } else if (kind == ListenerKind::https && path == kPolicyPath) {
        auto snapshot = w.hosted();  // kept alive for the write below
        const HostedPolicy* p = snapshot ? snapshot->find(host.empty() ? std::string_view(sni) : host) : nullptr;
        if (!p) {
          n.not_hosted.inc();
          reply = text(404, "no MTA-STS policy is hosted for this name\n");
        } else if (!get_or_head) {
          n.method_not_allowed.inc();
          reply = text(405, "use GET\n");
          reply.headers.emplace_back("Allow", "GET, HEAD");
        } else {
          // The hot path: prepared bytes, no formatting.
          n.policy_served.inc();
          static constexpr std::string_view status = "HTTP/1.1 200 OK\r\nServer: mtasts\r\n";
          std::string_view end = keep ? "\r\n" : "Connection: close\r\n\r\n";
          std::array<asio::const_buffer, 5> out = {
              asio::buffer(status), asio::buffer(date_header()), asio::buffer(p->headers),
              asio::buffer(end),
              asio::buffer(req.method() == http::verb::head ? std::string_view() : std::string_view(p->body))};
          conn.expect(Phase::write, cfg.header_timeout);
          auto [wec, wn] = co_await asio::async_write(stream, out, use_tuple);
          if (wec || !keep) co_return;
          continue;
        }
      } else if (kind == ListenerKind::http && path.starts_with(kAcmePrefix) && get_or_head) {
        auto answer = s.challenges.http01(std::string(path.substr(kAcmePrefix.size())));
        if (answer) {
          n.acme_http01.inc();
          reply = text(200, *answer);
          reply.content_type = "application/octet-stream";
        } else {
          reply = text(404, "no such challenge\n");
        }
      } else if (kind == ListenerKind::http) {
        // Everything else on port 80 goes to HTTPS (RFC 8461 senders never fetch over HTTP).
        std::string h(host.substr(0, host.rfind(':') == std::string_view::npos || host.ends_with(']')
                                         ? host.size()
                                         : host.rfind(':')));
        if (h.empty() || h.find_first_of(" \t\r\n/\\@") != std::string::npos) {
          n.bad_request.inc();
          reply = text(400, "a Host header is required\n");
        } else {
          n.redirects.inc();
          reply = text(301, "moved to https\n");
          reply.headers.emplace_back("Location", fmt::format("https://{}{}", h, target));
        }
      } else if (kind == ListenerKind::https && s.reports && path == cfg.report_path) {
        if (req.method() != http::verb::post) {
          n.method_not_allowed.inc();
          reply = text(405, "POST a TLS-RPT report here (RFC 8460)\n");
          reply.headers.emplace_back("Allow", "POST");
        } else {
          auto answer = co_await s.reports->receive(std::string(req[http::field::content_type]), std::move(req.body()));
          reply = text(answer.status, answer.message + "\n");
        }
      } else if (path.starts_with("/api/") || path == "/metrics") {
        ApiRequest api{std::string(req.method_string()), std::string(target),
                       std::string(req[http::field::authorization]), std::string(req[http::field::content_type]),
                       std::move(req.body()), kind == ListenerKind::admin};
        reply = co_await admin(w, std::move(api));
      } else {
        n.not_found.inc();
        reply = text(404, "not found\n");
      }
      reply.head = req.method() == http::verb::head;
    }
    std::string bytes = serialize(reply, keep);
    conn.expect(Phase::write, cfg.header_timeout);
    auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(bytes), use_tuple);
    if (wec || !keep) co_return;
  }
}

asio::awaitable<void> https_session(Worker& w, tcp::socket socket) {
  Shared& s = w.shared;
  Watched watched(w, socket, Phase::handshake, s.config.handshake_timeout);
  // No TLS state before the ClientHello arrives: a connection that sends nothing (idle, or one
  // of a flood) costs a socket and this frame, not an SSL object (with Asio's SSL stream, which
  // served here before TlsStream, it was ~84 KB each: 840 MB for 10,000).
  boost::system::error_code avail;
  if (socket.available(avail) == 0 && !avail) {
    auto [wec] = co_await socket.async_wait(tcp::socket::wait_read, use_tuple);
    if (wec) {  // the handshake timeout (the watchdog closed the socket) or shutdown
      s.counters.handshake_failures.inc();
      co_return;
    }
  }
  TlsStream stream(std::move(socket), s.tls->native_handle());
  watched.conn->socket = &stream.socket();
  boost::system::error_code ec = asio::error::no_memory;
  if (stream.ok()) std::tie(ec) = co_await stream.async_handshake(use_tuple);
  if (ec) {
    s.counters.handshake_failures.inc();
    co_return;
  }
  s.counters.handshakes.inc();
  const char* sni = SSL_get_servername(stream.native_handle(), TLSEXT_NAMETYPE_host_name);
  co_await serve_requests(w, stream, ListenerKind::https, *watched.conn, sni ? sni : "");
}

asio::awaitable<void> plain_session(Worker& w, tcp::socket socket, ListenerKind kind) {
  Watched watched(w, socket, Phase::idle, w.shared.config.idle_timeout);
  co_await serve_requests(w, socket, kind, *watched.conn, "");
}

}  // namespace

void start_session(Worker& w, tcp::socket socket, ListenerKind kind) {
  boost::system::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  if (kind == ListenerKind::https)
    asio::co_spawn(w.io, https_session(w, std::move(socket)), asio::detached);
  else
    asio::co_spawn(w.io, plain_session(w, std::move(socket), kind), asio::detached);
}

}  // namespace mtasts::serve
