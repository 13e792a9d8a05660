// Prometheus' scrape endpoint for the daemons that have no HTTP server of their own (`mtasts
// resolver`, `mtasts reports lmtp`; `mtasts serve` answers /metrics on its admin listener):
// plain HTTP, `GET /metrics` answers the text exposition format of a Metrics registry, anything
// else 404. One request per connection, 8 KiB of request at most, 5 s for the whole exchange.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/error.h"
#include "core/metrics.h"

namespace boost::asio {
class io_context;
}

namespace mtasts::net {

class MetricsEndpoint {
 public:
  // Binds and listens on `listen` ("127.0.0.1:9100", "[::1]:9100"; port 0: any free port; no
  // port: `default_port`). Errors: listen-failed. Serving starts with the io_context; `metrics`
  // must outlive it.
  static Result<std::unique_ptr<MetricsEndpoint>> start(boost::asio::io_context& io, const std::string& listen,
                                                        const Metrics& metrics, std::uint16_t default_port);
  ~MetricsEndpoint();
  MetricsEndpoint(const MetricsEndpoint&) = delete;
  MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;

  // "127.0.0.1:PORT" with the real port.
  std::string address() const;
  // Stops accepting; a scrape in progress finishes.
  void stop();

  struct State;

 private:
  explicit MetricsEndpoint(std::shared_ptr<State> s) : state_(std::move(s)) {}
  std::shared_ptr<State> state_;
};

}  // namespace mtasts::net
