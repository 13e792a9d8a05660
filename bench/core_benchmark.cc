// bench/core_benchmark: the sans-I/O core on one core. Prints ns/op, items/s and MB/s per
// benchmark, then the targets beside the measured figures:
//   policy parse >= 1,000,000/s; report JSON parse >= 200 MB/s.
// Run: build/release/bench/core_benchmark (or build/dev/...); pass --benchmark_filter=... to pick.
#include <benchmark/benchmark.h>

#include <boost/json.hpp>
#include <map>
#include <string>

#include "core/mx_pattern.h"
#include "core/policy.h"
#include "core/report.h"
#include "core/txt_record.h"
#include "fmt/format.h"

namespace {

using namespace mtasts;

const std::string kPolicy =
    "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\nmx: mx2.example.com\r\n"
    "mx: *.mx.example.net\r\nmax_age: 1209600\r\n";

// A report the way large senders write them, with `details` failure-details entries.
std::string make_report(int policies, int details) {
  boost::json::array ps;
  for (int p = 0; p < policies; ++p) {
    boost::json::array fd;
    for (int i = 0; i < details; ++i)
      fd.push_back({{"result-type", i % 3 ? "certificate-expired" : "starttls-not-supported"},
                    {"sending-mta-ip", fmt::format("198.51.100.{}", i % 250)},
                    {"receiving-mx-hostname", fmt::format("mx{}.example.com", i % 4)},
                    {"receiving-ip", fmt::format("203.0.113.{}", i % 250)},
                    {"failed-session-count", 1 + i % 17},
                    {"failure-reason-code", "X509_V_ERR_CERT_HAS_EXPIRED"}});
    boost::json::object entry{
        {"policy",
         {{"policy-type", "sts"},
          {"policy-string", {"version: STSv1", "mode: enforce", "mx: mx1.example.com",
                             "mx: mx2.example.com", "max_age: 1209600"}},
          {"policy-domain", fmt::format("example{}.com", p)},
          {"mx-host", {"mx1.example.com", "mx2.example.com"}}}},
        {"summary",
         {{"total-successful-session-count", 123456}, {"total-failure-session-count", 99999}}}};
    if (details) entry["failure-details"] = std::move(fd);
    ps.push_back(std::move(entry));
  }
  boost::json::object r{
      {"organization-name", "Google Inc."},
      {"date-range",
       {{"start-datetime", "2026-11-24T00:00:00Z"}, {"end-datetime", "2026-11-24T23:59:59Z"}}},
      {"contact-info", "smtp-tls-reporting@google.com"},
      {"report-id", "2026-11-24T00:00:00Z_example.com"},
      {"policies", std::move(ps)}};
  return boost::json::serialize(r);
}

void BM_PolicyParse(benchmark::State& state) {
  for (auto _ : state) {
    auto p = parse_policy(kPolicy);
    benchmark::DoNotOptimize(p);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kPolicy.size()));
}
BENCHMARK(BM_PolicyParse);

void BM_StsRecordParse(benchmark::State& state) {
  const std::string rec = "v=STSv1; id=20261124T000000;";
  for (auto _ : state) {
    auto r = parse_sts_record(rec);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_StsRecordParse);

void BM_TlsRptRecordParse(benchmark::State& state) {
  const std::string rec = "v=TLSRPTv1; rua=mailto:tlsrpt@example.com,https://r.example.net/v1";
  for (auto _ : state) {
    auto r = parse_tlsrpt_record(rec);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TlsRptRecordParse);

// The resolver's hot path: a parsed policy against a normalized MX host.
void BM_MxMatchPolicy(benchmark::State& state) {
  Policy policy = *parse_policy(kPolicy);
  const std::string host = "a.mx.example.net";
  for (auto _ : state) benchmark::DoNotOptimize(policy.matches(host));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MxMatchPolicy);

// Both sides from text, normalization included (what `mtasts mx-match` does).
void BM_MxMatchText(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(mx_match("*.mx.example.net", "A.mx.Example.net."));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MxMatchText);

void BM_MxMatchIdna(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(mx_match("*.bücher.example", "mx.bücher.example"));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MxMatchIdna);

void report_bench(benchmark::State& state, const std::string& json) {
  for (auto _ : state) {
    auto r = parse_report(json);
    if (!r) state.SkipWithError(r.error().message.c_str());
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(json.size()));
  state.counters["report_bytes"] = static_cast<double>(json.size());
}

void BM_ReportParseSmall(benchmark::State& state) { report_bench(state, make_report(1, 0)); }
BENCHMARK(BM_ReportParseSmall);
void BM_ReportParseTypical(benchmark::State& state) { report_bench(state, make_report(2, 20)); }
BENCHMARK(BM_ReportParseTypical);
void BM_ReportParseLarge(benchmark::State& state) { report_bench(state, make_report(10, 2000)); }
BENCHMARK(BM_ReportParseLarge);

// The floor under report parsing: Boost.JSON's DOM parse alone of the same large report.
void BM_JsonParseOnlyLarge(benchmark::State& state) {
  const std::string json = make_report(10, 2000);
  for (auto _ : state) {
    boost::json::monotonic_resource mr;
    auto v = boost::json::parse(json, &mr);
    benchmark::DoNotOptimize(v);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(json.size()));
}
BENCHMARK(BM_JsonParseOnlyLarge);

// Console output as usual, plus the figures kept for the target summary.
class Reporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const auto& r : runs) {
      if (r.error_occurred || r.run_type != Run::RT_Iteration) continue;
      double seconds = r.real_accumulated_time;
      if (seconds <= 0) continue;
      auto bytes = r.counters.find("bytes_per_second");
      auto items = r.counters.find("items_per_second");
      rates_[r.benchmark_name()] = {items != r.counters.end() ? double(items->second) : 0,
                                    bytes != r.counters.end() ? double(bytes->second) : 0};
    }
  }
  void Summary() const {
    auto show = [&](const char* name, const char* what, double value, double target,
                    const char* unit) {
      auto it = rates_.find(name);
      if (it == rates_.end()) return;
      fmt::print("{:<28} {:>14.1f} {:<9} target >= {:>11.0f} {:<9} {}\n", what, value, unit,
                 target, unit, value >= target ? "OK" : "BELOW TARGET");
    };
    auto get = [&](const char* name, bool bytes) {
      auto it = rates_.find(name);
      return it == rates_.end() ? 0.0 : (bytes ? it->second.second / 1e6 : it->second.first);
    };
    fmt::print("\nTargets (one core):\n");
    show("BM_PolicyParse", "policy parse", get("BM_PolicyParse", false), 1e6, "per s");
    show("BM_ReportParseLarge", "report parse (large)", get("BM_ReportParseLarge", true), 200,
         "MB/s");
    show("BM_ReportParseTypical", "report parse (typical)", get("BM_ReportParseTypical", true), 200,
         "MB/s");
    if (double floor = get("BM_JsonParseOnlyLarge", true); floor > 0)
      fmt::print("{:<28} {:>14.1f} MB/s      (report parse is {:.0f}% of it)\n",
                 "Boost.JSON DOM parse alone", floor,
                 100.0 * get("BM_ReportParseLarge", true) / floor);
  }

 private:
  std::map<std::string, std::pair<double, double>> rates_;
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  Reporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.Summary();
  benchmark::Shutdown();
  return 0;
}
