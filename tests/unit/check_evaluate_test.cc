// check::evaluate is pure: observations in, findings out. These cases build observations by
// hand (what DNS, the policy fetch and the MX probes said) and check the verdicts.
#include <gtest/gtest.h>

#include <algorithm>

#include "check/check.h"

namespace mtasts::check {
namespace {

using net::DnsStatus;

constexpr std::int64_t kNow = 1'800'000'000;

net::TlsVerdict good_tls(const std::string& host) {
  net::TlsVerdict t;
  t.handshake = true;
  t.version = "TLSv1.3";
  t.chain_trusted = true;
  t.name_match = true;
  t.leaf = net::CertInfo{"CN=" + host, "CN=test CA", {host}, kNow - 86400, kNow + 90 * 86400, "EC P-256"};
  return t;
}

net::TxtAnswer txt(std::vector<std::string> records) {
  net::TxtAnswer a;
  a.status = records.empty() ? DnsStatus::nodata : DnsStatus::ok;
  for (auto& r : records) a.records.push_back({r});
  return a;
}

// A healthy enforce deployment; tests break one thing at a time.
Observations healthy() {
  Observations o;
  o.domain = o.name = "example.com";
  o.now = kNow;
  o.sts_txt = txt({"v=STSv1; id=20240101"});
  o.tlsrpt_txt = txt({"v=TLSRPTv1; rua=mailto:tlsrpt@example.com"});
  o.mx.status = DnsStatus::ok;
  o.mx.records = {{10, "mx1.example.com"}, {20, "mx2.example.com"}};
  net::PolicyFetch f;
  f.outcome = net::PolicyFetch::Outcome::response;
  f.host = "mta-sts.example.com";
  f.status = 200;
  f.content_type = "text/plain; charset=utf-8";
  f.body = "version: STSv1\nmode: enforce\nmx: mx1.example.com\nmx: mx2.example.com\nmax_age: 604800\n";
  f.tls = good_tls(f.host);
  o.fetch = f;
  for (const char* host : {"mx1.example.com", "mx2.example.com"}) {
    net::SmtpProbe p;
    p.host = host;
    p.outcome = net::SmtpProbe::Outcome::tls_ok;
    p.tls = good_tls(host);
    o.probes.push_back(p);
  }
  return o;
}

std::vector<std::string> codes(const Report& r) {
  std::vector<std::string> out;
  for (const auto& f : r.findings) out.push_back(f.code);
  return out;
}

bool has(const Report& r, std::string_view code, Severity sev) {
  return std::any_of(r.findings.begin(), r.findings.end(),
                     [&](const Finding& f) { return f.code == code && f.severity == sev; });
}

TEST(CheckEvaluate, HealthyEnforceHasNoFindings) {
  Report r = evaluate(healthy());
  EXPECT_TRUE(r.findings.empty()) << ::testing::PrintToString(codes(r));
  EXPECT_EQ(status_text(r.status), "ok");
  ASSERT_TRUE(r.policy);
  EXPECT_EQ(r.policy->mode, Mode::enforce);
  EXPECT_EQ(*r.policy_id, "20240101");
}

TEST(CheckEvaluate, EveryErrorAndWarningHasAFix) {
  Observations o = healthy();
  o.sts_txt = txt({});
  o.tlsrpt_txt = txt({});
  o.probes[0].outcome = net::SmtpProbe::Outcome::no_starttls;
  Report r = evaluate(o);
  for (const auto& f : r.findings) {
    if (f.severity != Severity::info) {
      EXPECT_FALSE(f.fix.empty()) << f.code;
    }
  }
}

TEST(CheckEvaluate, StsRecordProblems) {
  Observations o = healthy();
  o.sts_txt = txt({"v=spf1 -all"});
  EXPECT_TRUE(has(evaluate(o), "sts-record-missing", Severity::error));
  o.sts_txt = txt({"v=STSv1; id=1", "v=STSv1; id=2"});
  EXPECT_TRUE(has(evaluate(o), "sts-record-multiple", Severity::error));
  o.sts_txt = txt({"v=STSv1; id=2024-01-01"});
  EXPECT_TRUE(has(evaluate(o), "sts-record-invalid", Severity::error));
  o.sts_txt.status = DnsStatus::servfail;
  o.sts_txt.records.clear();
  EXPECT_TRUE(has(evaluate(o), "dns-error", Severity::error));
}

TEST(CheckEvaluate, MissingRecordHintsWhereItWent) {
  Observations o = healthy();
  o.sts_txt = net::TxtAnswer{};
  o.sts_txt.status = DnsStatus::nxdomain;
  o.apex_txt = txt({"v=STSv1; id=1"});
  Report r = evaluate(o);
  ASSERT_TRUE(has(r, "sts-record-missing", Severity::error));
  EXPECT_NE(r.findings[0].message.find("apex"), std::string::npos);
  o.apex_txt.reset();
  o.underscore_sts_txt = txt({"v=STSv1; id=1"});
  EXPECT_NE(evaluate(o).findings[0].message.find("_mta_sts"), std::string::npos);
}

TEST(CheckEvaluate, SplitRecordStringsAreJoined) {
  Observations o = healthy();
  o.sts_txt.records = {{"v=STSv1; ", "id=20240101"}};
  EXPECT_TRUE(evaluate(o).findings.empty());
}

TEST(CheckEvaluate, PolicyFetchOutcomes) {
  using O = net::PolicyFetch::Outcome;
  auto with = [](auto change) {
    Observations o = healthy();
    change(*o.fetch);
    return evaluate(o);
  };
  EXPECT_TRUE(has(with([](auto& f) { f.status = 404; }), "sts-policy-not-found", Severity::error));
  EXPECT_TRUE(has(with([](auto& f) { f.status = 301; f.location = "https://www.example.com/"; }),
                  "sts-policy-redirect", Severity::error));
  EXPECT_TRUE(has(with([](auto& f) { f.status = 500; }), "sts-policy-fetch-error", Severity::error));
  EXPECT_TRUE(has(with([](auto& f) { f.content_type = "text/html"; }), "sts-policy-content-type",
                  Severity::error));
  EXPECT_TRUE(has(with([](auto& f) { f.content_type = ""; }), "sts-policy-content-type",
                  Severity::error));
  EXPECT_TRUE(has(with([](auto& f) { f.outcome = O::body_too_large; }), "sts-policy-too-large",
                  Severity::error));
  EXPECT_TRUE(has(with([](auto& f) { f.outcome = O::timeout; }), "sts-policy-fetch-error",
                  Severity::error));
  EXPECT_TRUE(has(with([](auto& f) { f.outcome = O::host_not_found; }), "sts-policy-host-missing",
                  Severity::error));
  Report tls = with([](auto& f) {
    f.outcome = O::tls_failed;
    f.tls_legacy_only = true;
    f.tls.version = "TLSv1";
  });
  EXPECT_TRUE(has(tls, "tls-version-weak", Severity::error));
  EXPECT_TRUE(has(tls, "sts-policy-fetch-error", Severity::error));
}

TEST(CheckEvaluate, PolicyHostCertificate) {
  Observations o = healthy();
  o.fetch->outcome = net::PolicyFetch::Outcome::cert_invalid;
  o.fetch->tls.chain_trusted = false;
  o.fetch->tls.expired = true;
  Report r = evaluate(o);
  ASSERT_TRUE(has(r, "sts-webpki-invalid", Severity::error));
  EXPECT_NE(r.findings[0].message.find("expired"), std::string::npos);
  o = healthy();
  o.fetch->tls.leaf->not_after = kNow + 5 * 86400;
  EXPECT_TRUE(has(evaluate(o), "certificate-expiring", Severity::warning));
}

TEST(CheckEvaluate, PolicyContent) {
  Observations o = healthy();
  o.fetch->body = "version: STSv1\nmode: report\nmx: mx1.example.com\nmax_age: 604800\n";
  EXPECT_TRUE(has(evaluate(o), "sts-policy-invalid", Severity::error));
  o.fetch->body = "version: STSv1\nmode: testing\nmx: mx1.example.com\nmx: mx2.example.com\nmax_age: 600\n";
  Report r = evaluate(o);
  EXPECT_TRUE(has(r, "mode-testing", Severity::info));
  EXPECT_TRUE(has(r, "max-age-short", Severity::warning));
  o.fetch->body = "version: STSv1\nmode: enforce\nmx: mx1.example.com\nmx: mx2.example.com\nmax_age: 99999999\n";
  EXPECT_TRUE(has(evaluate(o), "max-age-long", Severity::error));
  o.fetch->body = "version: STSv1\nmode: none\nmax_age: 86400\n";
  EXPECT_TRUE(has(evaluate(o), "mode-none", Severity::info));
}

TEST(CheckEvaluate, MxAgainstPolicy) {
  Observations o = healthy();
  o.mx.records.push_back({30, "a.b.mx.example.com"});
  o.fetch->body = "version: STSv1\nmode: enforce\nmx: mx1.example.com\nmx: mx2.example.com\n"
                  "mx: *.mx.example.com\nmax_age: 604800\n";
  Report r = evaluate(o);
  ASSERT_TRUE(has(r, "mx-not-in-policy", Severity::error));
  auto it = std::find_if(r.findings.begin(), r.findings.end(),
                         [](const Finding& f) { return f.code == "mx-not-in-policy"; });
  EXPECT_NE(it->message.find("exactly one label"), std::string::npos) << it->message;
  EXPECT_TRUE(has(r, "policy-mx-unused", Severity::warning));
  // In testing mode the same mismatch is a warning: mail still flows.
  o.fetch->body = "version: STSv1\nmode: testing\nmx: mx1.example.com\nmx: mx2.example.com\nmax_age: 604800\n";
  EXPECT_TRUE(has(evaluate(o), "mx-not-in-policy", Severity::warning));
}

TEST(CheckEvaluate, MxMissingOrNull) {
  Observations o = healthy();
  o.mx = net::MxAnswer{};
  o.mx.status = DnsStatus::nodata;
  o.probes.clear();
  EXPECT_TRUE(has(evaluate(o), "mx-missing", Severity::error));
  o.mx.status = DnsStatus::ok;
  o.mx.records = {{0, ""}};
  EXPECT_TRUE(has(evaluate(o), "mx-null", Severity::info));
}

TEST(CheckEvaluate, MxProbeProblemsMatterMostWhenEnforcing) {
  using O = net::SmtpProbe::Outcome;
  auto with = [](auto change, bool enforce = true) {
    Observations o = healthy();
    if (!enforce)
      o.fetch->body = "version: STSv1\nmode: testing\nmx: mx1.example.com\nmx: mx2.example.com\n"
                      "max_age: 604800\n";
    change(o.probes[0]);
    return evaluate(o);
  };
  EXPECT_TRUE(has(with([](auto& p) { p.outcome = O::no_starttls; }), "starttls-not-supported",
                  Severity::error));
  EXPECT_TRUE(has(with([](auto& p) { p.outcome = O::no_starttls; }, false),
                  "starttls-not-supported", Severity::warning));
  EXPECT_TRUE(has(with([](auto& p) { p.tls.chain_trusted = false; p.tls.expired = true; }),
                  "certificate-expired", Severity::error));
  EXPECT_TRUE(has(with([](auto& p) { p.tls.chain_trusted = false; p.tls.self_signed = true; }),
                  "certificate-not-trusted", Severity::error));
  EXPECT_TRUE(has(with([](auto& p) { p.tls.name_match = false; }), "certificate-host-mismatch",
                  Severity::error));
  EXPECT_TRUE(has(with([](auto& p) {
                    p.outcome = O::tls_failed;
                    p.tls_legacy_only = true;
                  }),
                  "tls-version-weak", Severity::error));
  EXPECT_TRUE(has(with([](auto& p) { p.outcome = O::timeout; }), "mx-unreachable", Severity::error));
  EXPECT_TRUE(has(with([](auto& p) { p.outcome = O::protocol_error; }), "smtp-protocol-error",
                  Severity::error));
  EXPECT_TRUE(has(with([](auto& p) { p.tls.leaf->not_after = kNow + 86400; }),
                  "certificate-expiring", Severity::warning));
}

// The message of the first finding with `code`, or "" when there is none.
std::string message_of(const Report& r, std::string_view code) {
  for (const auto& f : r.findings)
    if (f.code == code) return f.message + " / " + f.fix;
  return "";
}

TEST(CheckEvaluate, UntrustedChainsSayWhy) {
  auto mx = [](auto change) {
    Observations o = healthy();
    change(o.probes[0].tls);
    return evaluate(o);
  };
  // A valid leaf sent with an expired intermediate: expired, naming the intermediate.
  Report r = mx([](net::TlsVerdict& t) {
    t.chain_trusted = false;
    t.expired_intermediate = "CN=Old Intermediate";
  });
  EXPECT_TRUE(has(r, "certificate-expired", Severity::error));
  EXPECT_NE(message_of(r, "certificate-expired").find("CN=Old Intermediate"), std::string::npos);
  EXPECT_FALSE(has(r, "certificate-not-trusted", Severity::error));
  // A full chain from an unknown CA is not an incomplete chain.
  r = mx([](net::TlsVerdict& t) {
    t.chain_trusted = false;
    t.unknown_ca = true;
    t.untrusted_ca = "CN=Elsewhere CA";
  });
  std::string m = message_of(r, "certificate-not-trusted");
  EXPECT_NE(m.find("CN=Elsewhere CA"), std::string::npos) << m;
  EXPECT_EQ(m.find("incomplete"), std::string::npos) << m;
  r = mx([](net::TlsVerdict& t) {
    t.chain_trusted = false;
    t.weak = "the certificate's key (RSA 1024) is too weak";
  });
  EXPECT_NE(message_of(r, "certificate-not-trusted").find("RSA 1024"), std::string::npos);
  // A name only in the subject CN: a mismatch that says so (RFC 8461 §4.2).
  r = mx([](net::TlsVerdict& t) {
    t.name_match = false;
    t.no_san = true;
    t.leaf->names.clear();
    t.leaf->subject = "CN=mx1.example.com";
  });
  m = message_of(r, "certificate-host-mismatch");
  EXPECT_NE(m.find("subject CN=mx1.example.com"), std::string::npos) << m;
  EXPECT_NE(m.find("subjectAltName"), std::string::npos) << m;
}

TEST(CheckEvaluate, EhloRejectedIsNoStarttls) {
  Observations o = healthy();
  o.probes[0].outcome = net::SmtpProbe::Outcome::no_starttls;
  o.probes[0].detail = "EHLO answered 502: the server does not speak ESMTP, so it cannot offer STARTTLS";
  Report r = evaluate(o);
  EXPECT_NE(message_of(r, "starttls-not-supported").find("EHLO answered 502"), std::string::npos);
}

TEST(CheckEvaluate, TlsRptRecord) {
  Observations o = healthy();
  o.tlsrpt_txt = txt({});
  o.draft_tlsrpt_txt = txt({"v=TLSRPTv1; rua=mailto:a@example.com"});
  Report r = evaluate(o);
  ASSERT_TRUE(has(r, "tlsrpt-record-missing", Severity::warning));
  EXPECT_NE(r.findings.back().message.find("_smtp-tlsrpt"), std::string::npos);
  EXPECT_EQ(status_text(r.status), "warning");
  o.tlsrpt_txt = txt({"v=TLSRPTv1; rua=http://r.example.com/"});
  EXPECT_TRUE(has(evaluate(o), "tlsrpt-record-invalid", Severity::error));
  o.tlsrpt_txt = txt({"v=TLSRPTv1; rua=mailto:a@example.com", "v=TLSRPTv1; rua=mailto:b@example.com"});
  EXPECT_TRUE(has(evaluate(o), "tlsrpt-record-multiple", Severity::error));
}

TEST(CheckEvaluate, PolicyChangedWithoutNewId) {
  Observations o = healthy();
  o.previous = Previous{"20240101", "0000"};
  EXPECT_TRUE(has(evaluate(o), "policy-id-stale", Severity::error));
  Report first = evaluate(healthy());
  o.previous = Previous{"20240101", first.policy_sha256};
  EXPECT_FALSE(has(evaluate(o), "policy-id-stale", Severity::error));
  o.previous = Previous{"20230101", "0000"};  // a new id: fine
  EXPECT_FALSE(has(evaluate(o), "policy-id-stale", Severity::error));
}

const Finding* find(const Report& r, std::string_view code) {
  for (const auto& f : r.findings)
    if (f.code == code) return &f;
  return nullptr;
}

TEST(CheckEvaluate, RecordThatIsAlmostAnStsRecordSaysWhy) {
  // RFC 8461 §3.1: records not beginning with "v=STSv1;" are discarded.
  Observations o = healthy();
  o.sts_txt = txt({"id=20240101; v=STSv1"});
  Report r = evaluate(o);
  const Finding* f = find(r, "sts-record-missing");
  ASSERT_TRUE(f);
  EXPECT_NE(f->message.find("must be the first field"), std::string::npos) << f->message;
  o.sts_txt = txt({"v=stsv1; id=20240101"});
  f = find(r = evaluate(o), "sts-record-missing");
  ASSERT_TRUE(f);
  EXPECT_NE(f->message.find("case-sensitive"), std::string::npos) << f->message;
  o.sts_txt = txt({" v=STSv1; id=20240101"});
  f = find(r = evaluate(o), "sts-record-missing");
  ASSERT_TRUE(f);
  EXPECT_NE(f->message.find("not even spaces"), std::string::npos) << f->message;
  o.sts_txt = txt({"v=spf1 -all"});  // unrelated: no record to explain
  f = find(r = evaluate(o), "sts-record-missing");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->message.find("is ignored by senders"), std::string::npos) << f->message;
}

TEST(CheckEvaluate, TlsRptRecordThatIsAlmostOneSaysWhy) {
  Observations o = healthy();
  o.tlsrpt_txt = txt({"v=tlsrptv1; rua=mailto:a@example.com"});
  Report r = evaluate(o);
  const Finding* f = find(r, "tlsrpt-record-missing");
  ASSERT_TRUE(f);
  EXPECT_NE(f->message.find("case-sensitive"), std::string::npos) << f->message;
}

TEST(CheckEvaluate, GrammarValidOddsAreNotedNotWarned) {
  // RFC 8461 §3.1: unknown TXT fields "SHALL be ignored": valid, so the status stays ok.
  Observations o = healthy();
  o.sts_txt = txt({"v=STSv1; id=20240101; ext=foo"});
  Report r = evaluate(o);
  EXPECT_TRUE(has(r, "sts-record-warning", Severity::info));
  EXPECT_EQ(status_text(r.status), "ok");
  // RFC 8461 §3.2: 1*10DIGIT allows leading zeros; trailing WSP is in the grammar.
  o = healthy();
  o.fetch->body = "version: STSv1 \nmode: enforce\nmx: mx1.example.com\nmx: mx2.example.com\n"
                  "max_age: 0604800\n";
  r = evaluate(o);
  EXPECT_EQ(status_text(r.status), "ok") << ::testing::PrintToString(codes(r));
  ASSERT_TRUE(r.policy);
  EXPECT_EQ(r.policy->max_age, 604800u);
  // RFC 8461 §8.3: mode none with the old mx lines and a small max_age is how MTA-STS is removed.
  o.fetch->body = "version: STSv1\nmode: none\nmx: mx1.example.com\nmax_age: 3600\n";
  r = evaluate(o);
  EXPECT_EQ(status_text(r.status), "ok") << ::testing::PrintToString(codes(r));
  EXPECT_FALSE(find(r, "max-age-short"));
  // A field given twice stays a warning: senders use the first, likely not what was meant.
  o.fetch->body = "version: STSv1\nmode: testing\nmode: enforce\nmx: mx1.example.com\n"
                  "mx: mx2.example.com\nmax_age: 604800\n";
  EXPECT_TRUE(has(evaluate(o), "sts-policy-warning", Severity::warning));
}

TEST(CheckEvaluate, TlsRptRecordLintWarningsAreReported) {
  // RFC 8460 §3: tlsrpt-record = tlsrpt-version 1*(field-delim tlsrpt-field) [field-delim]: a
  // trailing space without ';' is outside the grammar. Reported like the _mta-sts record's.
  Observations o = healthy();
  o.tlsrpt_txt = txt({"v=TLSRPTv1; rua=mailto:tlsrpt@example.com "});
  Report r = evaluate(o);
  const Finding* f = find(r, "tlsrpt-record-warning");
  ASSERT_TRUE(f) << ::testing::PrintToString(codes(r));
  EXPECT_EQ(f->severity, Severity::warning);
  EXPECT_NE(f->message.find("_smtp._tls.example.com"), std::string::npos) << f->message;
  EXPECT_FALSE(f->fix.empty());
  EXPECT_EQ(status_text(r.status), "warning");
  // Field names are case-sensitive (%s"rua="): "RUA=" beside a real rua is a warning.
  o.tlsrpt_txt = txt({"v=TLSRPTv1; rua=mailto:tlsrpt@example.com; RUA=mailto:b@example.com"});
  EXPECT_TRUE(has(evaluate(o), "tlsrpt-record-warning", Severity::warning));
  // An unknown field is a tlsrpt-extension: valid, ignored by senders, only noted.
  o.tlsrpt_txt = txt({"v=TLSRPTv1; rua=mailto:tlsrpt@example.com; ruf=mailto:f@example.com"});
  r = evaluate(o);
  f = find(r, "tlsrpt-record-warning");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->severity, Severity::info);
  EXPECT_NE(f->message.find("ruf"), std::string::npos) << f->message;
  EXPECT_EQ(status_text(r.status), "ok");
  // Spaces around the ';' and a trailing ';' are field-delim: nothing to say.
  o.tlsrpt_txt = txt({"v=TLSRPTv1 ;  rua=mailto:tlsrpt@example.com ; "});
  r = evaluate(o);
  EXPECT_FALSE(find(r, "tlsrpt-record-warning")) << ::testing::PrintToString(codes(r));
  EXPECT_EQ(status_text(r.status), "ok");
  // An invalid record is one error, not also a list of warnings.
  o.tlsrpt_txt = txt({"v=TLSRPTv1; rua=http://r.example.com/; x=1 "});
  r = evaluate(o);
  EXPECT_TRUE(has(r, "tlsrpt-record-invalid", Severity::error));
  EXPECT_FALSE(find(r, "tlsrpt-record-warning"));
}

