// The ReportStore suite, written once, run against SQLite (a temp file) and PostgreSQL (when
// MTASTS_TEST_POSTGRES_URL is set: ctest's store.postgresql runs it through with_postgres.py).
#include <gtest/gtest.h>

#include "core/report.h"
#include "reports/gzip.h"
#include "store/report_store.h"
#include "store_backends.h"

namespace mtasts::store {
namespace {

FailureDetails failure(std::string type, std::string ip, std::string mx, std::uint64_t n,
                       std::string reason = {}) {
  FailureDetails f;
  f.result_type = type;
  f.type = parse_result_type(type);
  f.sending_mta_ip = ip;
  f.receiving_mx_hostname = mx;
  f.failed_session_count = n;
  f.failure_reason_code = reason;
  return f;
}

TlsRptReport report(std::string org, std::string id, std::int64_t start, std::string domain,
                    std::uint64_t ok, std::vector<FailureDetails> failures) {
  TlsRptReport r;
  r.organization_name = org;
  r.report_id = id;
  r.start_epoch = start;
  r.end_epoch = start + 86399;
  r.start_datetime = "x";
  r.end_datetime = "y";
  r.contact_info = "c@" + org;
  PolicyResult p;
  p.policy_type = PolicyType::sts;
  p.policy_domain = domain;
  p.policy_string = {"version: STSv1", "mode: testing"};
  p.mx_host = {"mx1." + domain};
  p.total_successful_session_count = ok;
  for (const auto& f : failures) p.total_failure_session_count += f.failed_session_count;
  p.failure_details = std::move(failures);
  r.policies.push_back(std::move(p));
  return r;
}

constexpr std::int64_t kDay = 86400;
constexpr std::int64_t kNov20 = 1795132800;  // 2026-11-20T00:00:00Z

class ReportStoreTest : public testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    db_ = std::make_unique<TestDatabase>(GetParam(), "mtasts-report-store");
    ASSERT_TRUE(db_->error.empty()) << db_->error;
    location_ = db_->location();
    auto s = open_report_store(location_);
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(s).value();
  }
  void TearDown() override {
    store_.reset();
    db_.reset();
  }
  StoredReport put(const TlsRptReport& r, std::string_view raw = "{}") {
    std::string z = reports::gzip(raw);
    auto s = store_->put(ReportToStore{&r, z, "test", kNov20});
    EXPECT_TRUE(s) << s.error().message;
    return s ? *s : StoredReport{};
  }

  std::unique_ptr<TestDatabase> db_;
  std::string location_;
  std::unique_ptr<ReportStore> store_;
};

TEST_P(ReportStoreTest, SameReportTwiceIsStoredOnce) {
  auto r = report("Google Inc.", "2026.11.20T00.00.00Z+example.com@google.com", kNov20, "example.com", 100, {});
  auto first = put(r);
  EXPECT_TRUE(first.stored);
  auto again = put(r);
  EXPECT_FALSE(again.stored);
  EXPECT_EQ(again.id, first.id);
  EXPECT_EQ(*store_->count(), 1u);
  // Same id from another organization is another report.
  EXPECT_TRUE(put(report("Microsoft Corporation", r.report_id, kNov20, "example.com", 5, {})).stored);
  EXPECT_EQ(*store_->count(), 2u);
  auto s = store_->summary("", 0);
  ASSERT_TRUE(s) << s.error().message;
  ASSERT_EQ(s->size(), 1u);
  EXPECT_EQ((*s)[0].total.successful, 105u);
  EXPECT_EQ((*s)[0].total.reports, 2u);
}

TEST_P(ReportStoreTest, RawReportKeptCompressed) {
  const std::string raw = R"({"organization-name":"Org","report-id":"x\u00e9"})";
  auto r = report("Org", "id-1", kNov20, "example.com", 1, {});
  put(r, raw);
  auto z = store_->raw("Org", "id-1");
  ASSERT_TRUE(z) << z.error().message;
  EXPECT_TRUE(reports::is_gzip(*z));
  EXPECT_EQ(*reports::gunzip(*z, 1 << 20), raw);
  EXPECT_EQ(store_->raw("Org", "nope").error().code, "not-found");
}

TEST_P(ReportStoreTest, OneTransactionForABatch) {
  auto a = report("A", "1", kNov20, "example.com", 1, {});
  auto b = report("B", "1", kNov20, "example.com", 1, {});
  std::string z = reports::gzip("{}");
  auto both = store_->put({{&a, z, "t", 1}, {&b, z, "t", 1}, {&a, z, "t", 1}});
  ASSERT_TRUE(both) << both.error().message;
  ASSERT_EQ(both->size(), 3u);
  EXPECT_TRUE((*both)[0].stored);
  EXPECT_TRUE((*both)[1].stored);
  EXPECT_FALSE((*both)[2].stored) << "a duplicate inside the batch is still stored once";
  EXPECT_EQ(*store_->count(), 2u);
}

TEST_P(ReportStoreTest, NulBytesAndHugeCountsSurvive) {
  auto r = report(std::string("Org\0x", 5), "id", kNov20, "example.com", 1ull << 40,
                  {failure("certificate-expired", "", "MX1.Example.COM", 3, std::string("a\0b", 3))});
  EXPECT_TRUE(put(r).stored);
  auto s = store_->summary("example.com", 0);
  ASSERT_TRUE(s) << s.error().message;
  ASSERT_EQ(s->size(), 1u);
  EXPECT_EQ((*s)[0].total.successful, 1ull << 40);
  EXPECT_EQ((*s)[0].by_mx_host.at("mx1.example.com"), 3u);
}

