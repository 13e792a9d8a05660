// mtasts check DOMAIN... | --from-file F: inspect live deployments from the outside.
#include <CLI/CLI.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include <unistd.h>

#include <atomic>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "check/check.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "core/domain.h"
#include "core/json.h"
#include "core/text.h"
#include "fmt/format.h"
#include "fmt/ranges.h"
#include "net/cares_resolver.h"
#include "net/tls.h"

namespace asio = boost::asio;

namespace mtasts::cli {

namespace {

struct CheckOptions {
  std::vector<std::string> domains;
  std::string from_file;
  bool json = false, jsonl = false, csv = false;
  std::size_t concurrency = 50;
  std::size_t threads = 0;  // 0: one per core, at most one per concurrency slot
  std::string dns_server;
  std::string ca_file;
  std::vector<std::string> connect_to;
  double timeout = 10;
  std::string state_file;
};

boost::json::object cert_json(const net::TlsVerdict& t) {
  boost::json::object c;
  if (t.leaf) {
    c["subject"] = t.leaf->subject;
    c["issuer"] = t.leaf->issuer;
    boost::json::array names;
    for (const auto& n : t.leaf->names) names.emplace_back(n);
    c["names"] = std::move(names);
    c["not_before"] = t.leaf->not_before;
    c["not_after"] = t.leaf->not_after;
    c["key"] = t.leaf->key;
  }
  c["trusted"] = t.chain_trusted;
  c["name_match"] = t.name_match;
  boost::json::array errors;
  for (const auto& e : t.errors) errors.emplace_back(e);
  c["errors"] = std::move(errors);
  return c;
}

bool offers_starttls(net::SmtpProbe::Outcome o) {
  return o == net::SmtpProbe::Outcome::tls_ok || o == net::SmtpProbe::Outcome::tls_failed ||
         o == net::SmtpProbe::Outcome::starttls_refused;
}

boost::json::object report_json(const check::Report& r) {
  boost::json::object o;
  o["domain"] = r.domain;
  if (r.observed && r.observed->domain != r.domain) o["input"] = r.observed->domain;
  o["status"] = check::status_text(r.status);
  boost::json::array findings;
  for (const auto& f : r.findings)
    findings.push_back({{"code", f.code},
                        {"severity", check::to_string(f.severity)},
                        {"message", f.message},
                        {"fix", f.fix}});
  o["findings"] = std::move(findings);
  o["records"] = {{"sts", r.sts_record ? boost::json::value(*r.sts_record) : nullptr},
                  {"tlsrpt", r.tlsrpt_record ? boost::json::value(*r.tlsrpt_record) : nullptr}};
  o["policy_id"] = r.policy_id ? boost::json::value(*r.policy_id) : nullptr;
  o["policy"] = r.policy ? to_json(*r.policy) : nullptr;
  boost::json::array mx;
  if (r.observed) {
    const auto& obs = *r.observed;
    if (obs.fetch && obs.fetch->tls.handshake) {
      o["policy_host"] = {{"host", obs.fetch->host},
                          {"address", obs.fetch->address},
                          {"tls_version", obs.fetch->tls.version},
                          {"http_status", obs.fetch->status},
                          {"content_type", obs.fetch->content_type},
                          {"cert", cert_json(obs.fetch->tls)}};
    }
    // The host's own fields are what a sender sees: its first address (A before AAAA) that
    // accepts a connection; "addresses" has every address probed (DESIGN.md, check --json).
    for (const auto& p : obs.probes) {
      boost::json::object m{{"host", p.host},
                            {"address", p.address},
                            {"result", net::to_string(p.outcome)},
                            {"starttls", offers_starttls(p.outcome)}};
      if (!p.tls.version.empty()) m["tls_version"] = p.tls.version;
      if (p.tls.handshake) m["cert"] = cert_json(p.tls);
      boost::json::array addresses;
      for (const auto& a : p.addresses) {
        boost::json::object e{{"address", a.address},
                              {"family", a.address.find(':') == std::string::npos ? "A" : "AAAA"},
                              {"result", net::to_string(a.outcome)},
                              {"starttls", offers_starttls(a.outcome)}};
        if (!a.tls.version.empty()) e["tls_version"] = a.tls.version;
        if (a.tls.handshake) e["cert"] = cert_json(a.tls);
        if (!a.detail.empty()) e["detail"] = a.detail;
        if (a.no_route) e["no_route"] = true;  // this machine cannot reach the address's family
        addresses.push_back(std::move(e));
      }
      m["addresses"] = std::move(addresses);
      if (!p.skipped.empty()) {
        boost::json::array skipped;
        for (const auto& a : p.skipped) skipped.emplace_back(a);
        m["addresses_skipped"] = std::move(skipped);
      }
      mx.push_back(std::move(m));
    }
  }
  o["mx"] = std::move(mx);
  return o;
}

std::string csv_field(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

void print_human(const check::Report& r, const Style& style) {
  std::size_t errors = 0, warnings = 0;
  for (const auto& f : r.findings) {
    errors += f.severity == check::Severity::error;
    warnings += f.severity == check::Severity::warning;
  }
  std::string status = r.status == check::Severity::error     ? style.red("error")
                       : r.status == check::Severity::warning ? style.yellow("warning")
                                                              : style.green("ok");
  fmt::print("{}: {} ({} error{}, {} warning{})\n", style.bold(r.domain), status, errors,
             errors == 1 ? "" : "s", warnings, warnings == 1 ? "" : "s");
  for (const auto& f : r.findings) {
    std::string sev = f.severity == check::Severity::error     ? style.red("error  ")
                      : f.severity == check::Severity::warning ? style.yellow("warning")
                                                               : style.dim("info   ");
    // Messages quote records, banners and certificate names: nothing in them may drive the terminal.
    fmt::print("  {} [{}] {}\n", sev, f.code, terminal_safe(f.message));
    if (!f.fix.empty() && f.severity != check::Severity::info)
      fmt::print("          {} {}\n", style.dim("fix:"), terminal_safe(f.fix));
  }
}

// --state FILE: {"domains": {"example.com": {"id": "...", "policy_sha256": "..."}}}
boost::json::object read_state(const std::string& path, std::string& error) {
  if (path.empty() || !std::filesystem::exists(path)) return {};
  auto text = read_input(path, 64 << 20);
  if (!text) {
    error = text.error().message;
    return {};
  }
  boost::system::error_code ec;
  auto v = boost::json::parse(*text, ec);
  if (ec || !v.is_object()) {
    error = fmt::format("{} is not a state file (JSON object expected)", path);
    return {};
  }
  return v.as_object();
}

std::optional<check::Previous> previous_for(const boost::json::object& state, const std::string& d) {
  const auto* domains = state.if_contains("domains");
  if (!domains || !domains->is_object()) return std::nullopt;
  const auto* e = domains->as_object().if_contains(d);
  if (!e || !e->is_object()) return std::nullopt;
  const auto& o = e->as_object();
  const auto* id = o.if_contains("id");
  const auto* hash = o.if_contains("policy_sha256");
  if (!id || !hash || !id->is_string() || !hash->is_string()) return std::nullopt;
  return check::Previous{std::string(id->as_string()), std::string(hash->as_string())};
}

int run(CheckOptions& opt) {
  std::vector<std::string> domains = opt.domains;
  if (!opt.from_file.empty()) {
    auto text = read_input(opt.from_file, std::size_t{256} << 20);
    if (!text) {
      fmt::print(stderr, "mtasts check: {}\n", text.error().message);
      return kExitUsage;
    }
    std::string_view rest = *text;
    while (!rest.empty()) {
      auto nl = rest.find('\n');
      std::string_view line = rest.substr(0, nl);
      rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
      if (auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
      line = trim_wsp(line);
      while (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (!line.empty()) domains.emplace_back(line);
    }
  }
  if (domains.empty()) {
    fmt::print(stderr, "mtasts check: give at least one domain (or --from-file)\n");
    return kExitUsage;
  }
  if (opt.timeout <= 0 || opt.timeout > 600) {
    fmt::print(stderr, "mtasts check: --timeout must be between 0 and 600 seconds\n");
    return kExitUsage;
  }
  check::Options options;
  for (const auto& rule : opt.connect_to) {
    auto r = net::parse_connect_to(rule);
    if (!r) {
      fmt::print(stderr, "mtasts check: --connect-to {}\n", r.error().message);
      return kExitUsage;
    }
    options.fetch.connect_to.push_back(*r);
  }
  options.probe.connect_to = options.fetch.connect_to;
  auto timeout = std::chrono::milliseconds(static_cast<long>(opt.timeout * 1000));
  options.fetch.timeout = timeout;
  options.probe.timeout = timeout;
  std::string error;
  auto tls = net::make_client_context(opt.ca_file, net::TlsFloor::tls12, error);
  auto legacy = tls ? net::make_client_context(opt.ca_file, net::TlsFloor::legacy, error) : nullptr;
  if (!tls || !legacy) {
    fmt::print(stderr, "mtasts check: {}\n", error);
    return kExitUsage;
  }
  options.fetch.tls = options.probe.tls = tls.get();
  options.fetch.legacy_tls = options.probe.legacy_tls = legacy.get();

  boost::json::object state = read_state(opt.state_file, error);
  if (!error.empty()) {
    fmt::print(stderr, "mtasts check: {}\n", error);
    return kExitUsage;
  }

  net::ResolverOptions ropts;
  if (!opt.dns_server.empty()) {
    auto hp = net::parse_host_port(opt.dns_server, 53);
    if (!hp) {
      fmt::print(stderr, "mtasts check: --dns-server {}\n", hp.error().message);
      return kExitUsage;
    }
    ropts.server = net::to_string(*hp);
  }
  ropts.timeout = std::min(std::chrono::milliseconds(2000), timeout / 2);
  ropts.tries = 2;

  // One event loop per thread, each with its own resolver; the threads take domains from one
  // counter and share the TLS contexts (read-only after setup), the output and the state file.
  std::size_t nthreads = opt.threads ? opt.threads : std::max(1u, std::thread::hardware_concurrency());
  nthreads = std::max<std::size_t>(1, std::min({nthreads, opt.concurrency, domains.size()}));
  struct Loop {
    asio::io_context io{1};
    std::unique_ptr<net::CaresResolver> resolver;
  };
  std::vector<std::unique_ptr<Loop>> loops;
  for (std::size_t t = 0; t < nthreads; ++t) {
    auto loop = std::make_unique<Loop>();
    loop->resolver = net::CaresResolver::create(loop->io, ropts, error);
    if (!loop->resolver) {
      fmt::print(stderr, "mtasts check: {}\n", error);
      return kExitUsage;
    }
    loops.push_back(std::move(loop));
  }

  const std::int64_t now = std::time(nullptr);
  // Per domain only what outlives its check: the status, and for --json its document (the
  // observations go as soon as the domain is printed, so memory stays flat in streaming modes).
  std::vector<check::Severity> statuses(domains.size(), check::Severity::info);
  std::vector<std::string> documents(opt.json ? domains.size() : 0);
  if (!opt.state_file.empty() && (!state.contains("domains") || !state["domains"].is_object()))
    state["domains"] = boost::json::object();
  Style style = stdout_style();
  bool progress = domains.size() > 1 && isatty(STDERR_FILENO) == 1;
  std::atomic<std::size_t> next{0};
  std::size_t done = 0;
  std::mutex shared;  // guards stdout, `state` and `done`
  if (opt.csv) fmt::print("domain,status,code,severity,message,fix\n");

  auto emit = [&](const check::Report& r) {
    if (opt.jsonl) {
      print_json(report_json(r));
    } else if (opt.csv) {
      if (r.findings.empty())
        fmt::print("{},{},,,,\n", csv_field(r.domain), check::status_text(r.status));
      for (const auto& f : r.findings)
        fmt::print("{},{},{},{},{},{}\n", csv_field(r.domain), check::status_text(r.status),
                   f.code, check::to_string(f.severity), csv_field(terminal_safe(f.message)),
                   csv_field(terminal_safe(f.fix)));
    } else {
      print_human(r, style);
    }
    std::fflush(stdout);
  };

  auto worker = [&](net::Resolver& resolver) -> asio::awaitable<void> {
    for (std::size_t i = next++; i < domains.size(); i = next++) {
      check::Observations observed = co_await check::observe(resolver, options, domains[i], now);
      if (!observed.name.empty() && !opt.state_file.empty()) {
        std::lock_guard lock(shared);
        observed.previous = previous_for(state, observed.name);
      }
      check::Report r = check::evaluate(observed);
      statuses[i] = r.status;
      std::string document = opt.json ? json_text(report_json(r)) : std::string();
      std::lock_guard lock(shared);
      if (opt.json) documents[i] = std::move(document);
      else emit(r);
      if (!opt.state_file.empty() && r.policy_id && !r.policy_sha256.empty() && !observed.name.empty())
        state["domains"].as_object()[observed.name] = {
            {"id", *r.policy_id}, {"policy_sha256", r.policy_sha256}, {"checked", now}};
      ++done;
      if (progress) fmt::print(stderr, "\r{}/{} domains checked", done, domains.size());
    }
  };
  // The global concurrency is split over the loops (the first ones take the remainder).
  std::size_t slots = std::min(opt.concurrency, domains.size());
  std::exception_ptr failure;
  std::mutex failure_mutex;
  auto run_loop = [&](std::size_t t) {
    Loop& loop = *loops[t];
    std::size_t workers = slots / nthreads + (t < slots % nthreads ? 1 : 0);
    std::size_t running = workers;
    for (std::size_t w = 0; w < workers; ++w)
      asio::co_spawn(loop.io, worker(*loop.resolver), [&](std::exception_ptr e) {
        if (e) {
          std::lock_guard lock(failure_mutex);
          if (!failure) failure = e;
        }
        // c-ares keeps idle sockets watched: stop explicitly once this loop's workers are done.
        if (--running == 0) loop.io.stop();
      });
    loop.io.run();
  };
  std::vector<std::thread> threads;
  for (std::size_t t = 1; t < nthreads; ++t) threads.emplace_back(run_loop, t);
  run_loop(0);
  for (auto& th : threads) th.join();
  if (failure) std::rethrow_exception(failure);
  if (progress) fmt::print(stderr, "\n");

  if (opt.json) {
    // Already serialized, in input order: one object, or an array of them.
    std::string out = domains.size() == 1 ? documents[0] : "[";
    if (domains.size() > 1) {
      for (std::size_t i = 0; i < documents.size(); ++i) out += (i ? "," : "") + documents[i];
      out += "]";
    }
    out += "\n";
    std::fwrite(out.data(), 1, out.size(), stdout);
  } else if (!opt.jsonl && !opt.csv && domains.size() > 1) {
    std::size_t ok = 0, warn = 0, err = 0;
    for (auto st : statuses) {
      ok += st == check::Severity::info;
      warn += st == check::Severity::warning;
      err += st == check::Severity::error;
    }
    fmt::print("{} domains: {} ok, {} with warnings, {} with errors\n", domains.size(), ok, warn, err);
  }

  if (!opt.state_file.empty()) {
    std::string tmp = opt.state_file + ".tmp";
    {
      std::ofstream f(tmp, std::ios::trunc);
      f << boost::json::serialize(state) << "\n";
      if (!f) {
        fmt::print(stderr, "mtasts check: cannot write {}\n", tmp);
        return kExitUsage;
      }
    }
    std::error_code ec;
    std::filesystem::rename(tmp, opt.state_file, ec);
    if (ec) {
      fmt::print(stderr, "mtasts check: cannot write {}: {}\n", opt.state_file, ec.message());
      return kExitUsage;
    }
  }
  for (auto st : statuses)
    if (st == check::Severity::error) return kExitInvalid;
  return kExitOk;
}

}  // namespace

void register_check_command(CLI::App& app, int& exit_code) {
  static CheckOptions opt;
  auto* cmd = app.add_subcommand("check", "inspect live MTA-STS and TLS-RPT deployments from the outside");
  cmd->add_option("DOMAIN", opt.domains, "mail domains to check");
  cmd->add_option("--from-file", opt.from_file, "a file with one domain per line (# comments)");
  auto* json = cmd->add_flag("--json", opt.json, "one JSON document (an array for several domains)");
  auto* jsonl = cmd->add_flag("--jsonl", opt.jsonl, "JSON Lines, one domain per line as each finishes");
  auto* csv = cmd->add_flag("--csv", opt.csv, "CSV, one finding per row");
  json->excludes(jsonl)->excludes(csv);
  jsonl->excludes(csv);
  cmd->add_option("--concurrency", opt.concurrency, "domains checked at once (default 50)")
      ->check(CLI::Range(1, 10000));
  cmd->add_option("--threads", opt.threads,
                  "event-loop threads sharing the concurrency (default: one per core)")
      ->check(CLI::Range(1, 256));
  cmd->add_option("--dns-server", opt.dns_server, "DNS server IP[:PORT] instead of resolv.conf");
  cmd->add_option("--ca-file", opt.ca_file, "trust these CA certificates instead of the system's");
  cmd->add_option("--connect-to", opt.connect_to,
                  "HOST:PORT:ADDR:PORT: connect there instead (like curl; repeatable). A HOST "
                  "that is an IP address ([v6] in brackets) matches an address the name resolved "
                  "to: 192.0.2.25:25:127.0.0.1:2525 redirects only that address of the MX");
  cmd->add_option("--timeout", opt.timeout, "seconds for each fetch and each MX probe (default 10)");
  cmd->add_option("--state", opt.state_file,
                  "JSON file remembering each domain's id and policy hash between runs "
                  "(finds a policy changed without a new id)");
  cmd->callback([&] { exit_code = run(opt); });
}

}  // namespace mtasts::cli
