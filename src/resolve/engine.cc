#include "resolve/engine.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <ctime>
#include <limits>

#include "net/wait_group.h"
#include "resolve/dane_probe.h"
#include "resolve/lookup.h"

namespace asio = boost::asio;

namespace mtasts::resolve {

std::string format_reply(const Verdict& v, const Zone& zone) {
  if (zone.use_dane) {
    if (v.dane == DaneAnswer::temp) return temp_answer(v.dane_reason);
    if (v.dane == DaneAnswer::dane || v.dane == DaneAnswer::dane_only) return dane_answer(v.dane);
  }
  switch (v.answer) {
    case Answer::policy:
      return policy_answer(v.policy->domain, v.policy->policy, v.policy->policy_text, zone.answer);
    case Answer::temp_failure:
      return temp_answer(v.reason);
    default:
      return not_found_answer();
  }
}

struct Engine::Flight {
  explicit Flight(asio::any_io_executor ex) : timer(ex) { timer.expires_at(asio::steady_timer::time_point::max()); }
  asio::steady_timer timer;
  bool done = false;
  Verdict result;
};

namespace {

std::int64_t now_seconds() { return static_cast<std::int64_t>(std::time(nullptr)); }

Verdict verdict_of(const Decision& d) {
  Verdict v;
  v.answer = d.answer == Answer::fetch ? Answer::no_policy : d.answer;
  if (v.answer == Answer::policy) {
    if (d.entry) v.policy = std::make_shared<const CachedPolicy>(*d.entry);
    else v.answer = Answer::no_policy;
  }
  if (v.answer == Answer::temp_failure) v.reason = d.reason;
  return v;
}

}  // namespace

Engine::Engine(const Config& config, Metrics& metrics, std::unique_ptr<store::PolicyCache> cache)
    : config_(config), metrics_(metrics), cache_(std::move(cache)), hot_(config.cache_size) {
  const std::string lookups = "mtasts_resolver_resolutions_total";
  memory_hits_ = &metrics.counter("mtasts_resolver_cache_hits_total",
                                  "lookups answered from the in-memory hot set", {{"where", "memory"}});
  resolutions_ = &metrics.counter(lookups, "lookups that went to the resolution thread (store, DNS, fetch)");
  shared_ = &metrics.counter("mtasts_resolver_shared_lookups_total",
                             "lookups that waited for another lookup of the same domain");
  dns_lookups_ = &metrics.counter("mtasts_resolver_dns_lookups_total", "_mta-sts TXT lookups");
  dns_failures_ = &metrics.counter("mtasts_resolver_dns_failures_total",
                                   "_mta-sts TXT lookups that failed (SERVFAIL, timeout...)");
  const std::string fetches = "mtasts_resolver_fetches_total";
  const std::string help = "policy fetches by RFC 8460 result type (ok: a valid policy)";
  fetch_ok_ = &metrics.counter(fetches, help, {{"result", "ok"}});
  fetch_fetch_error_ = &metrics.counter(fetches, help, {{"result", "sts-policy-fetch-error"}});
  fetch_invalid_ = &metrics.counter(fetches, help, {{"result", "sts-policy-invalid"}});
  fetch_webpki_ = &metrics.counter(fetches, help, {{"result", "sts-webpki-invalid"}});
  policy_changes_ = &metrics.counter("mtasts_resolver_policy_changes_total",
                                     "policies added, replaced or expired");
  store_errors_ = &metrics.counter("mtasts_resolver_store_errors_total", "failed store reads and writes");
  refreshes_ = &metrics.counter("mtasts_resolver_refreshes_total", "background refreshes (RFC 8461 §10.2)");
  const std::string probes = "mtasts_resolver_dane_probes_total";
  const std::string dane_help = "DANE probes (MX, A, AAAA, TLSA through the validating resolver) by outcome";
  dane_only_ = &metrics.counter(probes, dane_help, {{"result", "dane-only"}});
  dane_ = &metrics.counter(probes, dane_help, {{"result", "dane"}});
  dane_none_ = &metrics.counter(probes, dane_help, {{"result", "none"}});
  dane_bogus_ = &metrics.counter(probes, dane_help, {{"result", "bogus"}});
  dane_failed_ = &metrics.counter(probes, dane_help, {{"result", "failed"}});
  metrics.gauge_fn("mtasts_resolver_hot_entries", "domains in the in-memory hot set",
                   [this] { return static_cast<double>(hot_.size()); });
}

std::unique_ptr<Engine> Engine::create(const Config& config, Metrics& metrics,
                                       std::unique_ptr<store::PolicyCache> cache, std::string& error) {
  std::unique_ptr<Engine> e(new Engine(config, metrics, std::move(cache)));
  net::ResolverOptions ropts;
  if (!config.dns_server.empty()) {
    auto hp = net::parse_host_port(config.dns_server, 53);
    if (!hp) {
      error = "dns_server: " + hp.error().message;
      return nullptr;
    }
    ropts.server = net::to_string(*hp);
  }
  ropts.timeout = std::chrono::milliseconds(1500);
  ropts.tries = 2;
  net::DnssecOptions dopts;
  dopts.server = ropts.server;
  dopts.trust_anchor_file = config.dane_trust_anchor;
  if (config.any_dane()) {
    // Refuse to start rather than answer TEMP to every lookup (docs/resolver.md, "DANE").
    std::vector<std::string> warnings;
    const bool ok = net::check_trust_anchors(dopts, warnings, error);
    for (const auto& w : warnings) spdlog::warn("dane: {}", w);
    if (!ok) {
      error = "dane: " + error;
      return nullptr;
    }
  }
  unsigned shards = config.threads ? config.threads : std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < shards; ++i) {
    auto shard = std::make_unique<Shard>();
    shard->resolver = net::CaresResolver::create(shard->io, ropts, error);
    if (!shard->resolver) return nullptr;
    if (config.any_dane()) {
      shard->dnssec = net::UnboundResolver::create(shard->io, dopts, error);
      if (!shard->dnssec) {
        error = "dane: " + error;
        return nullptr;
      }
    }
    e->shards_.push_back(std::move(shard));
  }
  e->tls_ = net::make_client_context(config.ca_file, net::TlsFloor::tls12, error);
  if (!e->tls_) return nullptr;
  e->fetch_.tls = e->tls_.get();
  for (const auto& rule : config.connect_to) {
    auto r = net::parse_connect_to(rule);
    if (!r) {
      error = "connect_to: " + r.error().message;
      return nullptr;
    }
    e->fetch_.connect_to.push_back(*r);
  }
  return e;
}

