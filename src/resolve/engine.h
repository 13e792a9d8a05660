// The resolver daemon's policy engine: the hot set answers within the grace period on the
// calling I/O thread; everything else runs on the domain's resolution thread (c-ares, the policy
// fetch, one fetch per domain however many lookups wait for it; one such thread per core) with
// the store on a thread of its own (SQLite and libpq block). The background refresh (RFC 8461 §10.2) runs there too.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/metrics.h"
#include "core/sts_cache.h"
#include "net/cares_resolver.h"
#include "net/unbound_resolver.h"
#include "net/policy_fetch.h"
#include "resolve/config.h"
#include "resolve/hot_set.h"
#include "store/policy_cache.h"

namespace mtasts::resolve {

// What Postfix gets, before formatting for the zone.
struct Verdict {
  Answer answer = Answer::no_policy;  // policy, no_policy or temp_failure
  std::shared_ptr<const CachedPolicy> policy;
  std::string reason;  // temp_failure: the TEMP text
  // The DANE probe (zones with `dane`): dane / dane_only take precedence over the MTA-STS answer
  // (RFC 8461 §2), temp (bogus or failed DNSSEC lookups) answers TEMP with `dane_reason`.
  DaneAnswer dane = DaneAnswer::none;
  std::string dane_reason;
};

std::string format_reply(const Verdict& v, const Zone& zone);

class Engine {
 public:
  // Fails (with the reason) when the DNS resolver or the TLS context cannot be made.
  static std::unique_ptr<Engine> create(const Config& config, Metrics& metrics,
                                        std::unique_ptr<store::PolicyCache> cache, std::string& error);
  ~Engine();

  // From any thread: the hot set's answer, when it can give one alone.
  std::optional<Verdict> from_memory(const std::string& domain, std::int64_t now);
  // The same, formatted for `zone` into `reply` (format_reply, memoized per hot entry and zone).
  bool reply_from_memory(std::string_view domain, const Zone& zone, std::int64_t now, std::string& reply);

  // From any I/O thread: the full lookup on the resolution thread (shared with concurrent
  // lookups of the same domain). Never throws.
  net::awaitable<Verdict> resolve(std::string domain, std::chrono::milliseconds timeout);

  void start();  // the resolution and store threads, the background refresh
  void stop();   // and join them

  std::size_t hot_size() const { return hot_.size(); }

 private:
  Engine(const Config& config, Metrics& metrics, std::unique_ptr<store::PolicyCache> cache);
  struct Flight;
  net::awaitable<Verdict> resolve_here(std::string domain, std::chrono::milliseconds timeout, bool force);
  net::awaitable<Verdict> lookup_once(const std::string& domain, std::chrono::milliseconds timeout, bool force);
  net::awaitable<void> refresh_loop();
  template <typename F>
  auto on_store(const F& f) -> net::awaitable<std::optional<decltype(f())>>;

  const Config& config_;
  Metrics& metrics_;
  std::unique_ptr<store::PolicyCache> cache_;
  HotSet hot_;
  // Resolution threads: a domain always goes to the same one (by hash), so its lookups share
  // one fetch without locks; fetches of different domains use every core.
  struct Shard {
    boost::asio::io_context io{1};
    std::unique_ptr<net::CaresResolver> resolver;
    std::unique_ptr<net::UnboundResolver> dnssec;  // when a zone uses DANE
    std::unordered_map<std::string, std::shared_ptr<Flight>> inflight;  // this shard's thread only
    std::mt19937_64 rng{std::random_device{}()};
    std::thread thread;
  };
  Shard& shard_of(const std::string& domain) {
    return *shards_[std::hash<std::string>{}(domain) % shards_.size()];
  }
  std::vector<std::unique_ptr<Shard>> shards_;
  boost::asio::io_context store_io_{1};
  std::unique_ptr<boost::asio::ssl::context> tls_;
  net::FetchOptions fetch_;
  std::thread store_thread_;
  std::unique_ptr<boost::asio::steady_timer> refresh_timer_;
  std::atomic<bool> stopping_{false};

  Counter* memory_hits_;
  Counter* resolutions_;
  Counter* shared_;
  Counter* dns_lookups_;
  Counter* dns_failures_;
  Counter* fetch_ok_;
  Counter* fetch_fetch_error_;
  Counter* fetch_invalid_;
  Counter* fetch_webpki_;
  Counter* policy_changes_;
  Counter* store_errors_;
  Counter* refreshes_;
  Counter* dane_only_;
  Counter* dane_;
  Counter* dane_none_;
  Counter* dane_bogus_;
  Counter* dane_failed_;
};

}  // namespace mtasts::resolve
