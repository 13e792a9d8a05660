#include "core/tlsa.h"

#include <gtest/gtest.h>

namespace mtasts {
namespace {

std::string rdata(int usage, int selector, int mtype, std::size_t data_len) {
  std::string r;
  r += static_cast<char>(usage);
  r += static_cast<char>(selector);
  r += static_cast<char>(mtype);
  r.append(data_len, '\xab');
  return r;
}

TEST(Tlsa, ParsesTheFields) {
  auto t = parse_tlsa_rdata(rdata(3, 1, 1, 32));
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_EQ(t->usage, 3);
  EXPECT_EQ(t->selector, 1);
  EXPECT_EQ(t->matching_type, 1);
  EXPECT_EQ(t->data.size(), 32u);
  EXPECT_FALSE(tlsa_unusable(*t));
  EXPECT_EQ(to_string(*t).substr(0, 10), "3 1 1 abab");
}

TEST(Tlsa, TruncatedAndEmptyAreErrorsWithAPlace) {
  for (std::size_t n = 0; n < 3; ++n) {
    auto t = parse_tlsa_rdata(std::string(n, '\3'));
    ASSERT_FALSE(t);
    EXPECT_EQ(t.error().code, "tlsa-truncated");
    EXPECT_EQ(t.error().column, n + 1);
    EXPECT_FALSE(t.error().message.empty());
  }
  auto e = parse_tlsa_rdata(rdata(3, 1, 1, 0));
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code, "tlsa-data-empty");
}

TEST(Tlsa, UsabilityForSmtp) {
  auto code = [](int u, int s, int m, std::size_t n) -> std::string {
    auto t = parse_tlsa_rdata(rdata(u, s, m, n));
    auto bad = tlsa_unusable(*t);
    return bad ? bad->code : "usable";
  };
  EXPECT_EQ(code(3, 1, 1, 32), "usable");
  EXPECT_EQ(code(2, 0, 2, 64), "usable");
  EXPECT_EQ(code(3, 0, 0, 700), "usable");  // the full certificate
  // RFC 7672 §3.1: PKIX usages are not for SMTP.
  EXPECT_EQ(code(0, 0, 1, 32), "tlsa-usage-unusable");
  EXPECT_EQ(code(1, 1, 1, 32), "tlsa-usage-unusable");
  EXPECT_EQ(code(4, 1, 1, 32), "tlsa-usage-unknown");
  EXPECT_EQ(code(3, 2, 1, 32), "tlsa-selector-unknown");
  EXPECT_EQ(code(3, 1, 3, 32), "tlsa-matching-unknown");
  EXPECT_EQ(code(3, 1, 1, 31), "tlsa-digest-length");
  EXPECT_EQ(code(3, 1, 1, 64), "tlsa-digest-length");
  EXPECT_EQ(code(3, 1, 2, 32), "tlsa-digest-length");
}

}  // namespace
}  // namespace mtasts
