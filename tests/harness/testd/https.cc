// HTTPS listeners: an MTA-STS policy host (RFC 8461 §3.3) and the ways one can go wrong.
#include "h2.hpp"
#include "listener.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdint>
#include <string>
#include <string_view>

namespace mtasts::testd {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using asio::redirect_error;
using asio::use_awaitable;
using namespace std::chrono_literals;

constexpr std::string_view kPolicyPath = "/.well-known/mta-sts.txt";
constexpr std::string_view kRedirectTo = "https://elsewhere.example.test/.well-known/mta-sts.txt";
constexpr std::size_t kLargeBodySize = 100 * 1024;
constexpr std::uint64_t kHugeLength = std::uint64_t{1} << 30;
constexpr std::size_t kHugeChunk = 64 * 1024;
constexpr std::uint64_t kDripLength = 64 * 1024;  // within a checker's size limit: only time fails
constexpr auto kHttpsShutdownTimeout = 5s;

// Bytes that no HTTP parser accepts as a status line.
constexpr char kHttpJunkBytes[] =
    "\x00\x01\x02\x03\xff\xfe\xfd\xfc"
    "this is not HTTP \x80\x81\x82\x83\r\n\x1b[0m\x00\x7f\r\n\r\n";
constexpr std::string_view kHttpJunk{kHttpJunkBytes, sizeof kHttpJunkBytes - 1};

// RFC 8461 §3.2 allows extension fields in a policy, so padding with "x-padding:" lines keeps the
// text parsable: only its size is wrong (a checker must give up at 64 KiB).
std::string make_large_body(std::string_view policy) {
  std::string out(policy.substr(0, kLargeBodySize / 2));
  if (!out.empty() && out.back() != '\n') out += "\r\n";
  const std::string line = "x-padding: " + std::string(59, 'x') + "\r\n";
  constexpr std::size_t kShortest = 14;  // "x-padding: x\r\n"
  while (kLargeBodySize - out.size() >= line.size() + kShortest) out += line;
  out += "x-padding: " + std::string(kLargeBodySize - out.size() - 13, 'x') + "\r\n";
  return out;
}

const std::string& huge_chunk() {
  static const std::string chunk = [] {
    std::string s;
    const std::string line = "x-padding: " + std::string(61, 'y') + "\r\n";
    while (s.size() + line.size() <= kHugeChunk) s += line;
    s.resize(kHugeChunk, 'y');
    return s;
  }();
  return chunk;
}

std::string raw_header(std::uint64_t content_length, std::string_view content_type) {
  return "HTTP/1.1 200 OK\r\nServer: mtasts-testd\r\nContent-Type: " + std::string(content_type) +
         "\r\nContent-Length: " + std::to_string(content_length) + "\r\nConnection: close\r\n\r\n";
}

// "mint" listeners serve one template for every host: {host} is the SNI name, {domain} the same
// without a leading "mta-sts." label (so a policy can list "mx1.{domain}").
std::string body_for(const ListenerConfig& c, const char* sni) {
  if (!c.mint || sni == nullptr) return c.body;
  std::string host(sni);
  for (char& ch : host)
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
  constexpr std::string_view kPrefix = "mta-sts.";
  std::string domain = host.compare(0, kPrefix.size(), kPrefix) == 0 && host.size() > kPrefix.size()
                           ? host.substr(kPrefix.size())
                           : host;
  std::string out;
  out.reserve(c.body.size() + 64);
  std::string_view rest = c.body;
  for (;;) {
    std::size_t open = rest.find('{');
    if (open == std::string_view::npos) break;
    out.append(rest.substr(0, open));
    rest.remove_prefix(open);
    if (rest.substr(0, 6) == "{host}") {
      out += host;
      rest.remove_prefix(6);
    } else if (rest.substr(0, 8) == "{domain}") {
      out += domain;
      rest.remove_prefix(8);
    } else {
      out += '{';
      rest.remove_prefix(1);
    }
  }
  out.append(rest);
  return out;
}

http::response<http::string_body> make_response(const Listener& l,
                                                const http::request<http::string_body>& req,
                                                const std::string& body) {
  const ListenerConfig& c = l.config;
  http::response<http::string_body> res{http::status::ok, req.version()};
  res.set(http::field::server, "mtasts-testd");
  res.set(http::field::content_type, c.content_type);
  std::string_view path = req.target();
  path = path.substr(0, path.find('?'));
  switch (c.https) {
    case HttpsBehaviour::head_differs:
      if (req.method() == http::verb::head) {
        res.result(http::status::method_not_allowed);
        res.set(http::field::allow, "GET");
        res.set(http::field::content_type, "text/plain");
        res.body() = "405 Method Not Allowed\n";
        break;
      }
      [[fallthrough]];
    case HttpsBehaviour::ok:
    case HttpsBehaviour::no_content_type:
    case HttpsBehaviour::chunked:
      if (path == kPolicyPath) {
        // RFC 8461 §3.3 wants text/plain; some servers send no Content-Type at all.
        if (c.https == HttpsBehaviour::no_content_type) res.erase(http::field::content_type);
        res.body() = body;
      } else {
        res.result(http::status::not_found);
        res.set(http::field::content_type, "text/plain");
        res.body() = "404 Not Found\n";
      }
      break;
    case HttpsBehaviour::not_found:
      res.result(http::status::not_found);
      res.body() = "404 Not Found\n";
      break;
    case HttpsBehaviour::server_error:
      res.result(http::status::internal_server_error);
      res.body() = "500 Internal Server Error\n";
      break;
    case HttpsBehaviour::redirect:
      res.result(http::status::moved_permanently);
      res.set(http::field::location, kRedirectTo);
      res.set(http::field::content_type, "text/html");
      res.body() = "<html><body>Moved</body></html>\n";
      break;
    case HttpsBehaviour::large:
      res.set(http::field::content_type, "text/plain");
      res.body() = make_large_body(body);
      break;
    default:  // html, and any behaviour that ends up answering normally
      res.body() = body;
      break;
  }
  res.keep_alive(req.keep_alive());
  res.prepare_payload();
  return res;
}

// RFC 9112 §7.1: the policy as chunked transfer coding, a chunk per line (legal for any client).
asio::awaitable<void> send_chunked(TlsStream& stream, const Listener& l, const std::string& body) {
  auto& tcp = beast::get_lowest_layer(stream);
  boost::system::error_code ec;
  std::string out = "HTTP/1.1 200 OK\r\nServer: mtasts-testd\r\nContent-Type: " +
                    l.config.content_type +
                    "\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
  for (std::size_t at = 0; at < body.size();) {
    std::size_t end = body.find('\n', at);
    end = end == std::string::npos ? body.size() : end + 1;
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", end - at);
    out += size + body.substr(at, end - at) + "\r\n";
    at = end;
  }
  out += "0\r\n\r\n";
  tcp.expires_after(l.config.idle_timeout);
  co_await asio::async_write(stream, asio::buffer(out), redirect_error(use_awaitable, ec));
}

// A body cut short: Content-Length promises 100 bytes more than are sent before the close.
asio::awaitable<void> send_truncated(TlsStream& stream, const Listener& l, const std::string& body) {
  auto& tcp = beast::get_lowest_layer(stream);
  boost::system::error_code ec;
  std::string out = raw_header(body.size() + 100, l.config.content_type) + body;
  tcp.expires_after(l.config.idle_timeout);
  co_await asio::async_write(stream, asio::buffer(out), redirect_error(use_awaitable, ec));
}

// Headers, then one body byte a second: a policy host that never finishes.
asio::awaitable<void> drip(TlsStream& stream, const Listener& l) {
  auto& tcp = beast::get_lowest_layer(stream);
  boost::system::error_code ec;
  std::string header = raw_header(kDripLength, "text/plain");
  tcp.expires_after(l.config.idle_timeout);
  co_await asio::async_write(stream, asio::buffer(header), redirect_error(use_awaitable, ec));
  const std::string& source = l.config.body.empty() ? huge_chunk() : l.config.body;
  asio::steady_timer timer(tcp.get_executor());
  for (std::uint64_t sent = 0; !ec && sent < kDripLength; ++sent) {
    timer.expires_after(1s);
    co_await timer.async_wait(redirect_error(use_awaitable, ec));
    if (ec) break;
    tcp.expires_after(l.config.idle_timeout);
    co_await asio::async_write(stream, asio::buffer(&source[sent % source.size()], 1),
                               redirect_error(use_awaitable, ec));
  }
}

// Content-Length: 1 GiB, then padding as fast as the client takes it.
asio::awaitable<bool> stream_huge(TlsStream& stream, const Listener& l) {
  auto& tcp = beast::get_lowest_layer(stream);
  boost::system::error_code ec;
  std::string header = raw_header(kHugeLength, l.config.content_type);
  tcp.expires_after(l.config.idle_timeout);
  co_await asio::async_write(stream, asio::buffer(header), redirect_error(use_awaitable, ec));
  const std::string& chunk = huge_chunk();
  for (std::uint64_t left = kHugeLength; !ec && left > 0;) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(left, chunk.size()));
    tcp.expires_after(l.config.idle_timeout);
    co_await asio::async_write(stream, asio::buffer(chunk.data(), n),
                               redirect_error(use_awaitable, ec));
    left -= n;
  }
  co_return !ec;
}

}  // namespace