TEST(CheckEvaluate, PolicyServedWithoutContentType) {
  // RFC 8461 §3.3: the media type must be text/plain; no Content-Type at all is not text/plain.
  Observations o = healthy();
  o.fetch->content_type = "";
  Report r = evaluate(o);
  const Finding* f = find(r, "sts-policy-content-type");
  ASSERT_TRUE(f) << ::testing::PrintToString(codes(r));
  EXPECT_EQ(f->severity, Severity::error);
  EXPECT_NE(f->message.find("no Content-Type"), std::string::npos) << f->message;
  // Parameters do not matter, nor OWS before ';' (RFC 9110 §8.3.1).
  for (const char* type : {"text/plain; charset=ISO-8859-1", "text/plain ; charset=utf-8",
                           "Text/Plain;charset=UTF-8"}) {
    o.fetch->content_type = type;
    EXPECT_FALSE(find(evaluate(o), "sts-policy-content-type")) << type;
  }
}

TEST(CheckEvaluate, NameMismatchSaysWhatTheCertificateNames) {
  // RFC 6125 §6.4.3: "*" is exactly one leftmost label, so *.example.com misses mx1.mail.example.com.
  Observations o = healthy();
  o.mx.records = {{10, "mx1.mail.example.com"}};
  o.fetch->body = "version: STSv1\nmode: enforce\nmx: mx1.mail.example.com\nmax_age: 604800\n";
  o.probes.resize(1);
  o.probes[0].host = "mx1.mail.example.com";
  o.probes[0].tls.name_match = false;
  o.probes[0].tls.leaf->names = {"*.example.com"};
  Report r = evaluate(o);
  const Finding* f = find(r, "certificate-host-mismatch");
  ASSERT_TRUE(f) << ::testing::PrintToString(codes(r));
  EXPECT_NE(f->message.find("*.example.com"), std::string::npos) << f->message;
  EXPECT_NE(f->message.find("exactly one label"), std::string::npos) << f->message;
  // RFC 8461 §3.3: the policy host must be valid for mta-sts.<domain>, CNAME or not.
  o = healthy();
  o.fetch->outcome = net::PolicyFetch::Outcome::cert_invalid;
  o.fetch->tls.name_match = false;
  o.fetch->tls.leaf->names = {"sts.provider.example"};
  r = evaluate(o);
  f = find(r, "sts-webpki-invalid");
  ASSERT_TRUE(f) << ::testing::PrintToString(codes(r));
  EXPECT_NE(f->message.find("mta-sts.example.com"), std::string::npos) << f->message;
  EXPECT_NE(f->message.find("sts.provider.example"), std::string::npos) << f->message;
}