Engine::~Engine() { stop(); }

std::optional<Verdict> Engine::from_memory(const std::string& domain, std::int64_t now) {
  auto hit = hot_.fresh(domain, now, config_.tuning.grace);
  if (!hit) return std::nullopt;
  memory_hits_->inc();
  Verdict v;
  v.answer = hit->policy ? Answer::policy : Answer::no_policy;
  v.policy = std::move(hit->policy);
  v.dane = hit->dane;
  return v;
}

bool Engine::reply_from_memory(std::string_view domain, const Zone& zone, std::int64_t now,
                               std::string& reply) {
  const auto format = [&zone](const HotSet::Hit& hit) {
    Verdict v;
    v.answer = hit.policy ? Answer::policy : Answer::no_policy;
    v.policy = hit.policy;
    v.dane = hit.dane;
    return format_reply(v, zone);
  };
  if (!hot_.reply(domain, now, config_.tuning.grace, &zone, format, reply)) return false;
  memory_hits_->inc();
  return true;
}

// The store call runs on the store thread; the awaiting coroutine resumes on its own executor.
// Plain handlers, no coroutine lambda, and callers pass a named lambda: GCC 12 destroys
// temporaries with destructors inside a co_await expression twice.
template <typename F>
auto Engine::on_store(const F& f) -> net::awaitable<std::optional<decltype(f())>> {
  using R = std::optional<decltype(f())>;
  return asio::async_initiate<decltype(asio::use_awaitable), void(R)>(
      [this](auto handler, F fn) {
        asio::post(store_io_, [fn = std::move(fn), handler = std::move(handler)]() mutable {
          R r(fn());
          auto ex = asio::get_associated_executor(handler);
          asio::post(ex, [handler = std::move(handler), r = std::move(r)]() mutable {
            std::move(handler)(std::move(r));
          });
        });
      },
      asio::use_awaitable, F(f));
}

