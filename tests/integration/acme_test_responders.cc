#include "acme_test_responders.h"

#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <list>
#include <memory>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

namespace mtasts::testing {

namespace {

constexpr std::string_view kPrefix = "/.well-known/acme-challenge/";

tcp::acceptor listen_on(asio::io_context& io, std::uint16_t port) {
  tcp::acceptor a(io);
  tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port);
  a.open(ep.protocol());
  a.set_option(asio::socket_base::reuse_address(true));
  a.bind(ep);
  a.listen();
  return a;
}

template <typename Handler>
asio::awaitable<void> accept_loop(tcp::acceptor& acceptor, Handler handle) {
  while (true) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    asio::co_spawn(acceptor.get_executor(), handle(std::move(socket)), asio::detached);
  }
}

// RFC 8737 §4: the server offers only "acme-tls/1"; a client that does not ask for it gets nothing.
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void*) {
  static const unsigned char kAcmeTls[] = {10, 'a', 'c', 'm', 'e', '-', 't', 'l', 's', '/', '1'};
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, kAcmeTls, sizeof kAcmeTls, in, inlen) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

// The SNI name picks the TLS-ALPN-01 certificate the ACME client published.
int select_certificate(SSL* ssl, int*, void* arg) {
  const auto* challenges = static_cast<const serve::Challenges*>(arg);
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (!name) return SSL_TLSEXT_ERR_ALERT_FATAL;
  auto cert = challenges->alpn(name);
  if (!cert) return SSL_TLSEXT_ERR_ALERT_FATAL;
  BIO* cb = BIO_new_mem_buf(cert->certificate_pem.data(), static_cast<int>(cert->certificate_pem.size()));
  X509* x = PEM_read_bio_X509(cb, nullptr, nullptr, nullptr);
  BIO_free(cb);
  BIO* kb = BIO_new_mem_buf(cert->private_key_pem.data(), static_cast<int>(cert->private_key_pem.size()));
  EVP_PKEY* k = PEM_read_bio_PrivateKey(kb, nullptr, nullptr, nullptr);
  BIO_free(kb);
  bool ok = x && k && SSL_use_certificate(ssl, x) == 1 && SSL_use_PrivateKey(ssl, k) == 1;
  X509_free(x);
  EVP_PKEY_free(k);
  return ok ? SSL_TLSEXT_ERR_OK : SSL_TLSEXT_ERR_ALERT_FATAL;
}

}  // namespace

Http01TestResponder::Http01TestResponder(asio::io_context& io, std::uint16_t port,
                                         const serve::Challenges& challenges)
    : acceptor_(listen_on(io, port)), challenges_(challenges) {
  auto handle = [this](tcp::socket socket) -> asio::awaitable<void> {
    beast::tcp_stream stream(std::move(socket));
    stream.expires_after(std::chrono::seconds(10));
    beast::flat_buffer buffer;
    http::request<http::empty_body> req;
    auto [ec, n] = co_await http::async_read(stream, buffer, req, asio::as_tuple(asio::use_awaitable));
    (void)n;
    if (ec) co_return;
    http::response<http::string_body> res{http::status::not_found, req.version()};
    std::string_view target(req.target().data(), req.target().size());
    if (target.starts_with(kPrefix)) {
      if (auto answer = challenges_.http01(std::string(target.substr(kPrefix.size())))) {
        res.result(http::status::ok);
        res.set(http::field::content_type, "application/octet-stream");
        res.body() = *answer;
        ++answered;
      }
    }
    res.keep_alive(false);
    res.prepare_payload();
    co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
  };
  asio::co_spawn(io, accept_loop(acceptor_, handle), asio::detached);
}

TlsAlpnTestResponder::TlsAlpnTestResponder(asio::io_context& io, std::uint16_t port,
                                           const serve::Challenges& challenges)
    : acceptor_(listen_on(io, port)), tls_(asio::ssl::context::tls_server), challenges_(challenges) {
  SSL_CTX* ctx = tls_.native_handle();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_alpn_select_cb(ctx, select_alpn, nullptr);
  SSL_CTX_set_tlsext_servername_callback(ctx, select_certificate);
  SSL_CTX_set_tlsext_servername_arg(ctx, const_cast<serve::Challenges*>(&challenges_));
  auto handle = [this](tcp::socket socket) -> asio::awaitable<void> {
    beast::ssl_stream<beast::tcp_stream> stream(std::move(socket), tls_);
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(10));
    auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    ++handshakes;
    co_await stream.async_shutdown(asio::as_tuple(asio::use_awaitable));
  };
  asio::co_spawn(io, accept_loop(acceptor_, handle), asio::detached);
}

SilentServer::SilentServer(asio::io_context& io) : acceptor_(listen_on(io, 0)) {
  auto held = std::make_shared<std::list<tcp::socket>>();
  auto handle = [held](tcp::socket socket) -> asio::awaitable<void> {
    held->push_back(std::move(socket));  // kept open, never read, never answered
    co_return;
  };
  asio::co_spawn(io, accept_loop(acceptor_, handle), asio::detached);
}

}  // namespace mtasts::testing
