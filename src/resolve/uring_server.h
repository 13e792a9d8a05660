// The socketmap connections of `mtasts resolver` on io_uring: one ring per thread, each accepting
// on every listener and serving its connections with recv and send requests that one
// io_uring_enter submits and reaps by the batch. Per cached query that is a fraction of a system
// call where a thread per connection pays a recv, a send and two context switches (docs/resolver.md,
// "Connections"; bench/README.md, resolver_bench).
//
// The loop knows netstrings, not lookups: a request is answered at once when `answer_now` can
// (the hot set), else `lookup` is started and its reply, given from any thread, is sent when it
// comes, in request order. No Asio here and no io_uring in this header.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mtasts::resolve {

class SocketmapHandler {
 public:
  virtual ~SocketmapHandler() = default;
  // The reply to one request payload when it is known without waiting; false: call `lookup`.
  virtual bool answer_now(std::string_view payload, std::string& reply) = 0;
  // Starts a lookup; `done` is called exactly once, from any thread, with the reply or with
  // nothing when there will be none (the daemon stops): the connection is then closed.
  virtual void lookup(std::string payload, std::function<void(std::optional<std::string>)> done) = 0;
  // Events to count.
  virtual void accepted() = 0;
  virtual void rejected() = 0;  // max_connections reached: closed at once
  virtual void idle_closed() = 0;
  virtual void bad_netstring(std::string_view why) = 0;
};

struct UringOptions {
  struct Listener {
    int fd;       // a listening socket, owned by the caller, open until join()
    bool tcp;     // TCP_NODELAY on the accepted connections
  };
  std::vector<Listener> listeners;
  unsigned threads = 1;  // rings
  std::chrono::seconds idle_timeout{10};  // also bounds a send the client does not read
  std::size_t max_connections = 10000;
  std::atomic<std::int64_t>* open = nullptr;  // connections open, shared with other servers
};

class UringServer {
 public:
  // Makes the rings and starts their threads. Null when io_uring cannot be used here (an old
  // kernel, io_uring_disabled, a seccomp filter): `error` says why.
  static std::unique_ptr<UringServer> start(const UringOptions& options, SocketmapHandler& handler,
                                            std::string& error);
  virtual ~UringServer() = default;
  // Stops accepting; idle connections are closed at once, the others after their reply.
  virtual void stop() = 0;
  // Closes every connection now; lookups still running are abandoned.
  virtual void stop_now() = 0;
  // Waits for the ring threads to end (after stop() once every connection is closed).
  virtual void join() = 0;
  // How the rings were set up, for the log ("2 rings, defer_taskrun").
  virtual std::string describe() const = 0;
};

}  // namespace mtasts::resolve
