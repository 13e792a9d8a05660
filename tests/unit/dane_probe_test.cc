// The DANE probe's I/O orchestration against a fake validating resolver (no network): which
// lookups it makes, how MX RDATA becomes hosts, and that the decision is core/dane.h's. The real
// libunbound path is tested end to end in tests/integration/resolver_dane_test.py.
#include "resolve/dane_probe.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <utility>

#include "resolve/config.h"
#include "net/unbound_resolver.h"
#include "resolve/engine.h"

namespace mtasts::resolve {
namespace {

class FakeDnssec final : public net::DnssecResolver {
 public:
  std::map<std::pair<std::string, std::uint16_t>, SecureRrset> answers;
  std::vector<std::string> asked;
  net::awaitable<SecureRrset> lookup(std::string name, std::uint16_t type) override {
    asked.push_back(name + "/" + std::to_string(type));
    auto it = answers.find({name, type});
    if (it != answers.end()) co_return it->second;
    SecureRrset none;
    none.security = Dnssec::secure;  // provably absent
    co_return none;
  }
};

SecureRrset secure(std::vector<std::string> rdata) {
  SecureRrset r;
  r.security = Dnssec::secure;
  r.exists = true;
  r.ttl = 300;
  r.rdata = std::move(rdata);
  return r;
}

DaneProbe run(FakeDnssec& fake, const std::string& domain) {
  boost::asio::io_context io;
  DaneProbe out;
  boost::asio::co_spawn(io, [&]() -> net::awaitable<void> { out = co_await probe_dane(fake, domain); },
                        [](std::exception_ptr e) { if (e) std::rethrow_exception(e); });
  io.run();
  return out;
}

const std::string kTlsa311 = std::string("\3\1\1", 3) + std::string(32, 'k');

TEST(DaneProbe, SecureMxWithTlsaOnEveryHost) {
  FakeDnssec fake;
  fake.answers[{"example.com", net::rrtype::mx}] =
      secure({net::mx_rdata(20, "MX2.example.com."), net::mx_rdata(10, "mx1.example.com.")});
  for (auto h : {"mx1.example.com", "mx2.example.com"}) {
    fake.answers[{h, net::rrtype::a}] = secure({"\x7f\0\0\1"});
    fake.answers[{std::string("_25._tcp.") + h, net::rrtype::tlsa}] = secure({kTlsa311});
  }
  auto p = run(fake, "example.com");
  EXPECT_EQ(p.decision.answer, DaneAnswer::dane_only) << p.decision.reason;
  ASSERT_EQ(p.observation.mx_hosts.size(), 2u);
  EXPECT_EQ(p.observation.mx_hosts[0], "mx1.example.com");  // preference order, lower case
  EXPECT_EQ(fake.asked.size(), 1u + 2 * 3);                  // MX, then A, AAAA, TLSA per host
}

TEST(DaneProbe, InsecureMxAsksNothingMore) {
  FakeDnssec fake;
  auto mx = secure({net::mx_rdata(10, "mx1.example.com.")});
  mx.security = Dnssec::insecure;
  fake.answers[{"example.com", net::rrtype::mx}] = mx;
  auto p = run(fake, "example.com");
  EXPECT_EQ(p.decision.answer, DaneAnswer::none);
  EXPECT_EQ(fake.asked.size(), 1u);
}

TEST(DaneProbe, MalformedMxIsAFailure) {
  FakeDnssec fake;
  fake.answers[{"example.com", net::rrtype::mx}] = secure({std::string("\0\12\7trunc", 8)});
  EXPECT_EQ(run(fake, "example.com").decision.answer, DaneAnswer::temp);
}

TEST(DaneProbe, RepliesPerZone) {
  Verdict v;
  v.dane = DaneAnswer::dane_only;
  Zone on, off;
  on.use_dane = true;
  EXPECT_EQ(format_reply(v, on), "OK dane-only");
  EXPECT_EQ(format_reply(v, off), "NOTFOUND ");
  v.dane = DaneAnswer::temp;
  v.dane_reason = "bogus";
  EXPECT_EQ(format_reply(v, on), "TEMP bogus");
  EXPECT_EQ(format_reply(v, off), "NOTFOUND ");
}

}  // namespace
}  // namespace mtasts::resolve

namespace mtasts::net {
namespace {

TEST(TrustAnchors, OwnersOfDsAndDnskeyLines) {
  const std::string path = testing::TempDir() + "/mtasts-anchors.key";
  {
    std::ofstream f(path);
    f << "; Debian's root.key has lines like this one\n"
         ". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n"
         "example.test. 3600 IN DNSKEY 257 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==\n"
         "example.test. IN DS 4711 13 2 0000000000000000000000000000000000000000000000000000000000000000\n"
         "$TTL 3600\n"
         "other.test. IN A 192.0.2.1\n"
         "; second.test. IN DS 1 13 2 00\n";
  }
  EXPECT_EQ(trust_anchor_owners(path), (std::vector<std::string>{".", "example.test"}));
  EXPECT_TRUE(trust_anchor_owners(path + ".missing").empty());
  std::remove(path.c_str());
}

}  // namespace
}  // namespace mtasts::net
