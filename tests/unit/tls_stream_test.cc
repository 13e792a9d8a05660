// serve's TlsStream on real loopback sockets against a blocking OpenSSL client (a thread) that
// verifies the server's certificate (self-signed for "localhost", the client's only anchor).
#include "serve/tls_stream.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>


namespace mtasts::serve {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;
constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);

// A self-signed P-256 certificate for "localhost" (CA:TRUE, so it anchors itself).
struct Keys {
  std::string cert, key;
  Keys() {
    EVP_PKEY* pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
    X509* x = X509_new();
    X509_set_version(x, X509_VERSION_3);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_NAME* name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509_set_pubkey(x, pkey);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, nullptr, nullptr, 0);
    for (auto [nid, value] : {std::pair{NID_subject_alt_name, "DNS:localhost"}, std::pair{NID_basic_constraints, "critical,CA:TRUE"}}) {
      X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value);
      X509_add_ext(x, ext, -1);
      X509_EXTENSION_free(ext);
    }
    EXPECT_GT(X509_sign(x, pkey, EVP_sha256()), 0);
    BIO* b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(b, x);
    char* data = nullptr;
    long n = BIO_get_mem_data(b, &data);
    cert.assign(data, static_cast<std::size_t>(n));
    BIO_free(b);
    b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(b, pkey, nullptr, nullptr, 0, nullptr, nullptr);
    n = BIO_get_mem_data(b, &data);
    key.assign(data, static_cast<std::size_t>(n));
    BIO_free(b);
    X509_free(x);
    EVP_PKEY_free(pkey);
  }
};

const Keys& keys() {
  static const Keys k;
  return k;
}

SSL_CTX* server_context() {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  BIO* cb = BIO_new_mem_buf(keys().cert.data(), static_cast<int>(keys().cert.size()));
  BIO* kb = BIO_new_mem_buf(keys().key.data(), static_cast<int>(keys().key.size()));
  X509* cert = PEM_read_bio_X509(cb, nullptr, nullptr, nullptr);
  EVP_PKEY* key = PEM_read_bio_PrivateKey(kb, nullptr, nullptr, nullptr);
  EXPECT_EQ(SSL_CTX_use_certificate(ctx, cert), 1);
  EXPECT_EQ(SSL_CTX_use_PrivateKey(ctx, key), 1);
  X509_free(cert);
  EVP_PKEY_free(key);
  BIO_free(cb);
  BIO_free(kb);
  SSL_CTX_set_num_tickets(ctx, 0);
  return ctx;
}

// A blocking client on its own thread: connects, verifies, then runs `body`.
struct Client {
  std::thread thread;
  Client(std::uint16_t port, std::function<void(SSL*, int fd)> body, bool tls = true) {
    thread = std::thread([port, body = std::move(body), tls] {
      int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      int small = 8192;
      ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(port);
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
      if (!tls) {
        body(nullptr, fd);
        ::close(fd);
        return;
      }
      SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
      BIO* cb = BIO_new_mem_buf(keys().cert.data(), static_cast<int>(keys().cert.size()));
      X509* anchor = PEM_read_bio_X509(cb, nullptr, nullptr, nullptr);
      X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), anchor);
      X509_free(anchor);
      BIO_free(cb);
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
      SSL* ssl = SSL_new(ctx);
      SSL_set_fd(ssl, fd);
      SSL_set_tlsext_host_name(ssl, "localhost");
      SSL_set1_host(ssl, "localhost");
      EXPECT_EQ(SSL_connect(ssl), 1);
      EXPECT_EQ(SSL_get_verify_result(ssl), X509_V_OK);
      body(ssl, fd);
      SSL_free(ssl);
      SSL_CTX_free(ctx);
      ::close(fd);
    });
  }
  ~Client() { thread.join(); }
};

std::string read_exactly(SSL* ssl, std::size_t n) {
  std::string out(n, '\0');
  std::size_t got = 0;
  while (got < n) {
    int r = SSL_read(ssl, out.data() + got, static_cast<int>(n - got));
    if (r <= 0) break;
    got += static_cast<std::size_t>(r);
  }
  out.resize(got);
  return out;
}

class TlsStreamTest : public ::testing::Test {
 protected:
  asio::io_context io{1};
  tcp::acceptor acceptor{io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
  SSL_CTX* ctx = server_context();
  std::uint16_t port() { return acceptor.local_endpoint().port(); }
  ~TlsStreamTest() override { SSL_CTX_free(ctx); }

  // Accepts one connection and runs `server` on it.
  void serve(std::function<asio::awaitable<void>(TlsStream&)> server) {
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          auto [ec, socket] = co_await acceptor.async_accept(tuple_awaitable);
          EXPECT_FALSE(ec);
          // Small socket buffers: a large answer to a client that does not read must wait.
          socket.set_option(asio::socket_base::send_buffer_size(8192));
          TlsStream stream(std::move(socket), ctx);
          EXPECT_TRUE(stream.ok());
          co_await server(stream);
        },
        asio::detached);
    io.run_for(std::chrono::seconds(20));
    EXPECT_TRUE(io.stopped()) << "the server side did not finish";
  }
};

