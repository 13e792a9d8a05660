// The Ingester (decode, domain check, store, count) on a real SQLite store, and the verdict
// rules (docs/reports.md) on hand-made summaries.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "core/metrics.h"
#include "reports/gzip.h"
#include "reports/ingest.h"
#include "reports/verdict.h"

namespace mtasts::reports {
namespace {

std::string report_json(std::string id, std::string domain) {
  return R"({"organization-name":"Org","date-range":{"start-datetime":"2026-11-20T00:00:00Z","end-datetime":"2026-11-20T23:59:59Z"},"contact-info":"c@org.example","report-id":")" +
         id + R"(","policies":[{"policy":{"policy-type":"sts","policy-domain":")" + domain +
         R"("},"summary":{"total-successful-session-count":5,"total-failure-session-count":1}}]})";
}

class IngestTest : public testing::Test {
 protected:
  void SetUp() override {
    path_ = std::filesystem::temp_directory_path() /
            ("mtasts-ingest-test-" + std::to_string(getpid()) + "-" +
             testing::UnitTest::GetInstance()->current_test_info()->name() + ".db");
    std::filesystem::remove(path_);
    auto s = store::open_report_store(path_.string());
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(s).value();
  }
  void TearDown() override {
    store_.reset();
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path_.string() + suffix);
  }
  std::uint64_t counter(const std::string& line) {
    std::string text = metrics_.render();
    auto at = text.find(line + " ");
    return at == std::string::npos ? 0 : std::stoull(text.substr(at + line.size() + 1));
  }

  std::filesystem::path path_;
  std::unique_ptr<store::ReportStore> store_;
  Metrics metrics_;
};

TEST_F(IngestTest, OutcomesAndCounters) {
  ReportMetrics m(metrics_);
  std::vector<std::string> asked;
  Ingester in(*store_, [&](const std::string& d) -> Result<bool> {
    asked.push_back(d);
    return d == "example.com";
  }, &m);
  auto stored = in.ingest(gzip(report_json("a", "Example.COM.")), InputKind::automatic, "test", 1795305600);
  EXPECT_EQ(stored.outcome, Outcome::stored) << stored.error.message;
  EXPECT_EQ(stored.domains, std::vector<std::string>{"example.com"});
  EXPECT_EQ(asked, std::vector<std::string>{"example.com"}) << "the check sees the normalized domain";
  EXPECT_EQ(in.ingest(report_json("a", "example.com"), InputKind::json, "test", 1795305600).outcome,
            Outcome::duplicate);
  auto refused = in.ingest(report_json("b", "other.example"), InputKind::automatic, "test", 1795305600);
  EXPECT_EQ(refused.outcome, Outcome::refused);
  EXPECT_EQ(refused.error.code, "domain-not-registered");
  EXPECT_NE(refused.error.message.find("other.example"), std::string::npos);
  auto invalid = in.ingest("\x1f\x8b garbage", InputKind::automatic, "test", 1795305600);
  EXPECT_EQ(invalid.outcome, Outcome::invalid);
  EXPECT_EQ(invalid.error.code, "gzip-invalid");
  EXPECT_EQ(*store_->count(), 1u);
  EXPECT_EQ(counter("mtasts_reports_received_total{outcome=\"stored\"}"), 1u);
  EXPECT_EQ(counter("mtasts_reports_received_total{outcome=\"duplicate\"}"), 1u);
  EXPECT_EQ(counter("mtasts_reports_received_total{outcome=\"refused\"}"), 1u);
  EXPECT_EQ(counter("mtasts_reports_received_total{outcome=\"invalid\"}"), 1u);
  EXPECT_EQ(counter("mtasts_reports_rejected_total{outcome=\"invalid\",reason=\"gzip-invalid\"}"), 1u);
  EXPECT_EQ(counter("mtasts_reports_rejected_total{outcome=\"refused\",reason=\"domain-not-registered\"}"), 1u);
}

TEST_F(IngestTest, DomainCheckFailureStoresNothing) {
  Ingester in(*store_, [](const std::string&) -> Result<bool> {
    return Error{"store-error", 0, 0, "the domain registry is down", {}};
  });
  auto r = in.ingest(report_json("a", "example.com"), InputKind::automatic, "test", 0);
  EXPECT_EQ(r.outcome, Outcome::failed);
  EXPECT_EQ(r.error.code, "store-error");
  EXPECT_EQ(*store_->count(), 0u);
}

