#include "core/policy.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace mtasts {
namespace {

bool has(const std::vector<Error>& list, std::string_view code, std::size_t line = SIZE_MAX) {
  return std::any_of(list.begin(), list.end(), [&](const Error& e) {
    return e.code == code && (line == SIZE_MAX || e.line == line);
  });
}

constexpr std::string_view kGood =
    "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\nmx: *.mx.example.net\r\n"
    "max_age: 604800\r\n";

TEST(Policy, ParsesTheRfcExample) {
  auto p = parse_policy(kGood);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->mode, Mode::enforce);
  EXPECT_EQ(p->max_age, 604800u);
  ASSERT_EQ(p->mx.size(), 2u);
  EXPECT_EQ(p->mx[1].text, "*.mx.example.net");
  EXPECT_TRUE(p->matches("a.mx.example.net"));
  EXPECT_FALSE(p->matches("mx.example.net"));
}

TEST(Policy, LfAndNoFinalNewlineAndAnyOrder) {
  auto p = parse_policy("max_age: 86400\nmx: mx.example.com\nmode: testing\nversion: STSv1");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->mode, Mode::testing);
  auto lint = lint_policy("max_age: 86400\nmx: mx.example.com\nmode: testing\nversion: STSv1");
  EXPECT_TRUE(lint.findings.warnings.empty());
}

TEST(Policy, SerializeRoundTrips) {
  auto p = parse_policy(kGood);
  ASSERT_TRUE(p);
  std::string text = serialize_policy(*p);
  EXPECT_EQ(text, kGood);
  auto again = parse_policy(text);
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *p);
}

TEST(Policy, RequiredFields) {
  auto lint = lint_policy("mx: mx.example.com\n");
  EXPECT_TRUE(has(lint.findings.errors, "version-missing", 0));
  EXPECT_TRUE(has(lint.findings.errors, "mode-missing", 0));
  EXPECT_TRUE(has(lint.findings.errors, "max-age-missing", 0));
  EXPECT_FALSE(lint.policy);
  lint = lint_policy("version: STSv1\nmode: enforce\nmax_age: 86400\n");
  EXPECT_TRUE(has(lint.findings.errors, "mx-missing"));
}

TEST(Policy, ModeNoneNeedsNoMx) {
  auto lint = lint_policy("version: STSv1\nmode: none\nmax_age: 86400\n");
  EXPECT_TRUE(lint.findings.valid());
  lint = lint_policy("version: STSv1\nmode: none\nmx: a.example.com\nmax_age: 86400\n");
  EXPECT_TRUE(lint.findings.valid());
  EXPECT_TRUE(has(lint.findings.warnings, "mode-none-with-mx"));
}

TEST(Policy, ValuesAreCaseSensitive) {
  auto lint = lint_policy("version: STSv1\nmode: Enforce\nmx: a.example.com\nmax_age: 86400\n");
  EXPECT_TRUE(has(lint.findings.errors, "mode-invalid", 2));
  lint = lint_policy("version: stsv1\nmode: enforce\nmx: a.example.com\nmax_age: 86400\n");
  EXPECT_TRUE(has(lint.findings.errors, "version-invalid", 1));
  lint = lint_policy("version: STSv1\nmode: report\nmx: a.example.com\nmax_age: 86400\n");
  EXPECT_TRUE(has(lint.findings.errors, "mode-invalid", 2));
}

TEST(Policy, FieldNameInWrongCaseIsUnknownToSenders) {
  auto lint = lint_policy("version: STSv1\nMode: enforce\nmx: a.example.com\nmax_age: 86400\n");
  EXPECT_TRUE(has(lint.findings.warnings, "field-name-case", 2));
  EXPECT_TRUE(has(lint.findings.errors, "mode-missing"));
}

TEST(Policy, FirstOccurrenceWins) {
  auto lint = lint_policy(
      "version: STSv1\nmode: testing\nmode: enforce\nmx: a.example.com\nmax_age: 86400\n"
      "max_age: 5\n");
  ASSERT_TRUE(lint.policy);
  EXPECT_EQ(lint.policy->mode, Mode::testing);
  EXPECT_EQ(lint.policy->max_age, 86400u);
  EXPECT_TRUE(has(lint.findings.warnings, "field-duplicate", 3));
  EXPECT_TRUE(has(lint.findings.warnings, "field-duplicate", 6));
}

