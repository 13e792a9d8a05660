// Just enough HTTP/2 (RFC 9113) for the h2only listener to answer an h2 client, so a test can show
// that the server works and only HTTP/1.1 clients are refused.
#pragma once

#include "listener.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/tcp_stream.hpp>

namespace mtasts::testd {

using TlsStream = boost::asio::ssl::stream<boost::beast::tcp_stream>;

// Runs after a TLS handshake that negotiated "h2". Answers every request (whatever its path: the
// request headers are not decoded) with 200, the listener's content type and body, then keeps
// reading until the client sends GOAWAY, closes, or goes idle.
boost::asio::awaitable<void> serve_h2(TlsStream& stream, const Listener& listener);

}  // namespace mtasts::testd
