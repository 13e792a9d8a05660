// mtasts reports lmtp: the LMTP listener for the TLS-RPT rua mailbox (docs/reports.md).
#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <csignal>
#include <ctime>

#include "cli/commands.h"
#include "cli/output.h"
#include "fmt/format.h"
#include "fmt/ranges.h"
#include "net/metrics_endpoint.h"
#include "reports/ingest.h"
#include "reports/lmtp_server.h"
#include "store/report_store.h"
#include "store/store.h"

namespace asio = boost::asio;

namespace mtasts::cli {

namespace {

struct LmtpCliOptions {
  std::string db = "mtasts.db";
  std::string listen = "127.0.0.1:2424";
  std::string hostname = "mtasts";
  bool any_domain = false;
  std::size_t max_size = 16 * 1024 * 1024;
  double timeout = 300;
  std::string metrics;  // ADDR:PORT for Prometheus' /metrics; empty: none
};

int run_lmtp(const LmtpCliOptions& o) {
  auto reports_store = store::open_report_store(o.db);
  if (!reports_store) {
    fmt::print(stderr, "mtasts reports lmtp: error [{}] {}\n", reports_store.error().code, reports_store.error().message);
    return kExitUsage;
  }
  std::unique_ptr<store::Store> domains;
  reports::DomainCheck check;
  if (!o.any_domain) {
    auto s = store::open_store(o.db);
    if (!s) {
      fmt::print(stderr, "mtasts reports lmtp: error [{}] {}\n", s.error().code, s.error().message);
      return kExitUsage;
    }
    domains = std::move(s).value();
    // Looked up per message: a domain added while the listener runs is accepted at once.
    check = [&](const std::string& d) -> Result<bool> {
      auto got = domains->get_domain(d);
      if (!got) return got.error();
      return got->has_value();
    };
  }
  Metrics metrics;
  reports::ReportMetrics counters(metrics);
  reports::Ingester ingester(**reports_store, check, &counters);

  asio::io_context io(1);
  reports::LmtpOptions lo;
  lo.listen = o.listen;
  lo.hostname = o.hostname;
  lo.limits.max_message = o.max_size;
  lo.timeout = std::chrono::milliseconds(static_cast<std::int64_t>(o.timeout * 1000));
  lo.metrics = &metrics;
  auto server = reports::LmtpServer::start(io, lo, [&](const std::string& message) {
    auto r = ingester.ingest(message, reports::InputKind::mail, "lmtp", std::time(nullptr));
    // One log line per message, on stderr.
    if (r.outcome == reports::Outcome::stored || r.outcome == reports::Outcome::duplicate)
      fmt::print(stderr, "lmtp: {} {} report {} for {}\n", to_string(r.outcome), r.organization,
                 r.report_id, fmt::join(r.domains, ","));
    else
      fmt::print(stderr, "lmtp: {} [{}] {}\n", to_string(r.outcome), r.error.code, r.error.message);
    return r;
  });
  if (!server) {
    fmt::print(stderr, "mtasts reports lmtp: error [{}] {}\n", server.error().code, server.error().message);
    return kExitUsage;
  }
  std::unique_ptr<net::MetricsEndpoint> scrape;
  if (!o.metrics.empty()) {
    auto m = net::MetricsEndpoint::start(io, o.metrics, metrics, 9424);
    if (!m) {
      fmt::print(stderr, "mtasts reports lmtp: error [{}] {}\n", m.error().code, m.error().message);
      return kExitUsage;
    }
    scrape = std::move(m).value();
  }
  fmt::print(stderr, "lmtp: listening on {}\n", (*server)->address());
  if (scrape) fmt::print(stderr, "lmtp: metrics on http://{}/metrics\n", scrape->address());
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int) {
    (*server)->stop();
    if (scrape) scrape->stop();
    io.stop();
  });
  io.run();
  fmt::print(stderr, "lmtp: stopped\n");
  return kExitOk;
}

}  // namespace

void register_reports_lmtp(CLI::App& reports, int& exit_code) {
  static LmtpCliOptions o;
  auto* cmd = reports.add_subcommand("lmtp", "LMTP listener for the rua mailbox (Postfix, Exim)");
  cmd->add_option("--listen", o.listen, "ADDR:PORT or unix:PATH (default 127.0.0.1:2424)");
  cmd->add_option("--db", o.db, "SQLite file or postgresql:// URL (default: ./mtasts.db)");
  cmd->add_flag("--any-domain", o.any_domain, "accept reports for domains that are not registered");
  cmd->add_option("--hostname", o.hostname, "name in the greeting and LHLO reply");
  cmd->add_option("--max-size", o.max_size, "largest message in bytes (default 16 MiB)")
      ->check(CLI::Range(std::size_t{1024}, std::size_t{256} * 1024 * 1024));
  cmd->add_option("--timeout", o.timeout, "seconds a read or write may take (default 300)")
      ->check(CLI::Range(0.1, 3600.0));
  cmd->add_option("--metrics,--metrics-listen", o.metrics,
                  "ADDR:PORT serving Prometheus /metrics over plain HTTP (default: off; keep it on loopback)");
  cmd->callback([&] { exit_code = run_lmtp(o); });
}

}  // namespace mtasts::cli