TEST(CheckEvaluate, MxHostListedTwiceIsJudgedOnce) {
  Observations o = healthy();
  o.mx.records = {{10, "mx1.example.com"}, {20, "mx3.example.com"}, {30, "MX3.example.com."}};
  std::vector<std::string> c = codes(evaluate(o));
  EXPECT_EQ(std::count(c.begin(), c.end(), "mx-not-in-policy"), 1) << ::testing::PrintToString(c);
}

TEST(CheckEvaluate, WildcardDoesNotCoverTheDomainItself) {
  // RFC 8461 §4.1: "*.example.com" does not match "example.com".
  Observations o = healthy();
  o.mx.records = {{10, "example.com"}};
  o.probes.resize(1);
  o.probes[0].host = "example.com";
  o.fetch->body = "version: STSv1\nmode: enforce\nmx: *.example.com\nmax_age: 604800\n";
  Report r = evaluate(o);
  const Finding* f = find(r, "mx-not-in-policy");
  ASSERT_TRUE(f);
  EXPECT_NE(f->message.find("does not match example.com itself"), std::string::npos) << f->message;
}

TEST(CheckEvaluate, MxThatIsACnameIsAWarning) {
  // RFC 2181 §10.3: an MX must not name an alias; senders follow it anyway.
  Observations o = healthy();
  o.probes[0].cname_chain = {"smtp.provider.example"};
  Report r = evaluate(o);
  ASSERT_TRUE(has(r, "mx-cname", Severity::warning));
  EXPECT_NE(find(r, "mx-cname")->message.find("smtp.provider.example"), std::string::npos);
  EXPECT_EQ(status_text(r.status), "warning");
}

