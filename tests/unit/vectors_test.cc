// Walks tests/vectors/: every case is a file (or two); adding a case is adding a file.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/json.h"
#include "core/mx_pattern.h"
#include "core/policy.h"
#include "core/report.h"
#include "core/txt_record.h"

namespace fs = std::filesystem;
namespace json = boost::json;

namespace mtasts {
namespace {

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

json::value read_json(const fs::path& p) { return json::parse(read_file(p)); }

// Case names: the files in vectors/<dir> ending in `suffix`, without it.
std::vector<std::string> cases(const char* dir, const char* suffix, const char* skip = nullptr) {
  std::vector<std::string> out;
  fs::path root = fs::path(MTASTS_VECTORS_DIR) / dir;
  for (const auto& e : fs::directory_iterator(root)) {
    std::string name = e.path().filename().string();
    if (!name.ends_with(suffix)) continue;
    if (skip && name.ends_with(skip)) continue;
    out.push_back(name.substr(0, name.size() - std::strlen(suffix)));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string test_name(const testing::TestParamInfo<std::string>& info) {
  std::string n = "v" + info.param;
  for (char& c : n)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return n;
}

// Findings as sorted "code@line" (or "code") strings, to compare as multisets.
std::vector<std::string> keys(const std::vector<Error>& list, bool with_line) {
  std::vector<std::string> out;
  for (const auto& e : list)
    out.push_back(with_line ? e.code + "@" + std::to_string(e.line) : e.code);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> keys(const json::value& list, bool with_line) {
  std::vector<std::string> out;
  for (const auto& v : list.as_array()) {
    if (v.is_string()) {
      out.emplace_back(v.as_string());
    } else {
      std::string k(v.at("code").as_string());
      if (with_line) k += "@" + std::to_string(v.at("line").to_number<std::int64_t>());
      out.push_back(k);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += x + " ";
  return s;
}

class PolicyVectors : public testing::TestWithParam<std::string> {};

TEST_P(PolicyVectors, LintMatchesExpected) {
  fs::path dir = fs::path(MTASTS_VECTORS_DIR) / "policy";
  std::string body = read_file(dir / (GetParam() + ".txt"));
  json::value want = read_json(dir / (GetParam() + ".json"));
  PolicyLint got = lint_policy(body);
  EXPECT_EQ(got.findings.valid(), want.at("valid").as_bool());
  EXPECT_EQ(joined(keys(got.findings.errors, true)), joined(keys(want.at("errors"), true)));
  EXPECT_EQ(joined(keys(got.findings.warnings, true)), joined(keys(want.at("warnings"), true)));
  if (got.policy && want.as_object().contains("policy")) {
    EXPECT_EQ(json::serialize(to_json(*got.policy)), json::serialize(want.at("policy")));
  }
}
INSTANTIATE_TEST_SUITE_P(Golden, PolicyVectors, testing::ValuesIn(cases("policy", ".json")),
                         test_name);

class TxtVectors : public testing::TestWithParam<std::string> {};

TEST_P(TxtVectors, LintMatchesExpected) {
  json::value want = read_json(fs::path(MTASTS_VECTORS_DIR) / "txt" / (GetParam() + ".json"));
  std::vector<std::string> strings;
  for (const auto& s : want.at("strings").as_array()) strings.emplace_back(s.as_string());
  RecordKind kind = want.at("kind").as_string() == "sts" ? RecordKind::sts : RecordKind::tlsrpt;
  RecordLint got = lint_record(join_txt_strings(strings), kind);
  EXPECT_EQ(got.findings.valid(), want.at("valid").as_bool());
  EXPECT_EQ(joined(keys(got.findings.errors, false)), joined(keys(want.at("errors"), false)));
  EXPECT_EQ(joined(keys(got.findings.warnings, false)), joined(keys(want.at("warnings"), false)));
  if (got.findings.valid() && want.as_object().contains("fields")) {
    json::object fields;
    for (const auto& f : got.fields)
      if (!fields.contains(f.name)) fields[f.name] = f.value;
    EXPECT_EQ(json::value(fields), want.at("fields"));
  }
}
INSTANTIATE_TEST_SUITE_P(Golden, TxtVectors, testing::ValuesIn(cases("txt", ".json")), test_name);

class MxVectors : public testing::TestWithParam<std::string> {};

TEST_P(MxVectors, MatchMatchesExpected) {
  json::value want = read_json(fs::path(MTASTS_VECTORS_DIR) / "mx" / (GetParam() + ".json"));
  auto got = mx_match(want.at("pattern").as_string().c_str(), want.at("host").as_string().c_str());
  if (want.at("error").is_null()) {
    ASSERT_TRUE(got) << got.error().message;
    EXPECT_EQ(*got, want.at("match").as_bool());
  } else {
    ASSERT_FALSE(got);
    EXPECT_EQ(got.error().code, want.at("error").as_string());
  }
}
INSTANTIATE_TEST_SUITE_P(Golden, MxVectors, testing::ValuesIn(cases("mx", ".json")), test_name);

class ReportVectors : public testing::TestWithParam<std::string> {};

TEST_P(ReportVectors, ParseMatchesExpected) {
  fs::path dir = fs::path(MTASTS_VECTORS_DIR) / "report";
  std::string body = read_file(dir / (GetParam() + ".json"));
  json::value want = read_json(dir / (GetParam() + ".expected.json"));
  ReportLint got = lint_report(body);
  EXPECT_EQ(got.findings.valid(), want.at("valid").as_bool());
  // Report codes are compared in order: the order says which problem was found first.
  std::vector<std::string> errors, warnings, want_errors, want_warnings;
  for (const auto& e : got.findings.errors) errors.push_back(e.code);
  for (const auto& e : got.findings.warnings) warnings.push_back(e.code);
  for (const auto& v : want.at("errors").as_array()) want_errors.emplace_back(v.as_string());
  for (const auto& v : want.at("warnings").as_array()) want_warnings.emplace_back(v.as_string());
  EXPECT_EQ(joined(errors), joined(want_errors));
  EXPECT_EQ(joined(warnings), joined(want_warnings));
  if (!got.report || !want.as_object().contains("report")) return;
  const TlsRptReport& r = *got.report;
  const auto& w = want.at("report");
  EXPECT_EQ(r.organization_name, w.at("organization_name").as_string());
  EXPECT_EQ(r.report_id, w.at("report_id").as_string());
  EXPECT_EQ(r.contact_info, w.at("contact_info").as_string());
  EXPECT_EQ(r.start_datetime, w.at("start").as_string());
  EXPECT_EQ(r.end_datetime, w.at("end").as_string());
  const auto& wp = w.at("policies").as_array();
  ASSERT_EQ(r.policies.size(), wp.size());
  for (std::size_t i = 0; i < wp.size(); ++i) {
    const PolicyResult& p = r.policies[i];
    EXPECT_EQ(to_string(p.policy_type), wp[i].at("type").as_string());
    EXPECT_EQ(p.policy_domain, wp[i].at("domain").as_string());
    EXPECT_EQ(p.total_successful_session_count, wp[i].at("successful").to_number<std::uint64_t>());
    EXPECT_EQ(p.total_failure_session_count, wp[i].at("failed").to_number<std::uint64_t>());
    json::object failures;
    for (const auto& f : p.failure_details) {
      auto& slot = failures[f.result_type];
      slot = (slot.is_null() ? 0 : slot.to_number<std::uint64_t>()) + f.failed_session_count;
    }
    EXPECT_EQ(json::serialize(failures), json::serialize(wp[i].at("failures"))) << "policy " << i;
  }
  // Round trip: what we serialize parses back to the same model.
  auto again = parse_report(serialize_report(r));
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->policies, r.policies);
}
INSTANTIATE_TEST_SUITE_P(Golden, ReportVectors,
                         testing::ValuesIn(cases("report", ".json", ".expected.json")), test_name);

TEST(Vectors, EnoughCases) {
  EXPECT_GE(cases("policy", ".json").size(), 60u);
  EXPECT_GE(cases("txt", ".json").size(), 30u);
  EXPECT_GE(cases("mx", ".json").size(), 30u);
  EXPECT_GE(cases("report", ".json", ".expected.json").size(), 10u);
}

}  // namespace
}  // namespace mtasts
