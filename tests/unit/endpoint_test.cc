// Addresses from the command line and configuration (net/endpoint.h).
#include <gtest/gtest.h>

#include "net/endpoint.h"

namespace mtasts::net {
namespace {

TEST(HostPort, ReadsAddressesAndNames) {
  auto v4 = parse_host_port("127.0.0.1:5353", 53);
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 5353);
  auto v6 = parse_host_port("[::1]:25", 53);
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(to_string(*v6), "[::1]:25");
  EXPECT_EQ(parse_host_port("127.0.0.1", 53)->port, 53);
  EXPECT_EQ(parse_host_port("[::1]", 8461)->port, 8461);
  EXPECT_EQ(parse_host_port("localhost:25", 0)->host, "localhost");
  EXPECT_EQ(parse_host_port("mx1.example.com.:25", 0)->host, "mx1.example.com.");
}

TEST(HostPort, RefusesWhatIsNoAddress) {
  for (const char* text : {"", ":53", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:5x",
                           "::1", "[::1", "[::1]x", "[127.0.0.1]:53", "[[\xba]:5353", "[]:53",
                           "exa mple.com:25", "-bad.example:25", "a..b:25", "b\xc3\xbc" "cher.example:25",
                           "host/path:80"}) {
    auto r = parse_host_port(text, 53);
    ASSERT_FALSE(r) << text;
    EXPECT_EQ(r.error().code, "endpoint-invalid");
  }
}

TEST(ConnectTo, RulesAsCurlWritesThem) {
  auto r = parse_connect_to("MX1.Example.com.:25:127.0.0.1:2525");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->host, "mx1.example.com");
  EXPECT_EQ(r->port, 25);
  EXPECT_EQ(to_string(r->target), "127.0.0.1:2525");
  EXPECT_EQ(parse_connect_to("mx:25:127.0.0.1")->target.port, 25);  // the same port, as curl
  auto any = parse_connect_to(":443:[::1]:8443");
  ASSERT_TRUE(any);
  EXPECT_TRUE(any->host.empty());
  std::vector<ConnectTo> rules{*r, *any};
  EXPECT_EQ(map_connect(rules, "mx1.example.COM", 25)->port, 2525);
  EXPECT_EQ(map_connect(rules, "mta-sts.example.com", 443)->host, "::1");
  EXPECT_FALSE(map_connect(rules, "mx2.example.com", 25));
  auto idn = parse_connect_to("mta-sts.b\xc3\xbc" "cher.example:443:127.0.0.1:8443");  // as the checker asks
  ASSERT_TRUE(idn) << idn.error().message;
  EXPECT_EQ(idn->host, "mta-sts.xn--bcher-kva.example");
  for (const char* text : {"::443:127.0.0.1:1", "mx:x:127.0.0.1:1", "m x:25:127.0.0.1:1",
                           "[mx]:25:127.0.0.1:1", "mx:25:[::1:1"})
    EXPECT_FALSE(parse_connect_to(text)) << text;
}

// An IP literal on the left makes an address rule: it redirects one resolved address, so DNS
// still decides which addresses a host has (how the harness gives A and AAAA their own servers).
TEST(ConnectTo, AddressRulesMatchResolvedAddresses) {
  auto v4 = parse_connect_to("127.0.0.9:25:127.0.0.1:2525");
  ASSERT_TRUE(v4) << v4.error().message;
  EXPECT_TRUE(v4->address);
  EXPECT_EQ(v4->host, "127.0.0.9");
  auto v6 = parse_connect_to("[0:0::1]:25:127.0.0.1:2526");
  ASSERT_TRUE(v6) << v6.error().message;
  EXPECT_TRUE(v6->address);
  EXPECT_EQ(v6->host, "::1");  // canonical, so "::1" from DNS matches
  auto name = parse_connect_to("mx1.example:25:127.0.0.1:2527");
  ASSERT_TRUE(name);
  EXPECT_FALSE(name->address);
  EXPECT_FALSE(parse_connect_to(":25:127.0.0.1:1")->address);

  std::vector<ConnectTo> rules{*v4, *v6};
  // Address rules never match a name, name rules never an address.
  EXPECT_FALSE(map_connect(rules, "127.0.0.9", 25));
  EXPECT_EQ(map_connect_address(rules, "::1", 25)->port, 2526);
  EXPECT_EQ(map_connect_address(rules, "0000::0001", 25)->port, 2526);
  EXPECT_FALSE(map_connect_address(rules, "::1", 443));  // the port must match too
  EXPECT_FALSE(map_connect_address(rules, "127.0.0.1", 25));
  EXPECT_FALSE(map_connect_address({*name}, "127.0.0.1", 25));

  // Each address becomes a target; one without a rule is connected to as it is.
  auto targets = connect_targets(rules, "mx1.example", 25, {"127.0.0.9", "192.0.2.1", "::1"});
  ASSERT_EQ(targets.size(), 3u);
  EXPECT_EQ(targets[0].address, "127.0.0.9");
  EXPECT_EQ(to_string(targets[0].connect), "127.0.0.1:2525");
  EXPECT_EQ(to_string(targets[1].connect), "192.0.2.1:25");
  EXPECT_EQ(targets[2].address, "::1");
  EXPECT_EQ(to_string(targets[2].connect), "127.0.0.1:2526");

  // A name rule for the host wins over the addresses, as curl's: one target.
  rules.push_back(*name);
  targets = connect_targets(rules, "MX1.example.", 25, {"127.0.0.9", "::1"});
  ASSERT_EQ(targets.size(), 1u);
  EXPECT_EQ(targets[0].address, "127.0.0.1");
  EXPECT_EQ(targets[0].connect.port, 2527);
}

TEST(ConnectTo, CanonicalIp) {
  EXPECT_EQ(canonical_ip("2001:DB8:0:0::25"), "2001:db8::25");
  EXPECT_EQ(canonical_ip("192.0.2.25"), "192.0.2.25");
  EXPECT_EQ(canonical_ip("not:an:address"), "not:an:address");
}

TEST(PickAddresses, BothFamiliesWithinTheLimit) {
  std::vector<std::string> a{"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5",
                             "2001:db8::1", "2001:db8::2"};
  EXPECT_EQ(pick_addresses(a, 4), (std::vector<std::size_t>{0, 1, 5, 6}));
  EXPECT_EQ(pick_addresses(a, 3), (std::vector<std::size_t>{0, 1, 5}));
  EXPECT_EQ(pick_addresses(a, 100).size(), a.size());
  EXPECT_EQ(pick_addresses({"::1"}, 4), (std::vector<std::size_t>{0}));
  EXPECT_TRUE(pick_addresses({}, 4).empty());
}

}  // namespace
}  // namespace mtasts::net
