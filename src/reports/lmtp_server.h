// The LMTP listener (RFC 2033) that Postfix or Exim deliver the TLS-RPT `rua` mailbox to:
// TCP or a Unix socket, Asio coroutines, a deadline on every read and write, a cap on message
// size and connections. A message is answered only after `deliver` returned, and `deliver`
// returns only once the report is committed: a 250 means the report is on disk.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "core/error.h"
#include "core/metrics.h"
#include "reports/ingest.h"
#include "reports/lmtp_session.h"

namespace boost::asio {
class io_context;
}

namespace mtasts::reports {

struct LmtpOptions {
  std::string listen;  // "127.0.0.1:2424", "[::1]:2424", port 0 = any free port, or "unix:/path"
  std::string hostname = "mtasts";
  LmtpLimits limits;
  std::chrono::milliseconds timeout{300000};  // per read or write (RFC 5321 §4.5.3.2: 5 minutes)
  std::size_t max_connections = 64;
  // Counts connections (accepted, refused with 421, open) when set; must outlive the server.
  Metrics* metrics = nullptr;
};

// Blocking: decodes and stores one message. Runs on the server's single store thread, never on
// the I/O thread, one message at a time.
using DeliverFn = std::function<IngestResult(const std::string& message)>;

class LmtpServer {
 public:
  // Binds and listens (errors: listen-failed); serving starts with the io_context.
  static Result<std::unique_ptr<LmtpServer>> start(boost::asio::io_context& io, LmtpOptions options,
                                                   DeliverFn deliver);
  virtual ~LmtpServer() = default;
  // "127.0.0.1:PORT" (the real port when 0 was asked) or "unix:PATH".
  virtual std::string address() const = 0;
  // Stops accepting; open sessions end at their next read.
  virtual void stop() = 0;
};

}  // namespace mtasts::reports
