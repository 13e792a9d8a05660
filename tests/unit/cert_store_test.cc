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

INSTANTIATE_TEST_SUITE_P(Backends, CertStoreTest, testing::ValuesIn(backends()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace mtasts::store
