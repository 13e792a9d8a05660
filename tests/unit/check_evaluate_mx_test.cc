// Judging an MX host whose addresses answer differently (check/evaluate_mx.h): per-address probe
// results built by hand, no sockets.
#include <gtest/gtest.h>

#include <algorithm>

#include "check/check.h"
#include "check/evaluate_mx.h"

namespace mtasts::check {
namespace {

using MxO = net::SmtpProbe::Outcome;

constexpr std::int64_t kMxNow = 1'800'000'000;
const std::string kMxHost = "mx1.example.com";

net::SmtpProbe::Address mx_address(std::string address, MxO outcome = MxO::tls_ok) {
  net::SmtpProbe::Address a;
  a.address = std::move(address);
  a.outcome = outcome;
  a.connected = outcome != MxO::connect_failed;
  if (outcome == MxO::tls_ok) {
    a.tls.handshake = true;
    a.tls.version = "TLSv1.3";
    a.tls.chain_trusted = true;
    a.tls.name_match = true;
    a.tls.leaf = net::CertInfo{"CN=" + kMxHost, "CN=test CA", {kMxHost}, kMxNow - 86400,
                               kMxNow + 90 * 86400, "EC P-256"};
  }
  if (outcome == MxO::no_starttls) a.detail = "STARTTLS is not in the EHLO answer";
  if (outcome == MxO::connect_failed) a.detail = a.address + " port 25: Connection refused";
  return a;
}

// The host as probe_smtp() leaves it: the addresses, and the primary's result on top.
net::SmtpProbe host_of(std::vector<net::SmtpProbe::Address> addresses) {
  net::SmtpProbe p;
  p.host = kMxHost;
  p.addresses = std::move(addresses);
  auto primary = std::find_if(p.addresses.begin(), p.addresses.end(),
                              [](const auto& a) { return a.connected; });
  p.take_primary(primary == p.addresses.end() ? p.addresses.front() : *primary);
  return p;
}

MxJudging enforce_judging() { return {Severity::error, kMxNow, "example.com"}; }
MxJudging testing_judging() { return {Severity::warning, kMxNow, "example.com"}; }

std::vector<std::string> mx_codes(const std::vector<Finding>& f) {
  std::vector<std::string> out;
  for (const auto& x : f) out.push_back(x.code);
  return out;
}

TEST(CheckEvaluateMx, BothFamiliesFineIsNoFinding) {
  auto f = judge_mx_host(host_of({mx_address("192.0.2.25"), mx_address("2001:db8::25")}), enforce_judging());
  EXPECT_TRUE(f.empty()) << ::testing::PrintToString(mx_codes(f));
}

TEST(CheckEvaluateMx, AaaaWithoutStarttlsNamesTheAddress) {
  auto f = judge_mx_host(host_of({mx_address("192.0.2.25"), mx_address("2001:db8::25", MxO::no_starttls)}),
                         enforce_judging());
  ASSERT_EQ(f.size(), 1u) << ::testing::PrintToString(mx_codes(f));
  EXPECT_EQ(f[0].code, "starttls-not-supported");
  EXPECT_EQ(f[0].severity, Severity::error);
  EXPECT_NE(f[0].message.find("mx1.example.com at 2001:db8::25 (AAAA)"), std::string::npos)
      << f[0].message;
  EXPECT_NE(f[0].message.find("192.0.2.25 (A of the same host) is fine"), std::string::npos)
      << f[0].message;
  EXPECT_NE(f[0].message.find("IPv6"), std::string::npos) << f[0].message;
  EXPECT_EQ(f[0].fix,
            "the server at 2001:db8::25 (AAAA of mx1.example.com) does not offer STARTTLS: "
            "configure it like 192.0.2.25, or remove the AAAA record for 2001:db8::25");
}

TEST(CheckEvaluateMx, SameProblemEverywhereIsOneFindingAsBefore) {
  auto p = host_of({mx_address("192.0.2.25", MxO::no_starttls), mx_address("2001:db8::25", MxO::no_starttls)});
  auto f = judge_mx_host(p, enforce_judging());
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].code, "starttls-not-supported");
  EXPECT_EQ(f[0].message.find("2001:db8::25"), std::string::npos) << f[0].message;
  EXPECT_EQ(f[0].fix, "enable STARTTLS with a valid certificate for mx1.example.com");
  // The same verdict as a host judged without per-address results.
  net::SmtpProbe legacy = p;
  legacy.addresses.clear();
  auto g = judge_mx_host(legacy, enforce_judging());
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].message, f[0].message);
}

TEST(CheckEvaluateMx, AaaaExpiredCertificateInTestingIsAWarning) {
  auto bad = mx_address("2001:db8::25");
  bad.tls.expired = true;
  bad.tls.chain_trusted = false;
  auto f = judge_mx_host(host_of({mx_address("192.0.2.25"), bad}), testing_judging());
  ASSERT_EQ(f.size(), 1u) << ::testing::PrintToString(mx_codes(f));
  EXPECT_EQ(f[0].code, "certificate-expired");
  EXPECT_EQ(f[0].severity, Severity::warning);
  EXPECT_NE(f[0].fix.find("2001:db8::25 (AAAA of mx1.example.com) sends an expired"),
            std::string::npos) << f[0].fix;
}

TEST(CheckEvaluateMx, AaaaWrongNameSaysWhichName) {
  auto bad = mx_address("2001:db8::25");
  bad.tls.name_match = false;
  bad.tls.leaf->names = {"www.example.com"};
  auto f = judge_mx_host(host_of({mx_address("192.0.2.25"), bad}), enforce_judging());
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].code, "certificate-host-mismatch");
  EXPECT_NE(f[0].message.find("does not cover the name mx1.example.com"), std::string::npos)
      << f[0].message;
}

