// RFC 8461 §5 cache decisions, one situation per test.
#include "core/sts_cache.h"

#include <gtest/gtest.h>

namespace mtasts {
namespace {

const CacheTuning kTuning{};

Policy policy(Mode mode, std::uint32_t max_age, std::vector<std::string> mx = {"mx1.example.com"}) {
  Policy p;
  p.mode = mode;
  p.max_age = max_age;
  for (const auto& m : mx) p.mx.push_back(*parse_mx_pattern(m));
  return p;
}

FetchObservation fetched(Policy p) {
  FetchObservation f;
  f.ok = true;
  f.policy = std::move(p);
  f.text = "version: STSv1\n";
  return f;
}

FetchObservation failed() {
  FetchObservation f;
  f.result_type = "sts-policy-fetch-error";
  f.detail = "connection refused";
  return f;
}

TxtObservation record(std::string id) { return {TxtObservation::Kind::record, std::move(id), {}}; }
TxtObservation no_record() { return {TxtObservation::Kind::no_record, {}, "NXDOMAIN"}; }
TxtObservation dns_failure() { return {TxtObservation::Kind::dns_failure, {}, "SERVFAIL"}; }

// A cached enforce policy fetched at t=1000 with max_age 86400, id "A".
CachedPolicy cached_a() {
  auto d = after_fetch(std::nullopt, "example.com", "A", fetched(policy(Mode::enforce, 86400)), 1000, 0, kTuning);
  return *d.entry;
}

TEST(StsRecords, ExactlyOneValidRecord) {
  auto one = classify_sts_records({"v=spf1 -all", "v=STSv1; id=abc;"});
  EXPECT_EQ(one.kind, TxtObservation::Kind::record);
  EXPECT_EQ(one.id, "abc");
  EXPECT_EQ(classify_sts_records({}).kind, TxtObservation::Kind::no_record);
  EXPECT_EQ(classify_sts_records({"v=STSv1; id=a", "v=STSv1; id=b"}).kind, TxtObservation::Kind::no_record);
  EXPECT_EQ(classify_sts_records({"v=STSv1; id=bad-id"}).kind, TxtObservation::Kind::no_record);
  EXPECT_EQ(classify_sts_records({"v=STSv10; id=a"}).kind, TxtObservation::Kind::no_record);
}

TEST(StsCache, NothingCachedFetches) {
  EXPECT_TRUE(needs_txt_check(std::nullopt, 1000, kTuning));
  auto d = after_txt(std::nullopt, record("A"), 1000, 0, kTuning);
  EXPECT_EQ(d.answer, Answer::fetch);
  EXPECT_FALSE(d.write);
  auto f = after_fetch(std::nullopt, "example.com", "A", fetched(policy(Mode::enforce, 86400)), 1000, 0, kTuning);
  EXPECT_EQ(f.answer, Answer::policy);
  ASSERT_TRUE(f.entry);
  EXPECT_TRUE(f.write);
  EXPECT_EQ(f.entry->id, "A");
  EXPECT_EQ(f.entry->expires, 1000 + 86400);
  EXPECT_EQ(f.entry->fetched, 1000);
  EXPECT_NE(f.change.find("new policy"), std::string::npos);
}

TEST(StsCache, GraceAnswersWithoutDns) {
  auto c = cached_a();
  EXPECT_FALSE(needs_txt_check(c, 1000 + 59, kTuning));
  EXPECT_TRUE(needs_txt_check(c, 1000 + 60, kTuning));
  EXPECT_TRUE(needs_txt_check(c, 999, kTuning));  // clock went back
  EXPECT_EQ(from_cache(c, 1010).answer, Answer::policy);
}

TEST(StsCache, UnchangedIdRenewsTheExpiry) {
  auto c = cached_a();
  auto d = after_txt(c, record("A"), 50000, 0, kTuning);
  EXPECT_EQ(d.answer, Answer::policy);
  ASSERT_TRUE(d.write && d.entry);
  EXPECT_EQ(d.entry->checked, 50000);
  EXPECT_EQ(d.entry->expires, 50000 + 86400);
  EXPECT_EQ(d.entry->fetched, 1000);
  EXPECT_TRUE(d.change.empty());
}

TEST(StsCache, ChangedIdRefetches) {
  auto c = cached_a();
  auto d = after_txt(c, record("B"), 2000, 0, kTuning);
  EXPECT_EQ(d.answer, Answer::fetch);
  auto f = after_fetch(c, "example.com", "B", fetched(policy(Mode::testing, 3600)), 2000, 0, kTuning);
  EXPECT_EQ(f.answer, Answer::policy);
  EXPECT_EQ(f.entry->id, "B");
  EXPECT_EQ(f.entry->policy.mode, Mode::testing);
  EXPECT_NE(f.change.find("replaced"), std::string::npos);
  // Same content under a new id: no policy change to log.
  auto same = after_fetch(c, "example.com", "C", fetched(c.policy), 2000, 0, kTuning);
  EXPECT_TRUE(same.change.empty());
  EXPECT_EQ(same.entry->id, "C");
}

TEST(StsCache, FailedRefetchNeverReplacesAValidPolicy) {
  auto c = cached_a();
  auto f = after_fetch(c, "example.com", "B", failed(), 2000, 0, kTuning);
  EXPECT_EQ(f.answer, Answer::policy);
  ASSERT_TRUE(f.entry);
  EXPECT_EQ(f.entry->id, "A");
  EXPECT_EQ(f.entry->policy, c.policy);
  EXPECT_EQ(f.entry->expires, c.expires);  // not renewed
  EXPECT_EQ(f.entry->checked, 2000);       // but not retried before the grace
  EXPECT_FALSE(f.erase);
  EXPECT_NE(f.reason.find("sts-policy-fetch-error"), std::string::npos);
}

TEST(StsCache, FailedFetchWithoutCacheIsNoPolicy) {
  auto f = after_fetch(std::nullopt, "example.com", "A", failed(), 2000, 0, kTuning);
  EXPECT_EQ(f.answer, Answer::no_policy);
  EXPECT_FALSE(f.write);
  EXPECT_FALSE(f.erase);
}

TEST(StsCache, ExpiredPolicyIsNotUsed) {
  auto c = cached_a();
  const std::int64_t later = c.expires + 1;
  EXPECT_TRUE(needs_txt_check(c, later, kTuning));
  auto f = after_fetch(c, "example.com", "B", failed(), later, 0, kTuning);
  EXPECT_EQ(f.answer, Answer::no_policy);
  EXPECT_TRUE(f.erase);
  EXPECT_NE(f.change.find("expired"), std::string::npos);
  // Even with the same id, an expired entry is fetched again.
  EXPECT_EQ(after_txt(c, record("A"), later, 0, kTuning).answer, Answer::fetch);
}

TEST(StsCache, ModeNoneReplacesThePolicy) {
  auto c = cached_a();
  auto f = after_fetch(c, "example.com", "B", fetched(policy(Mode::none, 86400, {})), 2000, 0, kTuning);
  EXPECT_EQ(f.answer, Answer::policy);
  EXPECT_EQ(f.entry->policy.mode, Mode::none);
  EXPECT_TRUE(f.write);
  EXPECT_NE(f.change.find("mode none"), std::string::npos);
}

TEST(StsCache, RecordGoneKeepsValidPolicyUntilExpiry) {
  auto c = cached_a();
  auto d = after_txt(c, no_record(), 2000, 0, kTuning);
  EXPECT_EQ(d.answer, Answer::policy);
  EXPECT_FALSE(d.write);
  EXPECT_EQ(d.entry->expires, c.expires);
  auto gone = after_txt(c, no_record(), c.expires, 0, kTuning);
  EXPECT_EQ(gone.answer, Answer::no_policy);
  EXPECT_TRUE(gone.erase);
  auto never = after_txt(std::nullopt, no_record(), 2000, 0, kTuning);
  EXPECT_EQ(never.answer, Answer::no_policy);
  EXPECT_FALSE(never.erase);
}

TEST(StsCache, DnsFailure) {
  auto c = cached_a();
  EXPECT_EQ(after_txt(c, dns_failure(), 2000, 0, kTuning).answer, Answer::policy);
  EXPECT_EQ(after_txt(std::nullopt, dns_failure(), 2000, 0, kTuning).answer, Answer::temp_failure);
  auto expired = after_txt(c, dns_failure(), c.expires + 5, 0, kTuning);
  EXPECT_EQ(expired.answer, Answer::temp_failure);
  EXPECT_TRUE(expired.erase);
}

TEST(StsCache, RefreshTimeIsBeforeExpiryAndJittered) {
  EXPECT_EQ(refresh_time(1000, 86400, 0, kTuning), 1000 + 43200);
  EXPECT_EQ(refresh_time(1000, 86400, 0.999999, kTuning), 1000 + 43200 - 10799);
  EXPECT_EQ(refresh_time(1000, 31557600, 0, kTuning), 1000 + 86400);  // at least daily
  EXPECT_EQ(refresh_time(1000, 0, 0, kTuning), 1000 + 1);
  EXPECT_EQ(refresh_time(1000, 6, 0, kTuning), 1000 + 3);
  EXPECT_EQ(refresh_time(1000, 86400, 7.0, kTuning), refresh_time(1000, 86400, 1.0, kTuning));
  for (double j : {0.0, 0.3, 0.7, 0.99}) {
    auto r = refresh_time(1000, 604800, j, kTuning);
    EXPECT_GT(r, 1000);
    EXPECT_LT(r, 1000 + 604800);
  }
}

}  // namespace
}  // namespace mtasts