net::awaitable<Verdict> Engine::resolve(std::string domain, std::chrono::milliseconds timeout) {
  resolutions_->inc();
  try {
    Shard& shard = shard_of(domain);
    co_return co_await asio::co_spawn(shard.io, resolve_here(std::move(domain), timeout, false),
                                      asio::use_awaitable);
  } catch (const std::exception& e) {
    Verdict v;
    v.answer = Answer::temp_failure;
    v.reason = std::string("internal error: ") + e.what();
    co_return v;
  }
}

net::awaitable<Verdict> Engine::resolve_here(std::string domain, std::chrono::milliseconds timeout,
                                             bool force) {
  Shard& shard = shard_of(domain);  // this coroutine runs on that shard's thread
  if (auto it = shard.inflight.find(domain); it != shard.inflight.end()) {
    shared_->inc();
    auto flight = it->second;
    while (!flight->done) co_await flight->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    co_return flight->result;
  }
  auto flight = std::make_shared<Flight>(shard.io.get_executor());
  shard.inflight.emplace(domain, flight);
  Verdict v;
  try {
    v = co_await lookup_once(domain, timeout, force);
  } catch (const std::exception& e) {
    v.answer = Answer::temp_failure;
    v.reason = std::string("internal error: ") + e.what();
  }
  flight->result = v;
  flight->done = true;
  flight->timer.cancel();
  shard.inflight.erase(domain);
  co_return v;
}

net::awaitable<Verdict> Engine::lookup_once(const std::string& domain,
                                            std::chrono::milliseconds timeout, bool force) {
  const std::int64_t now = now_seconds();
  // The store is the truth (a fleet shares it): read it rather than the hot set.
  const auto get = [this, domain] { return cache_->get(domain); };
  auto stored = *co_await on_store(get);
  std::optional<CachedPolicy> cached;
  if (stored) cached = *stored;
  else {
    store_errors_->inc();
    spdlog::warn("store read for {} failed: {}", domain, stored.error().message);
  }
  net::FetchOptions opts = fetch_;
  opts.timeout = timeout;
  Shard& shard = shard_of(domain);
  const double jitter = std::uniform_real_distribution<double>(0, 1)(shard.rng);
  // The MTA-STS lookup and the DANE probe run side by side: zones without DANE need the former.
  Lookup l;
  std::optional<DaneProbe> dane;
  std::vector<std::function<net::awaitable<void>()>> both;
  both.push_back([&]() -> net::awaitable<void> {
    try {
      l = co_await lookup(*shard.resolver, opts, domain, cached, now, jitter, config_.tuning, force);
    } catch (const std::exception& e) {
      l.decision.answer = Answer::temp_failure;
      l.decision.reason = std::string("internal error: ") + e.what();
    }
  });
  if (shard.dnssec)
    both.push_back([&]() -> net::awaitable<void> {
      try {
        dane = co_await probe_dane(*shard.dnssec, domain);
      } catch (const std::exception& e) {
        dane.emplace();
        dane->decision.answer = DaneAnswer::temp;
        dane->decision.reason = std::string("internal error: ") + e.what();
      }
    });
  co_await net::run_all(std::move(both));
  if (l.txt_checked) {
    dns_lookups_->inc();
    if (l.txt.kind == TxtObservation::Kind::dns_failure) dns_failures_->inc();
  }
  if (l.fetch) {
    const auto& t = l.fetch->result_type;
    (l.fetch->ok ? fetch_ok_ : t == "sts-policy-invalid" ? fetch_invalid_
                             : t == "sts-webpki-invalid" ? fetch_webpki_ : fetch_fetch_error_)->inc();
    if (!l.fetch->ok) spdlog::info("{}: policy fetch failed: {}: {}", domain, t, l.fetch->detail);
  }
  const Decision& d = l.decision;
  if (d.write && d.entry) {
    const auto put = [this, e = *d.entry] { return cache_->put(e); };
    auto w = *co_await on_store(put);
    if (!w) {
      store_errors_->inc();
      spdlog::warn("store write for {} failed: {}", domain, w.error().message);
    }
  }
  if (d.erase) {
    const auto erase = [this, domain] { return cache_->erase(domain); };
    auto w = *co_await on_store(erase);
    if (!w) store_errors_->inc();
  }
  if (!d.change.empty()) {
    policy_changes_->inc();
    spdlog::info("{}", d.change);
  }
  Verdict v = verdict_of(d);
  std::int64_t until = std::numeric_limits<std::int64_t>::max();
  if (dane) {
    const DaneDecision& dd = dane->decision;
    v.dane = dd.answer;
    v.dane_reason = dd.reason;
    until = now + std::max<std::int64_t>(dd.ttl, 1);
    const bool bogus = dd.answer == DaneAnswer::temp && dd.result_type == "dnssec-invalid";
    (dd.answer == DaneAnswer::dane_only ? dane_only_ : dd.answer == DaneAnswer::dane ? dane_
     : dd.answer == DaneAnswer::none ? dane_none_ : bogus ? dane_bogus_ : dane_failed_)->inc();
    if (dd.answer == DaneAnswer::temp) spdlog::warn("{}: DANE: {}", domain, dd.reason);
    else spdlog::debug("{}: DANE {}: {}", domain, to_string(dd.answer), dd.reason);
  }
  // A TEMP (MTA-STS or DANE) is not remembered: the next lookup asks again.
  if (v.answer == Answer::temp_failure || v.dane == DaneAnswer::temp) hot_.erase(domain);
  else if (v.answer == Answer::policy) hot_.put(domain, {v.policy, v.policy->checked, v.dane, until});
  else hot_.put(domain, {nullptr, now, v.dane, until});
  co_return v;
}

