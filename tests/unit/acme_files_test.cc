// ACME certificates copied from the store into serve's acme_cert_dir: each new one exactly once,
// including one stored in the same second as the last copy (the store's `updated` has one-second
// resolution: integration.serve.acme once waited 90 s for a certificate lost that way).
#include <gtest/gtest.h>

#include <filesystem>

#include "serve/acme_files.h"
#include "store/cert_store.h"

namespace mtasts::serve {
namespace {

namespace fs = std::filesystem;

store::CertificateRecord cert(const std::string& host, std::int64_t updated) {
  return store::CertificateRecord{host, "-----BEGIN CERTIFICATE-----\n" + host + "\n-----END CERTIFICATE-----\n",
                                  "key of " + host, 1000, 2000, "CN=Test CA", updated};
}

class AcmeFiles : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(testing::TempDir()) / ("mtasts-acme-files-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    auto s = store::CertStore::open((dir_ / "store.db").string());
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(s).value();
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }
  std::size_t copy() {
    auto n = copy_new_certificates(*store_, (dir_ / "acme").string(), mark_);
    EXPECT_TRUE(n) << n.error().message;
    return n ? *n : 0;
  }
  bool copied(const std::string& host) { return fs::exists(dir_ / "acme" / "certificates" / (host + ".crt")); }

  fs::path dir_;
  std::unique_ptr<store::CertStore> store_;
  CopyMark mark_;
};

TEST_F(AcmeFiles, EachNewCertificateOnceEvenInTheSameSecond) {
  ASSERT_TRUE(store_->put_certificate(cert("mta-sts.h.test", 500)));
  EXPECT_EQ(copy(), 1u);
  EXPECT_TRUE(copied("mta-sts.h.test"));
  EXPECT_EQ(copy(), 0u);  // nothing new: nothing written, no rescan
  // Stored after the copy, within the same second.
  ASSERT_TRUE(store_->put_certificate(cert("mta-sts.a.test", 500)));
  EXPECT_EQ(copy(), 1u);
  EXPECT_TRUE(copied("mta-sts.a.test"));
  EXPECT_EQ(copy(), 0u);
  // A later second, and a renewal of the first host.
  ASSERT_TRUE(store_->put_certificate(cert("mta-sts.n.test", 501)));
  ASSERT_TRUE(store_->put_certificate(cert("mta-sts.h.test", 502)));
  EXPECT_EQ(copy(), 2u);
  EXPECT_EQ(copy(), 0u);
}

}  // namespace
}  // namespace mtasts::serve
