// The Store suite, written once, run against every backend: SQLite always (a temp file), and
// PostgreSQL when MTASTS_TEST_POSTGRES_URL is set (ctest runs it through
// tests/harness/with_postgres.py, which starts a throwaway server on loopback).
#include <gtest/gtest.h>

#include "core/policy_id.h"
#include "store/change_feed.h"
#include "store/sql.h"
#include "store/store.h"
#include "store/token_store.h"
#include "store_backends.h"

namespace mtasts::store {
namespace {

Policy policy(Mode mode, std::uint32_t max_age, std::vector<std::string> mx) {
  Policy p;
  p.mode = mode;
  p.max_age = max_age;
  for (const auto& m : mx) p.mx.push_back(*parse_mx_pattern(m));
  return p;
}

class StoreTest : public testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    db_ = std::make_unique<TestDatabase>(GetParam(), "mtasts-store-test");
    ASSERT_TRUE(db_->error.empty()) << db_->error;
    location_ = db_->location();
    auto s = open_store(location_);
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(s).value();
  }
  void TearDown() override {
    store_.reset();
    db_.reset();
  }

  std::unique_ptr<TestDatabase> db_;
  std::string location_;
  std::unique_ptr<Store> store_;
};

TEST_P(StoreTest, MigratesAndReopens) {
  EXPECT_EQ(store_->backend(), GetParam());
  EXPECT_GE(store_->schema_version(), 1);
  ASSERT_TRUE(store_->put_domain("example.com", policy(Mode::testing, 86400, {"mx1.example.com"}), {}, "test", 100));
  store_.reset();
  auto again = open_store(location_);  // migrations are idempotent
  ASSERT_TRUE(again) << again.error().message;
  auto d = (*again)->get_domain("example.com");
  ASSERT_TRUE(d && *d);
}

TEST_P(StoreTest, AddGetListRemove) {
  auto r = store_->put_domain("Example.COM.", policy(Mode::testing, 86400, {"mx1.example.com", "*.mx.example.net"}),
                              {"mailto:tlsrpt@example.com"}, "cli:root", 1000);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->created);
  EXPECT_TRUE(r->policy_changed);
  EXPECT_EQ(r->domain.name, "example.com");
  EXPECT_EQ(r->domain.version, 1);
  EXPECT_EQ(r->domain.policy_id, policy_id(r->domain.policy));

  auto got = store_->get_domain("example.com");
  ASSERT_TRUE(got) << got.error().message;
  ASSERT_TRUE(*got);
  const Domain& d = **got;
  EXPECT_EQ(d.policy.mode, Mode::testing);
  EXPECT_EQ(d.policy.max_age, 86400u);
  ASSERT_EQ(d.policy.mx.size(), 2u);
  EXPECT_TRUE(d.policy.mx[1].wildcard);
  EXPECT_EQ(d.rua, std::vector<std::string>{"mailto:tlsrpt@example.com"});
  EXPECT_EQ(d.created, 1000);

  ASSERT_TRUE(store_->put_domain("b.example", policy(Mode::none, 86400, {}), {}, "t", 1000));
  ASSERT_TRUE(store_->put_domain("a.example", policy(Mode::enforce, 604800, {"mx.a.example"}), {}, "t", 1000));
  auto all = store_->list_domains();
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].name, "a.example");
  EXPECT_EQ((*all)[2].name, "example.com");
  auto page = store_->list_domains("a.example", 1);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->size(), 1u);
  EXPECT_EQ((*page)[0].name, "b.example");

  auto removed = store_->remove_domain("b.example", "t", 2000);
  ASSERT_TRUE(removed) << removed.error().message;
  EXPECT_EQ(removed->name, "b.example");
  EXPECT_FALSE(store_->get_domain("b.example")->has_value());
  auto missing = store_->remove_domain("b.example", "t", 2000);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, "not-found");
}

