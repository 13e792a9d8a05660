// The ACME client and the certificate manager against a real ACME server: Debian's pebble,
// started on loopback by tests/harness/with_pebble.py (ctest `acme.pebble`), which also starts
// knotd for pebble's lookups. Nothing here is skipped: without the harness's environment every
// test fails.
#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/detached.hpp>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <future>
#include <thread>

#include "acme_test_responders.h"
#include "core/metrics.h"
#include "net/acme_client.h"
#include "net/tls.h"
#include "serve/acme_manager.h"
#include "store/cert_store.h"

namespace asio = boost::asio;

namespace mtasts {
namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// One io_context on its own thread with the challenge responders, for the whole run. Started by
// main() before any test: when it cannot start, the run fails (no test is skipped).
class Pebble {
 public:
  std::string start() {
    if (env("MTASTS_TEST_ACME_DIRECTORY").empty())
      return "run me through tests/harness/with_pebble.py (MTASTS_TEST_ACME_DIRECTORY is not set)";
    try {
      http = std::make_unique<testing::Http01TestResponder>(
          io, static_cast<std::uint16_t>(std::stoi(env("MTASTS_TEST_ACME_HTTP_PORT"))), challenges);
      alpn = std::make_unique<testing::TlsAlpnTestResponder>(
          io, static_cast<std::uint16_t>(std::stoi(env("MTASTS_TEST_ACME_TLS_PORT"))), challenges);
      silent = std::make_unique<testing::SilentServer>(io);
    } catch (const std::exception& e) {
      return std::string("starting the challenge responders: ") + e.what();
    }
    std::string error;
    tls = net::make_client_context(env("MTASTS_TEST_ACME_CA_FILE"), net::TlsFloor::tls12, error);
    if (!tls) return error;
    thread = std::thread([this] { io.run(); });
    return {};
  }
  ~Pebble() {
    work.reset();
    io.stop();
    if (thread.joinable()) thread.join();
  }

  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  serve::Challenges challenges;
  std::unique_ptr<testing::Http01TestResponder> http;
  std::unique_ptr<testing::TlsAlpnTestResponder> alpn;
  std::unique_ptr<testing::SilentServer> silent;
  std::unique_ptr<asio::ssl::context> tls;
  std::thread thread;
};
Pebble* pebble = nullptr;

template <typename T>
asio::awaitable<void> deliver(asio::awaitable<T> a, std::promise<T>* p) {
  p->set_value(co_await std::move(a));
}

// Runs `a` on the responders' io_context and waits for its value (Result has no default value,
// which asio::use_future would need).
template <typename T>
T run(asio::awaitable<T> a) {
  std::promise<T> p;
  auto f = p.get_future();
  asio::co_spawn(pebble->io, deliver(std::move(a), &p), asio::detached);
  return f.get();
}

net::AcmeOptions options(std::vector<net::AcmeChallengeType> challenges = {net::AcmeChallengeType::http01}) {
  net::AcmeOptions o;
  o.directory_url = env("MTASTS_TEST_ACME_DIRECTORY");
  o.tls = pebble->tls.get();
  o.challenges = std::move(challenges);
  o.deadline = std::chrono::seconds(60);
  o.backoff_first = std::chrono::milliseconds(50);
  o.poll_first = std::chrono::milliseconds(50);
  return o;
}

// Counts what the client publishes and withdraws, passing everything on to serve's Challenges.
class CountingResponder : public net::AcmeResponder {
 public:
  explicit CountingResponder(bool wrong = false)
      : inner_(pebble->challenges, nullptr, [] { return std::int64_t{0}; }, [](std::string_view) {}), wrong_(wrong) {}
  void put_http01(const std::string& token, const std::string& key_authorization) override {
    ++published;
    inner_.put_http01(token, wrong_ ? key_authorization + "x" : key_authorization);
  }
  void remove_http01(const std::string& token) override {
    ++withdrawn;
    inner_.remove_http01(token);
  }
  void put_alpn(const std::string& host, acme::AlpnCertificate c) override {
    ++published;
    if (wrong_) c = *acme::make_alpn_certificate(host, "not-the-key-authorization", std::time(nullptr));
    inner_.put_alpn(host, std::move(c));
  }
  void remove_alpn(const std::string& host) override {
    ++withdrawn;
    inner_.remove_alpn(host);
  }
  int published = 0, withdrawn = 0;

