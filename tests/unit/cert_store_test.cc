// The certificate store, written once, run against SQLite always and PostgreSQL when
// MTASTS_TEST_POSTGRES_URL is set (ctest `store.postgresql`, through with_postgres.py).
#include <gtest/gtest.h>

#include "store/cert_store.h"
#include "store_backends.h"

namespace mtasts::store {
namespace {

CertificateRecord cert(const std::string& host, std::int64_t not_after) {
  return CertificateRecord{host, "-----BEGIN CERTIFICATE-----\n" + host + "\n-----END CERTIFICATE-----\n",
                           "key of " + host, not_after - 90 * 86400, not_after, "CN=Test CA", 100};
}

class CertStoreTest : public testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    db_ = std::make_unique<TestDatabase>(GetParam(), "mtasts-cert-store-test");
    ASSERT_TRUE(db_->error.empty()) << db_->error;
    location_ = db_->location();
    auto s = CertStore::open(location_);
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(s).value();
  }
  void TearDown() override {
    store_.reset();
    db_.reset();
  }

  std::unique_ptr<TestDatabase> db_;
  std::string location_;
  std::unique_ptr<CertStore> store_;
};

TEST_P(CertStoreTest, AccountPerDirectory) {
  EXPECT_EQ(store_->backend(), GetParam());
  auto none = store_->account("https://ca.test/dir");
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
  ASSERT_TRUE(store_->put_account({"https://ca.test/dir", "KEY-A", "https://ca.test/acct/1", 10}));
  ASSERT_TRUE(store_->put_account({"https://other.test/dir", "KEY-B", "https://other.test/acct/9", 11}));
  auto a = store_->account("https://ca.test/dir");
  ASSERT_TRUE(a && *a);
  EXPECT_EQ((*a)->key_pem, "KEY-A");
  EXPECT_EQ((*a)->account_url, "https://ca.test/acct/1");
  EXPECT_EQ((*a)->created, 10);
  // Registering again for the same directory replaces the record.
  ASSERT_TRUE(store_->put_account({"https://ca.test/dir", "KEY-C", "https://ca.test/acct/2", 12}));
  a = store_->account("https://ca.test/dir");
  ASSERT_TRUE(a && *a);
  EXPECT_EQ((*a)->key_pem, "KEY-C");
  auto b = store_->account("https://other.test/dir");
  ASSERT_TRUE(b && *b);
  EXPECT_EQ((*b)->account_url, "https://other.test/acct/9");
}

TEST_P(CertStoreTest, CertificatePerHostReplacedOnRenewal) {
  ASSERT_TRUE(store_->put_certificate(cert("mta-sts.example.com", 5000)));
  auto c = store_->certificate("mta-sts.example.com");
  ASSERT_TRUE(c && *c);
  EXPECT_EQ((*c)->not_after, 5000);
  EXPECT_EQ((*c)->not_before, 5000 - 90 * 86400);
  EXPECT_EQ((*c)->issuer, "CN=Test CA");
  EXPECT_EQ((*c)->key_pem, "key of mta-sts.example.com");
  EXPECT_NE((*c)->chain_pem.find("BEGIN CERTIFICATE"), std::string::npos);
  ASSERT_TRUE(store_->put_certificate(cert("mta-sts.example.com", 9000)));
  c = store_->certificate("mta-sts.example.com");
  ASSERT_TRUE(c && *c);
  EXPECT_EQ((*c)->not_after, 9000);
  auto missing = store_->certificate("mta-sts.example.org");
  ASSERT_TRUE(missing);
  EXPECT_FALSE(*missing);
}

TEST_P(CertStoreTest, ExpiringBeforeSoonestFirst) {
  ASSERT_TRUE(store_->put_certificate(cert("c.example", 3000)));
  ASSERT_TRUE(store_->put_certificate(cert("a.example", 1000)));
  ASSERT_TRUE(store_->put_certificate(cert("b.example", 2000)));
  auto e = store_->expiring_before(2500);
  ASSERT_TRUE(e);
  EXPECT_EQ(*e, (std::vector<std::string>{"a.example", "b.example"}));
  e = store_->expiring_before(1000);  // strictly before
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->empty());
  auto all = store_->hosts();
  ASSERT_TRUE(all);
  EXPECT_EQ(*all, (std::vector<std::string>{"a.example", "b.example", "c.example"}));
  ASSERT_TRUE(store_->remove_certificate("b.example"));
  e = store_->expiring_before(2500);
  ASSERT_TRUE(e);
  EXPECT_EQ(*e, std::vector<std::string>{"a.example"});
}