TEST_P(StoreTest, NewIdOnlyWhenThePolicyChanges) {
  auto first = store_->put_domain("example.com", policy(Mode::testing, 86400, {"mx1.example.com"}), {}, "t", 1);
  ASSERT_TRUE(first);
  auto same = store_->put_domain("example.com", policy(Mode::testing, 86400, {"mx1.example.com"}),
                                 {"mailto:a@example.com"}, "t", 2);
  ASSERT_TRUE(same);
  EXPECT_FALSE(same->created);
  EXPECT_FALSE(same->policy_changed);
  EXPECT_EQ(same->domain.policy_id, first->domain.policy_id);
  EXPECT_EQ(same->domain.version, 1);
  auto changed = store_->put_domain("example.com", policy(Mode::enforce, 604800, {"mx1.example.com"}), {}, "t", 3);
  ASSERT_TRUE(changed);
  EXPECT_TRUE(changed->policy_changed);
  EXPECT_NE(changed->domain.policy_id, first->domain.policy_id);
  EXPECT_EQ(changed->previous_id, first->domain.policy_id);
  EXPECT_EQ(changed->domain.version, 2);

  auto history = store_->policy_history("example.com");
  ASSERT_TRUE(history);
  ASSERT_EQ(history->size(), 2u);
  EXPECT_EQ((*history)[0].policy_id, first->domain.policy_id);
  EXPECT_EQ((*history)[1].version, 2);
  EXPECT_NE((*history)[1].policy_text.find("mode: enforce"), std::string::npos);
}

TEST_P(StoreTest, VersionsContinueAfterRemoveAndAddAgain) {
  ASSERT_TRUE(store_->put_domain("example.com", policy(Mode::testing, 86400, {"mx1.example.com"}), {}, "t", 1));
  ASSERT_TRUE(store_->put_domain("example.com", policy(Mode::enforce, 86400, {"mx1.example.com"}), {}, "t", 2));
  ASSERT_TRUE(store_->remove_domain("example.com", "t", 3));
  auto again = store_->put_domain("example.com", policy(Mode::testing, 86400, {"mx1.example.com"}), {}, "t", 4);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_TRUE(again->created);
  EXPECT_EQ(again->domain.version, 3);
  EXPECT_EQ(store_->policy_history("example.com")->size(), 3u);
}

TEST_P(StoreTest, AuditLogSaysWhoWhenWhat) {
  ASSERT_TRUE(store_->put_domain("example.com", policy(Mode::testing, 86400, {"mx1.example.com"}), {}, "cli:alice", 10));
  ASSERT_TRUE(store_->put_domain("example.com", policy(Mode::testing, 86400, {"mx1.example.com", "mx2.example.com"}), {}, "api:ops", 20));
  ASSERT_TRUE(store_->remove_domain("example.com", "cli:bob", 30));
  ASSERT_TRUE(store_->put_domain("other.example", policy(Mode::none, 86400, {}), {}, "t", 40));
  auto log = store_->audit_log("example.com");
  ASSERT_TRUE(log);
  ASSERT_EQ(log->size(), 3u);
  EXPECT_EQ((*log)[0].action, "domain.remove");  // newest first
  EXPECT_EQ((*log)[0].actor, "cli:bob");
  EXPECT_EQ((*log)[1].action, "domain.set");
  EXPECT_EQ((*log)[1].at, 20);
  EXPECT_NE((*log)[1].detail.find("+mx mx2.example.com"), std::string::npos) << (*log)[1].detail;
  EXPECT_EQ((*log)[2].action, "domain.add");
  EXPECT_EQ(store_->audit_log()->size(), 4u);
}

TEST_P(StoreTest, RejectsInvalidNames) {
  auto r = store_->put_domain("not a domain", policy(Mode::testing, 86400, {"mx.example.com"}), {}, "t", 1);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "domain-invalid");
}

TEST_P(StoreTest, ManyDomains) {
  for (int i = 0; i < 500; ++i)
    ASSERT_TRUE(store_->put_domain("d" + std::to_string(i) + ".example",
                                   policy(Mode::enforce, 604800, {"mx.example.net"}), {}, "t", i));
  auto all = store_->list_domains();
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), 500u);
}

