#include "serve/acme_manager.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <random>
#include <set>

#include "fmt/format.h"

namespace asio = boost::asio;

namespace mtasts::serve {

std::vector<std::string> policy_hosts(const std::vector<std::string>& domains) {
  std::vector<std::string> out;
  out.reserve(domains.size());
  for (const auto& d : domains) out.push_back("mta-sts." + d);
  return out;
}

AcmeManager::AcmeManager(AcmeManagerOptions options, store::CertStore& store, Challenges& challenges,
                         Metrics& metrics)
    : options_(std::move(options)),
      store_(store),
      responder_(challenges, &store, [this] { return now(); },
                 [this](std::string_view line) { options_.log(line); }),
      client_(options_.acme, responder_),
      issued_(metrics.counter("mtasts_acme_certificates_issued_total", "Certificates obtained for hosts that had none")),
      renewed_(metrics.counter("mtasts_acme_certificates_renewed_total", "Certificates renewed before they expire")),
      failures_(metrics.counter("mtasts_acme_failures_total", "Failed attempts to obtain or renew a certificate")),
      failing_hosts_(metrics.gauge("mtasts_acme_failing_hosts", "Hosts whose last certificate attempt failed")) {
  if (!options_.log) options_.log = [](std::string_view line) { std::fprintf(stderr, "%.*s\n", int(line.size()), line.data()); };
  if (options_.node.empty()) {
    char name[256] = {};
    gethostname(name, sizeof name - 1);
    options_.node = fmt::format("{}:{}", name, getpid());
  }
}

void ChallengesResponder::share(const store::ChallengeRecord& record) {
  if (!shared_) return;
  if (auto r = shared_->put_challenge(record); !r)
    log_(fmt::format("acme: {} answer for {} not shared with other nodes: {}", record.kind,
                     record.kind == "http-01" ? "a token" : record.name, r.error().message));
}

void ChallengesResponder::unshare(const std::string& kind, const std::string& name) {
  if (!shared_) return;
  // Left behind on failure: it expires (kLifetime) and is deleted by the next reader.
  if (auto r = shared_->remove_challenge(kind, name); !r)
    log_(fmt::format("acme: shared {} answer not removed (it expires by itself): {}", kind, r.error().message));
}

void ChallengesResponder::put_http01(const std::string& token, const std::string& key_authorization) {
  challenges_.put_http01(token, key_authorization);
  share({"http-01", token, key_authorization, "", "", now_() + kLifetime});
}

void ChallengesResponder::remove_http01(const std::string& token) {
  challenges_.remove_http01(token);
  unshare("http-01", token);
}

void ChallengesResponder::put_alpn(const std::string& host, acme::AlpnCertificate c) {
  share({"tls-alpn-01", host, "", c.certificate_pem, c.private_key_pem, now_() + kLifetime});
  challenges_.put_alpn(host, AlpnCertificate{std::move(c.certificate_pem), std::move(c.private_key_pem)});
}

void ChallengesResponder::remove_alpn(const std::string& host) {
  challenges_.remove_alpn(host);
  unshare("tls-alpn-01", host);
}

std::int64_t AcmeManager::now() const {
  return options_.now ? options_.now() : static_cast<std::int64_t>(std::time(nullptr));
}

namespace {

// Runs `f` (a blocking store call) on `blocking` if given, then comes back.
template <typename F>
asio::awaitable<std::invoke_result_t<F>> off_thread(const std::optional<asio::any_io_executor>& blocking, F f) {
  if (!blocking) co_return f();
  auto home = co_await asio::this_coro::executor;
  co_await asio::post(*blocking, asio::use_awaitable);
  auto r = f();
  co_await asio::post(home, asio::use_awaitable);
  co_return r;
}

}  // namespace

void AcmeManager::report(const std::string& host, const Error* error) {
  auto it = failing_.find(host);
  if (!error) {
    if (it != failing_.end()) {
      options_.log(fmt::format("acme: {}: certificate obtained again after failures", host));
      failing_.erase(it);
    }
  } else {
    failures_.inc();
    if (it == failing_.end() || it->second != error->code)
      options_.log(fmt::format("acme: {}: {} ({}); will retry", host, error->message, error->code));
    failing_[host] = error->code;
  }
  failing_hosts_.set(static_cast<std::int64_t>(failing_.size()));
}

void AcmeManager::stored(const std::string& host, bool renewal, const net::IssuedCertificate& c, AcmePass& pass) {
  report(host, nullptr);
  (renewal ? renewed_ : issued_).inc();
  (renewal ? pass.renewed : pass.issued).push_back(host);
  options_.log(fmt::format("acme: {}: certificate {} (valid until {}, issuer {})", host,
                           renewal ? "renewed" : "issued", c.not_after, c.issuer));
  if (changed_) changed_(host);
}

asio::awaitable<Result<net::AcmeAccount>> AcmeManager::account() {
  const std::string directory = options_.acme.directory_url;
  auto stored = co_await off_thread(options_.blocking, [&] { return store_.account(directory); });
  if (!stored) co_return stored.error();
  net::AcmeAccount known;
  if (*stored) known = net::AcmeAccount{(*stored)->key_pem, (*stored)->account_url};
  if (!known.url.empty()) co_return known;
  auto registered = co_await client_.account(known);
  if (!registered) co_return registered.error();
  store::AcmeAccountRecord record{directory, registered->key_pem, registered->url, now()};
  auto put = co_await off_thread(options_.blocking, [&] { return store_.put_account(record); });
  if (!put) co_return put.error();
  options_.log(fmt::format("acme: account registered at {}", registered->url));
  co_return *registered;
}

asio::awaitable<AcmePass> AcmeManager::run_once(std::vector<std::string> hosts) {
  AcmePass pass;
  const std::int64_t renew_at = now() + options_.renew_before.count();
  // Two queries per pass, not one per host: a node may host 100,000 domains.
  auto certified = co_await off_thread(options_.blocking, [&] { return store_.hosts(); });
  auto expiring = co_await off_thread(options_.blocking, [&] { return store_.expiring_before(renew_at); });
  if (!certified || !expiring) {
    const Error& e = !certified ? certified.error() : expiring.error();
    for (const auto& host : hosts) {
      report(host, &e);
      pass.failed.emplace(host, e);
    }
    co_return pass;
  }
  const std::set<std::string> have(certified->begin(), certified->end());
  const std::set<std::string> ending(expiring->begin(), expiring->end());
  std::vector<std::pair<std::string, bool>> todo;  // host, has a certificate
  for (const auto& host : hosts) {
    if (!have.count(host))
      todo.emplace_back(host, false);
    else if (ending.count(host))
      todo.emplace_back(host, true);
    else
      pass.current.push_back(host);
  }
  if (todo.empty()) co_return pass;

  auto acct = co_await account();
  for (const auto& item : todo) {
    const std::string& host = item.first;
    const bool renewal = item.second;
    Result<net::IssuedCertificate> issued = Error{};
    bool leased = false;
    if (acct) {
      // One node at a time orders a host's certificate (the others copy it from the store).
      const std::int64_t t = now();
      auto lease = co_await off_thread(options_.blocking, [&] {
        return store_.take_lease(host, options_.node, t, t + options_.lease.count());
      });
      if (lease && !*lease) {
        pass.deferred.push_back(host);
        continue;
      }
      if (!lease) {
        issued = lease.error();
      } else {
        leased = true;
        std::vector<std::string> names(1, host);  // (no braced list inside a co_await: GCC 12 bug)
        issued = co_await client_.issue(*acct, std::move(names));
      }
    } else
      issued = acct.error();
    if (issued) {
      store::CertificateRecord record{host, issued->chain_pem, issued->key_pem, issued->not_before,
                                      issued->not_after, issued->issuer, now()};
      auto put = co_await off_thread(options_.blocking, [&] { return store_.put_certificate(record); });
      if (!put) issued = put.error();
    }
    if (leased) {
      // On failure the lease stays until it expires: no other node retries at once either.
      if (issued) co_await off_thread(options_.blocking, [&] { return store_.release_lease(host, options_.node); });
    }
    if (!issued) {
      report(host, &issued.error());
      pass.failed.emplace(host, issued.error());
      continue;
    }
    stored(host, renewal, *issued, pass);
  }
  co_return pass;
}

void AcmeManager::wake() {
  if (!timer_) return;  // a pass is running; the next one sees the new hosts anyway
  woken_ = true;
  timer_->cancel();
}

std::chrono::seconds next_pass_wait(const AcmeManagerOptions& options, const AcmePass& pass,
                                    int failed_in_a_row) {
  if (!pass.failed.empty()) {
    auto wait = std::max(options.retry_first, std::chrono::seconds(1));
    for (int i = 1; i < failed_in_a_row && wait < options.retry_interval; ++i) wait *= 2;
    return std::min(wait, options.retry_interval);
  }
  // (A deferred host is looked at again soon in case the node holding its lease died.)
  if (!pass.deferred.empty()) return std::min(options.deferred_interval, options.interval);
  return options.interval;
}

asio::awaitable<void> AcmeManager::run(std::function<std::vector<std::string>()> hosts) {
  std::mt19937_64 rng(std::random_device{}());
  std::uniform_real_distribution<double> spread(1.0 - options_.jitter, 1.0 + options_.jitter);
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer_ = &timer;
  int failed_in_a_row = 0;
  while (true) {
    AcmePass pass = co_await run_once(hosts());
    failed_in_a_row = pass.failed.empty() ? 0 : failed_in_a_row + 1;
    auto base = next_pass_wait(options_, pass, failed_in_a_row);
    timer.expires_after(std::chrono::duration_cast<std::chrono::milliseconds>(base * spread(rng)));
    auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec && !woken_) {  // cancelled: serve is shutting down
      timer_ = nullptr;
      co_return;
    }
    woken_ = false;
  }
}

}  // namespace mtasts::serve