TEST_F(IngestTest, AnyDomainAndBatches) {
  Ingester in(*store_, nullptr);
  std::vector<Ingester::Pending> batch;
  for (const char* id : {"1", "2", "1"})
    batch.push_back(in.prepare(report_json(id, "anything.example"), InputKind::automatic, "t", 0));
  batch.push_back(in.prepare("{}", InputKind::automatic, "t", 0));
  in.commit(batch, 0);
  EXPECT_EQ(batch[0].result.outcome, Outcome::stored);
  EXPECT_EQ(batch[1].result.outcome, Outcome::stored);
  EXPECT_EQ(batch[2].result.outcome, Outcome::duplicate);
  EXPECT_EQ(batch[3].result.outcome, Outcome::invalid);
  EXPECT_EQ(*store_->count(), 2u);
}

TEST_F(IngestTest, PipelinedCommitSettlesEachBatchAfterItsCommitInOrder) {
  Ingester in(*store_, nullptr);
  struct Settled {
    std::size_t first, size, stored_then;
    std::vector<Outcome> outcomes;
  };
  std::vector<Settled> seen;
  {
    PipelinedCommit batches(in, 3, [&](std::vector<Ingester::Pending>& batch, std::size_t first) {
      Settled s{first, batch.size(), *store_->count(), {}};
      for (const auto& p : batch) s.outcomes.push_back(p.result.outcome);
      seen.push_back(std::move(s));
    });
    for (const char* id : {"1", "2", "3", "4", "2", "5", "6"})
      batches.add(in.prepare(report_json(id, "anything.example"), InputKind::automatic, "t", 0));
    batches.add(in.prepare("{}", InputKind::automatic, "t", 0));
    batches.finish();
  }
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].first, 0u);
  EXPECT_EQ(seen[1].first, 3u);
  EXPECT_EQ(seen[2].first, 6u);
  EXPECT_EQ(seen[2].size, 2u);
  // Each batch is on disk when it is settled (acknowledged).
  EXPECT_EQ(seen[0].stored_then, 3u);
  EXPECT_EQ(seen[1].stored_then, 5u);
  EXPECT_EQ(seen[2].stored_then, 6u);
  EXPECT_EQ(seen[1].outcomes, (std::vector<Outcome>{Outcome::stored, Outcome::duplicate, Outcome::stored}));
  EXPECT_EQ(seen[2].outcomes, (std::vector<Outcome>{Outcome::stored, Outcome::invalid}));
  EXPECT_EQ(*store_->count(), 6u);
}

store::DomainSummary summary(std::uint64_t ok, std::uint64_t failed, int days) {
  store::DomainSummary s;
  s.domain = "example.com";
  s.total = {ok, failed, static_cast<std::uint64_t>(days)};
  for (int d = 0; d < days; ++d) s.by_day["2026-11-" + std::to_string(10 + d)] = {1, 0, 1};
  s.by_organization["Google Inc."] = s.total;
  if (failed) s.top_failures.push_back({"certificate-expired", "mx1.example.com", "", failed, {"192.0.2.1"}});
  return s;
}

TEST(Verdict, Rules) {
  EXPECT_EQ(verdict(summary(0, 0, 0)).code, "no-data");
  auto unsafe = verdict(summary(990, 10, 10));
  EXPECT_EQ(unsafe.code, "unsafe");
  EXPECT_NE(unsafe.text.find("certificate-expired at mx1.example.com"), std::string::npos) << unsafe.text;
  EXPECT_NE(unsafe.text.find("renew"), std::string::npos) << unsafe.text;
  EXPECT_EQ(verdict(summary(100000, 10, 10)).code, "review");
  EXPECT_EQ(verdict(summary(1000, 0, 3)).code, "too-early");
  auto safe = verdict(summary(1000, 0, 7));
  EXPECT_EQ(safe.code, "safe");
  EXPECT_NE(safe.text.find("mtasts domain set example.com --mode enforce"), std::string::npos);
  auto np = summary(1000, 0, 7);
  np.by_policy_type["no-policy-found"] = {40, 0, 1};
  EXPECT_NE(verdict(np).text.find("40 sessions found no MTA-STS policy"), std::string::npos);
  EXPECT_EQ(fix_for("sts-policy-fetch-error", "example.com").find("<domain>"), std::string::npos);
  EXPECT_NE(fix_for("sts-policy-fetch-error", "example.com").find("mta-sts.example.com"), std::string::npos);
}

}  // namespace
}  // namespace mtasts::reports
