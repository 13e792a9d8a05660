// The certificate store, written once, run against SQLite always and PostgreSQL when
// MTASTS_TEST_POSTGRES_URL is set (ctest `store.postgresql`, through with_postgres.py).
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "store/cert_store.h"

namespace mtasts::store {
namespace {

const char* postgres_url() { return std::getenv("MTASTS_TEST_POSTGRES_URL"); }

std::vector<std::string> backends() {
  std::vector<std::string> out = {"sqlite"};
  if (postgres_url()) out.push_back("postgresql");
  return out;
}

CertificateRecord cert(const std::string& host, std::int64_t not_after) {
  return CertificateRecord{host, "-----BEGIN CERTIFICATE-----\n" + host + "\n-----END CERTIFICATE-----\n",
                           "key of " + host, not_after - 90 * 86400, not_after, "CN=Test CA", 100};
}

class CertStoreTest : public testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "sqlite") {
      std::string test = testing::UnitTest::GetInstance()->current_test_info()->name();
      for (char& c : test)
        if (c == '/') c = '-';
      path_ = std::filesystem::temp_directory_path() /
              ("mtasts-cert-store-test-" + std::to_string(getpid()) + "-" + test + ".db");
      std::filesystem::remove(path_);
      location_ = path_.string();
    } else {
      location_ = postgres_url();
      PGconn* c = PQconnectdb(location_.c_str());
      ASSERT_EQ(PQstatus(c), CONNECTION_OK) << PQerrorMessage(c);
      PQclear(PQexec(c, "SET client_min_messages = warning; DROP SCHEMA public CASCADE; CREATE SCHEMA public;"));
      PQfinish(c);
    }
    auto s = CertStore::open(location_);
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(s).value();
  }
  void TearDown() override {
    store_.reset();
    if (!path_.empty()) {
      std::filesystem::remove(path_);
      std::filesystem::remove(path_.string() + "-wal");
      std::filesystem::remove(path_.string() + "-shm");
    }
  }

  std::filesystem::path path_;
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
