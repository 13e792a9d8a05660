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

}  // namespace
}  // namespace mtasts::net
