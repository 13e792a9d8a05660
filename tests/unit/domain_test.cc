#include "core/domain.h"

#include <gtest/gtest.h>

namespace mtasts {
namespace {

TEST(Domain, AcceptsLdhNames) {
  EXPECT_FALSE(check_domain_syntax("mx1.example.com"));
  EXPECT_FALSE(check_domain_syntax("a-b.c0.example"));
  EXPECT_FALSE(check_domain_syntax("localhost"));
  EXPECT_FALSE(check_domain_syntax("1.2.3.4"));  // syntactically a Domain (RFC 5321)
}

TEST(Domain, RejectsBadNames) {
  EXPECT_TRUE(check_domain_syntax(""));
  EXPECT_TRUE(check_domain_syntax(".example.com"));
  EXPECT_TRUE(check_domain_syntax("a..example.com"));
  EXPECT_TRUE(check_domain_syntax("example.com."));  // callers strip the trailing dot first
  EXPECT_TRUE(check_domain_syntax("-mx.example.com"));
  EXPECT_TRUE(check_domain_syntax("mx-.example.com"));
  EXPECT_TRUE(check_domain_syntax("mx_1.example.com"));
  EXPECT_TRUE(check_domain_syntax("mx 1.example.com"));
  EXPECT_TRUE(check_domain_syntax(std::string(64, 'a') + ".com"));
  EXPECT_FALSE(check_domain_syntax(std::string(63, 'a') + ".com"));
}

TEST(Domain, LengthLimitIs253) {
  std::string name;
  while (name.size() < 253) name += "a.";
  name.resize(253);
  if (name.back() == '.') name.back() = 'b';
  EXPECT_FALSE(check_domain_syntax(name));
  EXPECT_TRUE(check_domain_syntax(name + "c"));
}

TEST(Domain, ErrorSaysWhere) {
  auto e = check_domain_syntax("mx.ex_ample.com");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, "domain-invalid");
  EXPECT_EQ(e->column, 6u);
}

TEST(Domain, NormalizeLowersAndStripsDot) {
  auto n = normalize_domain("MX1.Example.COM.");
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, "mx1.example.com");
  EXPECT_FALSE(normalize_domain("example.com.."));
  EXPECT_FALSE(normalize_domain(""));
  EXPECT_FALSE(normalize_domain("."));
}

TEST(Domain, NormalizeConvertsULabels) {
  auto n = normalize_domain("mx.bücher.example");
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(*n, "mx.xn--bcher-kva.example");
  auto upper = normalize_domain("MX.Bücher.Example");
  ASSERT_TRUE(upper) << upper.error().message;
  EXPECT_EQ(*upper, "mx.xn--bcher-kva.example");
}

TEST(Domain, NormalizeRejectsBadUnicode) {
  EXPECT_FALSE(normalize_domain("mx.\xff\xfe.example"));
  EXPECT_FALSE(normalize_domain(std::string("mx.b\xc3\xbc") + '\0' + "cher.example"));
  EXPECT_FALSE(normalize_domain(std::string(5000, 'a')));
}

}  // namespace
}  // namespace mtasts
