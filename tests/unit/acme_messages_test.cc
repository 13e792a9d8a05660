// ACME resources and problem documents from untrusted JSON (RFC 8555 §7.1, §6.7).
#include <gtest/gtest.h>

#include "core/acme_messages.h"

namespace mtasts::acme {
namespace {

TEST(AcmeDirectory, ReadsTheUrls) {
  auto d = parse_directory(R"({"newNonce":"https://ca/nonce","newAccount":"https://ca/acct",
    "newOrder":"https://ca/order","revokeCert":"https://ca/revoke","meta":{"termsOfService":"https://ca/tos"},
    "unknown":[1,2]})");
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->new_nonce, "https://ca/nonce");
  EXPECT_EQ(d->new_account, "https://ca/acct");
  EXPECT_EQ(d->new_order, "https://ca/order");
  EXPECT_EQ(d->terms_of_service, "https://ca/tos");
}

TEST(AcmeDirectory, RejectsWhatIsNotADirectory) {
  for (const char* bad : {"", "[]", "<html>", R"({"newNonce":"x","newAccount":"y"})", R"({"newNonce":1,"newAccount":"y","newOrder":"z"})"}) {
    auto d = parse_directory(bad);
    ASSERT_FALSE(d) << bad;
    EXPECT_EQ(d.error().code, "acme-bad-response");
  }
}

TEST(AcmeProblem, BecomesAClearError) {
  Problem p = parse_problem(R"({"type":"urn:ietf:params:acme:error:badNonce","detail":"JWS has an invalid anti-replay nonce","status":400})", 400);
  EXPECT_EQ(p.acme_type(), "badNonce");
  Error e = problem_error(p, "POST https://ca/order");
  EXPECT_EQ(e.code, "acme-bad-nonce");
  EXPECT_NE(e.message.find("POST https://ca/order"), std::string::npos);
  EXPECT_NE(e.message.find("invalid anti-replay nonce"), std::string::npos);
  EXPECT_NE(e.message.find("HTTP 400"), std::string::npos);

  Problem rl = parse_problem(R"({"type":"urn:ietf:params:acme:error:rateLimited","detail":"slow down"})", 429);
  EXPECT_EQ(problem_error(rl, "x").code, "acme-rate-limited");
  EXPECT_EQ(rl.status, 429);
}

TEST(AcmeProblem, SubproblemsAreListed) {
  Problem p = parse_problem(R"({"type":"urn:ietf:params:acme:error:rejectedIdentifier","detail":"some names",
    "subproblems":[{"type":"urn:ietf:params:acme:error:rejectedIdentifier","detail":"bad name",
    "identifier":{"type":"dns","value":"x.example"}}]})", 400);
  ASSERT_EQ(p.subproblems.size(), 1u);
  EXPECT_NE(problem_error(p, "newOrder").message.find("x.example"), std::string::npos);
}

TEST(AcmeProblem, NonJsonBodiesStayShortAndPrintable) {
  std::string html = "<html>\x01\x02" + std::string(5000, 'x') + "</html>";
  Problem p = parse_problem(html, 502);
  EXPECT_EQ(p.type, "about:blank");
  EXPECT_LE(p.detail.size(), 400u);
  EXPECT_EQ(p.detail.find('\x01'), std::string::npos);
  Error e = problem_error(p, "GET https://ca/dir");
  EXPECT_EQ(e.code, "acme-server-error");
  EXPECT_NE(e.message.find("HTTP 502"), std::string::npos);
}

TEST(AcmeOrder, ReadsStatusAuthorizationsAndError) {
  auto o = parse_order(R"({"status":"invalid","authorizations":["https://ca/authz/1","https://ca/authz/2"],
    "finalize":"https://ca/fin","error":{"type":"urn:ietf:params:acme:error:unauthorized","detail":"no"}})");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->status, "invalid");
  EXPECT_EQ(o->authorizations.size(), 2u);
  ASSERT_TRUE(o->error);
  EXPECT_EQ(o->error->acme_type(), "unauthorized");
  EXPECT_FALSE(parse_order(R"({"status":"pending"})"));  // no finalize
  EXPECT_FALSE(parse_order("null"));
}

TEST(AcmeAuthorization, ReadsChallenges) {
  auto a = parse_authorization(R"({"status":"pending","identifier":{"type":"dns","value":"mta-sts.example.com"},
    "challenges":[{"type":"http-01","url":"https://ca/c/1","token":"abc_-1","status":"pending"},
                  {"type":"tls-alpn-01","url":"https://ca/c/2","token":"def","status":"pending"},
                  {"type":"dns-01","token":"ghi"},
                  "garbage"]})");
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->identifier, "mta-sts.example.com");
  ASSERT_EQ(a->challenges.size(), 2u);  // the one without url and the string are skipped
  EXPECT_EQ(a->challenges[0].type, "http-01");
  EXPECT_EQ(a->challenges[1].token, "def");
  EXPECT_FALSE(parse_authorization(R"({"challenges":[]})"));
}

TEST(AcmeRetryAfter, SecondsAndHttpDates) {
  EXPECT_EQ(parse_retry_after("120", 0), 120);
  EXPECT_EQ(parse_retry_after(" 0 ", 0), 0);
  // 784111777 = Sun, 06 Nov 1994 08:49:37 GMT (RFC 9110's example date).
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111777 - 30), 30);
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111777 + 30), 0);  // in the past
  EXPECT_FALSE(parse_retry_after("", 0));
  EXPECT_FALSE(parse_retry_after("-5", 0));
  EXPECT_FALSE(parse_retry_after("soon", 0));
  EXPECT_FALSE(parse_retry_after("99999999999999999999999", 0));
}

TEST(AcmeRetryDelay, BackoffDoublesUpToTheCap) {
  EXPECT_EQ(retry_delay_ms("", 1, 500, 30000, 0), 500);
  EXPECT_EQ(retry_delay_ms("", 2, 500, 30000, 0), 1000);
  EXPECT_EQ(retry_delay_ms("", 3, 500, 30000, 0), 2000);
  EXPECT_EQ(retry_delay_ms("", 7, 500, 30000, 0), 30000);
  EXPECT_EQ(retry_delay_ms("", 1000, 500, 30000, 0), 30000);  // no overflow however many tries
  EXPECT_EQ(retry_delay_ms("garbage", 2, 500, 30000, 0), 1000);
}

TEST(AcmeRetryDelay, RetryAfterIsHonouredEvenAboveTheCap) {
  EXPECT_EQ(retry_delay_ms("3", 1, 500, 30000, 0), 3000);
  EXPECT_EQ(retry_delay_ms("120", 1, 500, 30000, 0), 120000);  // the server's word, not ours
  EXPECT_EQ(retry_delay_ms("Sun, 06 Nov 1994 08:49:37 GMT", 5, 500, 30000, 784111777 - 2), 2000);
  EXPECT_EQ(retry_delay_ms("0", 5, 500, 30000, 0), 0);
}

TEST(AcmeToken, OnlyBase64url) {
  EXPECT_TRUE(is_valid_token("LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"));
  EXPECT_FALSE(is_valid_token(""));
  EXPECT_FALSE(is_valid_token("../../etc/passwd"));
  EXPECT_FALSE(is_valid_token("a b"));
  EXPECT_FALSE(is_valid_token(std::string(300, 'a')));
}

}  // namespace
}  // namespace mtasts::acme
