#include "net/acme_client.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <ctime>

#include "fmt/format.h"
#include "net/acme_http.h"

namespace asio = boost::asio;
namespace json = boost::json;

namespace mtasts::net {

std::string_view to_string(AcmeChallengeType t) {
  return t == AcmeChallengeType::http01 ? "http-01" : "tls-alpn-01";
}

struct AcmeClient::Response {
  int status = 0;
  std::string location;
  std::string retry_after;
  std::string body;
};

struct AcmeClient::Signer {
  EVP_PKEY* key = nullptr;
  std::string kid;  // empty: the JWK goes in the header (newAccount)
};

namespace {

using Method = AcmeHttpRequest::Method;

constexpr std::string_view kPemChain = "application/pem-certificate-chain";

Error acme_error(std::string code, std::string message) {
  return Error{std::move(code), 0, 0, std::move(message), {}};
}

// Failures worth another try: the server or the path to it may be back in a moment.
bool retryable(const Error& e) {
  return e.code == "acme-connect" || e.code == "acme-timeout" || e.code == "acme-http" ||
         e.code == "acme-dns";
}

bool retryable_status(int status) { return status == 429 || status >= 500; }

// JSON bodies are built outside the coroutines: GCC 12 miscompiles braced lists of string
// literals inside a coroutine frame ("array used as initializer").
std::string new_order_payload(const std::vector<std::string>& hosts) {
  json::array identifiers;
  for (const auto& h : hosts) identifiers.push_back(json::object{{"type", "dns"}, {"value", h}});
  return json::serialize(json::object{{"identifiers", std::move(identifiers)}});
}

std::string finalize_payload(const std::string& csr_der) {
  return json::serialize(json::object{{"csr", acme::base64url(csr_der)}});
}

std::string new_account_payload(const std::vector<std::string>& contact) {
  json::object payload;
  payload["termsOfServiceAgreed"] = true;
  if (!contact.empty()) {
    json::array list;
    for (const auto& c : contact) list.emplace_back(c);
    payload["contact"] = std::move(list);
  }
  return json::serialize(payload);
}

// Keeps the challenge answer published exactly as long as the authorization is being worked on.
class Published {
 public:
  Published(AcmeResponder& r, AcmeChallengeType type, std::string key) : r_(r), type_(type), key_(std::move(key)) {}
  Published(const Published&) = delete;
  Published& operator=(const Published&) = delete;
  ~Published() {
    if (type_ == AcmeChallengeType::http01) r_.remove_http01(key_);
    else r_.remove_alpn(key_);
  }