TEST(CheckEvaluate, NullMxBesideRealOnesIsAWarningAndNotProbed) {
  // RFC 7505 §3: a domain with a null MX "MUST NOT advertise any other MX RR". The "." is no
  // host: it is neither held against the policy nor reported as unreachable.
  Observations o = healthy();
  o.mx.records.insert(o.mx.records.begin(), net::MxRecord{0, ""});
  Report r = evaluate(o);
  ASSERT_TRUE(has(r, "mx-null", Severity::warning)) << ::testing::PrintToString(codes(r));
  EXPECT_NE(find(r, "mx-null")->message.find("RFC 7505"), std::string::npos);
  EXPECT_FALSE(find(r, "mx-not-in-policy"));
  EXPECT_FALSE(find(r, "mx-unreachable"));
  EXPECT_EQ(status_text(r.status), "warning");
}

TEST(CheckEvaluate, CharsetThatIsNotAsciiCompatibleIsAWarning) {
  // RFC 8461 §3.2 gives meaning only to charset=utf-8 and us-ascii; a body labelled UTF-16 is
  // garbage to senders that decode by the charset. Latin-1 reads ASCII alike: fine.
  Observations o = healthy();
  o.fetch->content_type = "text/plain; charset=UTF-16";
  Report r = evaluate(o);
  ASSERT_TRUE(has(r, "sts-policy-content-type", Severity::warning));
  EXPECT_NE(find(r, "sts-policy-content-type")->message.find("utf-16"), std::string::npos);
  EXPECT_TRUE(r.policy);  // the policy itself is still judged
  o.fetch->content_type = "text/plain; format=flowed; charset=\"utf-32le\"";
  EXPECT_TRUE(has(evaluate(o), "sts-policy-content-type", Severity::warning));
  for (const char* ok : {"text/plain; charset=ISO-8859-1", "text/plain;charset=us-ascii",
                         "text/plain; charset=utf-8", "text/plain; format=flowed"}) {
    o.fetch->content_type = ok;
    EXPECT_FALSE(find(evaluate(o), "sts-policy-content-type")) << ok;
  }
}