TEST_P(ReportStoreTest, Aggregates) {
  // Two days, two senders, failures of two kinds from several IPs; another domain beside.
  put(report("Google Inc.", "g1", kNov20, "Example.COM.", 1000,
             {failure("certificate-expired", "192.0.2.1", "mx1.example.com", 5),
              failure("certificate-expired", "192.0.2.2", "mx1.example.com", 7),
              failure("starttls-not-supported", "192.0.2.3", "mx2.example.com", 1)}));
  put(report("Google Inc.", "g2", kNov20 + kDay, "example.com", 900,
             {failure("certificate-expired", "192.0.2.2", "mx1.example.com", 2)}));
  put(report("Microsoft Corporation", "m1", kNov20 + kDay, "example.com", 100,
             {failure("sts-policy-fetch-error", "", "", 4, "connection refused")}));
  put(report("Google Inc.", "o1", kNov20, "other.example", 50, {}));

  auto all = store_->summary("", 0);
  ASSERT_TRUE(all) << all.error().message;
  ASSERT_EQ(all->size(), 2u);
  const DomainSummary& s = (*all)[0];
  EXPECT_EQ(s.domain, "example.com");
  EXPECT_EQ(s.total.successful, 2000u);
  EXPECT_EQ(s.total.failed, 19u);
  EXPECT_EQ(s.total.reports, 3u);
  EXPECT_EQ(s.first_day, kNov20);
  EXPECT_EQ(s.last_day, kNov20 + kDay);
  ASSERT_EQ(s.by_day.size(), 2u);
  EXPECT_EQ(s.by_day.at("2026-11-20").successful, 1000u);
  EXPECT_EQ(s.by_day.at("2026-11-21").reports, 2u);
  EXPECT_EQ(s.by_organization.at("Google Inc.").reports, 2u);
  EXPECT_EQ(s.by_organization.at("Google Inc.").failed, 15u);
  EXPECT_EQ(s.by_organization.at("Microsoft Corporation").failed, 4u);
  EXPECT_EQ(s.by_policy_type.at("sts").reports, 3u);
  EXPECT_EQ(s.by_result_type.at("certificate-expired"), 14u);
  EXPECT_EQ(s.by_result_type.at("starttls-not-supported"), 1u);
  EXPECT_EQ(s.by_result_type.at("sts-policy-fetch-error"), 4u);
  EXPECT_EQ(s.by_mx_host.at("mx1.example.com"), 14u);
  EXPECT_EQ(s.by_mx_host.count(""), 0u);
  ASSERT_EQ(s.top_failures.size(), 3u);
  EXPECT_EQ(s.top_failures[0].result_type, "certificate-expired");
  EXPECT_EQ(s.top_failures[0].failed, 14u);
  EXPECT_EQ(s.top_failures[0].sending_mta_ips, (std::vector<std::string>{"192.0.2.2", "192.0.2.1"}));
  EXPECT_EQ(s.top_failures[1].failure_reason_code, "connection refused");
  EXPECT_TRUE(s.top_failures[1].sending_mta_ips.empty());
  EXPECT_EQ((*all)[1].domain, "other.example");

  auto one = store_->summary("EXAMPLE.com", kNov20 + kDay);
  ASSERT_TRUE(one) << one.error().message;
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].total.reports, 2u);
  EXPECT_EQ((*one)[0].total.successful, 1000u);
  auto none = store_->summary("nobody.example", 0);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST_P(ReportStoreTest, RetentionDeletesEverythingOfOldReports) {
  put(report("A", "old", kNov20 - 40 * kDay, "example.com", 1, {failure("certificate-expired", "192.0.2.1", "mx", 1)}));
  put(report("A", "new", kNov20, "example.com", 2, {failure("certificate-expired", "192.0.2.1", "mx", 1)}));
  auto gone = store_->delete_before(kNov20 - 30 * kDay);
  ASSERT_TRUE(gone) << gone.error().message;
  EXPECT_EQ(*gone, 1u);
  EXPECT_EQ(*store_->count(), 1u);
  auto s = store_->summary("", 0);
  ASSERT_TRUE(s);
  EXPECT_EQ((*s)[0].total.failed, 1u) << "the old report's failure rows went with it";
  // Deleted reports may arrive again (a resend) and are stored again.
  EXPECT_TRUE(put(report("A", "old", kNov20 - 40 * kDay, "example.com", 1, {})).stored);
}

TEST_P(ReportStoreTest, TwoConnectionsAgreeOnDuplicates) {
  auto other = open_report_store(location_);
  ASSERT_TRUE(other) << other.error().message;
  auto r = report("A", "shared", kNov20, "example.com", 1, {});
  std::string z = reports::gzip("{}");
  EXPECT_TRUE((*other)->put(ReportToStore{&r, z, "t", 1})->stored);
  EXPECT_FALSE(put(r).stored);
}

INSTANTIATE_TEST_SUITE_P(Backends, ReportStoreTest, testing::ValuesIn(backends()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace mtasts::store
