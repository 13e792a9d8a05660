#include "net/policy_fetch.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "fmt/format.h"
#include "net/connect.h"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace mtasts::net {

std::string_view to_string(PolicyFetch::Outcome outcome) {
  using O = PolicyFetch::Outcome;
  switch (outcome) {
    case O::response: return "response";
    case O::host_not_found: return "host-not-found";
    case O::dns_error: return "dns-error";
    case O::connect_failed: return "connect-failed";
    case O::timeout: return "timeout";
    case O::tls_failed: return "tls-failed";
    case O::cert_invalid: return "cert-invalid";
    case O::body_too_large: return "body-too-large";
    case O::http_error: return "http-error";
  }
  return "http-error";
}

namespace {

using Clock = std::chrono::steady_clock;

std::chrono::milliseconds left(Clock::time_point deadline) {
  auto d = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return std::max(d, std::chrono::milliseconds(1));
}

// Connects and shakes hands; fills `out` on failure. Returns the stream when TLS is up.
awaitable<std::unique_ptr<beast::ssl_stream<beast::tcp_stream>>> open(
    Resolver& resolver, const FetchOptions& options, asio::ssl::context& ctx, PolicyFetch& out,
    Clock::time_point deadline, VerifyRecorder& recorder) {
  auto ex = co_await asio::this_coro::executor;
  auto stream = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(ex, ctx);
  ConnectResult c = co_await connect_host(beast::get_lowest_layer(*stream), resolver,
                                          options.connect_to, out.host, 443, left(deadline));
  out.address = c.address;
  if (c.status != ConnectStatus::ok) {
    out.detail = c.detail;
    out.outcome = c.status == ConnectStatus::no_address ? PolicyFetch::Outcome::host_not_found
                  : c.status == ConnectStatus::dns_error ? PolicyFetch::Outcome::dns_error
                  : c.status == ConnectStatus::timeout  ? PolicyFetch::Outcome::timeout
                                                         : PolicyFetch::Outcome::connect_failed;
    co_return nullptr;
  }
  prepare_client(stream->native_handle(), out.host);
  stream->set_verify_callback(std::ref(recorder));
  beast::get_lowest_layer(*stream).expires_at(deadline);
  auto [ec] = co_await stream->async_handshake(asio::ssl::stream_base::client,
                                               asio::as_tuple(asio::use_awaitable));
  if (ec) {
    out.outcome = ec == beast::error::timeout ? PolicyFetch::Outcome::timeout
                                              : PolicyFetch::Outcome::tls_failed;
    out.detail = fmt::format("TLS handshake with {} ({}): {}", out.host, out.address, ec.message());
    co_return nullptr;
  }
  co_return stream;
}

}  // namespace

awaitable<PolicyFetch> fetch_policy(Resolver& resolver, const FetchOptions& options,
                                    std::string domain) {
  PolicyFetch out;
  out.host = "mta-sts." + domain;
  const auto deadline = Clock::now() + options.timeout;
  VerifyRecorder recorder;
  auto stream = co_await open(resolver, options, *options.tls, out, deadline, recorder);
  if (!stream) {
    if (out.outcome == PolicyFetch::Outcome::tls_failed && options.legacy_tls &&
        Clock::now() < deadline) {
      // Would an old protocol work? Then the server is the problem: say so precisely.
      PolicyFetch probe = out;
      VerifyRecorder r2;
      if (auto legacy = co_await open(resolver, options, *options.legacy_tls, probe, deadline, r2)) {
        out.tls_legacy_only = true;
        out.tls.version = SSL_get_version(legacy->native_handle());
        out.detail = fmt::format("{} only speaks {}; senders require TLS 1.2 or later", out.host,
                                 out.tls.version);
      }
    }
    co_return out;
  }
  out.tls = judge(stream->native_handle(), out.host, recorder);
  if (!out.tls.acceptable()) {
    out.outcome = PolicyFetch::Outcome::cert_invalid;  // RFC 8461 §3.3: no policy from here
    co_return out;
  }
  http::request<http::empty_body> req{http::verb::get, "/.well-known/mta-sts.txt", 11};
  req.set(http::field::host, out.host);
  req.set(http::field::user_agent, "mtasts/" MTASTS_VERSION " (MTA-STS checker)");
  req.set(http::field::accept, "text/plain");
  req.set(http::field::connection, "close");
  beast::get_lowest_layer(*stream).expires_at(deadline);
  auto [wec, written] = co_await http::async_write(*stream, req, asio::as_tuple(asio::use_awaitable));
  (void)written;
  if (wec) {
    out.outcome = wec == beast::error::timeout ? PolicyFetch::Outcome::timeout
                                               : PolicyFetch::Outcome::http_error;
    out.detail = fmt::format("sending the request: {}", wec.message());
    co_return out;
  }
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.header_limit(16 * 1024);
  parser.body_limit(options.body_limit);
  auto [rec, read] = co_await http::async_read(*stream, buffer, parser,
                                               asio::as_tuple(asio::use_awaitable));
  (void)read;
  if (parser.is_header_done()) {
    const auto& res = parser.get();
    out.status = static_cast<int>(res.result_int());
    out.content_type = std::string(res[http::field::content_type]);
    out.location = std::string(res[http::field::location]);
  }
  if (rec == http::error::body_limit) {
    out.outcome = PolicyFetch::Outcome::body_too_large;
    out.detail = fmt::format("the body is larger than {} bytes", options.body_limit);
    co_return out;
  }
  if (rec && !(rec == asio::ssl::error::stream_truncated && parser.is_done())) {
    out.outcome = rec == beast::error::timeout ? PolicyFetch::Outcome::timeout
                                               : PolicyFetch::Outcome::http_error;
    out.detail = fmt::format("reading the response: {}", rec.message());
    co_return out;
  }
  out.body = std::move(parser.get().body());
  out.outcome = PolicyFetch::Outcome::response;
  // Close politely; a server that does not answer the close_notify costs no more time.
  beast::get_lowest_layer(*stream).expires_after(std::chrono::milliseconds(200));
  co_await stream->async_shutdown(asio::as_tuple(asio::use_awaitable));
  co_return out;
}

}  // namespace mtasts::net
