// Runs several coroutines concurrently on the current executor and waits for all of them.
// Single-threaded (one io_context thread), like the rest of the daemons' per-core design.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <functional>
#include <memory>
#include <vector>

namespace mtasts::net {

// Each task must not throw (they report problems in their results).
inline boost::asio::awaitable<void> run_all(
    std::vector<std::function<boost::asio::awaitable<void>()>> tasks) {
  namespace asio = boost::asio;
  auto ex = co_await asio::this_coro::executor;
  if (tasks.empty()) co_return;
  struct State {
    explicit State(asio::any_io_executor e, std::size_t n) : timer(e), left(n) {}
    asio::steady_timer timer;
    std::size_t left;
  };
  auto state = std::make_shared<State>(ex, tasks.size());
  state->timer.expires_at(asio::steady_timer::time_point::max());
  for (auto& task : tasks) {
    asio::co_spawn(ex, std::move(task), [state](std::exception_ptr) {
      if (--state->left == 0) state->timer.cancel();
    });
  }
  boost::system::error_code ec;
  while (state->left > 0) {
    auto [e] = co_await state->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    ec = e;
  }
}

}  // namespace mtasts::net
