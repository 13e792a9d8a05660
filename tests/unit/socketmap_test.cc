#include "core/socketmap.h"

#include <gtest/gtest.h>

namespace mtasts {
namespace {

using Status = NetstringParse::Status;

TEST(Netstring, EncodesAndParses) {
  EXPECT_EQ(encode_netstring("NOTFOUND "), "9:NOTFOUND ,");
  EXPECT_EQ(encode_netstring(""), "0:,");
  std::string out = "9:NOTFOUND ,";
  append_netstring(out, std::string(1000, 'x'));
  EXPECT_EQ(out, "9:NOTFOUND ,1000:" + std::string(1000, 'x') + ",");
  auto r = parse_netstring("19:postfix example.com,rest", 1024);
  ASSERT_EQ(r.status, Status::complete);
  EXPECT_EQ(r.payload, "postfix example.com");
  EXPECT_EQ(r.consumed, 23u);
  auto empty = parse_netstring("0:,", 1024);
  ASSERT_EQ(empty.status, Status::complete);
  EXPECT_EQ(empty.payload, "");
}

TEST(Netstring, IncompleteAtEveryCut) {
  std::string full = encode_netstring("postfix example.com");
  for (std::size_t n = 0; n < full.size(); ++n)
    EXPECT_EQ(parse_netstring(std::string_view(full).substr(0, n), 1024).status, Status::incomplete) << n;
  EXPECT_EQ(parse_netstring(full, 1024).status, Status::complete);
}

TEST(Netstring, Errors) {
  auto code = [](std::string_view in, std::size_t max = 1024) {
    auto r = parse_netstring(in, max);
    return r.status == Status::error ? r.error.code : std::string("no error");
  };
  EXPECT_EQ(code(":abc,"), "netstring-length");
  EXPECT_EQ(code("x:abc,"), "netstring-length");
  EXPECT_EQ(code("3x:abc,"), "netstring-length");
  EXPECT_EQ(code("-1:"), "netstring-length");
  EXPECT_EQ(code("03:abc,"), "netstring-length");
  EXPECT_EQ(code("3:abc;"), "netstring-terminator");
  EXPECT_EQ(code("1025:"), "netstring-too-long");
  // Seen from the digits alone, before the payload arrives.
  EXPECT_EQ(code("99999999999999999999999"), "netstring-too-long");
  EXPECT_EQ(code("11:", 10), "netstring-too-long");
  auto r = parse_netstring("3:abc;", 1024);
  EXPECT_EQ(r.error.column, 6u);
}

TEST(SocketmapRequest, SplitsAtTheFirstSpace) {
  auto r = parse_socketmap_request("postfix example.com");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->name, "postfix");
  EXPECT_EQ(r->key, "example.com");
  auto two = parse_socketmap_request("zone a b");
  ASSERT_TRUE(two);
  EXPECT_EQ(two->key, "a b");
  EXPECT_FALSE(parse_socketmap_request("example.com"));
  EXPECT_FALSE(parse_socketmap_request(" example.com"));
  EXPECT_FALSE(parse_socketmap_request(std::string("postfix a\0b", 11)));
  EXPECT_EQ(parse_socketmap_request("x").error().code, "socketmap-request");
}

TEST(SocketmapRequest, PolicyDomainOfKey) {
  EXPECT_EQ(policy_domain_of_key("example.com"), "example.com");
  EXPECT_EQ(policy_domain_of_key("Example.COM."), "example.com");
  EXPECT_EQ(policy_domain_of_key("[mx.example.com]:25"), "mx.example.com");
  EXPECT_EQ(policy_domain_of_key("[mx.example.com]"), "mx.example.com");
  EXPECT_EQ(policy_domain_of_key("example.com:587"), "example.com");
  EXPECT_EQ(policy_domain_of_key("bücher.example"), "xn--bcher-kva.example");
  EXPECT_EQ(policy_domain_of_key(".example.com"), std::nullopt);  // Postfix's parent lookups
  EXPECT_EQ(policy_domain_of_key("[192.0.2.1]"), std::nullopt);
  EXPECT_EQ(policy_domain_of_key("192.0.2.1"), std::nullopt);
  EXPECT_EQ(policy_domain_of_key("[2001:db8::1]:25"), std::nullopt);
  EXPECT_EQ(policy_domain_of_key(""), std::nullopt);
  EXPECT_EQ(policy_domain_of_key("localhost"), std::nullopt);
  EXPECT_EQ(policy_domain_of_key("bad_name!.com"), std::nullopt);
  EXPECT_EQ(policy_domain_of_key(std::string(2000, 'a') + ".com"), std::nullopt);
}

}  // namespace
}  // namespace mtasts