TEST_P(StoreTest, ChangeFeedNamesTheChangedDomains) {
  auto start = store_->last_change();
  ASSERT_TRUE(start);
  EXPECT_EQ(*start, 0);
  ASSERT_TRUE(store_->put_domain("a.example", policy(Mode::testing, 86400, {"mx.a.example"}), {}, "t", 1));
  DomainFeed feed(*store_);
  ASSERT_TRUE(feed.start(10));
  EXPECT_EQ(feed.cursor().mark(), *store_->last_change());
  EXPECT_TRUE(feed.cursor().gaps().empty());
  ASSERT_TRUE(store_->put_domain("c.example", policy(Mode::testing, 86400, {"mx.c.example"}), {}, "t", 2));
  ASSERT_TRUE(store_->put_domain("b.example", policy(Mode::none, 86400, {}), {}, "t", 3));
  ASSERT_TRUE(store_->put_domain("c.example", policy(Mode::enforce, 86400, {"mx.c.example"}), {}, "t", 4));
  ASSERT_TRUE(store_->remove_domain("b.example", "t", 5));
  auto batch = feed.poll(11);
  ASSERT_TRUE(batch) << batch.error().message;
  EXPECT_EQ(batch->domains, (std::vector<std::string>{"b.example", "c.example"}));
  EXPECT_FALSE(batch->full);
  EXPECT_TRUE(feed.cursor().gaps().empty());
  EXPECT_TRUE(feed.poll(12)->domains.empty());
  ASSERT_TRUE(store_->put_domain("d.example", policy(Mode::testing, 86400, {"mx.d.example"}), {}, "t", 6));
  ASSERT_TRUE(store_->put_domain("e.example", policy(Mode::testing, 86400, {"mx.e.example"}), {}, "t", 7));
  batch = feed.poll(13, 1);
  ASSERT_TRUE(batch);
  EXPECT_TRUE(batch->full);  // over the backlog: the caller lists every domain
}

// Two writers: on PostgreSQL the audit id is taken at insert and becomes visible at commit, so a
// transaction that took a lower id can commit after a higher one was read. The feed must still
// name its domain. (SQLite serializes writers: there the first one commits before the second
// starts, and the feed names both.)
TEST_P(StoreTest, ChangeFeedSeesALateCommit) {
  ASSERT_TRUE(store_->put_domain("a.example", policy(Mode::testing, 86400, {"mx.a.example"}), {}, "t", 1));
  DomainFeed feed(*store_);
  ASSERT_TRUE(feed.start(100));
  auto other = open_connection(location_);
  ASSERT_TRUE(other) << other.error().message;
  auto& writer = **other;
  ASSERT_TRUE(writer.begin());
  auto late = writer.query("INSERT INTO audit_log (at, actor, action, domain, detail) "
                           "VALUES (2, 't', 'domain.set', 'late.example', '') RETURNING id", {});
  ASSERT_TRUE(late && late->size() == 1) << (late ? "no id" : late.error().message);
  auto late_id = to_int((*late)[0][0]);
  if (GetParam() == "postgresql") {
    ASSERT_TRUE(store_->put_domain("b.example", policy(Mode::testing, 86400, {"mx.b.example"}), {}, "t", 3));
    auto batch = feed.poll(101);
    ASSERT_TRUE(batch) << batch.error().message;
    EXPECT_EQ(batch->domains, (std::vector<std::string>{"b.example"}));
    EXPECT_GT(feed.cursor().mark(), late_id);
    EXPECT_EQ(feed.cursor().gaps(), (std::vector<std::int64_t>{late_id}));
    ASSERT_TRUE(writer.commit());
  } else {
    ASSERT_TRUE(writer.commit());
    ASSERT_TRUE(store_->put_domain("b.example", policy(Mode::testing, 86400, {"mx.b.example"}), {}, "t", 3));
    auto batch = feed.poll(101);
    ASSERT_TRUE(batch) << batch.error().message;
    EXPECT_EQ(batch->domains, (std::vector<std::string>{"b.example", "late.example"}));
  }
  auto batch = feed.poll(102);
  ASSERT_TRUE(batch) << batch.error().message;
  if (GetParam() == "postgresql") EXPECT_EQ(batch->domains, (std::vector<std::string>{"late.example"}));
  else EXPECT_TRUE(batch->domains.empty());
  EXPECT_TRUE(feed.cursor().gaps().empty());

  // An id taken by a transaction that rolls back is waited for, then given up on.
  ASSERT_TRUE(writer.begin());
  ASSERT_TRUE(writer.query("INSERT INTO audit_log (at, actor, action, domain, detail) "
                           "VALUES (4, 't', 'domain.set', 'gone.example', '')", {}));
  writer.rollback();
  ASSERT_TRUE(store_->put_domain("c.example", policy(Mode::testing, 86400, {"mx.c.example"}), {}, "t", 5));
  batch = feed.poll(103);
  ASSERT_TRUE(batch);
  EXPECT_EQ(batch->domains, (std::vector<std::string>{"c.example"}));
  // PostgreSQL never hands the rolled-back id out again; SQLite reuses it (no gap).
  EXPECT_EQ(feed.cursor().gaps().size(), GetParam() == "postgresql" ? 1u : 0u);
  EXPECT_TRUE(feed.poll(103 + 300)->domains.empty());
  EXPECT_EQ(feed.cursor().gaps().size(), GetParam() == "postgresql" ? 1u : 0u);
  EXPECT_TRUE(feed.poll(103 + 301)->domains.empty());
  EXPECT_TRUE(feed.cursor().gaps().empty());
  EXPECT_EQ(feed.take_dropped(), GetParam() == "postgresql" ? 1u : 0u);
}

