#include "generate/generate.h"

#include <gtest/gtest.h>

#include "core/policy_id.h"
#include "core/txt_record.h"

namespace mtasts {
namespace {

GenerateRequest request() {
  GenerateRequest r;
  r.domain = "Example.COM";
  r.mx = {"mx1.example.com", "mx2.example.com"};
  r.rua = {"mailto:tlsrpt@example.com"};
  return r;
}

const std::string& file(const Generated& g, std::string_view name) {
  for (const auto& f : g.files)
    if (f.name == name) return f.content;
  static const std::string none;
  ADD_FAILURE() << "no file " << name;
  return none;
}

TEST(Generate, ProducesALintCleanPolicyAndRecords) {
  auto g = generate(request());
  ASSERT_TRUE(g) << g.error().message;
  EXPECT_EQ(g->domain, "example.com");
  auto lint = lint_policy(g->policy_text);
  EXPECT_TRUE(lint.findings.valid());
  EXPECT_TRUE(lint.findings.warnings.empty());
  EXPECT_EQ(lint.policy->mode, Mode::testing);
  EXPECT_EQ(lint.policy->max_age, 86400u);
  auto sts = parse_sts_record(g->sts_record);
  ASSERT_TRUE(sts) << sts.error().message;
  EXPECT_EQ(sts->id, g->id);
  ASSERT_TRUE(g->tlsrpt_record);
  EXPECT_TRUE(parse_tlsrpt_record(*g->tlsrpt_record));
  for (const char* name : {"mta-sts.txt", "dns.zone", "nginx.conf", "apache.conf", "Caddyfile",
                           "ROLLOUT.md"})
    EXPECT_FALSE(file(*g, name).empty()) << name;
}

TEST(Generate, IdsAreStableAndChangeWithContent) {
  auto a = generate(request());
  auto b = generate(request());
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->id, b->id);
  EXPECT_LE(a->id.size(), 32u);
  for (char c : a->id) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)));
  GenerateRequest changed = request();
  changed.mx.push_back("mx3.example.com");
  auto c = generate(changed);
  ASSERT_TRUE(c);
  EXPECT_NE(c->id, a->id);
  changed = request();
  changed.max_age = 604800;
  EXPECT_NE(generate(changed)->id, a->id);
  changed = request();
  changed.mode = Mode::enforce;
  EXPECT_NE(generate(changed)->id, a->id);
  // Same content written differently: same policy, same id.
  changed = request();
  changed.mx = {"MX1.example.com.", "mx2.example.com", "mx1.example.com"};
  EXPECT_EQ(generate(changed)->id, a->id);
}

TEST(Generate, ZoneSnippet) {
  auto g = generate(request());
  ASSERT_TRUE(g);
  const std::string& zone = file(*g, "dns.zone");
  EXPECT_NE(zone.find("_mta-sts.example.com. 3600 IN TXT \"v=STSv1; id=" + g->id + ";\""),
            std::string::npos)
      << zone;
  EXPECT_NE(zone.find("_smtp._tls.example.com. 3600 IN TXT \"v=TLSRPTv1; "
                      "rua=mailto:tlsrpt@example.com;\""),
            std::string::npos)
      << zone;
  EXPECT_NE(zone.find("; mta-sts.example.com"), std::string::npos);
}

TEST(Generate, LongTxtValuesAreSplit) {
  std::string value(600, 'a');
  std::string s = zone_txt_strings(value);
  auto back = parse_txt_presentation(s);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, value);
  EXPECT_EQ(std::count(s.begin(), s.end(), '"'), 6);
  EXPECT_EQ(zone_txt_strings("a\"b"), "\"a\\\"b\"");
}

TEST(Generate, WebServerSnippetsServeOnlyThePolicy) {
  auto g = generate(request());
  ASSERT_TRUE(g);
  const std::string& nginx = file(*g, "nginx.conf");
  EXPECT_NE(nginx.find("server_name mta-sts.example.com;"), std::string::npos);
  EXPECT_NE(nginx.find("location = /.well-known/mta-sts.txt"), std::string::npos);
  EXPECT_NE(nginx.find("default_type text/plain;"), std::string::npos);
  EXPECT_NE(nginx.find("ssl_protocols       TLSv1.2 TLSv1.3;"), std::string::npos);
  EXPECT_EQ(nginx.find("return 301"), std::string::npos);
  EXPECT_EQ(nginx.find("return 302"), std::string::npos);
  const std::string& apache = file(*g, "apache.conf");
  EXPECT_NE(apache.find("ForceType text/plain"), std::string::npos);
  EXPECT_NE(apache.find("SSLProtocol -all +TLSv1.2 +TLSv1.3"), std::string::npos);
  const std::string& caddy = file(*g, "Caddyfile");
  EXPECT_NE(caddy.find("mta-sts.example.com {"), std::string::npos);
  EXPECT_NE(caddy.find("protocols tls1.2 tls1.3"), std::string::npos);
}

TEST(Generate, RolloutPlanHasEveryPhaseWithItsId) {
  auto g = generate(request());
  ASSERT_TRUE(g);
  const std::string& plan = file(*g, "ROLLOUT.md");
  for (auto [mode, age] : {std::pair{Mode::testing, 86400u}, std::pair{Mode::testing, 604800u},
                           std::pair{Mode::enforce, 1209600u}, std::pair{Mode::none, 86400u}}) {
    Policy p = g->policy;
    p.mode = mode;
    p.max_age = age;
    EXPECT_NE(plan.find("id=" + policy_id(p)), std::string::npos) << to_string(mode) << age;
  }
  EXPECT_NE(plan.find("Rolling back"), std::string::npos);
  EXPECT_NE(plan.find("mode none"), std::string::npos);
}

TEST(Generate, RejectsBadInput) {
  auto code = [](GenerateRequest r) {
    auto g = generate(r);
    return g ? std::string("ok") : g.error().code;
  };
  GenerateRequest r = request();
  r.domain = "not a domain";
  EXPECT_EQ(code(r), "domain-invalid");
  r = request();
  r.domain = "localhost";
  EXPECT_EQ(code(r), "domain-invalid");
  r = request();
  r.mx = {"mx.*.example.com"};
  EXPECT_EQ(code(r), "mx-invalid");
  r = request();
  r.mx.clear();
  EXPECT_EQ(code(r), "mx-missing");
  r.mode = Mode::none;
  EXPECT_EQ(code(r), "ok");
  r = request();
  r.rua = {"http://example.com/"};
  EXPECT_EQ(code(r), "rua-http");
  r = request();
  r.max_age = 40000000;
  EXPECT_EQ(code(r), "max-age-range");
}

TEST(Generate, DiffShowsWhatChanged) {
  auto a = generate(request());
  GenerateRequest r = request();
  r.mx = {"mx1.example.com", "mx3.example.com"};
  r.mode = Mode::enforce;
  auto b = generate(r);
  ASSERT_TRUE(a && b);
  PolicyDiff d = diff_policies(a->policy, b->policy);
  EXPECT_TRUE(d.changed());
  ASSERT_TRUE(d.mode);
  EXPECT_EQ(d.mode->second, Mode::enforce);
  EXPECT_EQ(d.added_mx, std::vector<std::string>{"mx3.example.com"});
  EXPECT_EQ(d.removed_mx, std::vector<std::string>{"mx2.example.com"});
  EXPECT_FALSE(diff_policies(a->policy, a->policy).changed());
}

}  // namespace
}  // namespace mtasts