TEST_P(CertStoreTest, SurvivesReopen) {
  ASSERT_TRUE(store_->put_certificate(cert("mta-sts.example.com", 7000)));
  store_.reset();
  auto again = CertStore::open(location_);
  ASSERT_TRUE(again) << again.error().message;
  auto c = (*again)->certificate("mta-sts.example.com");
  ASSERT_TRUE(c && *c);
  EXPECT_EQ((*c)->not_after, 7000);
}

TEST_P(CertStoreTest, ChallengesSharedUntilRemovedOrExpired) {
  ASSERT_TRUE(store_->put_challenge({"http-01", "tok1", "tok1.thumb", "", "", 1000}));
  ASSERT_TRUE(store_->put_challenge({"tls-alpn-01", "mta-sts.example.com", "ka", "CERT", "KEY", 2000}));
  // Another node's view (its own connection).
  auto other = CertStore::open(location_);
  ASSERT_TRUE(other) << other.error().message;
  auto seen = (*other)->challenges(500);
  ASSERT_TRUE(seen) << seen.error().message;
  ASSERT_EQ(seen->size(), 2u);
  EXPECT_EQ((*seen)[0].kind, "http-01");
  EXPECT_EQ((*seen)[0].name, "tok1");
  EXPECT_EQ((*seen)[0].key_authorization, "tok1.thumb");
  EXPECT_EQ((*seen)[1].kind, "tls-alpn-01");
  EXPECT_EQ((*seen)[1].certificate_pem, "CERT");
  EXPECT_EQ((*seen)[1].private_key_pem, "KEY");
  EXPECT_EQ((*seen)[1].expires, 2000);
  // Published again (a retry): replaced, not duplicated.
  ASSERT_TRUE(store_->put_challenge({"http-01", "tok1", "tok1.other", "", "", 1500}));
  seen = (*other)->challenges(500);
  ASSERT_TRUE(seen);
  ASSERT_EQ(seen->size(), 2u);
  EXPECT_EQ((*seen)[0].key_authorization, "tok1.other");
  // Expired ones go (a node died before removing its answer); removed ones go.
  seen = (*other)->challenges(1500);
  ASSERT_TRUE(seen);
  ASSERT_EQ(seen->size(), 1u);
  EXPECT_EQ((*seen)[0].kind, "tls-alpn-01");
  ASSERT_TRUE(store_->remove_challenge("tls-alpn-01", "mta-sts.example.com"));
  seen = (*other)->challenges(1500);
  ASSERT_TRUE(seen);
  EXPECT_TRUE(seen->empty());
}

TEST_P(CertStoreTest, OneNodeHoldsAnIssuanceLease) {
  auto other = CertStore::open(location_);
  ASSERT_TRUE(other) << other.error().message;
  auto a = store_->take_lease("mta-sts.example.com", "node-a", 100, 400);
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_TRUE(*a);
  auto b = (*other)->take_lease("mta-sts.example.com", "node-b", 200, 500);
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_FALSE(*b);  // node-a holds it until 400
  auto b2 = (*other)->take_lease("mta-sts.example.org", "node-b", 200, 500);
  ASSERT_TRUE(b2 && *b2);  // another host is free
  auto a2 = store_->take_lease("mta-sts.example.com", "node-a", 300, 600);
  ASSERT_TRUE(a2 && *a2);  // the holder extends it
  b = (*other)->take_lease("mta-sts.example.com", "node-b", 600, 900);
  ASSERT_TRUE(b && *b);  // expired: taken over
  ASSERT_TRUE(store_->release_lease("mta-sts.example.com", "node-a"));  // not a's: no effect
  a = store_->take_lease("mta-sts.example.com", "node-a", 700, 1000);
  ASSERT_TRUE(a);
  EXPECT_FALSE(*a);
  ASSERT_TRUE((*other)->release_lease("mta-sts.example.com", "node-b"));
  a = store_->take_lease("mta-sts.example.com", "node-a", 700, 1000);
  ASSERT_TRUE(a && *a);
}

INSTANTIATE_TEST_SUITE_P(Backends, CertStoreTest, testing::ValuesIn(backends()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace mtasts::store
