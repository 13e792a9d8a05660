#include "core/resolver_answer.h"

#include <gtest/gtest.h>

#include "core/socketmap.h"

namespace mtasts {
namespace {

Policy policy(Mode mode, std::vector<std::string> mx) {
  Policy p;
  p.mode = mode;
  p.max_age = 604800;
  for (const auto& m : mx) p.mx.push_back(*parse_mx_pattern(m));
  return p;
}

constexpr std::string_view kText = "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\nmx: *.example.net\r\nmax_age: 604800\r\n";

TEST(ResolverAnswer, EnforceLikePostfixMtaStsResolver) {
  auto p = policy(Mode::enforce, {"mx1.example.com", "*.example.net", "MX1.example.com."});
  EXPECT_EQ(policy_answer("example.com", p, kText, {}),
            "OK secure match=mx1.example.com:.example.net servername=hostname");
  ZoneSettings no_sni;
  no_sni.require_sni = false;
  EXPECT_EQ(policy_answer("example.com", p, kText, no_sni), "OK secure match=mx1.example.com:.example.net");
}

TEST(ResolverAnswer, TestingAndNone) {
  auto testing = policy(Mode::testing, {"mx1.example.com"});
  EXPECT_EQ(policy_answer("example.com", testing, "", {}), "NOTFOUND ");
  ZoneSettings strict;
  strict.strict_testing = true;
  EXPECT_EQ(policy_answer("example.com", testing, "", strict),
            "OK secure match=mx1.example.com servername=hostname");
  EXPECT_EQ(policy_answer("example.com", policy(Mode::none, {}), "", strict), "NOTFOUND ");
  EXPECT_EQ(not_found_answer(), "NOTFOUND ");
}

TEST(ResolverAnswer, TlsrptAttributes) {
  ZoneSettings z;
  z.tlsrpt = true;
  auto p = policy(Mode::enforce, {"mx1.example.com", "*.example.net"});
  EXPECT_EQ(policy_answer("example.com", p, kText, z),
            "OK secure match=mx1.example.com:.example.net servername=hostname"
            " policy_type=sts policy_domain=example.com mx_host_pattern=mx1.example.com"
            " mx_host_pattern=*.example.net { policy_string = version: STSv1 }"
            " { policy_string = mode: enforce } { policy_string = mx: mx1.example.com }"
            " { policy_string = mx: *.example.net } { policy_string = max_age: 604800 }");
  // Braces in the served text cannot break out of the attribute.
  auto odd = policy_answer("example.com", p, "version: STSv1\nx: {a}\n", z);
  EXPECT_NE(odd.find("{ policy_string = x: ?a? }"), std::string::npos);
}

TEST(ResolverAnswer, BoundedReply) {
  ZoneSettings z;
  z.tlsrpt = true;
  Policy p;
  p.mode = Mode::enforce;
  for (int i = 0; i < 1000; ++i) p.mx.push_back(*parse_mx_pattern(std::string(50, 'a') + std::to_string(i) + ".example.com"));
  std::string text(64 * 1024, 'x');
  auto a = policy_answer("example.com", p, text, z);
  EXPECT_LE(a.size(), kMaxSocketmapReply);
  EXPECT_TRUE(a.starts_with("OK secure match=")) << a.substr(0, 40);
  EXPECT_EQ(a.find("policy_type"), std::string::npos);
  for (int i = 1000; i < 2000; ++i) p.mx.push_back(*parse_mx_pattern(std::string(50, 'a') + std::to_string(i) + ".example.com"));
  auto temp = policy_answer("example.com", p, text, z);
  EXPECT_TRUE(temp.starts_with("TEMP ")) << temp.substr(0, 40);
}

TEST(ResolverAnswer, TempIsOneLine) {
  EXPECT_EQ(temp_answer("dns\nfailed"), "TEMP dns failed");
  EXPECT_LE(temp_answer(std::string(5000, 'x')).size(), 405u);
}

}  // namespace
}  // namespace mtasts
