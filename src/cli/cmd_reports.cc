// mtasts reports ingest|summary|prune: TLS-RPT reports from files into the store, and what they
// say (docs/reports.md). `reports lmtp` is in cmd_reports_lmtp.cc.
#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <charconv>
#include <ctime>
#include <filesystem>
#include <map>

#include "cli/commands.h"
#include "cli/output.h"
#include "core/datetime.h"
#include "core/text.h"
#include "fmt/format.h"
#include "fmt/ranges.h"
#include "reports/ingest.h"
#include "reports/mail.h"
#include "reports/summary_json.h"
#include "reports/verdict.h"
#include "store/report_store.h"
#include "store/store.h"

namespace fs = std::filesystem;

namespace mtasts::cli {

namespace {

struct ReportsOptions {
  std::string db = "mtasts.db";
  std::vector<std::string> paths;
  bool any_domain = false;
  bool json = false;
  std::size_t batch = 500;
  std::string domain;
  std::string since;
  std::int64_t older_than_days = 0;
};

bool is_store_error(const Error& e) {
  return e.code == "store-open" || e.code == "store-migrate" || e.code == "store-error";
}

int fail(std::string_view cmd, const Error& e, bool json) {
  if (json) {
    Findings f;
    f.errors.push_back(e);
    print_json(to_json(f));
  } else {
    fmt::print(stderr, "mtasts reports {}: error [{}] {}\n", cmd, e.code, e.message);
    if (!e.fix.empty()) fmt::print(stderr, "    fix: {}\n", e.fix);
  }
  return is_store_error(e) || e.code == "io-error" ? kExitUsage : kExitInvalid;
}

// Every file under the paths, in a stable order. Maildir: cur/ and new/ are read, tmp/ (mail
// still being delivered) and dot files are not.
Result<std::vector<std::string>> collect(const std::vector<std::string>& paths) {
  std::vector<std::string> out;
  for (const auto& p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<std::string> files;
      fs::recursive_directory_iterator it(p, fs::directory_options::skip_permission_denied, ec), end;
      if (ec) return Error{"io-error", 0, 0, fmt::format("cannot read {}: {}", p, ec.message()), {}};
      for (; it != end; it.increment(ec)) {
        if (ec) return Error{"io-error", 0, 0, fmt::format("cannot read {}: {}", p, ec.message()), {}};
        const fs::path& f = it->path();
        std::string name = f.filename().string();
        if (name.starts_with('.')) {
          if (it->is_directory()) it.disable_recursion_pending();
          continue;
        }
        if (it->is_directory() && name == "tmp" && fs::is_directory(f.parent_path() / "cur")) {
          it.disable_recursion_pending();
          continue;
        }
        if (it->is_regular_file()) files.push_back(f.string());
      }
      std::sort(files.begin(), files.end());
      out.insert(out.end(), files.begin(), files.end());
    } else if (fs::exists(p, ec)) {
      out.push_back(p);
    } else {
      return Error{"io-error", 0, 0, fmt::format("{}: no such file or directory", p), {}};
    }
  }
  return out;
}

void print_result(const std::string& path, const reports::IngestResult& r) {
  using reports::Outcome;
  switch (r.outcome) {
    case Outcome::stored:
    case Outcome::duplicate:
      fmt::print("{}: {} {} report {} for {} ({} successful, {} failed sessions)\n", path,
                 to_string(r.outcome), terminal_safe(r.organization), terminal_safe(r.report_id),
                 r.domains.empty() ? std::string("no domain") : fmt::format("{}", fmt::join(r.domains, ", ")),
                 r.successful, r.failed_sessions);
      for (const auto& w : r.warnings) fmt::print("    warning [{}] {}\n", w.code, terminal_safe(w.message));
      break;
    default:
      fmt::print("{}: {} [{}] {}\n", path, to_string(r.outcome), r.error.code, terminal_safe(r.error.message));
      if (!r.error.fix.empty()) fmt::print("    fix: {}\n", r.error.fix);
  }
}

boost::json::object result_json(const std::string& path, const reports::IngestResult& r) {
  boost::json::object o{{"path", path}, {"outcome", to_string(r.outcome)}};
  if (r.outcome == reports::Outcome::stored || r.outcome == reports::Outcome::duplicate) {
    boost::json::array domains;
    for (const auto& d : r.domains) domains.emplace_back(d);
    o["organization"] = r.organization;
    o["report_id"] = r.report_id;
    o["via"] = r.via;
    o["domains"] = std::move(domains);
    o["successful"] = r.successful;
    o["failed"] = r.failed_sessions;
  } else {
    o["error"] = to_json(r.error);
  }
  boost::json::array warnings;
  for (const auto& w : r.warnings) warnings.push_back(to_json(w));
  o["warnings"] = std::move(warnings);
  return o;
}

int ingest(const ReportsOptions& o) {
  auto files = collect(o.paths);
  if (!files) return fail("ingest", files.error(), o.json);
  auto reports_store = store::open_report_store(o.db);
  if (!reports_store) return fail("ingest", reports_store.error(), o.json);
  std::unique_ptr<store::Store> domains;
  std::map<std::string, bool> known;  // one lookup per domain for the whole run
  reports::DomainCheck check;
  if (!o.any_domain) {
    auto s = store::open_store(o.db);
    if (!s) return fail("ingest", s.error(), o.json);
    domains = std::move(s).value();
    check = [&](const std::string& d) -> Result<bool> {
      if (auto it = known.find(d); it != known.end()) return it->second;
      auto got = domains->get_domain(d);
      if (!got) return got.error();
      return known[d] = got->has_value();
    };
  }
  reports::Ingester ingester(**reports_store, check);
  std::map<reports::Outcome, std::size_t> totals;
  boost::json::array results;
  bool io_error = false;
  // A batch is acknowledged (printed) only after its transaction committed; the next batch is
  // read and decoded meanwhile.
  reports::PipelinedCommit batches(ingester, o.batch, [&](auto& batch, std::size_t first) {
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const std::string& path = (*files)[first + i];
      ++totals[batch[i].result.outcome];
      if (o.json) results.push_back(result_json(path, batch[i].result));
      else print_result(path, batch[i].result);
    }
    std::fflush(stdout);
  });
  for (const auto& path : *files) {
    auto data = read_input(path, reports::kMaxMailSize);
    reports::Ingester::Pending p;
    if (!data) {
      io_error = true;
      p.result.outcome = reports::Outcome::failed;
      p.result.error = data.error();
    } else if (data->size() > reports::kMaxMailSize) {
      p.result.outcome = reports::Outcome::invalid;
      p.result.error = {"input-too-large", 0, 0,
                        fmt::format("more than {} bytes; no report is that large", reports::kMaxMailSize), {}};
    } else {
      p = ingester.prepare(*data, reports::InputKind::automatic, "file:" + path, std::time(nullptr));
    }
    batches.add(std::move(p));
  }
  batches.finish();
  using reports::Outcome;
  auto n = [&](Outcome x) { return totals[x]; };
  if (o.json) {
    print_json(boost::json::object{{"files", std::move(results)},
                                   {"stored", n(Outcome::stored)},
                                   {"duplicate", n(Outcome::duplicate)},
                                   {"refused", n(Outcome::refused)},
                                   {"invalid", n(Outcome::invalid)},
                                   {"failed", n(Outcome::failed)}});
  } else {
    fmt::print(stderr, "{} file{}: {} stored, {} duplicate, {} refused, {} invalid, {} failed\n",
               files->size(), files->size() == 1 ? "" : "s", n(Outcome::stored),
               n(Outcome::duplicate), n(Outcome::refused), n(Outcome::invalid), n(Outcome::failed));
  }
  if (files->empty()) {
    if (!o.json) fmt::print(stderr, "mtasts reports ingest: no files found\n");
    return kExitUsage;
  }
  if (io_error || n(Outcome::failed)) return kExitUsage;
  return n(Outcome::refused) || n(Outcome::invalid) ? kExitInvalid : kExitOk;
}

