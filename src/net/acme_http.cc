#include "net/acme_http.h"

#include <openssl/x509v3.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/url/parse.hpp>

#include <memory>

#include "fmt/format.h"
#include "net/tls.h"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

namespace mtasts::net {

namespace {

using Clock = std::chrono::steady_clock;

Error http_error(std::string code, std::string message) {
  return Error{std::move(code), 0, 0, std::move(message), {}};
}

bool timed_out(const boost::system::error_code& ec) {
  return ec == beast::error::timeout || ec == asio::error::operation_aborted;
}

// OpenSSL's and the OS's words, except for our own deadline, which deserves plainer ones.
std::string reason(const boost::system::error_code& ec, std::chrono::milliseconds timeout) {
  return timed_out(ec) ? fmt::format("no answer within {} ms", timeout.count()) : ec.message();
}

std::string io_code(const boost::system::error_code& ec, std::string_view otherwise) {
  return timed_out(ec) ? "acme-timeout" : std::string(otherwise);
}

struct Target {
  std::string host;  // without brackets
  std::uint16_t port = 443;
  std::string path;  // path?query
};

Result<Target> parse_target(const std::string& url) {
  auto u = boost::urls::parse_uri(url);
  if (!u || u->scheme() != "https" || u->host().empty())
    return http_error("acme-url-invalid", fmt::format("{} is not an https:// URL", url));
  Target t;
  t.host = u->host_type() == boost::urls::host_type::ipv6 ? std::string(u->host_ipv6_address().to_string())
                                                          : std::string(u->host());
  if (u->has_port()) {
    if (u->port_number() == 0) return http_error("acme-url-invalid", fmt::format("{}: bad port", url));
    t.port = u->port_number();
  }
  t.path = std::string(u->encoded_path());
  if (t.path.empty()) t.path = "/";
  if (u->has_query()) t.path += "?" + std::string(u->encoded_query());
  return t;
}

// Addresses for `host`: the literal itself, or the system resolver's answer within the deadline.
asio::awaitable<Result<tcp::resolver::results_type>> resolve(const Target& t, Clock::time_point deadline) {
  auto ex = co_await asio::this_coro::executor;
  // Shared with the timer's handler, which may run after this coroutine has moved on.
  auto resolver = std::make_shared<tcp::resolver>(ex);
  asio::steady_timer timer(ex, deadline);
  timer.async_wait([resolver](boost::system::error_code ec) {
    if (!ec) resolver->cancel();
  });
  auto [ec, results] = co_await resolver->async_resolve(t.host, std::to_string(t.port),
                                                        asio::as_tuple(asio::use_awaitable));
  timer.cancel();
  if (ec == asio::error::operation_aborted)
    co_return http_error("acme-timeout", fmt::format("resolving {}: no answer in time", t.host));
  if (ec || results.empty())
    co_return http_error("acme-dns", fmt::format("resolving {}: {}", t.host, ec ? ec.message() : "no address"));
  co_return results;
}

}  // namespace

asio::awaitable<Result<AcmeHttpResponse>> acme_https(asio::ssl::context& tls, const AcmeHttpRequest& request,
                                                     std::chrono::milliseconds timeout,
                                                     std::size_t body_limit) {
  const auto deadline = Clock::now() + timeout;
  auto target = parse_target(request.url);
  if (!target) co_return target.error();
  const Target& t = *target;
  auto addresses = co_await resolve(t, deadline);
  if (!addresses) co_return addresses.error();

  auto ex = co_await asio::this_coro::executor;
  beast::ssl_stream<beast::tcp_stream> stream(ex, tls);
  auto& tcp_stream = beast::get_lowest_layer(stream);
  tcp_stream.expires_at(deadline);
  auto [cec, ep] = co_await tcp_stream.async_connect(*addresses, asio::as_tuple(asio::use_awaitable));
  (void)ep;
  if (cec)
    co_return http_error(io_code(cec, "acme-connect"),
                         fmt::format("connecting to {} port {}: {}", t.host, t.port, reason(cec, timeout)));

  // Verify like a browser: the name (or the IP literal) must be in the certificate.
  SSL* ssl = stream.native_handle();
  boost::system::error_code ip_ec;
  asio::ip::make_address(t.host, ip_ec);
  if (ip_ec) {
    prepare_client(ssl, t.host);
  } else {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), t.host.c_str());
  }
  auto [hec] = co_await stream.async_handshake(asio::ssl::stream_base::client,
                                               asio::as_tuple(asio::use_awaitable));
  if (hec) {
    long verify = SSL_get_verify_result(ssl);
    std::string why = verify != X509_V_OK ? X509_verify_cert_error_string(verify) : reason(hec, timeout);
    co_return http_error(io_code(hec, "acme-tls"), fmt::format("TLS with {} port {}: {}", t.host, t.port, why));
  }

  http::verb verb = request.method == AcmeHttpRequest::Method::post   ? http::verb::post
                    : request.method == AcmeHttpRequest::Method::head ? http::verb::head
                                                                      : http::verb::get;
  http::request<http::string_body> req{verb, t.path, 11};
  req.set(http::field::host, t.port == 443 ? t.host : fmt::format("{}:{}", t.host, t.port));
  if (t.host.find(':') != std::string::npos)  // IPv6 literal
    req.set(http::field::host, t.port == 443 ? fmt::format("[{}]", t.host) : fmt::format("[{}]:{}", t.host, t.port));
  req.set(http::field::user_agent, "mtasts/" MTASTS_VERSION " (ACME client)");
  req.set(http::field::connection, "close");
  if (!request.accept.empty()) req.set(http::field::accept, request.accept);
  if (request.method == AcmeHttpRequest::Method::post) {
    req.set(http::field::content_type, "application/jose+json");
    req.body() = request.body;
  }
  req.prepare_payload();
  auto [wec, written] = co_await http::async_write(stream, req, asio::as_tuple(asio::use_awaitable));
  (void)written;
  if (wec)
    co_return http_error(io_code(wec, "acme-http"), fmt::format("sending to {}: {}", request.url, reason(wec, timeout)));

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.header_limit(16 * 1024);
  parser.body_limit(body_limit);
  if (verb == http::verb::head) parser.skip(true);
  auto [rec, read] = co_await http::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
  (void)read;
  if (rec == http::error::body_limit)
    co_return http_error("acme-response-too-large",
                         fmt::format("{} answered more than {} bytes", request.url, body_limit));
  if (rec && !(rec == asio::ssl::error::stream_truncated && parser.is_done()))
    co_return http_error(io_code(rec, "acme-http"),
                         fmt::format("reading the answer from {}: {}", request.url, reason(rec, timeout)));
  const auto& res = parser.get();
  AcmeHttpResponse out;
  out.status = static_cast<int>(res.result_int());
  out.content_type = std::string(res[http::field::content_type]);
  out.location = std::string(res[http::field::location]);
  out.replay_nonce = std::string(res["Replay-Nonce"]);
  out.retry_after = std::string(res[http::field::retry_after]);
  out.body = std::move(parser.get().body());
  // Close politely, briefly: the answer is already complete.
  tcp_stream.expires_after(std::chrono::milliseconds(200));
  co_await stream.async_shutdown(asio::as_tuple(asio::use_awaitable));
  co_return out;
}

}  // namespace mtasts::net
