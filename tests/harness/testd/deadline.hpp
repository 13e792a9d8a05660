// A deadline for any awaitable: races it against a timer and cancels whichever loses.
// Used where a timeout must be noticed and answered (an SMTP 421) rather than just close the
// socket, which is what beast::tcp_stream's own timeouts do.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <optional>
#include <utility>
#include <variant>

namespace mtasts::testd {

// Completion token for the operations given to within(): results as a tuple, never throwing.
inline constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);

// The result of `op`, or nullopt if `timeout` passed first (the operation is then cancelled).
template <class T>
boost::asio::awaitable<std::optional<T>> within(std::chrono::steady_clock::duration timeout,
                                                boost::asio::awaitable<T> op) {
  using namespace boost::asio::experimental::awaitable_operators;
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, timeout);
  auto result = co_await (std::move(op) || timer.async_wait(use_tuple));
  if (result.index() == 0) co_return std::get<0>(std::move(result));
  co_return std::nullopt;
}

}  // namespace mtasts::testd