TEST_F(TlsStreamTest, EchoLargeWriteToSlowReaderThenCloseNotify) {
  std::string big(1 << 20, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  Client client(port(), [&](SSL* ssl, int) {
    ASSERT_EQ(SSL_write(ssl, "hello", 5), 5);
    // Not reading for a while: the server's sends fill the socket buffers and must wait.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_EQ(read_exactly(ssl, 3), "abc");
    EXPECT_TRUE(read_exactly(ssl, big.size()) == big);
    SSL_shutdown(ssl);  // close_notify
  });
  serve([&](TlsStream& s) -> asio::awaitable<void> {
    auto [ec] = co_await s.async_handshake(tuple_awaitable);
    EXPECT_FALSE(ec) << ec.message();
    std::array<char, 64> buf{};
    auto [rec, n] = co_await s.async_read_some(asio::buffer(buf), tuple_awaitable);
    EXPECT_FALSE(rec);
    EXPECT_EQ(std::string(buf.data(), n), "hello");
    // Three buffers: the small ones are gathered into one record.
    std::array<asio::const_buffer, 3> parts{asio::buffer("a", 1), asio::buffer("bc", 2), asio::buffer(big)};
    auto [wec, wn] = co_await asio::async_write(s, parts, tuple_awaitable);
    EXPECT_FALSE(wec) << wec.message();
    EXPECT_EQ(wn, 3 + big.size());
    auto [eec, en] = co_await s.async_read_some(asio::buffer(buf), tuple_awaitable);
    EXPECT_EQ(eec, asio::error::eof) << eec.message();
    EXPECT_EQ(en, 0u);
  });
}

TEST_F(TlsStreamTest, PipelinedDataIsReadWithoutWaitingOnTheSocket) {
  Client client(port(), [&](SSL* ssl, int) {
    ASSERT_EQ(SSL_write(ssl, "first-second", 12), 12);  // one record, read in two pieces
    ASSERT_EQ(SSL_write(ssl, "third", 5), 5);           // a second record, already there
    EXPECT_EQ(read_exactly(ssl, 2), "ok");
  });
  serve([&](TlsStream& s) -> asio::awaitable<void> {
    auto [ec] = co_await s.async_handshake(tuple_awaitable);
    EXPECT_FALSE(ec);
    std::string got;
    while (got.size() < 17) {
      std::array<char, 6> buf{};
      auto [rec, n] = co_await s.async_read_some(asio::buffer(buf), tuple_awaitable);
      if (rec) break;
      got.append(buf.data(), n);
    }
    EXPECT_EQ(got, "first-secondthird");
    auto [wec, wn] = co_await asio::async_write(s, asio::buffer("ok", 2), tuple_awaitable);
    EXPECT_FALSE(wec);
  });
}

TEST_F(TlsStreamTest, TcpCloseWithoutCloseNotifyIsATruncatedStream) {
  Client client(port(), [&](SSL* ssl, int fd) {
    ASSERT_EQ(SSL_write(ssl, "x", 1), 1);
    ::shutdown(fd, SHUT_RDWR);
  });
  serve([&](TlsStream& s) -> asio::awaitable<void> {
    auto [ec] = co_await s.async_handshake(tuple_awaitable);
    EXPECT_FALSE(ec);
    std::array<char, 8> buf{};
    auto [r1, n1] = co_await s.async_read_some(asio::buffer(buf), tuple_awaitable);
    EXPECT_FALSE(r1);
    EXPECT_EQ(n1, 1u);
    auto [r2, n2] = co_await s.async_read_some(asio::buffer(buf), tuple_awaitable);
    EXPECT_EQ(r2, asio::ssl::error::stream_truncated) << r2.message();
  });
}

TEST_F(TlsStreamTest, GarbageInsteadOfClientHelloFailsTheHandshake) {
  Client client(
      port(),
      [](SSL*, int fd) {
        const char junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        ASSERT_GT(::send(fd, junk, sizeof junk - 1, 0), 0);
        char b[256];
        while (::recv(fd, b, sizeof b, 0) > 0) {
        }
      },
      false);
  serve([&](TlsStream& s) -> asio::awaitable<void> {
    auto [ec] = co_await s.async_handshake(tuple_awaitable);
    EXPECT_TRUE(ec);
    EXPECT_EQ(ec.category(), asio::error::get_ssl_category()) << ec.message();
    s.socket().close();
  });
}

TEST_F(TlsStreamTest, ClosingTheSocketAbortsAPendingRead) {
  std::atomic<bool> done{false};
  Client client(port(), [&](SSL*, int) {
    done.wait(false);  // sends nothing until the server's read was aborted
  });
  serve([&](TlsStream& s) -> asio::awaitable<void> {
    auto [ec] = co_await s.async_handshake(tuple_awaitable);
    EXPECT_FALSE(ec);
    asio::steady_timer watchdog(s.get_executor(), std::chrono::milliseconds(100));
    watchdog.async_wait([&](error_code) { s.socket().close(); });  // as serve's watchdog does
    std::array<char, 8> buf{};
    auto [rec, n] = co_await s.async_read_some(asio::buffer(buf), tuple_awaitable);
    EXPECT_EQ(rec, asio::error::operation_aborted) << rec.message();
    done = true;
    done.notify_one();
  });
}

}  // namespace
}  // namespace mtasts::serve
