// An ACME client (RFC 8555) for the certificates `mtasts serve` needs: account, order, HTTP-01
// (RFC 8555 §8.3) or TLS-ALPN-01 (RFC 8737), finalize with a fresh P-256 key, download the chain.
//
// Every request has its own timeout and every operation an overall deadline. Replay-Nonce values
// are kept and reused; a badNonce answer is retried at once with the nonce it carried. 429 and
// 5xx answers and network failures are retried after Retry-After when the server sends it, else
// after an exponential backoff with a cap; nothing waits past the deadline. Problem documents
// become Errors whose code names the ACME error type (core/acme_messages.h).
//
// The challenge answers are published through an AcmeResponder (serve's listeners read them) and
// withdrawn when the authorization is done, whatever its outcome.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/acme_jws.h"
#include "core/acme_messages.h"
#include "core/acme_x509.h"
#include "core/error.h"
#include "net/acme_http.h"

namespace mtasts::net {

enum class AcmeChallengeType { http01, tls_alpn01 };
std::string_view to_string(AcmeChallengeType t);  // "http-01", "tls-alpn-01"

// Where the answers go while the CA validates.
class AcmeResponder {
 public:
  virtual ~AcmeResponder() = default;
  virtual void put_http01(const std::string& token, const std::string& key_authorization) = 0;
  virtual void remove_http01(const std::string& token) = 0;
  virtual void put_alpn(const std::string& host, acme::AlpnCertificate certificate) = 0;
  virtual void remove_alpn(const std::string& host) = 0;
};

struct AcmeOptions {
  std::string directory_url;
  boost::asio::ssl::context* tls = nullptr;  // trust store for the ACME server (--acme-ca-file)
  std::vector<AcmeChallengeType> challenges{AcmeChallengeType::http01, AcmeChallengeType::tls_alpn01};
  std::vector<std::string> contact;          // "mailto:..." for newAccount, optional
  std::chrono::milliseconds request_timeout{15000};
  std::chrono::milliseconds deadline{180000};  // for one account() or issue() call
  int max_attempts = 5;                        // per request, for 429/5xx/network failures
  int max_bad_nonce = 10;                      // per request, badNonce retries (cheap)
  std::chrono::milliseconds backoff_first{500};
  std::chrono::milliseconds backoff_cap{30000};
  std::chrono::milliseconds poll_first{200};   // authorization/order polling without Retry-After
  std::chrono::milliseconds poll_cap{5000};
  std::size_t body_limit = 1024 * 1024;
  // Between publishing a challenge answer and asking the CA to validate it: the time other nodes
  // behind the same name need to pick the answer up from the shared store (0: one node).
  std::chrono::milliseconds publish_delay{0};
  std::function<std::int64_t()> now;  // wall clock (seconds); default: time(nullptr)
};

struct AcmeAccount {
  std::string key_pem;  // secret: never log
  std::string url;      // the kid; empty until registered
};

struct IssuedCertificate {
  std::string chain_pem;  // leaf first
  std::string key_pem;    // secret: never log
  std::int64_t not_before = 0;
  std::int64_t not_after = 0;
  std::string issuer;
  std::string challenge;  // the challenge type used ("" when every authorization was valid already)
};

// What happened, for metrics and tests.
struct AcmeStats {
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> bad_nonce_retries{0};
  std::atomic<std::uint64_t> retries{0};  // after 429/5xx/network failures
};

class AcmeClient {
 public:
  AcmeClient(AcmeOptions options, AcmeResponder& responder);

  // Registers the account (newAccount, terms agreed) or finds it again for the same key; a
  // missing key_pem makes a new key. Returns the account with its URL.
  boost::asio::awaitable<Result<AcmeAccount>> account(AcmeAccount known);

  // One certificate for `hosts` (the first is the subject) with a fresh P-256 key.
  boost::asio::awaitable<Result<IssuedCertificate>> issue(AcmeAccount account,
                                                          std::vector<std::string> hosts);

  const AcmeStats& stats() const { return stats_; }

 private:
  using Clock = std::chrono::steady_clock;
  struct Response;
  struct Signer;

  boost::asio::awaitable<Result<Response>> get(const std::string& url, Clock::time_point deadline);
  boost::asio::awaitable<Result<bool>> ensure_directory(Clock::time_point deadline);
  boost::asio::awaitable<Result<std::string>> fresh_nonce(Clock::time_point deadline);
  // A signed POST (payload nullopt: POST-as-GET) with the nonce, badNonce and backoff rules.
  boost::asio::awaitable<Result<Response>> post(const Signer& signer, const std::string& url,
                                                std::optional<std::string> payload,
                                                Clock::time_point deadline, std::string accept = {});
  // One request with the retry rules; signed (and badNonce retried) when `signer` is given.
  boost::asio::awaitable<Result<Response>> send(AcmeHttpRequest::Method method, const std::string& url,
                                                const Signer* signer, std::optional<std::string> payload,
                                                std::string accept, Clock::time_point deadline);
  boost::asio::awaitable<Result<std::string>> authorize(const Signer& signer, const std::string& url,
                                                        Clock::time_point deadline);
  boost::asio::awaitable<Result<acme::Order>> poll_order(const Signer& signer, const std::string& url,
                                                         std::string_view until, Clock::time_point deadline);
  // Sleeps `delay`, or fails with acme-timeout when that would pass the deadline.
  boost::asio::awaitable<Result<bool>> wait(std::chrono::milliseconds delay, Clock::time_point deadline,
                                            std::string_view what);
  std::chrono::milliseconds retry_delay(const std::string& retry_after, int retry) const;
  std::chrono::milliseconds poll_delay(const std::string& retry_after, int poll) const;
  // The last failure, saying how many tries it took and whether the deadline ended them.
  Error gave_up(Error e, int tries, bool deadline) const;
  std::int64_t now() const;

  AcmeOptions options_;
  AcmeResponder& responder_;
  std::optional<acme::Directory> directory_;
  std::vector<std::string> nonces_;
  AcmeStats stats_;
};

}  // namespace mtasts::net
