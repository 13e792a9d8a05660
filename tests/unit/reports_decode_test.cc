// gzip with a cap, the report found in a mail (GMime), and the sniffing pipeline that joins
// them (src/reports/). The golden .eml files are walked in vectors_test.cc-style below.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "reports/decode.h"
#include "reports/gzip.h"
#include "reports/mail.h"
#include "fmt/format.h"

namespace mtasts::reports {
namespace {

const std::string kReport = R"({"organization-name":"Example Org","date-range":{"start-datetime":"2026-11-20T00:00:00Z","end-datetime":"2026-11-20T23:59:59Z"},"contact-info":"tlsrpt@example.org","report-id":"r-1","policies":[{"policy":{"policy-type":"sts","policy-string":["version: STSv1","mode: testing","mx: mx1.example.com","max_age: 86400"],"policy-domain":"example.com","mx-host":["mx1.example.com"]},"summary":{"total-successful-session-count":10,"total-failure-session-count":2},"failure-details":[{"result-type":"certificate-expired","sending-mta-ip":"192.0.2.1","receiving-mx-hostname":"mx1.example.com","failed-session-count":2}]}]})";

std::string b64(std::string_view in) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned n = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8 | (unsigned char)in[i + 2];
    out += {k[n >> 18], k[(n >> 12) & 63], k[(n >> 6) & 63], k[n & 63]};
  }
  if (i < in.size()) {
    unsigned n = (unsigned char)in[i] << 16;
    if (i + 1 < in.size()) n |= (unsigned char)in[i + 1] << 8;
    out += {k[n >> 18], k[(n >> 12) & 63], i + 1 < in.size() ? k[(n >> 6) & 63] : '=', '='};
  }
  std::string wrapped;
  for (std::size_t j = 0; j < out.size(); j += 76) wrapped += out.substr(j, 76) + "\r\n";
  return wrapped;
}

std::string mail(std::string_view top_type, std::string_view part_headers, std::string_view body) {
  return fmt::format(
      "From: noreply@example.org\r\nTo: tlsrpt@example.com\r\nSubject: Report Domain: example.com\r\n"
      "TLS-Report-Domain: example.com\r\nTLS-Report-Submitter: example.org\r\nMIME-Version: 1.0\r\n"
      "Content-Type: {}; boundary=\"BOUND\"\r\n\r\n--BOUND\r\nContent-Type: text/plain\r\n\r\n"
      "This is an aggregate TLS report from example.org\r\n--BOUND\r\n{}\r\n\r\n{}\r\n--BOUND--\r\n",
      top_type, part_headers, body);
}

std::vector<std::string> codes(const std::vector<Error>& v) {
  std::vector<std::string> out;
  for (const auto& e : v) out.push_back(e.code);
  return out;
}

TEST(Gzip, RoundTrip) {
  std::string z = gzip(kReport);
  EXPECT_TRUE(is_gzip(z));
  auto back = gunzip(z, 1 << 20);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, kReport);
}

TEST(Gzip, ConcatenatedMembers) {
  auto back = gunzip(gzip("abc") + gzip("def"), 100);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, "abcdef");
}

TEST(Gzip, BombIsCappedAndNamed) {
  std::string zeros(64 * 1024 * 1024, '\0');
  std::string bomb = gzip(zeros);
  ASSERT_LT(bomb.size(), 1024u * 1024);
  auto r = gunzip(bomb, 1024 * 1024);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "gzip-too-large");
  EXPECT_NE(r.error().message.find("bomb"), std::string::npos) << r.error().message;
}

TEST(Gzip, ExactlyAtTheCapIsAccepted) {
  std::string data(5000, 'x');
  EXPECT_TRUE(gunzip(gzip(data), 5000));
  EXPECT_FALSE(gunzip(gzip(data), 4999));
}

TEST(Gzip, CorruptTruncatedAndTrailing) {
  std::string z = gzip(kReport);
  EXPECT_EQ(gunzip("not gzip", 100).error().code, "gzip-invalid");
  auto truncated = gunzip(z.substr(0, z.size() / 2), 1 << 20);
  ASSERT_FALSE(truncated);
  EXPECT_EQ(truncated.error().code, "gzip-invalid");
  EXPECT_NE(truncated.error().message.find("truncated"), std::string::npos) << truncated.error().message;
  std::string flipped = z;
  flipped[z.size() - 6] ^= 0x55;  // the CRC32
  EXPECT_EQ(gunzip(flipped, 1 << 20).error().code, "gzip-invalid");
  auto trailing = gunzip(z + "garbage", 1 << 20);
  ASSERT_FALSE(trailing);
  EXPECT_NE(trailing.error().message.find("trailing"), std::string::npos);
}

