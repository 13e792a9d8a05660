#include "core/txt_record.h"

#include <gtest/gtest.h>

namespace mtasts {
namespace {

TEST(StsRecord, Parses) {
  auto r = parse_sts_record("v=STSv1; id=20160831085700Z;");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->id, "20160831085700Z");
  EXPECT_TRUE(parse_sts_record("v=STSv1;id=1"));
  EXPECT_TRUE(parse_sts_record("v=STSv1 ;\tid=abc ; ext=1;"));
}

TEST(StsRecord, Errors) {
  auto code = [](std::string_view rec) {
    auto lint = lint_sts_record(rec);
    return lint.findings.errors.empty() ? std::string("ok") : lint.findings.errors.front().code;
  };
  EXPECT_EQ(code(""), "record-empty");
  EXPECT_EQ(code("v=STSv1"), "id-missing");
  EXPECT_EQ(code("v=stsv1; id=1"), "version-missing");
  EXPECT_EQ(code(" v=STSv1; id=1"), "version-missing");
  EXPECT_EQ(code("id=1; v=STSv1"), "version-missing");
  EXPECT_EQ(code("v=STSv10; id=1"), "version-missing");
  EXPECT_EQ(code("v=STSv1; id=" + std::string(33, 'a')), "id-invalid");
  EXPECT_EQ(code("v=STSv1; id=2024-01-01"), "id-invalid");
  EXPECT_EQ(code("v=STSv1; id="), "id-invalid");
  EXPECT_EQ(code("v=STSv1; id=1; id=2"), "field-duplicate");
  EXPECT_EQ(code("v=STSv1;; id=1"), "field-syntax");
  EXPECT_EQ(code("v=STSv1; id=1; ext"), "field-syntax");
  EXPECT_EQ(code("v=STSv1; id=1; e=a=b"), "field-value-invalid");
  EXPECT_EQ(code("v=TLSRPTv1; rua=mailto:a@example.com"), "wrong-kind");
  EXPECT_EQ(code(std::string(70000, 'a')), "record-too-long");
}

TEST(StsRecord, ColumnsPointIntoTheRecord) {
  auto lint = lint_sts_record("v=STSv1; id=12_3");
  ASSERT_FALSE(lint.findings.errors.empty());
  EXPECT_EQ(lint.findings.errors[0].column, 13u);
}

TEST(TlsRptRecord, Parses) {
  auto r = parse_tlsrpt_record(
      "v=TLSRPTv1; rua=mailto:tlsrpt@example.com , https://r.example.net/tlsrpt?x=1");
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->rua.size(), 2u);
  EXPECT_EQ(r->rua[0], "mailto:tlsrpt@example.com");
  EXPECT_EQ(r->rua[1], "https://r.example.net/tlsrpt?x=1");
  EXPECT_EQ(serialize_tlsrpt_record(*r),
            "v=TLSRPTv1; rua=mailto:tlsrpt@example.com,https://r.example.net/tlsrpt?x=1;");
}

// A URI given on its own (--rua, an import line, the admin API) goes into a record as is: a raw
// comma or semicolon would split it there (found by the domain_import fuzzer: an export that did
// not import back).
TEST(TlsRptRecord, AGivenUriWithACommaOrSemicolonIsRefused) {
  for (std::string_view uri : {"https://r,example/v1", "https://r.example/a;b", "mailto:a!b@example.com"}) {
    auto e = check_rua_uri(uri);
    ASSERT_TRUE(e) << uri;
    EXPECT_EQ(e->code, "rua-invalid");
    EXPECT_NE(e->fix.find("percent-encode"), std::string::npos);
  }
  EXPECT_FALSE(check_rua_uri("https://r.example/v1%2Cx%3By"));
  EXPECT_FALSE(check_rua_uri("mailto:tlsrpt@example.com"));
}

TEST(TlsRptRecord, RuaErrors) {
  auto code = [](std::string_view rec) {
    auto lint = lint_tlsrpt_record(rec);
    return lint.findings.errors.empty() ? std::string("ok") : lint.findings.errors.front().code;
  };
  EXPECT_EQ(code("v=TLSRPTv1;"), "rua-missing");
  EXPECT_EQ(code("v=TLSRPTv1; rua=http://r.example.com/"), "rua-http");
  EXPECT_EQ(code("v=TLSRPTv1; rua=ftp://r.example.com/"), "rua-scheme");
  EXPECT_EQ(code("v=TLSRPTv1; rua=mailto:nobody"), "rua-mailto-invalid");
  EXPECT_EQ(code("v=TLSRPTv1; rua=mailto:a@ex_ample.com"), "rua-mailto-invalid");
  EXPECT_EQ(code("v=TLSRPTv1; rua=mailto:a@example.com,"), "rua-invalid");
  EXPECT_EQ(code("v=TLSRPTv1; rua=mailto:a!b@example.com"), "rua-invalid");
  EXPECT_EQ(code("v=TLSRPTv1; rua=https://"), "rua-invalid");
  EXPECT_EQ(code("v=TLSRPTv1; rua=mailto:a@example.com; rua=mailto:b@example.com"),
            "field-duplicate");
}

TEST(TlsRptRecord, DmarcSizeLimitIsNamed) {
  // RFC 7489 §6.4's "!10m" has no place in TLS-RPT (RFC 8460 §3: '!' must be percent-encoded).
  for (std::string_view rec : {"v=TLSRPTv1; rua=mailto:tlsrpt@example.com!10m",
                               "v=TLSRPTv1; rua=mailto:tlsrpt@example.com!50000"}) {
    auto lint = lint_tlsrpt_record(rec);
    ASSERT_FALSE(lint.findings.errors.empty()) << rec;
    const Error& e = lint.findings.errors.front();
    EXPECT_EQ(e.code, "rua-invalid");
    EXPECT_NE(e.message.find("DMARC"), std::string::npos) << e.message;
    EXPECT_NE(e.fix.find("rua=mailto:tlsrpt@example.com"), std::string::npos) << e.fix;
  }
  // A '!' that is not a size limit keeps the percent-encoding advice.
  auto lint = lint_tlsrpt_record("v=TLSRPTv1; rua=mailto:a!b@example.com");
  ASSERT_FALSE(lint.findings.errors.empty());
  EXPECT_EQ(lint.findings.errors.front().message.find("DMARC"), std::string::npos);
}

TEST(TxtStrings, JoinAndPresentation) {
  EXPECT_EQ(join_txt_strings({"v=STSv1; ", "id=123"}), "v=STSv1; id=123");
  auto r = parse_txt_presentation("\"v=STSv1; \" \"id=1\\0502\\\"\"");
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, "v=STSv1; id=122\"");
  EXPECT_EQ(*parse_txt_presentation("v=STSv1; id=1"), "v=STSv1; id=1");
  EXPECT_FALSE(parse_txt_presentation("\"v=STSv1; "));
  EXPECT_FALSE(parse_txt_presentation("\"a\" b"));
  EXPECT_FALSE(parse_txt_presentation("\"\\999\""));
}

}  // namespace
}  // namespace mtasts
