#include "serve/tls_stream.h"

#include <new>

namespace mtasts::serve {

namespace {

// The write side: OpenSSL appends records to the stream's string; its flushes are no-ops,
// the stream sends the string after each call.
int out_write(BIO* bio, const char* data, std::size_t len, std::size_t* written) {
  try {
    static_cast<std::string*>(BIO_get_data(bio))->append(data, len);
  } catch (const std::bad_alloc&) {
    return 0;
  }
  *written = len;
  return 1;
}

long out_ctrl(BIO* bio, int cmd, long, void*) {
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;
    case BIO_CTRL_WPENDING:
      return static_cast<long>(static_cast<std::string*>(BIO_get_data(bio))->size());
    default:
      return 0;
  }
}

int out_create(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

BIO_METHOD* out_method() {
  static BIO_METHOD* const method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "mtasts TLS output");
    if (m) {
      BIO_meth_set_write_ex(m, out_write);
      BIO_meth_set_ctrl(m, out_ctrl);
      BIO_meth_set_create(m, out_create);
    }
    return m;
  }();
  return method;
}

}  // namespace

TlsStream::TlsStream(socket_type socket, SSL_CTX* ctx) : socket_(std::move(socket)) {
  boost::system::error_code ec;
  socket_.non_blocking(true, ec);  // OpenSSL reads the socket itself
  BIO_METHOD* method = out_method();
  if (ec || !method) return;
  SSL* ssl = SSL_new(ctx);
  BIO* rbio = ssl ? BIO_new_socket(socket_.native_handle(), BIO_NOCLOSE) : nullptr;
  BIO* wbio = rbio ? BIO_new(method) : nullptr;
  if (!wbio) {
    BIO_free(rbio);
    SSL_free(ssl);
    ERR_clear_error();
    return;
  }
  BIO_set_data(wbio, &out_);
  SSL_set_bio(ssl, rbio, wbio);
  SSL_set_accept_state(ssl);
  SSL_set_read_ahead(ssl, 1);  // one read() takes what is there, not a record header first
  ssl_ = ssl;
}

TlsStream::~TlsStream() {
  if (ssl_) SSL_free(ssl_);
}

int TlsStream::step(const Call& call, std::size_t* n, boost::system::error_code* ec) {
  *n = 0;
  if (call.kind != Call::handshake && call.size == 0) return 1;
  if (call.kind == Call::write && ticket_due_) {
    SSL_new_session_ticket(ssl_);  // queued ahead of this write's record; a refusal costs a resumption
    ticket_due_ = false;
  }
  ERR_clear_error();
  errno = 0;
  int r = call.kind == Call::handshake ? SSL_do_handshake(ssl_)
          : call.kind == Call::read    ? SSL_read_ex(ssl_, call.data, call.size, n)
                                       : SSL_write_ex(ssl_, call.data, call.size, n);
  if (r == 1) {
    if (call.kind == Call::handshake) ticket_due_ = SSL_version(ssl_) == TLS1_3_VERSION;
    return 1;
  }
  int sys = errno;
  switch (SSL_get_error(ssl_, r)) {
    case SSL_ERROR_WANT_READ:
      return 0;
    case SSL_ERROR_ZERO_RETURN:  // close_notify
      *ec = boost::asio::error::eof;
      break;
    case SSL_ERROR_SYSCALL:
      *ec = sys ? boost::system::error_code(sys, boost::system::system_category())
                : boost::system::error_code(boost::asio::ssl::error::stream_truncated);
      break;
    case SSL_ERROR_SSL: {
      unsigned long e = ERR_get_error();
      // As Asio's engine: a TCP close without close_notify is a truncated stream.
      *ec = ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING
                ? boost::system::error_code(boost::asio::ssl::error::stream_truncated)
                : boost::system::error_code(static_cast<int>(e), boost::asio::error::get_ssl_category());
      break;
    }
    default:  // WANT_WRITE cannot happen (the output string takes everything): out of memory
      *ec = boost::asio::error::no_memory;
      break;
  }
  ERR_clear_error();
  return -1;
}

int TlsStream::flush(boost::system::error_code* ec) {
  while (sent_ < out_.size()) {
    ssize_t k = ::send(socket_.native_handle(), out_.data() + sent_, out_.size() - sent_, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (k >= 0) {
      sent_ += static_cast<std::size_t>(k);
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return 0;
    } else if (errno != EINTR) {
      *ec = boost::system::error_code(errno, boost::system::system_category());
      return -1;
    }
  }
  out_.clear();
  sent_ = 0;
  if (out_.capacity() > 2 * kRecord) out_.shrink_to_fit();  // a large answer does not stay allocated
  return 1;
}

}  // namespace mtasts::serve
