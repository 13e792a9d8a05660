// `mtasts serve`: MTA-STS policies over HTTPS for every hosted domain, from one process.
//
// One worker thread per core, each with its own io_context and its own SO_REUSEPORT listeners
// (the kernel spreads connections, as between nginx workers). Domains and certificates live in
// immutable snapshots that a control thread rebuilds on change (store change feed, certificate
// directory rescan, SIGHUP); workers pick the new snapshot up between requests, so reloads drop
// no connection. The store is only touched on the control thread and one store thread (admin
// API), never on an I/O thread. SIGTERM/SIGINT: stop accepting, finish what is in flight, close
// idle keep-alive connections, exit (after `shutdown_grace` at most).
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace mtasts::serve {

struct ServeConfig {
  std::string db = "mtasts.db";
  std::vector<std::string> listen_https = {"0.0.0.0:443"};
  std::vector<std::string> listen_http = {"0.0.0.0:80"};   // ACME HTTP-01 + redirect to HTTPS
  std::vector<std::string> listen_admin = {"127.0.0.1:8470"};  // plain HTTP: API + open /metrics
  std::string cert_dir;
  std::string acme_directory;  // when set: a certificate for every hosted domain by ACME
  std::string acme_ca_file;
  std::string acme_email;      // contact for the ACME account, optional
  std::string acme_challenge = "http-01";  // preferred: http-01 (port 80) or tls-alpn-01 (443)
  // Where ACME certificates are copied from the store (lego layout) for the handshakes to load.
  std::string acme_cert_dir = "acme-certs";
  unsigned threads = 0;  // 0: one per core

  // TLS-RPT reports POSTed over HTTPS (RFC 8460 §5.4) to https://<any hosted name><report_path>;
  // empty path: not received. Reports for domains not hosted are refused unless any_domain.
  std::string report_path = "/tlsrpt";
  std::size_t report_body_limit = 4 << 20;
  bool reports_any_domain = false;

  std::size_t max_connections = 50000;
  std::size_t header_limit = 8192;
  std::size_t api_body_limit = 1 << 20;
  std::chrono::milliseconds handshake_timeout{10000};
  std::chrono::milliseconds header_timeout{10000};  // first byte to the end of the headers
  std::chrono::milliseconds idle_timeout{60000};    // keep-alive wait for the next request
  double requests_per_second = 1000;                // per connection (token bucket, burst = rate)
  std::chrono::milliseconds reload_interval{2000};  // store change feed poll
  std::chrono::milliseconds cert_scan_interval{60000};
  std::size_t cert_cache = 1000;  // certificates kept loaded (LRU)
  std::chrono::milliseconds shutdown_grace{10000};
};

// Runs until SIGTERM or SIGINT. Returns the process exit code (0 clean, 2 cannot start).
int run(const ServeConfig& config);

}  // namespace mtasts::serve
