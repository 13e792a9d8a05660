// Keeps a certificate for every hosted policy host (mta-sts.<domain>): obtains the missing ones
// and renews those that end within 30 days, through the ACME client, into the cert store. Meant
// to run inside `mtasts serve` as one coroutine (run()), passes spaced by an interval with jitter
// so that many nodes sharing a database do not all knock on the CA at once.
//
// Failures do not stop the loop: each is logged once per host (again only when the error changes,
// and once more when the host recovers) and counted in the metrics.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/metrics.h"
#include "net/acme_client.h"
#include "serve/challenges.h"
#include "store/cert_store.h"

namespace mtasts::serve {

// Publishes the ACME client's answers where serve's listeners (port 80, ALPN acme-tls/1) read them,
// and in the store for the other nodes (which copy them at their next reload tick). A failed
// store write is logged: this node still answers, only the others do not.
class ChallengesResponder final : public net::AcmeResponder {
 public:
  ChallengesResponder(Challenges& challenges, store::CertStore* shared,
                      std::function<std::int64_t()> now, std::function<void(std::string_view)> log)
      : challenges_(challenges), shared_(shared), now_(std::move(now)), log_(std::move(log)) {}
  void put_http01(const std::string& token, const std::string& key_authorization) override;
  void remove_http01(const std::string& token) override;
  void put_alpn(const std::string& host, acme::AlpnCertificate c) override;
  void remove_alpn(const std::string& host) override;

  static constexpr std::int64_t kLifetime = 600;  // s: a stored answer outlives no order

 private:
  void share(const store::ChallengeRecord& record);
  void unshare(const std::string& kind, const std::string& name);

  Challenges& challenges_;
  store::CertStore* shared_;
  std::function<std::int64_t()> now_;
  std::function<void(std::string_view)> log_;
};

struct AcmeManagerOptions {
  net::AcmeOptions acme;  // directory URL, trust store, challenge preference, timeouts
  std::chrono::seconds renew_before{std::chrono::hours(24 * 30)};
  std::chrono::seconds interval{std::chrono::hours(12)};   // between passes
  // After a pass with failures: retry_first, doubling with each failed pass in a row, at most
  // retry_interval (a transient CA or network fault heals in minutes; a lasting one is not
  // hammered).
  std::chrono::seconds retry_first{std::chrono::minutes(1)};
  std::chrono::seconds retry_interval{std::chrono::hours(1)};
  // After a pass where another node held a host's lease: look again this soon.
  std::chrono::seconds deferred_interval{std::chrono::minutes(2)};
  // This node's name in the issuance leases (default: host name and process id).
  std::string node;
  std::chrono::seconds lease{std::chrono::minutes(10)};  // longer than one order takes
  double jitter = 0.1;  // each wait is interval * (1 ± jitter)
  std::function<std::int64_t()> now;  // wall clock for expiry decisions; default time(nullptr)
  // One line per event; never receives secrets. Default: stderr.
  std::function<void(std::string_view)> log;
  // Where blocking store calls run (a thread pool); default: inline on the caller's executor.
  std::optional<boost::asio::any_io_executor> blocking;
};

struct AcmePass {
  std::vector<std::string> issued;    // had none
  std::vector<std::string> renewed;   // had one ending soon
  std::vector<std::string> current;   // nothing to do
  std::vector<std::string> deferred;  // another node holds the lease: it orders this one
  std::map<std::string, Error> failed;
};

// The wait before the next pass (before jitter), after `pass`; `failed_in_a_row` counts the
// passes with failures that ended last, this one included.
std::chrono::seconds next_pass_wait(const AcmeManagerOptions& options, const AcmePass& pass,
                                    int failed_in_a_row);

// "mta-sts." + domain, for each hosted domain.
std::vector<std::string> policy_hosts(const std::vector<std::string>& domains);

class AcmeManager {
 public:
  AcmeManager(AcmeManagerOptions options, store::CertStore& store, Challenges& challenges, Metrics& metrics);

  // Called after a host's certificate was stored (serve reloads it).
  void on_changed(std::function<void(const std::string& host)> callback) { changed_ = std::move(callback); }

  // One pass over `hosts`.
  boost::asio::awaitable<AcmePass> run_once(std::vector<std::string> hosts);
  // Passes forever over hosts() (read anew each time); ends when the coroutine is cancelled.
  boost::asio::awaitable<void> run(std::function<std::vector<std::string>()> hosts);
  // Starts the next pass now (new domains should not wait for the interval). Call it on the
  // executor run() runs on.
  void wake();

  const net::AcmeStats& client_stats() const { return client_.stats(); }

 private:
  boost::asio::awaitable<Result<net::AcmeAccount>> account();
  void report(const std::string& host, const Error* error);
  void stored(const std::string& host, bool renewal, const net::IssuedCertificate& c, AcmePass& pass);
  std::int64_t now() const;

  AcmeManagerOptions options_;
  store::CertStore& store_;
  ChallengesResponder responder_;
  net::AcmeClient client_;
  std::function<void(const std::string&)> changed_;
  boost::asio::steady_timer* timer_ = nullptr;  // run()'s wait, while it waits
  bool woken_ = false;
  std::map<std::string, std::string> failing_;  // host -> error code last logged
  Counter& issued_;
  Counter& renewed_;
  Counter& failures_;
  Gauge& failing_hosts_;
};

}  // namespace mtasts::serve