void print_summary(const store::DomainSummary& s) {
  const auto v = reports::verdict(s);
  const auto total = s.total.successful + s.total.failed;
  fmt::print("{}: {} sessions, {} successful, {} failed ({:.2f}% success), {} report{}, {} .. {}\n",
             s.domain, total, s.total.successful, s.total.failed,
             100.0 * reports::success_rate(s.total), s.total.reports,
             s.total.reports == 1 ? "" : "s", utc_date(s.first_day), utc_date(s.last_day));
  fmt::print("  by organization:\n");
  for (const auto& [org, c] : s.by_organization)
    fmt::print("    {:<32} {:>10} successful {:>8} failed {:>5} reports\n", terminal_safe(org), c.successful,
               c.failed, c.reports);
  fmt::print("  by day:\n");
  for (const auto& [day, c] : s.by_day)
    fmt::print("    {}  {:>10} successful {:>8} failed {:>5} reports\n", day, c.successful,
               c.failed, c.reports);
  if (!s.by_result_type.empty()) {
    fmt::print("  failed sessions by result type:\n");
    for (const auto& [t, n] : s.by_result_type) fmt::print("    {:<28} {:>8}\n", terminal_safe(t), n);
  }
  if (!s.by_mx_host.empty()) {
    fmt::print("  failed sessions by MX host:\n");
    for (const auto& [h, n] : s.by_mx_host) fmt::print("    {:<40} {:>8}\n", terminal_safe(h), n);
  }
  if (!s.top_failures.empty()) {
    fmt::print("  top failure reasons:\n");
    for (const auto& f : s.top_failures) {
      fmt::print("    {:>8}  {}{}{}\n", f.failed, f.result_type,
                 f.receiving_mx_hostname.empty() ? "" : " at " + f.receiving_mx_hostname,
                 f.failure_reason_code.empty() ? "" : fmt::format(" (\"{}\")", f.failure_reason_code));
      if (!f.sending_mta_ips.empty())
        fmt::print("              from {}\n", fmt::join(f.sending_mta_ips, ", "));
      fmt::print("              fix: {}\n", reports::fix_for(f.result_type, s.domain));
    }
  }
  fmt::print("  verdict: {}\n\n", v.text);
}

