#include "core/mx_pattern.h"

#include <gtest/gtest.h>

namespace mtasts {
namespace {

bool match(std::string_view p, std::string_view h) {
  auto r = mx_match(p, h);
  return r && *r;
}

TEST(MxPattern, ExactMatchIsCaseAndDotInsensitive) {
  EXPECT_TRUE(match("mx1.example.com", "mx1.example.com"));
  EXPECT_TRUE(match("MX1.example.com", "mx1.EXAMPLE.com."));
  EXPECT_TRUE(match("mx1.example.com.", "mx1.example.com"));
  EXPECT_FALSE(match("mx1.example.com", "mx2.example.com"));
  EXPECT_FALSE(match("mx1.example.com", "x.mx1.example.com"));
}

TEST(MxPattern, WildcardCoversExactlyOneLabel) {
  // RFC 8461 §4.1
  EXPECT_TRUE(match("*.example.com", "mx.example.com"));
  EXPECT_FALSE(match("*.example.com", "example.com"));
  EXPECT_FALSE(match("*.example.com", "a.b.example.com"));
  EXPECT_FALSE(match("*.example.com", "mxexample.com"));
  EXPECT_FALSE(match("*.mx.microsoft", "a.b.mx.microsoft"));
  EXPECT_TRUE(match("*.mail.protection.outlook.com", "example-com.mail.protection.outlook.com"));
}

TEST(MxPattern, IdnaULabelsEqualALabels) {
  EXPECT_TRUE(match("mx.bücher.example", "mx.xn--bcher-kva.example"));
  EXPECT_TRUE(match("*.xn--bcher-kva.example", "mx.bücher.example"));
}

TEST(MxPattern, InvalidPatterns) {
  for (std::string_view p : {"", "*", "*.", "**.example.com", "*example.com", "mx.*.example.com",
                             "mx.example.*", "*.*.example.com", "mx..example.com", "-mx.example.com",
                             "mx_1.example.com", "mx example.com"}) {
    auto r = mx_match(p, "mx.example.com");
    ASSERT_FALSE(r) << p;
    EXPECT_EQ(r.error().code, "pattern-invalid") << p;
  }
}

TEST(MxPattern, InvalidHosts) {
  for (std::string_view h : {"", "*.example.com", "a..b", "mx_1.example.com"}) {
    auto r = mx_match("*.example.com", h);
    ASSERT_FALSE(r) << h;
    EXPECT_EQ(r.error().code, "host-invalid") << h;
  }
}

TEST(MxPattern, QuirksAreReported) {
  MxPatternQuirks q;
  auto p = parse_mx_pattern("*.MX.Example.com.", &q);
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->wildcard);
  EXPECT_EQ(p->domain, "mx.example.com");
  EXPECT_EQ(p->text, "*.MX.Example.com.");
  EXPECT_TRUE(q.uppercase);
  EXPECT_TRUE(q.trailing_dot);
  EXPECT_FALSE(q.unicode);
}

}  // namespace
}  // namespace mtasts
