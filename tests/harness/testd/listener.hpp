// What one accepted connection needs to know about its listener, and the per-protocol entry
// points. Each connection is one coroutine on the single io_context.
#pragma once

#include "config.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include <cstdint>
#include <memory>
#include <string>

namespace mtasts::testd {

struct Listener {
  ListenerConfig config;
  std::shared_ptr<boost::asio::ssl::context> tls;  // null when the behaviour never speaks TLS
  std::uint64_t connections = 0;                   // accepted so far (single-threaded)
  bool verbose = false;
};

boost::asio::awaitable<void> serve_https(boost::asio::ip::tcp::socket socket,
                                         std::shared_ptr<const Listener> listener);
boost::asio::awaitable<void> serve_smtp(boost::asio::ip::tcp::socket socket,
                                        std::shared_ptr<const Listener> listener);

// One line on stderr, prefixed "testd: NAME: ".
void log(const Listener& listener, const std::string& message);

}  // namespace mtasts::testd