 private:
  serve::ChallengesResponder inner_;
  bool wrong_;
};

// Error paths print what an operator would read, so the log of a run shows the wording.
void show(const Error& e) { std::printf("    -> %s: %s\n", e.code.c_str(), e.message.c_str()); }

net::AcmeAccount new_account(net::AcmeClient& client) {
  auto a = run(client.account({}));
  EXPECT_TRUE(a) << a.error().code << ": " << a.error().message;
  return a ? *a : net::AcmeAccount{};
}

// The chain must verify against pebble's root (from its management API) for `host`, and the key
// must be the leaf's.
void expect_verifies(const net::IssuedCertificate& c, const std::string& host) {
  X509_STORE* store = X509_STORE_new();
  ASSERT_EQ(X509_STORE_load_file(store, env("MTASTS_TEST_PEBBLE_ROOT").c_str()), 1);
  BIO* bio = BIO_new_mem_buf(c.chain_pem.data(), static_cast<int>(c.chain_pem.size()));
  X509* leaf = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  STACK_OF(X509)* rest = sk_X509_new_null();
  while (X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) sk_X509_push(rest, x);
  BIO_free(bio);
  ASSERT_NE(leaf, nullptr);
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf, rest);
  X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(ctx), host.c_str(), host.size());
  EXPECT_EQ(X509_verify_cert(ctx), 1) << X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));
  auto key = acme::load_p256_key(c.key_pem);
  ASSERT_TRUE(key);
  EXPECT_EQ(X509_check_private_key(leaf, key->get()), 1);
  EXPECT_GT(c.not_after, std::time(nullptr));
  EXPECT_FALSE(c.issuer.empty());
  X509_STORE_CTX_free(ctx);
  sk_X509_pop_free(rest, X509_free);
  X509_free(leaf);
  X509_STORE_free(store);
}

TEST(AcmePebble, AccountIsCreatedAndFoundAgainForTheSameKey) {
  CountingResponder responder;
  net::AcmeClient client(options(), responder);
  net::AcmeAccount a = new_account(client);
  EXPECT_TRUE(a.url.starts_with("https://127.0.0.1:")) << a.url;
  EXPECT_NE(a.key_pem.find("PRIVATE KEY"), std::string::npos);
  auto again = run(client.account(net::AcmeAccount{a.key_pem, {}}));
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->url, a.url);
}

TEST(AcmePebble, IssuesByHttp01) {
  CountingResponder responder;
  net::AcmeClient client(options({net::AcmeChallengeType::http01}), responder);
  net::AcmeAccount a = new_account(client);
  int before = pebble->http->answered;
  auto c = run(client.issue(a, {"http01.acme.test"}));
  ASSERT_TRUE(c) << c.error().code << ": " << c.error().message;
  EXPECT_EQ(c->challenge, "http-01");
  expect_verifies(*c, "http01.acme.test");
  EXPECT_GT(pebble->http->answered, before);  // pebble really fetched the answer
  EXPECT_EQ(responder.published, 1);
  EXPECT_EQ(responder.withdrawn, 1);
}

TEST(AcmePebble, IssuesByTlsAlpn01) {
  CountingResponder responder;
  net::AcmeClient client(options({net::AcmeChallengeType::tls_alpn01}), responder);
  net::AcmeAccount a = new_account(client);
  int before = pebble->alpn->handshakes;
  auto c = run(client.issue(a, {"alpn.acme.test"}));
  ASSERT_TRUE(c) << c.error().code << ": " << c.error().message;
  EXPECT_EQ(c->challenge, "tls-alpn-01");
  expect_verifies(*c, "alpn.acme.test");
  EXPECT_GT(pebble->alpn->handshakes, before);
  EXPECT_EQ(responder.published, 1);
  EXPECT_EQ(responder.withdrawn, 1);
  EXPECT_EQ(pebble->challenges.alpn("alpn.acme.test"), nullptr);
}

TEST(AcmePebble, SeveralNamesInOneCertificate) {
  CountingResponder responder;
  net::AcmeClient client(options(), responder);
  net::AcmeAccount a = new_account(client);
  auto c = run(client.issue(a, {"multi1.acme.test", "multi2.acme.test"}));
  ASSERT_TRUE(c) << c.error().code << ": " << c.error().message;
  expect_verifies(*c, "multi2.acme.test");
  EXPECT_EQ(responder.published, 2);
  EXPECT_EQ(responder.withdrawn, 2);
}