TEST_P(StoreTest, TokensAreShownOnceAndStoredHashed) {
  auto tokens = TokenStore::open(location_);
  ASSERT_TRUE(tokens) << tokens.error().message;
  auto& t = **tokens;
  auto secret = t.create("ci-bot", "test", 100);
  ASSERT_TRUE(secret) << secret.error().message;
  EXPECT_TRUE(secret->starts_with("mtasts_"));
  EXPECT_EQ(secret->size(), 47u);
  auto again = t.create("ci-bot", "test", 101);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, "token-exists");
  EXPECT_EQ(t.create("bad name", "test", 101).error().code, "token-name");

  auto ok = t.verify(*secret, 200);
  ASSERT_TRUE(ok && *ok);
  EXPECT_EQ((*ok)->name, "ci-bot");
  EXPECT_EQ((*ok)->last_used, 200);
  std::string wrong = *secret;
  wrong.back() = wrong.back() == '0' ? '1' : '0';
  auto bad = t.verify(wrong, 200);
  ASSERT_TRUE(bad);
  EXPECT_FALSE(*bad);
  EXPECT_FALSE(*t.verify("", 200));
  EXPECT_FALSE(*t.verify("Bearer " + *secret, 200));

  // The secret itself is nowhere in the database: only its hash.
  auto listed = t.list();
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].name, "ci-bot");
  auto log = store_->audit_log();
  ASSERT_TRUE(log);
  ASSERT_FALSE(log->empty());
  EXPECT_EQ(log->front().action, "token.add");
  for (const auto& e : *log) EXPECT_EQ(e.detail.find(*secret), std::string::npos);

  ASSERT_TRUE(t.remove("ci-bot", "test", 300));
  EXPECT_FALSE(*t.verify(*secret, 301));
  EXPECT_EQ(t.remove("ci-bot", "test", 302).error().code, "not-found");
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest, testing::ValuesIn(backends()),
                         [](const auto& info) { return info.param; });

// Run by ctest inside with_postgres.py: fails (never skips) when the server is not there.
TEST(StoreEnvironment, PostgresUrlGiven) {
  ASSERT_NE(postgres_url(), nullptr) << "MTASTS_TEST_POSTGRES_URL is not set";
}

TEST(StoreOpen, BadLocations) {
  auto r = open_store("/nonexistent-dir/x/y.db");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "store-open");
  auto pg = open_store("postgresql://nobody:secret@127.0.0.1:1/none?connect_timeout=2");
  ASSERT_FALSE(pg);
  EXPECT_EQ(pg.error().code, "store-open");
  EXPECT_EQ(pg.error().message.find("secret"), std::string::npos);  // never print the password
}

}  // namespace
}  // namespace mtasts::store