TEST(Mail, StandardGzipAttachmentBase64) {
  std::string m = mail("multipart/report; report-type=tlsrpt",
                       "Content-Type: application/tlsrpt+gzip; name=\"example.org!example.com!1!2.json.gz\"\r\n"
                       "Content-Disposition: attachment; filename=\"example.org!example.com!1!2.json.gz\"\r\n"
                       "Content-Transfer-Encoding: base64",
                       b64(gzip(kReport)));
  auto r = extract_mail_report(m);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->media_type, "application/tlsrpt+gzip");
  EXPECT_EQ(r->filename, "example.org!example.com!1!2.json.gz");
  EXPECT_EQ(r->report_domain, "example.com");
  EXPECT_EQ(r->submitter, "example.org");
  EXPECT_TRUE(r->warnings.empty()) << codes(r->warnings).front();
  EXPECT_EQ(*gunzip(r->payload, 1 << 20), kReport);
}

TEST(Mail, JsonAttachmentNotBase64) {
  std::string m = mail("multipart/report; report-type=\"tlsrpt\"",
                       "Content-Type: application/tlsrpt+json\r\nContent-Transfer-Encoding: 7bit", kReport);
  auto d = decode_report(m);
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->via, "mail+json");
  EXPECT_EQ(d->report.report_id, "r-1");
  EXPECT_EQ(*gunzip(d->gzipped, 1 << 20), kReport);
}

TEST(Mail, RealWorldShapesWarn) {
  struct Case {
    std::string top, headers;
    bool gz;
    std::vector<std::string> warnings;
  } cases[] = {
      {"multipart/report; report-type=tlsrpt",
       "Content-Type: application/gzip; name=\"r.json.gz\"\r\nContent-Transfer-Encoding: base64", true,
       {"media-type-nonstandard"}},
      {"multipart/report; report-type=tlsrpt",
       "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"r.json.gz\"\r\n"
       "Content-Transfer-Encoding: base64",
       true, {"media-type-nonstandard"}},
      {"multipart/mixed", "Content-Type: application/json; name=\"r.json\"\r\nContent-Transfer-Encoding: base64",
       false, {"mime-not-multipart-report", "media-type-nonstandard"}},
      {"multipart/report; report-type=tlsrpt",
       "Content-Type: application/tlsrpt+json\r\nContent-Transfer-Encoding: base64", true,
       {"gzip-undeclared"}},
  };
  for (const auto& c : cases) {
    auto d = decode_report(mail(c.top, c.headers, b64(c.gz ? gzip(kReport) : kReport)));
    ASSERT_TRUE(d) << c.headers << ": " << d.error().message;
    EXPECT_EQ(codes(d->warnings), c.warnings) << c.headers;
    EXPECT_EQ(d->report.organization_name, "Example Org");
  }
}

TEST(Mail, NoReport) {
  auto r = decode_report(mail("multipart/mixed", "Content-Type: image/png\r\nContent-Transfer-Encoding: base64",
                              b64("\x89PNG")));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "mime-no-report");
  EXPECT_NE(r.error().message.find("image/png"), std::string::npos) << r.error().message;
  EXPECT_EQ(decode_report("Subject: hi\r\n\r\njust text\r\n").error().code, "mime-no-report");
  EXPECT_EQ(extract_mail_report("").error().code, "mime-invalid");
  EXPECT_EQ(extract_mail_report("\r\n \r\n").error().code, "mime-invalid");
}

TEST(Mail, HostileNestingIsRefusedBeforeParsing) {
  std::string deep = "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b0\"\r\n\r\n";
  for (int i = 1; i < 20000; ++i)
    deep += fmt::format("--b{}\r\nContent-Type: multipart/mixed; boundary=\"b{}\"\r\n\r\n", i - 1, i);
  EXPECT_EQ(decode_report(deep).error().code, "mime-invalid");
  std::string rfc822;
  for (int i = 0; i < 20000; ++i) rfc822 += "Content-Type: message/rfc822\r\n\r\n";
  EXPECT_EQ(decode_report(rfc822).error().code, "mime-invalid");
}

TEST(Mail, TooLarge) {
  std::string big(kMaxMailSize + 1, 'a');
  EXPECT_EQ(decode_report(big).error().code, "mail-too-large");
}