TEST(CheckEvaluate, MxThatIsAnIpAddressSaysSo) {
  using O = net::SmtpProbe::Outcome;
  Observations o = healthy();
  o.mx.records[1].host = "192.0.2.25";
  o.probes[1].host = "192.0.2.25";
  o.probes[1].outcome = O::no_address;
  o.probes[1].detail = "192.0.2.25: Domain name not found";
  Report r = evaluate(o);
  ASSERT_TRUE(find(r, "mx-unreachable"));
  EXPECT_NE(find(r, "mx-unreachable")->message.find("IP address"), std::string::npos);
  ASSERT_TRUE(find(r, "mx-not-in-policy"));
  EXPECT_EQ(find(r, "mx-not-in-policy")->fix.find("mx: 192.0.2.25"), std::string::npos);
  // Written without the trailing dot, the zone made it 192.0.2.25.example.com.
  o.mx.records[1].host = o.probes[1].host = "192.0.2.25.example.com";
  r = evaluate(o);
  ASSERT_TRUE(find(r, "mx-unreachable"));
  EXPECT_NE(find(r, "mx-unreachable")->message.find("trailing dot"), std::string::npos);
}

TEST(CheckEvaluate, MxWithoutTrailingDotInTheZoneSaysSo) {
  // "MX 20 mx2.example.com" in example.com's zone: mx2.example.com.example.com (RFC 1035 §5.1).
  Observations o = healthy();
  o.mx.records[1].host = o.probes[1].host = "mx2.example.com.example.com";
  o.probes[1].outcome = net::SmtpProbe::Outcome::no_address;
  o.probes[1].detail = "Domain name not found";
  Report r = evaluate(o);
  ASSERT_TRUE(find(r, "mx-unreachable"));
  EXPECT_NE(find(r, "mx-unreachable")->message.find("trailing dot"), std::string::npos);
  EXPECT_NE(find(r, "mx-unreachable")->fix.find("mx2.example.com."), std::string::npos);
  ASSERT_TRUE(find(r, "mx-not-in-policy"));
  EXPECT_NE(find(r, "mx-not-in-policy")->message.find("the policy lists mx2.example.com"),
            std::string::npos);
  EXPECT_EQ(find(r, "mx-not-in-policy")->fix.find("add \"mx:"), std::string::npos);
  // A real host under the domain is not taken for one.
  o = healthy();
  o.probes[1].outcome = net::SmtpProbe::Outcome::no_address;
  EXPECT_EQ(find(evaluate(o), "mx-unreachable")->message.find("trailing dot"), std::string::npos);
}

