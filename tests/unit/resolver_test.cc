// The resolver's pieces that need no network: config loading, the hot set, judging a DNS answer
// and a policy fetch (the fetch and DNS themselves are tested end to end in
// tests/integration/resolver_*_test.py).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "resolve/config.h"
#include "resolve/hot_set.h"
#include "resolve/lookup.h"

namespace mtasts::resolve {
namespace {

std::string write_temp(const std::string& text) {
  static int n = 0;
  auto p = std::filesystem::temp_directory_path() /
           ("mtasts-resolver-config-" + std::to_string(getpid()) + "-" + std::to_string(n++) + ".toml");
  std::ofstream(p) << text;
  return p.string();
}

TEST(ResolverConfig, ReadsKeysAndZones) {
  auto path = write_temp(R"([resolver]
listen = ["127.0.0.1:8461", "unix:/tmp/x.sock"]
socket_mode = "0660"
db = "postgresql://db/mtasts"
cache_grace = 30
cache_size = 5
connection_threads = 0
[resolver.proactive_refresh]
enabled = false
interval = 3600
[resolver.default_zone]
require_sni = false
timeout = 2.5
[resolver.zones.strict]
strict_testing = true
tlsrpt = true
)");
  auto c = load_config(path);
  std::filesystem::remove(path);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->listen.size(), 2u);
  EXPECT_EQ(c->socket_mode, 0660);
  EXPECT_EQ(c->db, "postgresql://db/mtasts");
  EXPECT_EQ(c->tuning.grace, 30);
  EXPECT_EQ(c->connection_threads, 0u);
  EXPECT_EQ(c->tuning.refresh_interval, 3600);
  EXPECT_FALSE(c->refresh);
  EXPECT_FALSE(c->default_zone.answer.require_sni);
  EXPECT_EQ(c->default_zone.timeout.count(), 2500);
  EXPECT_TRUE(c->zone("strict").answer.strict_testing);
  EXPECT_TRUE(c->zone("strict").answer.tlsrpt);
  EXPECT_TRUE(c->zone("strict").answer.require_sni);  // zones start from the defaults
  EXPECT_FALSE(c->zone("postfix").answer.strict_testing);  // unknown map name: default_zone
  EXPECT_FALSE(c->zone("postfix").answer.require_sni);
}

TEST(ResolverConfig, DaneGlobalAndPerZone) {
  auto path = write_temp("[resolver]\ndane = true\ndane_trust_anchor = \"/tmp/ta.key\"\n"
                         "[resolver.zones.nodane]\ndane = false\n[resolver.zones.plain]\nstrict_testing = true\n");
  auto c = load_config(path);
  std::filesystem::remove(path);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_TRUE(c->dane);
  EXPECT_EQ(c->dane_trust_anchor, "/tmp/ta.key");
  EXPECT_TRUE(c->zone("postfix").use_dane);   // default_zone: the global setting
  EXPECT_FALSE(c->zone("nodane").use_dane);   // its own
  EXPECT_TRUE(c->zone("plain").use_dane);
  EXPECT_TRUE(c->any_dane());
  Config defaults;
  defaults.resolve_dane();
  EXPECT_FALSE(defaults.any_dane());  // off unless asked for (docs/resolver.md)
  EXPECT_EQ(defaults.dane_trust_anchor, "/usr/share/dns/root.key");
}

TEST(ResolverConfig, ErrorsNameTheKeyAndLine) {
  auto check = [](const std::string& text, std::string_view want) {
    auto path = write_temp(text);
    auto c = load_config(path);
    std::filesystem::remove(path);
    ASSERT_FALSE(c) << text;
    EXPECT_EQ(c.error().code, "config-invalid");
    EXPECT_NE(c.error().message.find(want), std::string::npos) << c.error().message;
  };
  check("listen = 5\n", "listen");
  check("cache_grace = -1\n", "cache_grace");
  check("nonsense = 1\n", "unknown key nonsense");
  check("[zones.a]\nstrict_testing = \"yes\"\n", "zones.a.strict_testing");
  check("[default_zone]\ntimeout = 0\n", "timeout");
  check("socket_mode = \"999\"\n", "socket_mode");
  check("connection_threads = -1\n", "connection_threads");
  check("listen = [\n", "");
  check("dane = \"yes\"\n", "dane must be true or false");
  check("[zones.a]\ndane = 1\n", "zones.a.dane");
  auto path = write_temp("\n\nbogus = 1\n");
  auto c = load_config(path);
  std::filesystem::remove(path);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().line, 3u);
  EXPECT_FALSE(load_config("/nonexistent/mtasts.toml"));
}