TEST(Policy, MaxAgeGrammarAndRange) {
  auto with = [](std::string v) {
    return lint_policy("version: STSv1\nmode: testing\nmx: a.example.com\nmax_age: " + v + "\n");
  };
  EXPECT_TRUE(with("31557600").findings.valid());
  EXPECT_TRUE(has(with("31557601").findings.errors, "max-age-range", 4));
  EXPECT_TRUE(has(with("99999999999").findings.errors, "max-age-invalid"));
  EXPECT_TRUE(has(with("9999999999").findings.errors, "max-age-range"));
  for (std::string bad : {"-1", "+5", "1e5", "12 34", "0x10", "86400s", "1.5"})
    EXPECT_TRUE(has(with(bad).findings.errors, "max-age-invalid")) << bad;
  auto zero = with("0");
  EXPECT_TRUE(zero.findings.valid());
  EXPECT_TRUE(has(zero.findings.warnings, "max-age-short"));
  EXPECT_TRUE(has(with("0086400").findings.warnings, "max-age-leading-zero"));
}

TEST(Policy, LenientHabitsAreWarnings) {
  auto lint = lint_policy(
      "\xEF\xBB\xBFversion: STSv1  \nmode:\tenforce\nmx: MX.example.com.\n\nmax_age: 86400\n");
  EXPECT_TRUE(lint.findings.valid());
  EXPECT_TRUE(has(lint.findings.warnings, "bom", 1));
  EXPECT_TRUE(has(lint.findings.warnings, "trailing-whitespace", 1));
  EXPECT_TRUE(has(lint.findings.warnings, "mx-uppercase", 3));
  EXPECT_TRUE(has(lint.findings.warnings, "mx-trailing-dot", 3));
  EXPECT_TRUE(has(lint.findings.warnings, "blank-line", 4));
  ASSERT_TRUE(lint.policy);
  EXPECT_TRUE(lint.policy->matches("mx.example.com"));
}

TEST(Policy, MxSyntax) {
  auto with = [](std::string mx) {
    return lint_policy("version: STSv1\nmode: enforce\nmx: " + mx + "\nmax_age: 86400\n");
  };
  for (std::string bad : {"*", "*.", "mx.*.example.com", "*mx.example.com", "mx_1.example.com",
                          "-a.example.com", "a..example.com", "mx.bücher.example"})
    EXPECT_TRUE(has(with(bad).findings.errors, "mx-invalid", 3)) << bad;
  EXPECT_TRUE(has(with("192.0.2.1").findings.warnings, "mx-ip-address"));
}

TEST(Policy, SeveralHostsOnOneMxLineSayOneLineEach) {
  // RFC 8461 §3.2: one pattern per mx field; a list is the usual slip: still mx-invalid, but the
  // message says what happened and the fix gives the lines.
  for (std::string list : {"mx1.example.com, mx2.example.com", "mx1.example.com mx2.example.com",
                           "mx1.example.com,*.mx.example.com"}) {
    PolicyLint lint = lint_policy("version: STSv1\nmode: enforce\nmx: " + list + "\nmax_age: 86400\n");
    ASSERT_TRUE(has(lint.findings.errors, "mx-invalid", 3)) << list;
    EXPECT_NE(lint.findings.errors.front().message.find("lists 2 hosts"), std::string::npos) << list;
    EXPECT_NE(lint.findings.errors.front().fix.find("\"mx: mx1.example.com\""), std::string::npos);
  }
  // Not a list of valid patterns: the plain syntax error.
  PolicyLint lint = lint_policy("version: STSv1\nmode: enforce\nmx: mx1.example.com, bad_host\nmax_age: 86400\n");
  ASSERT_TRUE(has(lint.findings.errors, "mx-invalid", 3));
  EXPECT_EQ(lint.findings.errors.front().message.find("lists"), std::string::npos);
}