// pebble "noncy" rejects 40% of good nonces with badNonce: the client retries them.
TEST(AcmePebble, RetriesBadNonces) {
  CountingResponder responder;
  auto o = options();
  o.directory_url = env("MTASTS_TEST_ACME_NONCY_DIRECTORY");
  o.max_bad_nonce = 25;  // 0.4^26: never exhausted by chance
  net::AcmeClient client(o, responder);
  net::AcmeAccount a = new_account(client);
  for (std::string host : {"noncy1.acme.test", "noncy2.acme.test"}) {
    auto c = run(client.issue(a, {host}));
    ASSERT_TRUE(c) << c.error().code << ": " << c.error().message;
  }
  // Over some 25 requests at 40% the chance of no rejection at all is below one in 300,000.
  EXPECT_GT(client.stats().bad_nonce_retries.load(), 0u);
}

TEST(AcmePebble, WrongHttp01AnswerFailsClearly) {
  CountingResponder responder(/*wrong=*/true);
  net::AcmeClient client(options({net::AcmeChallengeType::http01}), responder);
  net::AcmeAccount a = new_account(client);
  auto c = run(client.issue(a, {"wrong-http.acme.test"}));
  ASSERT_FALSE(c);
  show(c.error());
  EXPECT_EQ(c.error().code, "acme-challenge-failed") << c.error().message;
  EXPECT_NE(c.error().message.find("wrong-http.acme.test"), std::string::npos) << c.error().message;
  EXPECT_NE(c.error().message.find("http-01"), std::string::npos) << c.error().message;
  EXPECT_NE(c.error().message.find("urn:ietf:params:acme:error:"), std::string::npos) << c.error().message;
  EXPECT_EQ(responder.withdrawn, responder.published);
}

TEST(AcmePebble, WrongTlsAlpn01AnswerFailsClearly) {
  CountingResponder responder(/*wrong=*/true);
  net::AcmeClient client(options({net::AcmeChallengeType::tls_alpn01}), responder);
  net::AcmeAccount a = new_account(client);
  auto c = run(client.issue(a, {"wrong-alpn.acme.test"}));
  ASSERT_FALSE(c);
  show(c.error());
  EXPECT_EQ(c.error().code, "acme-challenge-failed") << c.error().message;
  EXPECT_NE(c.error().message.find("tls-alpn-01"), std::string::npos) << c.error().message;
  EXPECT_EQ(responder.withdrawn, responder.published);
}

TEST(AcmePebble, NameWithoutDnsFails) {
  CountingResponder responder;
  net::AcmeClient client(options(), responder);
  net::AcmeAccount a = new_account(client);
  auto c = run(client.issue(a, {"nowhere.test"}));  // NXDOMAIN from the harness's knotd
  ASSERT_FALSE(c);
  show(c.error());
  EXPECT_TRUE(c.error().code == "acme-challenge-failed" || c.error().code == "acme-rejected-identifier")
      << c.error().code << ": " << c.error().message;
}

TEST(AcmePebble, ServerDownIsAClearErrorWithinTheDeadline) {
  asio::io_context tmp;
  asio::ip::tcp::acceptor closed(tmp, {asio::ip::make_address("127.0.0.1"), 0});
  const auto port = closed.local_endpoint().port();
  closed.close();  // nothing listens there now
  CountingResponder responder;
  auto o = options();
  o.directory_url = "https://127.0.0.1:" + std::to_string(port) + "/dir";
  o.max_attempts = 3;
  net::AcmeClient client(o, responder);
  auto a = run(client.account({}));
  ASSERT_FALSE(a);
  show(a.error());
  EXPECT_EQ(a.error().code, "acme-connect") << a.error().message;
  EXPECT_NE(a.error().message.find("127.0.0.1"), std::string::npos);
  EXPECT_EQ(client.stats().retries.load(), 2u);  // three attempts, with backoff between
}

TEST(AcmePebble, ServerThatNeverAnswersTimesOut) {
  CountingResponder responder;
  auto o = options();
  o.directory_url = "https://127.0.0.1:" + std::to_string(pebble->silent->port()) + "/dir";
  o.request_timeout = std::chrono::milliseconds(300);
  o.deadline = std::chrono::seconds(2);
  net::AcmeClient client(o, responder);
  auto a = run(client.account({}));
  ASSERT_FALSE(a);
  show(a.error());
  EXPECT_EQ(a.error().code, "acme-timeout") << a.error().message;
}