std::shared_ptr<const CachedPolicy> entry(std::int64_t checked, std::int64_t expires) {
  auto e = std::make_shared<CachedPolicy>();
  e->domain = "example.com";
  e->checked = checked;
  e->expires = expires;
  return e;
}

TEST(HotSet, FreshWithinGraceOnly) {
  HotSet h(10);
  h.put("example.com", {entry(1000, 5000), 1000});
  EXPECT_TRUE(h.fresh("example.com", 1059, 60));
  EXPECT_FALSE(h.fresh("example.com", 1060, 60));
  EXPECT_FALSE(h.fresh("example.com", 999, 60));  // clock went back
  h.put("gone.example", {entry(1000, 1010), 1000});
  EXPECT_FALSE(h.fresh("gone.example", 1010, 60));  // expired policy
  h.put("none.example", {nullptr, 1000});
  auto neg = h.fresh("none.example", 1001, 60);
  ASSERT_TRUE(neg);
  EXPECT_EQ(neg->policy, nullptr);
  h.erase("none.example");
  EXPECT_FALSE(h.fresh("none.example", 1001, 60));
}

TEST(HotSet, RepliesFormattedOncePerEntryAndZone) {
  HotSet h(10);
  h.put("example.com", {entry(1000, 5000), 1000});
  int formatted = 0;
  const int zone_a = 0, zone_b = 0;
  const auto format = [&formatted](const HotSet::Hit& hit) {
    ++formatted;
    return std::string(hit.policy ? "OK " : "NOTFOUND ") + std::to_string(formatted);
  };
  std::string out;
  EXPECT_FALSE(h.reply(std::string_view("other.example"), 1001, 60, &zone_a, format, out));
  EXPECT_FALSE(h.reply(std::string_view("example.com"), 1060, 60, &zone_a, format, out));  // past the grace
  ASSERT_TRUE(h.reply(std::string_view("example.com"), 1001, 60, &zone_a, format, out));
  EXPECT_EQ(out, "OK 1");
  ASSERT_TRUE(h.reply(std::string_view("example.com"), 1002, 60, &zone_a, format, out));
  EXPECT_EQ(out, "OK 1");  // memoized
  ASSERT_TRUE(h.reply(std::string_view("example.com"), 1002, 60, &zone_b, format, out));
  EXPECT_EQ(out, "OK 2");  // another zone: its own
  h.put("example.com", {nullptr, 1003});  // a new entry forgets the replies
  ASSERT_TRUE(h.reply(std::string_view("example.com"), 1004, 60, &zone_a, format, out));
  EXPECT_EQ(out, "NOTFOUND 3");
  const auto long_reply = [](const HotSet::Hit&) { return std::string(5000, 'x'); };
  h.put("long.example", {entry(1000, 5000), 1000});
  ASSERT_TRUE(h.reply(std::string_view("long.example"), 1001, 60, &zone_a, long_reply, out));
  EXPECT_EQ(out.size(), 5000u);
}

TEST(HotSet, BoundedLeastRecentlyUsedGoesFirst) {
  HotSet h(3);
  for (const char* d : {"a", "b", "c"}) h.put(d, {nullptr, 1000});
  EXPECT_TRUE(h.fresh("a", 1000, 60));  // a is now the most recent
  h.put("d", {nullptr, 1000});
  EXPECT_EQ(h.size(), 3u);
  EXPECT_FALSE(h.fresh("b", 1000, 60));
  EXPECT_TRUE(h.fresh("a", 1000, 60));
  EXPECT_TRUE(h.fresh("d", 1000, 60));
}