TEST(Policy, Utf16FileSaysSo) {
  // A policy saved as UTF-16 (Notepad's "Unicode"): one error naming the encoding, not a
  // control-character error per line.
  std::string ascii = "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\nmax_age: 86400\r\n";
  std::string le("\xFF\xFE", 2), be("\xFE\xFF", 2), le_nobom;
  for (char c : ascii) {
    le += c, le += '\0';
    be += '\0', be += c;
    le_nobom += c, le_nobom += '\0';
  }
  for (const std::string& body : {le, be, le_nobom}) {
    PolicyLint lint = lint_policy(body);
    ASSERT_EQ(lint.findings.errors.size(), 1u);
    EXPECT_EQ(lint.findings.errors.front().code, "encoding-utf16");
    EXPECT_NE(lint.findings.errors.front().message.find("UTF-16"), std::string::npos);
    EXPECT_FALSE(lint.policy);
  }
  EXPECT_TRUE(lint_policy(ascii).policy);
}

TEST(Policy, StructuralErrorsSayTheLine) {
  auto lint = lint_policy("version: STSv1\nmode enforce\nmx: a.example.com\nmax_age: 86400\n");
  EXPECT_TRUE(has(lint.findings.errors, "line-syntax", 2));
  lint = lint_policy("version: STSv1\nmode : enforce\nmx: a.example.com\nmax_age: 86400\n");
  EXPECT_TRUE(has(lint.findings.errors, "whitespace-before-colon", 2));
  lint = lint_policy("version: STSv1\nmode: enforce\nmx:\nmax_age: 86400\n");
  EXPECT_TRUE(has(lint.findings.errors, "line-syntax", 3));
  lint = lint_policy("version: STSv1\nmo de: enforce\n");
  EXPECT_TRUE(has(lint.findings.errors, "field-name-invalid", 2));
}

TEST(Policy, BadBytes) {
  EXPECT_TRUE(has(lint_policy("").findings.errors, "policy-empty"));
  EXPECT_TRUE(has(lint_policy(" \n\r\n").findings.errors, "policy-empty"));
  EXPECT_TRUE(has(lint_policy(std::string("version: ST\0Sv1\n", 16)).findings.errors,
                  "control-character", 1));
  EXPECT_TRUE(has(lint_policy("version: STSv1\nx: \xff\xfe\n").findings.errors, "invalid-utf8", 2));
  EXPECT_TRUE(has(lint_policy("version: STSv1\rmode: none\n").findings.errors, "bare-cr", 1));
  EXPECT_TRUE(has(lint_policy(std::string(10 << 20, 'a')).findings.errors, "policy-too-large"));
}

TEST(Policy, ManyMxLinesAreBounded) {
  std::string body = "version: STSv1\nmode: enforce\nmax_age: 86400\n";
  for (int i = 0; i < 10000; ++i) body += "mx: a\n";  // 60 KB: under the size limit
  ASSERT_LT(body.size(), kMaxPolicySize);
  auto lint = lint_policy(body);
  EXPECT_TRUE(has(lint.findings.errors, "too-many-mx", 1004));
  EXPECT_LE(lint.findings.warnings.size(), kMaxFindings + 1);
}

TEST(Policy, GarbageIsBoundedAndNeverValid) {
  std::string garbage;
  for (int i = 0; i < 60000; ++i) garbage += static_cast<char>((i * 7919) % 256);
  auto lint = lint_policy(garbage);
  EXPECT_FALSE(lint.findings.valid());
  EXPECT_LE(lint.findings.errors.size(), kMaxFindings + 1);
}

TEST(Policy, TyposGetAHint) {
  auto lint = lint_policy("version: STSv1\nmode: enforce\nnmx: a.example.com\nmax_age: 86400\n");
  ASSERT_TRUE(has(lint.findings.warnings, "unknown-field", 3));
  EXPECT_NE(lint.findings.warnings[0].message.find("did you mean \"mx\""), std::string::npos);
  EXPECT_TRUE(has(lint.findings.errors, "mx-missing"));
}

}  // namespace
}  // namespace mtasts