int summary(const ReportsOptions& o) {
  auto since = reports::parse_since(o.since, std::time(nullptr));
  if (!since) return fail("summary", since.error(), o.json);
  auto s = store::open_report_store(o.db);
  if (!s) return fail("summary", s.error(), o.json);
  auto got = reports::summaries(**s, o.domain, *since);
  if (!got) return fail("summary", got.error(), o.json);
  std::vector<store::DomainSummary> all = std::move(got).value();
  if (o.json) {
    print_json(reports::summaries_json(all));
    return kExitOk;
  }
  if (all.empty()) fmt::print("No reports{}.\n", o.since.empty() ? "" : " since " + o.since);
  for (const auto& d : all) {
    if (d.total.reports == 0) {
      fmt::print("{}: no reports\n  verdict: {}\n", d.domain, reports::verdict(d).text);
      continue;
    }
    print_summary(d);
  }
  return kExitOk;
}

int prune(const ReportsOptions& o) {
  auto s = store::open_report_store(o.db);
  if (!s) return fail("prune", s.error(), o.json);
  auto n = (*s)->delete_before(std::time(nullptr) - o.older_than_days * 86400);
  if (!n) return fail("prune", n.error(), o.json);
  if (o.json) print_json(boost::json::object{{"deleted", *n}});
  else fmt::print("deleted {} report{} that ended more than {} days ago\n", *n, *n == 1 ? "" : "s", o.older_than_days);
  return kExitOk;
}

}  // namespace

void register_reports_command(CLI::App& app, int& exit_code) {
  static ReportsOptions o;
  auto* cmd = app.add_subcommand("reports", "TLS-RPT reports: ingest, summary, prune, lmtp");
  cmd->require_subcommand(1);
  auto db = [&](CLI::App* sub) {
    sub->add_option("--db", o.db, "SQLite file or postgresql:// URL (default: ./mtasts.db)");
    sub->add_flag("--json", o.json, "print one JSON document");
  };
  auto* in = cmd->add_subcommand("ingest", "store reports from .eml, Maildir, .json and .json.gz files");
  in->add_option("PATH", o.paths, "files or directories (Maildir cur/ and new/ included)")->required();
  db(in);
  in->add_flag("--any-domain", o.any_domain, "accept reports for domains that are not registered");
  in->add_option("--batch", o.batch, "reports per transaction (default 500)")->check(CLI::Range(1, 100000));
  in->callback([&] { exit_code = ingest(o); });
  auto* sum = cmd->add_subcommand("summary", "per domain: sessions, failures and whether enforcing is safe");
  db(sum);
  sum->add_option("--domain", o.domain, "only this domain");
  sum->add_option("--since", o.since, "reports from this date on: 2026-11-01, RFC 3339, or 30d");
  sum->callback([&] { exit_code = summary(o); });
  auto* pr = cmd->add_subcommand("prune", "retention: delete reports older than N days");
  db(pr);
  pr->add_option("--older-than", o.older_than_days, "days")->required()->check(CLI::Range(0, 36500));
  pr->callback([&] { exit_code = prune(o); });
  register_reports_lmtp(*cmd, exit_code);
}

}  // namespace mtasts::cli