// A sender tries the next address when one refuses (RFC 5321 §5.1): delayed, not lost.
TEST(CheckEvaluateMx, AaaaRefusedIsAWarningEvenInEnforce) {
  auto p = host_of({mx_address("192.0.2.25"), mx_address("2001:db8::25", MxO::connect_failed)});
  EXPECT_EQ(p.address, "192.0.2.25");
  EXPECT_EQ(p.outcome, MxO::tls_ok);
  auto f = judge_mx_host(p, enforce_judging());
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].code, "mx-unreachable");
  EXPECT_EQ(f[0].severity, Severity::warning);
  EXPECT_NE(f[0].message.find("2001:db8::25"), std::string::npos);
  EXPECT_NE(f[0].fix.find("remove the AAAA record for 2001:db8::25"), std::string::npos) << f[0].fix;
}

TEST(CheckEvaluateMx, ARefusedAaaaWithoutStarttls) {
  // The primary (what a sender gets) is the AAAA server, the only one that answers.
  auto p = host_of({mx_address("192.0.2.25", MxO::connect_failed), mx_address("2001:db8::25", MxO::no_starttls)});
  EXPECT_EQ(p.address, "2001:db8::25");
  auto f = judge_mx_host(p, enforce_judging());
  ASSERT_EQ(f.size(), 2u) << ::testing::PrintToString(mx_codes(f));
  EXPECT_EQ(f[0].code, "mx-unreachable");
  EXPECT_EQ(f[0].severity, Severity::warning);
  EXPECT_EQ(f[1].code, "starttls-not-supported");
  EXPECT_EQ(f[1].severity, Severity::error);
  // No address works: the fix is the usual one, for that server.
  EXPECT_EQ(f[1].fix, "the server at 2001:db8::25 (AAAA of mx1.example.com): enable STARTTLS "
                      "with a valid certificate for mx1.example.com");
}

TEST(CheckEvaluateMx, NothingAnswersIsOneError) {
  auto f = judge_mx_host(host_of({mx_address("192.0.2.25", MxO::connect_failed),
                                  mx_address("2001:db8::25", MxO::connect_failed)}),
                         testing_judging());
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].code, "mx-unreachable");
  EXPECT_EQ(f[0].severity, Severity::error);
}

TEST(CheckEvaluateMx, AddressesAlikeAreNamedTogether) {
  auto f = judge_mx_host(host_of({mx_address("192.0.2.25"), mx_address("2001:db8::25", MxO::no_starttls),
                                  mx_address("2001:db8::26", MxO::no_starttls)}),
                         enforce_judging());
  ASSERT_EQ(f.size(), 1u);
  EXPECT_NE(f[0].message.find("at 2001:db8::25, 2001:db8::26 (AAAA)"), std::string::npos)
      << f[0].message;
  EXPECT_NE(f[0].fix.find("configure them like 192.0.2.25"), std::string::npos) << f[0].fix;
}

// An IPv4-only checker cannot reach any AAAA address: not the server's fault, not a warning.
TEST(CheckEvaluateMx, NoRouteFromHereIsOnlyNoted) {
  auto v6 = mx_address("2001:db8::25", MxO::connect_failed);
  v6.no_route = true;
  v6.detail = "2001:db8::25 port 25: Network is unreachable";
  auto f = judge_mx_host(host_of({mx_address("192.0.2.25"), v6}), enforce_judging());
  ASSERT_EQ(f.size(), 1u) << ::testing::PrintToString(mx_codes(f));
  EXPECT_EQ(f[0].code, "mx-addresses-skipped");
  EXPECT_EQ(f[0].severity, Severity::info);
  EXPECT_NE(f[0].message.find("no route"), std::string::npos) << f[0].message;
  // With no route to any address, the host is unreachable as far as this check can tell.
  auto v4 = mx_address("192.0.2.25", MxO::connect_failed);
  v4.no_route = true;
  f = judge_mx_host(host_of({v4, v6}), enforce_judging());
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].code, "mx-unreachable");
  EXPECT_EQ(f[0].severity, Severity::error);
}

TEST(CheckEvaluateMx, SkippedAddressesAreSaid) {
  auto p = host_of({mx_address("192.0.2.25"), mx_address("2001:db8::25")});
  p.skipped = {"192.0.2.26"};
  auto f = judge_mx_host(p, enforce_judging());
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].code, "mx-addresses-skipped");
  EXPECT_EQ(f[0].severity, Severity::info);
  EXPECT_NE(f[0].message.find("192.0.2.26"), std::string::npos);
}

TEST(CheckEvaluateMx, EvaluateReportsTheMixedHost) {
  Observations o;
  o.domain = o.name = "example.com";
  o.now = kMxNow;
  o.mx.status = net::DnsStatus::ok;
  o.mx.records = {{10, kMxHost}};
  o.probes.push_back(host_of({mx_address("192.0.2.25"), mx_address("2001:db8::25", MxO::no_starttls)}));
  Report r = evaluate(o);
  auto it = std::find_if(r.findings.begin(), r.findings.end(),
                         [](const Finding& f) { return f.code == "starttls-not-supported"; });
  ASSERT_NE(it, r.findings.end());
  EXPECT_EQ(it->severity, Severity::warning);  // no policy: not enforced
  EXPECT_NE(it->message.find("2001:db8::25"), std::string::npos);
}

}  // namespace
}  // namespace mtasts::check