TEST(HotSet, ShardedSetStaysBoundedAndKeepsWhatIsUsed) {
  HotSet h(1024);  // 16 shards of 64
  auto name = [](const char* prefix, int i) { return std::string(prefix) + std::to_string(i) + ".example"; };
  for (int i = 0; i < 1024; ++i) h.put(name("old", i), {nullptr, 1000});
  EXPECT_LE(h.size(), 1024u);
  EXPECT_GT(h.size(), 900u);  // shards fill unevenly: a few evict early
  std::vector<std::string> used;
  // The oldest still there: without the second chance they would go first.
  for (int i = 0; i < 1024 && used.size() < 50; ++i)
    if (h.fresh(name("old", i), 1000, 60)) used.push_back(name("old", i));
  EXPECT_EQ(used.size(), 50u);
  for (int i = 0; i < 200; ++i) h.put(name("new", i), {nullptr, 1000});
  EXPECT_LE(h.size(), 1024u);
  for (const auto& d : used) EXPECT_TRUE(h.fresh(d, 1000, 60)) << d << " was used, an unused one goes first";
  int new_kept = 0;
  for (int i = 0; i < 200; ++i) new_kept += h.fresh(name("new", i), 1000, 60).has_value();
  EXPECT_EQ(new_kept, 200);
  h.clear();
  EXPECT_EQ(h.size(), 0u);
}

TEST(ResolverLookup, DnsAnswers) {
  net::TxtAnswer a;
  a.status = net::DnsStatus::ok;
  a.records = {{"v=STSv1; ", "id=abc"}};
  auto t = observe_txt(a);
  EXPECT_EQ(t.kind, TxtObservation::Kind::record);
  EXPECT_EQ(t.id, "abc");
  a.status = net::DnsStatus::nxdomain;
  EXPECT_EQ(observe_txt(a).kind, TxtObservation::Kind::no_record);
  a.status = net::DnsStatus::nodata;
  EXPECT_EQ(observe_txt(a).kind, TxtObservation::Kind::no_record);
  for (auto s : {net::DnsStatus::servfail, net::DnsStatus::timeout, net::DnsStatus::error}) {
    a.status = s;
    EXPECT_EQ(observe_txt(a).kind, TxtObservation::Kind::dns_failure);
  }
}

TEST(ResolverLookup, JudgesTheFetch) {
  net::PolicyFetch f;
  f.host = "mta-sts.example.com";
  f.outcome = net::PolicyFetch::Outcome::response;
  f.status = 200;
  f.content_type = "text/plain; charset=utf-8";
  f.body = "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\nmax_age: 86400\r\n";
  auto ok = judge_fetch(f);
  ASSERT_TRUE(ok.ok) << ok.detail;
  EXPECT_EQ(ok.policy.mode, Mode::enforce);
  EXPECT_EQ(ok.text, f.body);

  auto type = [&](net::PolicyFetch g) { return judge_fetch(g).result_type; };
  auto g = f;
  g.status = 404;
  EXPECT_EQ(type(g), "sts-policy-fetch-error");
  g = f;
  g.content_type = "text/html";
  EXPECT_EQ(type(g), "sts-policy-fetch-error");
  g = f;
  g.body = "version: STSv1\r\nmode: report\r\n";
  EXPECT_EQ(type(g), "sts-policy-invalid");
  g = f;
  g.outcome = net::PolicyFetch::Outcome::cert_invalid;
  EXPECT_EQ(type(g), "sts-webpki-invalid");
  for (auto o : {net::PolicyFetch::Outcome::timeout, net::PolicyFetch::Outcome::body_too_large,
                 net::PolicyFetch::Outcome::connect_failed, net::PolicyFetch::Outcome::http_error}) {
    g = f;
    g.outcome = o;
    EXPECT_EQ(type(g), "sts-policy-fetch-error");
  }
}

}  // namespace
}  // namespace mtasts::resolve
