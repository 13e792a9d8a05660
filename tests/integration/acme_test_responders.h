// TEST-ONLY stand-ins for `mtasts serve`'s challenge listeners, so the ACME client can be tested
// against pebble before serve exists: they answer from the same serve::Challenges object the real
// listeners will read. Replace them with serve's listeners when those land.
//
//   Http01TestResponder   GET /.well-known/acme-challenge/<token> -> the key authorization
//   TlsAlpnTestResponder  ALPN "acme-tls/1" + SNI -> the TLS-ALPN-01 certificate for that name
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include <atomic>
#include <cstdint>

#include "serve/challenges.h"

namespace mtasts::testing {

class Http01TestResponder {
 public:
  Http01TestResponder(boost::asio::io_context& io, std::uint16_t port, const serve::Challenges& challenges);
  std::atomic<int> answered{0};  // requests answered with a key authorization

 private:
  boost::asio::ip::tcp::acceptor acceptor_;
  const serve::Challenges& challenges_;
};

class TlsAlpnTestResponder {
 public:
  TlsAlpnTestResponder(boost::asio::io_context& io, std::uint16_t port, const serve::Challenges& challenges);
  std::atomic<int> handshakes{0};  // completed acme-tls/1 handshakes

 private:
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::ssl::context tls_;
  const serve::Challenges& challenges_;
};

// Accepts connections and never answers: an ACME server that hangs.
class SilentServer {
 public:
  explicit SilentServer(boost::asio::io_context& io);
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

 private:
  boost::asio::ip::tcp::acceptor acceptor_;
};

}  // namespace mtasts::testing
