// The server side of one TLS connection for `mtasts serve`, without Asio's SSL engine.
//
// Asio's ssl::stream runs OpenSSL over a BIO pair and copies every byte through four fixed
// 17 KB buffers it allocates (and zeroes) per connection. Here OpenSSL reads the socket itself
// (a socket BIO, read-ahead on, its buffer released when idle) and writes into a string that
// is sent with one send() after each OpenSSL call: a handshake flight, or a session ticket with
// the response after it, leaves in one segment. An idle keep-alive connection holds the SSL
// object and nothing else.
//
// It models Asio's AsyncReadStream and AsyncWriteStream, so Beast's HTTP reads and
// asio::async_write use it like any stream. One io_context thread per connection (as serve
// runs) and one operation at a time (serve reads a request, then writes its answer: a read and
// a write pending together share the output string and are not supported); the socket's owner
// may close it to abort a pending operation (the watchdog does).
#pragma once

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>

#include <cerrno>
#include <cstddef>
#include <string>
#include <type_traits>

namespace mtasts::serve {

class TlsStream {
 public:
  using socket_type = boost::asio::ip::tcp::socket;
  using executor_type = socket_type::executor_type;

  // Takes the accepted socket; `ctx` is the server context (SNI may switch it).
  TlsStream(socket_type socket, SSL_CTX* ctx);
  ~TlsStream();
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  // False when OpenSSL could not make the connection's state (out of memory).
  bool ok() const { return ssl_ != nullptr; }
  executor_type get_executor() { return socket_.get_executor(); }
  socket_type& socket() { return socket_; }
  SSL* native_handle() { return ssl_; }

  // void(error_code)
  template <typename Token>
  auto async_handshake(Token&& token) {
    return run<false>(Call{Call::handshake, nullptr, 0}, static_cast<Token&&>(token));
  }

  // void(error_code, std::size_t): decrypted bytes into the first non-empty buffer.
  template <typename MutableBuffers, typename Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    boost::asio::mutable_buffer b;
    for (auto it = boost::asio::buffer_sequence_begin(buffers); it != boost::asio::buffer_sequence_end(buffers); ++it)
      if ((b = boost::asio::mutable_buffer(*it)).size() > 0) break;
    return run<true>(Call{Call::read, b.data(), b.size()}, static_cast<Token&&>(token));
  }

  // void(error_code, std::size_t): encrypts up to 16 KB (small buffers gathered into one record).
  template <typename ConstBuffers, typename Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    const void* data = nullptr;
    std::size_t size = 0;
    gather_.clear();
    for (auto it = boost::asio::buffer_sequence_begin(buffers); it != boost::asio::buffer_sequence_end(buffers); ++it) {
      boost::asio::const_buffer b(*it);
      if (b.size() == 0) continue;
      if (!data && gather_.empty()) {
        data = b.data();
        size = b.size() < kRecord ? b.size() : kRecord;
        if (size == b.size()) continue;
        break;
      }
      if (gather_.empty()) gather_.assign(static_cast<const char*>(data), size);
      std::size_t room = kRecord - gather_.size();
      gather_.append(static_cast<const char*>(b.data()), b.size() < room ? b.size() : room);
      if (gather_.size() == kRecord) break;
    }
    if (!gather_.empty()) data = gather_.data(), size = gather_.size();
    return run<true>(Call{Call::write, const_cast<void*>(data), size}, static_cast<Token&&>(token));
  }

 private:
  static constexpr std::size_t kRecord = 16384;

  struct Call {
    enum Kind { handshake, read, write } kind;
    void* data;
    std::size_t size;
  };

  // Runs the OpenSSL call: 1 done (bytes in *n), 0 wants the socket readable, -1 failed (*ec).
  int step(const Call& call, std::size_t* n, boost::system::error_code* ec);
  // Sends pending output: 1 all sent, 0 wants the socket writable, -1 failed (*ec).
  int flush(boost::system::error_code* ec);

  // One operation; Bytes: completes with (error_code, std::size_t), else with (error_code).
  template <bool Bytes>
  struct Op {
    TlsStream& s;
    Call call;
    enum { calling, waiting_read, complete } state = calling;
    bool suspended = false;
    std::size_t n = 0;
    boost::system::error_code result;

    template <typename Self>
    void finish(Self& self, boost::system::error_code ec, std::size_t bytes) {
      if constexpr (Bytes) self.complete(ec, bytes);
      else self.complete(ec);
    }

    template <typename Self>
    void operator()(Self& self, boost::system::error_code ec = {}) {
      if (ec) return finish(self, ec, 0);  // a wait failed: the socket was closed
      for (;;) {
        if (state == calling) {
          int r = s.step(call, &n, &result);
          state = r == 0 ? waiting_read : complete;
        }
        int f = s.flush(&ec);  // what the call wrote goes out before waiting or completing
        if (f < 0) return finish(self, ec, 0);
        if (f == 0) {
          suspended = true;
          return s.socket_.async_wait(socket_type::wait_write, std::move(self));
        }
        if (state == waiting_read) {
          state = calling;  // the next entry, once data is there, calls again
          suspended = true;
          return s.socket_.async_wait(socket_type::wait_read, std::move(self));
        }
        if (!suspended) {  // never complete inside the initiating function
          suspended = true;
          return boost::asio::post(s.socket_.get_executor(), std::move(self));
        }
        return finish(self, result, result ? 0 : n);
      }
    }
  };

  template <bool Bytes, typename Token>
  auto run(Call call, Token&& token) {
    using Signature = std::conditional_t<Bytes, void(boost::system::error_code, std::size_t),
                                         void(boost::system::error_code)>;
    return boost::asio::async_compose<Token, Signature>(Op<Bytes>{*this, call}, token, socket_);
  }

  socket_type socket_;
  SSL* ssl_ = nullptr;
  std::string out_;      // encrypted bytes not yet sent
  std::size_t sent_ = 0;  // of out_
  std::string gather_;   // several small write buffers made one record
  // TLS 1.3 (the context sets num_tickets 0): the session ticket is issued with the first write
  // after the handshake, so it leaves in the same send as the first response.
  bool ticket_due_ = false;
};

}  // namespace mtasts::serve
