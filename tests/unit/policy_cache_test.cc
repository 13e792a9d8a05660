// The resolver's policy cache store, written once, run against SQLite and (through
// tests/harness/with_postgres.py, ctest store.postgresql) PostgreSQL.
#include "store/policy_cache.h"

#include <gtest/gtest.h>

#include "fmt/format.h"
#include "store_backends.h"

namespace mtasts::store {
namespace {

CachedPolicy entry(std::string domain, std::string id, std::int64_t now, Mode mode = Mode::enforce) {
  CachedPolicy e;
  e.domain = std::move(domain);
  e.id = std::move(id);
  e.policy.mode = mode;
  e.policy.max_age = 86400;
  if (mode != Mode::none) {
    e.policy.mx.push_back(*parse_mx_pattern("mx1." + e.domain));
    e.policy.mx.push_back(*parse_mx_pattern("*.mx." + e.domain));
  }
  e.policy_text = "version: STSv1\r\nmode: " + std::string(to_string(mode)) + "\r\nmax_age: 86400\r\n";
  e.fetched = e.checked = now;
  e.expires = now + 86400;
  e.refresh = now + 43200;
  return e;
}

class PolicyCacheTest : public testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    db_ = std::make_unique<TestDatabase>(GetParam(), "mtasts-policy-cache");
    ASSERT_TRUE(db_->error.empty()) << db_->error;
    location_ = db_->location();
    auto c = PolicyCache::open(location_);
    ASSERT_TRUE(c) << c.error().message;
    cache_ = std::move(c).value();
  }
  void TearDown() override {
    cache_.reset();
    db_.reset();
  }

  std::unique_ptr<TestDatabase> db_;
  std::string location_;
  std::unique_ptr<PolicyCache> cache_;
};

TEST_P(PolicyCacheTest, PutGetSurvivesReopen) {
  EXPECT_EQ(cache_->backend(), GetParam());
  auto none = cache_->get("example.com");
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
  auto e = entry("example.com", "A1", 1000);
  ASSERT_TRUE(cache_->put(e));
  cache_.reset();
  auto again = PolicyCache::open(location_);
  ASSERT_TRUE(again) << again.error().message;
  auto got = (*again)->get("example.com");
  ASSERT_TRUE(got && *got);
  EXPECT_EQ(**got, e);
}

TEST_P(PolicyCacheTest, PutReplaces) {
  ASSERT_TRUE(cache_->put(entry("example.com", "A1", 1000)));
  auto b = entry("example.com", "B2", 2000, Mode::none);
  ASSERT_TRUE(cache_->put(b));
  auto got = cache_->get("example.com");
  ASSERT_TRUE(got && *got);
  EXPECT_EQ(**got, b);
  EXPECT_TRUE((*got)->policy.mx.empty());
  EXPECT_EQ(*cache_->count(), 1);
}

TEST_P(PolicyCacheTest, EraseAndPurge) {
  ASSERT_TRUE(cache_->put(entry("a.example", "A", 1000)));
  ASSERT_TRUE(cache_->put(entry("b.example", "B", 100000)));
  ASSERT_TRUE(cache_->put(entry("c.example", "C", 100000)));
  EXPECT_TRUE(*cache_->erase("a.example"));
  EXPECT_FALSE(*cache_->erase("a.example"));
  ASSERT_TRUE(cache_->put(entry("a.example", "A", 1000)));
  EXPECT_EQ(*cache_->purge(90000), 1);  // only a.example had expired (at 87400)
  EXPECT_EQ(*cache_->count(), 2);
  EXPECT_EQ(*cache_->purge(), 2);
  EXPECT_EQ(*cache_->count(), 0);
}

TEST_P(PolicyCacheTest, DueForRefreshSoonestFirst) {
  auto a = entry("a.example", "A", 1000);
  a.refresh = 5000;
  auto b = entry("b.example", "B", 1000);
  b.refresh = 3000;
  auto c = entry("c.example", "C", 1000);
  c.refresh = 9000;
  auto expired = entry("d.example", "D", 1000);
  expired.refresh = 100;
  expired.expires = 4000;
  for (const auto& e : {a, b, c, expired}) ASSERT_TRUE(cache_->put(e));
  auto due = cache_->due(6000, 10);
  ASSERT_TRUE(due);
  ASSERT_EQ(due->size(), 2u);
  EXPECT_EQ((*due)[0].domain, "b.example");
  EXPECT_EQ((*due)[1].domain, "a.example");
  EXPECT_EQ(cache_->due(6000, 1)->size(), 1u);
}

TEST_P(PolicyCacheTest, ListPages) {
  for (int i = 0; i < 25; ++i) ASSERT_TRUE(cache_->put(entry(fmt::format("d{:02}.example", i), "X", 1000)));
  std::vector<std::string> seen;
  std::string after;
  while (true) {
    auto page = cache_->list(after, 10);
    ASSERT_TRUE(page);
    if (page->empty()) break;
    for (const auto& e : *page) seen.push_back(e.domain);
    after = page->back().domain;
  }
  ASSERT_EQ(seen.size(), 25u);
  EXPECT_EQ(seen.front(), "d00.example");
  EXPECT_EQ(seen.back(), "d24.example");
}

TEST_P(PolicyCacheTest, TwoConnectionsShareOneCache) {
  // A fleet: what one MTA's resolver fetched, another's sees.
  auto other = PolicyCache::open(location_);
  ASSERT_TRUE(other) << other.error().message;
  ASSERT_TRUE((*other)->put(entry("example.com", "A1", 1000)));
  auto got = cache_->get("example.com");
  ASSERT_TRUE(got && *got);
  EXPECT_EQ((*got)->id, "A1");
}

INSTANTIATE_TEST_SUITE_P(Backends, PolicyCacheTest, testing::ValuesIn(backends()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace mtasts::store