TEST(AcmePebble, UntrustedServerIsRefused) {
  std::string error;
  auto system_trust = net::make_client_context("", net::TlsFloor::tls12, error);  // not pebble's CA
  ASSERT_TRUE(system_trust) << error;
  CountingResponder responder;
  auto o = options();
  o.tls = system_trust.get();
  net::AcmeClient client(o, responder);
  auto a = run(client.account({}));
  ASSERT_FALSE(a);
  show(a.error());
  EXPECT_EQ(a.error().code, "acme-tls") << a.error().message;
  EXPECT_NE(a.error().message.find("certificate"), std::string::npos) << a.error().message;
}

// The manager: issues what is missing, leaves what is current, renews within 30 days, and logs a
// failing host once while counting every failure.
TEST(AcmePebble, ManagerIssuesRenewsAndCountsFailures) {
  auto db = std::filesystem::temp_directory_path() / ("mtasts-acme-manager-" + std::to_string(getpid()) + ".db");
  std::filesystem::remove(db);
  auto store = store::CertStore::open(db.string());
  ASSERT_TRUE(store) << store.error().message;
  Metrics metrics;
  std::int64_t clock = std::time(nullptr);
  std::vector<std::string> log;
  serve::AcmeManagerOptions mo;
  mo.acme = options({net::AcmeChallengeType::tls_alpn01, net::AcmeChallengeType::http01});
  mo.now = [&] { return clock; };
  mo.log = [&](std::string_view line) { log.emplace_back(line); };
  serve::AcmeManager manager(mo, **store, pebble->challenges, metrics);
  std::vector<std::string> changed;
  manager.on_changed([&](const std::string& host) { changed.push_back(host); });

  const std::string host = "mta-sts.renew.acme.test";
  auto pass = run(manager.run_once({host}));
  EXPECT_EQ(pass.issued, std::vector<std::string>{host});
  ASSERT_TRUE(pass.failed.empty()) << pass.failed.begin()->second.message;
  auto first = (*store)->certificate(host);
  ASSERT_TRUE(first && *first);
  net::IssuedCertificate as_issued{(*first)->chain_pem, (*first)->key_pem, (*first)->not_before,
                                   (*first)->not_after, (*first)->issuer, ""};
  expect_verifies(as_issued, host);
  auto account = (*store)->account(mo.acme.directory_url);
  ASSERT_TRUE(account && *account);  // registered once, kept for next time
  EXPECT_FALSE((*account)->account_url.empty());

  pass = run(manager.run_once({host}));
  EXPECT_EQ(pass.current, std::vector<std::string>{host});
  EXPECT_EQ(changed.size(), 1u);

  clock = (*first)->not_after - 10 * 86400;  // ten days before it ends: renew
  pass = run(manager.run_once({host}));
  EXPECT_EQ(pass.renewed, std::vector<std::string>{host});
  auto second = (*store)->certificate(host);
  ASSERT_TRUE(second && *second);
  EXPECT_NE((*second)->chain_pem, (*first)->chain_pem);
  EXPECT_NE((*second)->key_pem, (*first)->key_pem);  // a fresh key for every certificate
  EXPECT_EQ(changed, (std::vector<std::string>{host, host}));

  const std::string bad = "mta-sts.nowhere.test";
  clock = std::time(nullptr);
  for (int i = 0; i < 2; ++i) {
    pass = run(manager.run_once({host, bad}));
    EXPECT_EQ(pass.current, std::vector<std::string>{host});
    ASSERT_EQ(pass.failed.count(bad), 1u);
  }
  std::size_t lines_about_bad = 0;
  for (const auto& l : log) {
    if (l.find(bad) != std::string::npos) ++lines_about_bad;
    EXPECT_EQ(l.find("PRIVATE KEY"), std::string::npos);  // secrets never logged
  }
  EXPECT_EQ(lines_about_bad, 1u);
  std::string text = metrics.render();
  EXPECT_NE(text.find("mtasts_acme_certificates_issued_total 1"), std::string::npos) << text;
  EXPECT_NE(text.find("mtasts_acme_certificates_renewed_total 1"), std::string::npos) << text;
  EXPECT_NE(text.find("mtasts_acme_failures_total 2"), std::string::npos) << text;
  EXPECT_NE(text.find("mtasts_acme_failing_hosts 1"), std::string::npos) << text;
  store.value().reset();
  std::filesystem::remove(db);
}

}  // namespace
}  // namespace mtasts

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  mtasts::Pebble pebble;
  if (std::string error = pebble.start(); !error.empty()) {
    std::fprintf(stderr, "acme_pebble_test: %s\n", error.c_str());
    return 1;
  }
  mtasts::pebble = &pebble;
  return RUN_ALL_TESTS();
}