asio::awaitable<void> serve_https(asio::ip::tcp::socket socket,
                                  std::shared_ptr<const Listener> listener) {
  const Listener& l = *listener;
  const ListenerConfig& c = l.config;
  boost::system::error_code ec;

  if (c.https == HttpsBehaviour::never_close) {
    // Accepted, then nothing: the ClientHello is never read. Held until the idle timeout.
    asio::steady_timer timer(socket.get_executor(), c.idle_timeout);
    co_await timer.async_wait(redirect_error(use_awaitable, ec));
    co_return;
  }

  TlsStream stream(beast::tcp_stream(std::move(socket)), *l.tls);
  auto& tcp = beast::get_lowest_layer(stream);
  tcp.expires_after(c.idle_timeout);
  co_await stream.async_handshake(ssl::stream_base::server, redirect_error(use_awaitable, ec));
  if (ec) {
    if (l.verbose) log(l, "TLS handshake failed: " + ec.message());
    co_return;
  }
  if (c.https == HttpsBehaviour::h2only) {
    co_await serve_h2(stream, l);
    co_return;
  }

  const std::string body = body_for(c, SSL_get_servername(stream.native_handle(),
                                                         TLSEXT_NAMETYPE_host_name));
  beast::flat_buffer buffer;
  for (bool keep_alive = true; keep_alive;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(16 * 1024);
    parser.body_limit(64 * 1024);
    tcp.expires_after(c.idle_timeout);
    co_await http::async_read(stream, buffer, parser, redirect_error(use_awaitable, ec));
    if (ec) {
      if (l.verbose && ec != http::error::end_of_stream) log(l, "read: " + ec.message());
      break;
    }
    const auto& req = parser.get();
    if (l.verbose) log(l, std::string(req.method_string()) + " " + std::string(req.target()));

    switch (c.https) {
      case HttpsBehaviour::reset:
        // SO_LINGER with a zero timeout makes close() send RST instead of FIN.
        tcp.socket().set_option(asio::socket_base::linger(true, 0), ec);
        tcp.socket().close(ec);
        co_return;
      case HttpsBehaviour::garbage:
        tcp.expires_after(c.idle_timeout);
        co_await asio::async_write(stream, asio::buffer(kHttpJunk), redirect_error(use_awaitable, ec));
        keep_alive = false;
        continue;
      case HttpsBehaviour::drip:
        co_await drip(stream, l);
        co_return;
      case HttpsBehaviour::huge:
        if (!co_await stream_huge(stream, l)) co_return;
        keep_alive = false;
        continue;
      case HttpsBehaviour::chunked:
      case HttpsBehaviour::truncated:
        if (req.method() == http::verb::get && req.target() == kPolicyPath) {
          if (c.https == HttpsBehaviour::chunked) co_await send_chunked(stream, l, body);
          else co_await send_truncated(stream, l, body);
          keep_alive = false;
          continue;
        }
        break;
      default:
        break;
    }

    auto res = make_response(l, req, body);
    keep_alive = res.keep_alive();
    tcp.expires_after(c.idle_timeout);
    if (req.method() == http::verb::head) {
      http::response_serializer<http::string_body> sr{res};
      co_await http::async_write_header(stream, sr, redirect_error(use_awaitable, ec));
    } else {
      co_await http::async_write(stream, res, redirect_error(use_awaitable, ec));
    }
    if (ec) co_return;
  }

  // Best effort close_notify; a client that just drops the connection ends this at once.
  tcp.expires_after(std::min<std::chrono::steady_clock::duration>(kHttpsShutdownTimeout,
                                                                  c.idle_timeout));
  co_await stream.async_shutdown(redirect_error(use_awaitable, ec));
}

}  // namespace mtasts::testd
