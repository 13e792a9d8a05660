#include "core/report.h"

#include <gtest/gtest.h>

namespace mtasts {
namespace {

constexpr std::string_view kRfcExample = R"({
  "organization-name": "Company-X",
  "date-range": {"start-datetime": "2016-04-01T00:00:00Z", "end-datetime": "2016-04-01T23:59:59Z"},
  "contact-info": "sts-reporting@company-x.example",
  "report-id": "5065427c-23d3-47ca-b6e0-946ea0e8c4be",
  "policies": [{
    "policy": {"policy-type": "sts",
               "policy-string": ["version: STSv1", "mode: testing", "mx: *.mail.company-y.example",
                                 "max_age: 86400"],
               "policy-domain": "company-y.example",
               "mx-host": ["*.mail.company-y.example"]},
    "summary": {"total-successful-session-count": 5326, "total-failure-session-count": 303},
    "failure-details": [
      {"result-type": "certificate-expired", "sending-mta-ip": "2001:db8:abcd:0012::1",
       "receiving-mx-hostname": "mx1.mail.company-y.example", "failed-session-count": 100},
      {"result-type": "starttls-not-supported", "sending-mta-ip": "2001:db8:abcd:0013::1",
       "receiving-mx-hostname": "mx2.mail.company-y.example", "receiving-ip": "203.0.113.56",
       "failed-session-count": 200,
       "additional-information": "https://reports.company-x.example/report_info?id=5065427c-23d3",
       "failure-reason-code": "No STARTTLS"},
      {"result-type": "validation-failure", "sending-mta-ip": "198.51.100.62",
       "receiving-ip": "203.0.113.58", "receiving-mx-hostname": "mx-backup.mail.company-y.example",
       "failed-session-count": 3, "failure-reason-code": "X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED"}]
  }]
})";

TEST(Report, ParsesTheRfcExample) {
  auto r = parse_report(kRfcExample);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->organization_name, "Company-X");
  EXPECT_EQ(r->start_epoch, 1459468800);
  EXPECT_EQ(r->end_epoch - r->start_epoch, 86399);
  ASSERT_EQ(r->policies.size(), 1u);
  const auto& p = r->policies[0];
  EXPECT_EQ(p.policy_type, PolicyType::sts);
  EXPECT_EQ(p.total_failure_session_count, 303u);
  ASSERT_EQ(p.failure_details.size(), 3u);
  EXPECT_EQ(p.failure_details[1].type, ResultType::starttls_not_supported);
  EXPECT_EQ(p.failure_details[2].failure_reason_code, "X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED");
}

TEST(Report, SerializeRoundTrips) {
  auto r = parse_report(kRfcExample);
  ASSERT_TRUE(r);
  auto again = parse_report(serialize_report(*r));
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(*again, *r);
}

TEST(Report, AllResultTypesRoundTrip) {
  for (int i = 0; i < static_cast<int>(ResultType::unknown); ++i) {
    auto t = static_cast<ResultType>(i);
    EXPECT_EQ(parse_result_type(to_string(t)), t);
  }
  EXPECT_EQ(parse_result_type("certificate-revoked"), ResultType::unknown);
}

TEST(Report, SyntaxErrorsSayTheOffset) {
  auto lint = lint_report("{\"organization-name\": \"x\",, }");
  ASSERT_FALSE(lint.findings.valid());
  EXPECT_EQ(lint.findings.errors[0].code, "json-syntax");
  EXPECT_EQ(lint.findings.errors[0].column, 27u);
}

TEST(Report, BoundsDepthAndSize) {
  std::string deep(10000, '[');
  EXPECT_EQ(lint_report(deep).findings.errors[0].code, "json-syntax");
  std::string big(kMaxReportJsonSize + 1, ' ');
  EXPECT_EQ(lint_report(big).findings.errors[0].code, "report-too-large");
}

TEST(Rfc3339, Valid) {
  EXPECT_EQ(*parse_rfc3339("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(*parse_rfc3339("2016-04-01T02:00:00+02:00"), 1459468800);
  EXPECT_EQ(*parse_rfc3339("2016-03-31T19:00:00-05:00"), 1459468800);
  EXPECT_EQ(*parse_rfc3339("2016-04-01t00:00:00.123456z"), 1459468800);
  EXPECT_EQ(*parse_rfc3339("2024-02-29T00:00:00Z"), 1709164800);
}

TEST(Rfc3339, Invalid) {
  for (std::string_view s : {"", "yesterday", "2020-13-01T00:00:00Z", "2023-02-29T00:00:00Z",
                             "2020-01-01 00:00:00Z", "2020-01-01T24:00:00Z", "2020-01-01T00:00:00",
                             "2020-01-01T00:00:00+0200", "2020-01-01T00:00:00Zjunk",
                             "2020-01-01T00:00:00.Z"})
    EXPECT_FALSE(parse_rfc3339(s)) << s;
}

}  // namespace
}  // namespace mtasts