TEST(Decode, SniffsAndNamesTheProblem) {
  EXPECT_EQ(decode_report("").error().code, "input-empty");
  EXPECT_EQ(decode_report(" \n").error().code, "input-empty");
  EXPECT_EQ(decode_report("{\"organization-name\": 1}").error().code, "field-type");
  auto many = decode_report("{}");
  ASSERT_FALSE(many);
  EXPECT_EQ(many.error().code, "field-missing");
  EXPECT_NE(many.error().message.find("more problems"), std::string::npos) << many.error().message;
  EXPECT_EQ(decode_report(gzip("{not json")).error().code, "json-syntax");
  auto plain = decode_report(kReport);
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->via, "json");
  auto z = gzip(kReport);
  auto gz = decode_report(z);
  ASSERT_TRUE(gz);
  EXPECT_EQ(gz->via, "gzip");
  EXPECT_EQ(gz->gzipped, z) << "the gzip as received is kept";
  EXPECT_EQ(decode_report(kReport, InputKind::gzip).value().warnings.front().code, "gzip-declared-json");
  EXPECT_EQ(decode_report("garbage", InputKind::gzip).error().code, "gzip-invalid");
}

TEST(Decode, DatesOutOfRange) {
  std::string old = kReport;
  old.replace(old.find("2026-11-20T00"), 4, "2015");
  EXPECT_EQ(decode_report(old).error().code, "date-out-of-range");
  const std::int64_t nov_2026 = 1795000000;  // 2026-11-18
  EXPECT_TRUE(decode_report(kReport, InputKind::automatic, nov_2026 + 86400));
  auto future = decode_report(kReport, InputKind::automatic, nov_2026 - 86400);
  ASSERT_FALSE(future);
  EXPECT_EQ(future.error().code, "date-out-of-range");
  std::string bad_day = kReport;
  bad_day.replace(bad_day.find("2026-11-20T00"), 10, "2026-02-30");
  EXPECT_EQ(decode_report(bad_day).error().code, "datetime-invalid");
}

TEST(Decode, BombInAMail) {
  std::string bomb = gzip(std::string(kMaxReportJsonSize + 10, ' '));
  auto r = decode_report(mail("multipart/report; report-type=tlsrpt",
                              "Content-Type: application/tlsrpt+gzip\r\nContent-Transfer-Encoding: base64",
                              b64(bomb)));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "gzip-too-large");
}

// Every tests/vectors/report_mail case: the input beside its NNN-name.expected.json.
TEST(ReportMailVectors, All) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(MTASTS_VECTORS_DIR) / "report_mail";
  std::size_t n = 0;
  std::vector<fs::path> inputs;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    if (name.ends_with(".expected.json") || name.ends_with(".py") || name.ends_with(".md")) continue;
    inputs.push_back(e.path());
  }
  std::sort(inputs.begin(), inputs.end());
  for (const auto& path : inputs) {
    std::string name = path.filename().string();
    SCOPED_TRACE(name);
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    std::ifstream ein(dir / (name.substr(0, name.find('.')) + ".expected.json"));
    ASSERT_TRUE(ein) << "no expected.json for " << name;
    std::stringstream es;
    es << ein.rdbuf();
    auto exp = boost::json::parse(es.str()).as_object();
    auto d = decode_report(ss.str(), InputKind::automatic, 1795305600 /* 2026-11-22 */);
    ++n;
    if (!exp.at("valid").as_bool()) {
      ASSERT_FALSE(d) << "decoded, but should fail with " << exp.at("error").as_string();
      EXPECT_EQ(d.error().code, std::string(exp.at("error").as_string())) << d.error().message;
      EXPECT_FALSE(d.error().message.empty());
      continue;
    }
    ASSERT_TRUE(d) << d.error().code << ": " << d.error().message;
    std::vector<std::string> want;
    for (const auto& w : exp.at("warnings").as_array()) want.emplace_back(w.as_string());
    EXPECT_EQ(codes(d->warnings), want);
    EXPECT_EQ(d->report.organization_name, std::string(exp.at("organization").as_string()));
    EXPECT_EQ(d->report.report_id, std::string(exp.at("report_id").as_string()));
    EXPECT_EQ(d->via, std::string(exp.at("via").as_string()));
    std::uint64_t ok = 0, failed = 0;
    for (const auto& p : d->report.policies) {
      ok += p.total_successful_session_count;
      failed += p.total_failure_session_count;
    }
    EXPECT_EQ(ok, exp.at("successful").to_number<std::uint64_t>());
    EXPECT_EQ(failed, exp.at("failed").to_number<std::uint64_t>());
  }
  EXPECT_GE(n, 24u);
}

}  // namespace
}  // namespace mtasts::reports