 private:
  AcmeResponder& r_;
  AcmeChallengeType type_;
  std::string key_;
};

}  // namespace

AcmeClient::AcmeClient(AcmeOptions options, AcmeResponder& responder)
    : options_(std::move(options)), responder_(responder) {}

std::int64_t AcmeClient::now() const {
  return options_.now ? options_.now() : static_cast<std::int64_t>(std::time(nullptr));
}

std::chrono::milliseconds AcmeClient::retry_delay(const std::string& retry_after, int retry) const {
  return std::chrono::milliseconds(acme::retry_delay_ms(retry_after, retry, options_.backoff_first.count(),
                                                        options_.backoff_cap.count(), now()));
}

std::chrono::milliseconds AcmeClient::poll_delay(const std::string& retry_after, int poll) const {
  return std::chrono::milliseconds(acme::retry_delay_ms(retry_after, poll, options_.poll_first.count(),
                                                        options_.poll_cap.count(), now()));
}

asio::awaitable<Result<bool>> AcmeClient::wait(std::chrono::milliseconds delay, Clock::time_point deadline,
                                               std::string_view what) {
  if (Clock::now() + delay >= deadline)
    co_return acme_error("acme-timeout", fmt::format("{}: the deadline passed before the next try", what));
  asio::steady_timer timer(co_await asio::this_coro::executor, delay);
  co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  co_return true;
}

asio::awaitable<Result<AcmeClient::Response>> AcmeClient::get(const std::string& url, Clock::time_point deadline) {
  Method method = directory_ && url == directory_->new_nonce ? Method::head : Method::get;
  co_return co_await send(method, url, nullptr, std::nullopt, std::string(), deadline);
}

Error AcmeClient::gave_up(Error e, int tries, bool deadline) const {
  if (deadline)
    e.message += fmt::format(" (gave up after {} tries: the {} s deadline leaves no time for another)", tries,
                             std::chrono::duration_cast<std::chrono::seconds>(options_.deadline).count());
  else if (tries > 1)
    e.message += fmt::format(" (gave up after {} tries)", tries);
  return e;
}

asio::awaitable<Result<bool>> AcmeClient::ensure_directory(Clock::time_point deadline) {
  if (directory_) co_return true;
  auto r = co_await get(options_.directory_url, deadline);
  if (!r) co_return r.error();
  auto d = acme::parse_directory(r->body);
  if (!d) co_return d.error();
  directory_ = *d;
  co_return true;
}

asio::awaitable<Result<std::string>> AcmeClient::fresh_nonce(Clock::time_point deadline) {
  if (!nonces_.empty()) {
    std::string n = std::move(nonces_.back());
    nonces_.pop_back();
    co_return n;
  }
  auto r = co_await get(directory_->new_nonce, deadline);
  if (!r) co_return r.error();
  if (nonces_.empty())
    co_return acme_error("acme-bad-response", fmt::format("{} sent no Replay-Nonce", directory_->new_nonce));
  std::string n = std::move(nonces_.back());
  nonces_.pop_back();
  co_return n;
}

asio::awaitable<Result<AcmeClient::Response>> AcmeClient::post(const Signer& signer, const std::string& url,
                                                               std::optional<std::string> payload,
                                                               Clock::time_point deadline, std::string accept) {
  co_return co_await send(Method::post, url, &signer, std::move(payload), std::move(accept), deadline);
}

asio::awaitable<Result<AcmeClient::Response>> AcmeClient::send(Method method, const std::string& url,
                                                               const Signer* signer,
                                                               std::optional<std::string> payload,
                                                               std::string accept, Clock::time_point deadline) {
  int bad_nonce = 0;
  const std::string what = fmt::format("{} {}", signer ? "POST" : "GET", url);
  for (int attempt = 1;;) {
    std::string body;
    if (signer) {  // a fresh nonce for every try (RFC 8555 §6.5)
      auto nonce = co_await fresh_nonce(deadline);
      if (!nonce) co_return nonce.error();
      auto jws = acme::sign_jws(signer->key, {*nonce, url, signer->kid}, payload.value_or(""));
      if (!jws) co_return jws.error();
      body = std::move(jws).value();
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) co_return acme_error("acme-timeout", fmt::format("{}: the deadline passed", what));
    ++stats_.requests;
    // A named request, not a braced temporary in the co_await: GCC 12 destroys that one twice.
    const AcmeHttpRequest request{method, url, std::move(body), accept};
    auto r = co_await acme_https(*options_.tls, request, std::min(left, options_.request_timeout),
                                 options_.body_limit);
    std::optional<Error> failure;
    std::string retry_after;
    if (r) {
      if (!r->replay_nonce.empty() && nonces_.size() < 16) nonces_.push_back(r->replay_nonce);
      if (r->status < 400) co_return Response{r->status, r->location, r->retry_after, std::move(r->body)};
      acme::Problem problem = acme::parse_problem(r->body, r->status);
      // RFC 8555 §6.5: a badNonce answer carries a fresh nonce; try again with it at once.
      if (signer && problem.acme_type() == "badNonce" && ++bad_nonce <= options_.max_bad_nonce) {
        ++stats_.bad_nonce_retries;
        continue;
      }
      failure = acme::problem_error(problem, what);
      if (!retryable_status(r->status)) co_return *failure;
      retry_after = r->retry_after;
    } else {
      failure = r.error();
      if (!retryable(*failure)) co_return *failure;
      if (Clock::now() >= deadline) co_return gave_up(std::move(*failure), attempt, true);
    }
    if (attempt >= options_.max_attempts) co_return gave_up(std::move(*failure), attempt, false);
    ++stats_.retries;
    std::chrono::milliseconds delay = retry_delay(retry_after, attempt);
    if (!(co_await wait(delay, deadline, what))) {
      if (!retry_after.empty())
        failure->message += fmt::format(" (the server asks to try again in {} s, after the deadline)",
                                        std::chrono::duration_cast<std::chrono::seconds>(delay).count());
      co_return gave_up(std::move(*failure), attempt, retry_after.empty());
    }
    ++attempt;
  }
}

asio::awaitable<Result<AcmeAccount>> AcmeClient::account(AcmeAccount known) {
  const auto deadline = Clock::now() + options_.deadline;
  if (auto d = co_await ensure_directory(deadline); !d) co_return d.error();
  acme::EvpKey key;
  if (known.key_pem.empty()) {
    key = acme::generate_p256();
    known.key_pem = acme::private_key_pem(key.get());
  } else {
    auto loaded = acme::load_p256_key(known.key_pem);
    if (!loaded) co_return loaded.error();
    key = std::move(loaded).value();
  }
  const Signer by_jwk{key.get(), {}};
  std::optional<std::string> payload = new_account_payload(options_.contact);
  auto r = co_await post(by_jwk, directory_->new_account, std::move(payload), deadline);
  if (!r) co_return r.error();
  if (r->location.empty())
    co_return acme_error("acme-bad-response", "the newAccount answer has no Location (the account URL)");
  known.url = r->location;
  co_return known;
}

asio::awaitable<Result<acme::Order>> AcmeClient::poll_order(const Signer& signer, const std::string& url,
                                                            std::string_view until, Clock::time_point deadline) {
  for (int poll = 1;; ++poll) {
    auto r = co_await post(signer, url, std::nullopt, deadline);
    if (!r) co_return r.error();
    auto order = acme::parse_order(r->body);
    if (!order) co_return order.error();
    if (order->status == until || order->status == "valid") co_return order;
    if (order->status == "invalid") {
      if (order->error) co_return acme::problem_error(*order->error, fmt::format("order {} is invalid", url));
      co_return acme_error("acme-order-invalid", fmt::format("order {} is invalid", url));
    }
    auto w = co_await wait(poll_delay(r->retry_after, poll), deadline,
                           fmt::format("waiting for order {} to become {} (it is {})", url, until, order->status));
    if (!w) co_return w.error();
  }
}

asio::awaitable<Result<std::string>> AcmeClient::authorize(const Signer& signer, const std::string& url,
                                                           Clock::time_point deadline) {
  auto r = co_await post(signer, url, std::nullopt, deadline);
  if (!r) co_return r.error();
  auto authz = acme::parse_authorization(r->body);
  if (!authz) co_return authz.error();
  if (authz->status == "valid") co_return std::string();  // reused (RFC 8555 §7.1.3)
  if (authz->status != "pending")
    co_return acme_error("acme-authorization-" + authz->status,
                         fmt::format("the authorization for {} is {}", authz->identifier, authz->status));

  const acme::Challenge* chosen = nullptr;
  AcmeChallengeType type{};
  for (AcmeChallengeType want : options_.challenges) {
    for (const auto& c : authz->challenges)
      if (c.type == to_string(want)) chosen = &c;
    if (chosen) {
      type = want;
      break;
    }
  }
  if (!chosen) {
    std::string offered;
    for (const auto& c : authz->challenges) offered += (offered.empty() ? "" : ", ") + c.type;
    co_return acme_error("acme-no-usable-challenge",
                         fmt::format("the server offers {} for {}; the challenge types configured are not among them",
                                     offered.empty() ? "no challenge" : offered, authz->identifier));
  }
  if (!acme::is_valid_token(chosen->token))
    co_return acme_error("acme-bad-response", fmt::format("the {} token for {} is not base64url", chosen->type,
                                                           authz->identifier));
  const std::string challenge_url = chosen->url;
  const std::string challenge_status = chosen->status;
  const std::string host = authz->identifier;
  std::string key_authorization = acme::key_authorization(chosen->token, signer.key);
  std::optional<Published> published;
  if (type == AcmeChallengeType::http01) {
    responder_.put_http01(chosen->token, key_authorization);
    published.emplace(responder_, type, chosen->token);
  } else {
    auto cert = acme::make_alpn_certificate(host, key_authorization, now());
    if (!cert) co_return cert.error();
    responder_.put_alpn(host, std::move(cert).value());
    published.emplace(responder_, type, host);
  }

  if (challenge_status == "pending" && options_.publish_delay.count() > 0) {
    auto w = co_await wait(options_.publish_delay, deadline,
                           fmt::format("publishing the {} answer for {} to the other nodes", to_string(type), host));
    if (!w) co_return w.error();
  }
  if (challenge_status == "pending") {
    auto respond = co_await post(signer, challenge_url, std::string("{}"), deadline);
    if (!respond) co_return respond.error();
  }
  for (int poll = 1;; ++poll) {
    auto w = co_await wait(poll_delay(r->retry_after, poll), deadline,
                           fmt::format("waiting for the {} validation of {}", to_string(type), host));
    if (!w) co_return w.error();
    r = co_await post(signer, url, std::nullopt, deadline);
    if (!r) co_return r.error();
    authz = acme::parse_authorization(r->body);
    if (!authz) co_return authz.error();
    if (authz->status == "valid") co_return std::string(to_string(type));
    if (authz->status == "pending") continue;
    // invalid (or deactivated, expired, revoked): say why the CA refused.
    std::string why = authz->status;
    for (const auto& c : authz->challenges) {
      if (c.url == challenge_url && c.error) why = acme::describe(*c.error);
    }
    co_return acme_error("acme-challenge-failed",
                         fmt::format("the CA did not validate {} by {}: {}", host, to_string(type), why));
  }
}

asio::awaitable<Result<IssuedCertificate>> AcmeClient::issue(AcmeAccount account, std::vector<std::string> hosts) {
  const auto deadline = Clock::now() + options_.deadline;
  if (hosts.empty()) co_return acme_error("acme-no-names", "a certificate needs at least one host name");
  if (account.url.empty()) co_return acme_error("acme-no-account", "the ACME account is not registered");
  if (auto d = co_await ensure_directory(deadline); !d) co_return d.error();
  auto key = acme::load_p256_key(account.key_pem);
  if (!key) co_return key.error();
  const Signer signer{key->get(), account.url};

  auto created = co_await post(signer, directory_->new_order, new_order_payload(hosts), deadline);
  if (!created) co_return created.error();
  const std::string order_url = created->location;
  if (order_url.empty()) co_return acme_error("acme-bad-response", "the newOrder answer has no Location");
  auto order = acme::parse_order(created->body);
  if (!order) co_return order.error();

  IssuedCertificate out;
  for (const auto& authz_url : order->authorizations) {
    auto used = co_await authorize(signer, authz_url, deadline);
    if (!used) co_return used.error();
    if (!used->empty()) out.challenge = *used;
  }
  order = co_await poll_order(signer, order_url, "ready", deadline);
  if (!order) co_return order.error();

  acme::EvpKey cert_key = acme::generate_p256();
  if (order->status == "ready") {
    auto csr = acme::make_csr(cert_key.get(), hosts);
    if (!csr) co_return csr.error();
    auto fin = co_await post(signer, order->finalize, finalize_payload(*csr), deadline);
    if (!fin) co_return fin.error();
    order = acme::parse_order(fin->body);
    if (!order) co_return order.error();
    if (order->status != "valid") order = co_await poll_order(signer, order_url, "valid", deadline);
    if (!order) co_return order.error();
  } else {
    co_return acme_error("acme-bad-response", fmt::format("order {} became valid before it was finalized", order_url));
  }
  if (order->certificate.empty())
    co_return acme_error("acme-bad-response", fmt::format("order {} is valid but names no certificate", order_url));

  auto chain = co_await post(signer, order->certificate, std::nullopt, deadline, std::string(kPemChain));
  if (!chain) co_return chain.error();
  auto info = acme::describe_chain(chain->body);
  if (!info) co_return info.error();
  for (const auto& h : hosts) {
    if (std::find(info->names.begin(), info->names.end(), h) == info->names.end())
      co_return acme_error("acme-bad-response", fmt::format("the issued certificate does not name {}", h));
  }
  out.chain_pem = std::move(chain->body);
  out.key_pem = acme::private_key_pem(cert_key.get());
  out.not_before = info->not_before;
  out.not_after = info->not_after;
  out.issuer = info->issuer;
  co_return out;
}

}  // namespace mtasts::net
