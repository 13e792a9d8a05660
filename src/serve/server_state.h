// Internal to serve/: the state the control thread and the workers share, and the worker's
// view of it. Not for other modules.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <list>
#include <memory>
#include <mutex>
#include <string>

#include "core/metrics.h"
#include "serve/admin_api.h"
#include "serve/cert_index.h"
#include "serve/challenges.h"
#include "serve/hosted.h"
#include "serve/report_receiver.h"
#include "serve/server.h"
#include "serve/tls_server.h"

namespace mtasts::serve {

// Completion token of the coroutines in serve/: (error_code, results...) instead of throwing.
constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);

// A snapshot slot: writers publish under the mutex and bump the generation; readers keep their
// own shared_ptr and look at the generation (one relaxed load) before each use.
template <typename T>
class Published {
 public:
  void publish(std::shared_ptr<const T> v) {
    std::lock_guard lock(mu_);
    value_ = std::move(v);
    generation_.fetch_add(1, std::memory_order_release);
  }
  std::shared_ptr<const T> get() const {
    std::lock_guard lock(mu_);
    return value_;
  }
  std::uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const T> value_;
  std::atomic<std::uint64_t> generation_{0};
};

struct Counters {
  explicit Counters(Metrics& m);
  Counter& policy_served;
  Counter& not_found;
  Counter& not_hosted;
  Counter& bad_request;
  Counter& header_too_large;
  Counter& rate_limited;
  Counter& method_not_allowed;
  Counter& redirects;
  Counter& acme_http01;
  Counter& api_requests;
  Counter& handshakes;
  Counter& handshake_failures;
  Counter& refused_unknown_sni;
  Counter& refused_no_sni;
  Counter& refused_cert_error;
  Counter& connections_total;
  Counter& connections_rejected;
  Counter& header_timeouts;
  Counter& idle_closes;
  Counter& reloads;
  Counter& reload_errors;
  Counter& feed_gaps_dropped;
  Counter& cert_problems;
  Gauge& connections_open;
  Gauge& domains;
  Gauge& cert_files;
};

struct Shared {
  explicit Shared(const ServeConfig& c)
      : config(c), counters(metrics), cert_cache(c.cert_cache) {}
  const ServeConfig& config;
  Metrics metrics;
  Counters counters;
  Challenges challenges;
  Published<HostedSet> hosted;
  Published<CertIndex> certs;
  CertCache cert_cache;
  TlsServerHooks tls_hooks;
  std::unique_ptr<boost::asio::ssl::context> tls;
  boost::asio::thread_pool store_pool{1};  // the admin API's store calls, serialized
  std::unique_ptr<AdminApi> admin;
  std::unique_ptr<ReportReceiver> reports;  // null when report_path is empty
  std::atomic<std::int64_t> connections{0};
  std::atomic<bool> draining{false};
};

enum class ListenerKind { https, http, admin };

// A connection a worker can wake when it drains: `close_if_idle` runs on the worker's thread.
struct SessionHandle {
  std::function<void()> close_if_idle;
};

class Worker {
 public:
  explicit Worker(Shared& s) : shared(s), io(1) {}
  // Declaration order is destruction order, reversed: the acceptors go first, then the
  // io_context (whose shutdown destroys unfinished sessions, which unlink from `sessions`).
  Shared& shared;
  std::list<SessionHandle*> sessions;
  boost::asio::io_context io;
  std::vector<std::pair<std::shared_ptr<boost::asio::ip::tcp::acceptor>, ListenerKind>> acceptors;

  // The current domains; refreshed when the control thread published a new snapshot.
  const std::shared_ptr<const HostedSet>& hosted() {
    if (auto g = shared.hosted.generation(); g != hosted_generation_) {
      hosted_ = shared.hosted.get();
      hosted_generation_ = g;
    }
    return hosted_;
  }

 private:
  std::shared_ptr<const HostedSet> hosted_;
  std::uint64_t hosted_generation_ = ~0ull;
};

// Serves one accepted connection (session.cc).
void start_session(Worker& w, boost::asio::ip::tcp::socket socket, ListenerKind kind);

}  // namespace mtasts::serve
