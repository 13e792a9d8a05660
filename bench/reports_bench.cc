// bench/reports_bench: ingest 100,000 generated TLS-RPT reports of realistic size from a
// directory into SQLite (the path of `mtasts reports ingest`: read file, gunzip, parse, check,
// store in batches of 500, one transaction each), and print gzip+JSON decode MB/s beside raw
// zlib decompression of the same files (the physical limit of the decode step).
//
//   reports_bench [--count N] [--dir DIR [--reuse]] [--db FILE] [--batch N] [--keep]
//
// --reuse ingests the files already in DIR (an earlier run with --dir DIR) instead of generating.
//
// Prints figures; asserts nothing about time. Exit 0 when every report was stored.
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "report_gen.h"
#include "fmt/format.h"
#include "reports/decode.h"
#include "reports/gzip.h"
#include "reports/ingest.h"
#include "store/report_store.h"

namespace fs = std::filesystem;
using namespace mtasts;
using Clock = std::chrono::steady_clock;

namespace {

// CPU time of this process: on a machine shared with builds, wall time mostly measures the others.
double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Share of all cores busy over `seconds` (from /proc/stat), before anything of ours runs: on a
// machine shared with builds, every figure here measures the others too.
double machine_busy(double seconds) {
  auto sample = [] {
    std::ifstream f("/proc/stat");
    std::string cpu;
    std::uint64_t v[8] = {}, total = 0;
    f >> cpu;
    for (auto& x : v) f >> x, total += x;
    return std::pair<std::uint64_t, std::uint64_t>(total - v[3] - v[4], total);
  };
  auto [b0, t0] = sample();
  usleep(static_cast<useconds_t>(seconds * 1e6));
  auto [b1, t1] = sample();
  return t1 > t0 ? double(b1 - b0) / double(t1 - t0) : 0.0;
}

std::string loadavg() {
  std::ifstream f("/proc/loadavg");
  std::string one;
  f >> one;
  return one;
}

// Like the CLI's read_input: one sized read, no per-character stream iteration.
std::string slurp(const fs::path& p) {
  std::string out;
  if (std::FILE* f = std::fopen(p.c_str(), "rb")) {
    char buf[65536];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) out.append(buf, n);
    std::fclose(f);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t count = 100000, batch = 500;
  std::string dir, db;
  bool keep = false, reuse = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--count") count = std::stoul(next());
    else if (a == "--dir") dir = next();
    else if (a == "--db") db = next();
    else if (a == "--batch") batch = std::stoul(next());
    else if (a == "--keep") keep = true;
    else if (a == "--reuse") reuse = true;
    else {
      std::fprintf(stderr, "usage: reports_bench [--count N] [--dir DIR [--reuse]] [--db FILE] [--batch N] [--keep]\n");
      return 2;
    }
  }
  fs::path work = fs::temp_directory_path() / fmt::format("mtasts-reports-bench-{}", getpid());
  if (dir.empty()) dir = (work / "reports").string();
  if (db.empty()) db = (work / "reports.db").string();
  fs::create_directories(dir);
  fs::create_directories(fs::path(db).parent_path());
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(db + suffix);

  if (const double busy = machine_busy(1.0); busy > 0.15)
    fmt::print("WARNING: the machine is {:.0f}% busy before the start (load average {} on {} cores): the "
               "figures measure the others too\n",
               100 * busy, loadavg(), sysconf(_SC_NPROCESSORS_ONLN));

  // 1. Generate (not timed as part of ingest); --reuse: the files of an earlier --keep run.
  auto t0 = Clock::now();
  std::mt19937 rnd(8460);
  std::size_t gz_bytes = 0;
  if (!reuse) {
    std::size_t json_bytes = 0;
    for (std::size_t k = 0; k < count; ++k) {
      std::string json = serialize_report(bench::make_report(k, rnd));
      std::string z = reports::gzip(json);
      json_bytes += json.size();
      gz_bytes += z.size();
      std::ofstream(fs::path(dir) / fmt::format("{:06}.json.gz", k), std::ios::binary) << z;
    }
    auto t1 = Clock::now();
    fmt::print("generated {} reports in {}: {:.1f} MB of JSON, {:.1f} MB gzipped ({:.0f} bytes/report "
               "gzipped), {:.1f} s\n",
               count, dir, json_bytes / 1e6, gz_bytes / 1e6, double(gz_bytes) / double(count), seconds(t0, t1));
  }

  // 2. Ingest from the directory into SQLite, as the CLI does.
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  if (reuse) {
    count = files.size();
    for (const auto& f : files) gz_bytes += fs::file_size(f);
    fmt::print("using the {} files in {} ({:.1f} MB gzipped)\n", count, dir, gz_bytes / 1e6);
  }
  auto store = store::open_report_store(db);
  if (!store) {
    fmt::print(stderr, "{}\n", store.error().message);
    return 2;
  }
  reports::Ingester ingester(**store, nullptr);
  std::size_t stored = 0, other = 0;
  auto t2 = Clock::now();
  const double cpu2 = cpu_seconds();
  {
    // As the CLI: the next batch is read and decoded while the previous one commits.
    reports::PipelinedCommit batches(ingester, batch, [&](auto& settled, std::size_t) {
      for (const auto& p : settled) (p.result.outcome == reports::Outcome::stored ? stored : other)++;
    });
    for (const auto& f : files)
      batches.add(ingester.prepare(slurp(f), reports::InputKind::automatic, "file:" + f.string(), 1795305600));
    batches.finish();
  }
  auto t3 = Clock::now();
  const double cpu3 = cpu_seconds();
  std::uintmax_t db_size = 0;
  for (const char* suffix : {"", "-wal"})
    if (std::error_code ec; fs::exists(db + suffix, ec)) db_size += fs::file_size(db + suffix);
  fmt::print("ingest into SQLite ({} per transaction, synchronous=FULL): {} stored, {} other in "
             "{:.2f} s = {:.0f} reports/s (database and WAL {:.1f} MB)\n",
             batch, stored, other, seconds(t2, t3), double(stored) / seconds(t2, t3), db_size / 1e6);
  fmt::print("  CPU time of the ingest: {:.2f} s = {:.0f} reports per CPU-second (the rate on an idle "
             "core, less the fsync waits); load average {} now\n",
             cpu3 - cpu2, double(stored) / (cpu3 - cpu2), loadavg());

  // 3. Decode speed on the same data, in memory: gunzip alone vs gunzip + JSON parse.
  std::vector<std::string> blobs;
  blobs.reserve(files.size());
  for (const auto& f : files) blobs.push_back(slurp(f));
  std::size_t out = 0;
  auto t4 = Clock::now();
  for (const auto& b : blobs) out += reports::gunzip(b, kMaxReportJsonSize)->size();
  auto t5 = Clock::now();
  std::size_t ok = 0;
  for (const auto& b : blobs) ok += reports::decode_report(b, reports::InputKind::gzip).ok();
  auto t6 = Clock::now();
  fmt::print("raw zlib decompression:   {:7.1f} MB/s of JSON out ({:.1f} MB/s gzip in)\n",
             out / 1e6 / seconds(t4, t5), gz_bytes / 1e6 / seconds(t4, t5));
  fmt::print("gzip + JSON parse + checks: {:5.1f} MB/s of JSON ({:.0f} reports/s, {} valid)\n",
             out / 1e6 / seconds(t5, t6), double(blobs.size()) / seconds(t5, t6), ok);

  if (!keep) fs::remove_all(work);
  else fmt::print("kept {}\n", work.string());
  return stored == count ? 0 : 1;
}