net::awaitable<void> Engine::refresh_loop() {
  while (!stopping_) {
    refresh_timer_->expires_after(config_.refresh_every);
    co_await refresh_timer_->async_wait(asio::as_tuple(asio::use_awaitable));
    if (stopping_) break;
    const auto list_due = [this] { return cache_->due(now_seconds(), 1000); };
    auto due = *co_await on_store(list_due);
    if (!due) {
      store_errors_->inc();
      continue;
    }
    std::size_t next = 0;
    std::vector<std::function<net::awaitable<void>()>> workers;
    for (std::size_t w = 0; w < std::min(config_.refresh_concurrency, due->size()); ++w)
      workers.push_back([&]() -> net::awaitable<void> {
        while (next < due->size() && !stopping_) {
          const std::string domain = (*due)[next++].domain;
          refreshes_->inc();
          try {
            co_await asio::co_spawn(shard_of(domain).io,
                                    resolve_here(domain, config_.default_zone.timeout, true),
                                    asio::use_awaitable);
          } catch (const std::exception& e) {
            spdlog::warn("background refresh of {}: {}", domain, e.what());
          }
        }
      });
    co_await net::run_all(std::move(workers));
  }
}

void Engine::start() {
  if (config_.refresh) {
    refresh_timer_ = std::make_unique<asio::steady_timer>(shards_[0]->io);
    asio::co_spawn(shards_[0]->io, refresh_loop(), asio::detached);
  }
  for (auto& shard : shards_)
    shard->thread = std::thread([s = shard.get()] {
      auto guard = asio::make_work_guard(s->io);
      s->io.run();
    });
  store_thread_ = std::thread([this] {
    auto guard = asio::make_work_guard(store_io_);
    store_io_.run();
  });
}

void Engine::stop() {
  stopping_ = true;
  for (auto& shard : shards_) shard->io.stop();
  store_io_.stop();
  for (auto& shard : shards_)
    if (shard->thread.joinable()) shard->thread.join();
  if (store_thread_.joinable()) store_thread_.join();
}

}  // namespace mtasts::resolve