TEST(CheckEvaluate, DanglingCnameNamesItsTarget) {
  Observations o = healthy();
  o.sts_txt = net::TxtAnswer{};
  o.sts_txt.status = DnsStatus::nxdomain;
  o.sts_txt.cname_chain = {"_mta-sts.gone.provider.example"};
  Report r = evaluate(o);
  ASSERT_TRUE(find(r, "sts-record-missing"));
  EXPECT_NE(find(r, "sts-record-missing")->message.find("_mta-sts.gone.provider.example, which does not exist"),
            std::string::npos);
  EXPECT_FALSE(find(r, "sts-record-cname"));  // not "senders follow it": there is nothing
  o = healthy();
  o.tlsrpt_txt = net::TxtAnswer{};
  o.tlsrpt_txt.status = DnsStatus::nxdomain;
  o.tlsrpt_txt.cname_chain = {"tlsrpt.gone.example"};
  r = evaluate(o);
  ASSERT_TRUE(find(r, "tlsrpt-record-missing"));
  EXPECT_NE(find(r, "tlsrpt-record-missing")->message.find("tlsrpt.gone.example"), std::string::npos);
}

TEST(CheckEvaluate, InvalidDomainName) {
  Observations o;
  o.domain = "not a domain";
  o.name_error = "character ' ' is not allowed";
  Report r = evaluate(o);
  EXPECT_TRUE(has(r, "domain-invalid", Severity::error));
}

}  // namespace
}  // namespace mtasts::check
