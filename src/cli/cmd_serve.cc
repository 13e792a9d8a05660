// mtasts serve: host the policies of every domain in the store over HTTPS (serve/server.h);
// mtasts token add|list|remove: the admin API's bearer tokens.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>
#include <toml++/toml.h>

#include <unistd.h>

#include <ctime>

#include "cli/commands.h"
#include "cli/output.h"
#include "fmt/format.h"
#include "serve/server.h"
#include "store/token_store.h"

namespace mtasts::cli {

namespace {

std::chrono::milliseconds seconds(double s) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(s * 1000));
}

// The TOML config (docs/config.md): every key optional; flags given on the command line win.
Result<bool> read_config(const std::string& path, serve::ServeConfig& c) {
  toml::table t;
  try {
    t = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return Error{"config-invalid", static_cast<std::size_t>(e.source().begin.line),
                 static_cast<std::size_t>(e.source().begin.column),
                 fmt::format("{}: {}", path, e.description()), {}};
  }
  const toml::table* serve = t["serve"].as_table();
  const toml::table& root = serve ? *serve : t;
  std::vector<std::string> unknown;
  auto list = [&](const char* key, std::vector<std::string>& out) -> Result<bool> {
    const toml::node* n = root.get(key);
    if (!n) return true;
    out.clear();
    if (auto s = n->value<std::string>()) {
      out.push_back(*s);
      return true;
    }
    if (const toml::array* a = n->as_array()) {
      for (const auto& item : *a) {
        auto s = item.value<std::string>();
        if (!s) return Error{"config-invalid", 0, 0, fmt::format("{}: \"{}\" must be strings", path, key), {}};
        out.push_back(*s);
      }
      return true;
    }
    return Error{"config-invalid", 0, 0, fmt::format("{}: \"{}\" must be a string or a list of strings", path, key), {}};
  };
  for (auto [key, out] : {std::pair{"listen_https", &c.listen_https}, std::pair{"listen_http", &c.listen_http},
                          std::pair{"listen_admin", &c.listen_admin}})
    if (auto r = list(key, *out); !r) return r;
  auto str = [&](const char* key, std::string& out) {
    if (auto v = root[key].value<std::string>()) out = *v;
  };
  str("db", c.db);
  str("cert_dir", c.cert_dir);
  str("acme_directory", c.acme_directory);
  str("acme_ca_file", c.acme_ca_file);
  str("acme_email", c.acme_email);
  str("report_path", c.report_path);
  if (auto v = root["reports_any_domain"].value<bool>()) c.reports_any_domain = *v;
  if (!c.report_path.empty() && c.report_path.front() != '/')
    return Error{"config-invalid", 0, 0, fmt::format("{}: report_path must start with /", path), {}};
  str("acme_cert_dir", c.acme_cert_dir);
  str("acme_challenge", c.acme_challenge);
  if (c.acme_challenge != "http-01" && c.acme_challenge != "tls-alpn-01")
    return Error{"config-invalid", 0, 0, fmt::format("{}: acme_challenge must be http-01 or tls-alpn-01", path), {}};
  auto num = [&](const char* key, auto& out) {
    if (auto v = root[key].value<std::int64_t>(); v && *v >= 0) out = static_cast<std::remove_reference_t<decltype(out)>>(*v);
  };
  num("threads", c.threads);
  num("max_connections", c.max_connections);
  num("header_limit", c.header_limit);
  num("cert_cache", c.cert_cache);
  num("report_body_limit", c.report_body_limit);
  auto secs = [&](const char* key, std::chrono::milliseconds& out) {
    if (auto v = root[key].value<double>(); v && *v > 0) out = seconds(*v);
  };
  secs("handshake_timeout", c.handshake_timeout);
  secs("header_timeout", c.header_timeout);
  secs("idle_timeout", c.idle_timeout);
  secs("reload_interval", c.reload_interval);
  secs("cert_scan_interval", c.cert_scan_interval);
  secs("shutdown_grace", c.shutdown_grace);
  if (auto v = root["requests_per_second"].value<double>(); v && *v > 0) c.requests_per_second = *v;
  static const std::set<std::string> known = {
      "db", "listen_https", "listen_http", "listen_admin", "cert_dir", "acme_directory", "acme_ca_file",
      "acme_email", "acme_cert_dir", "acme_challenge", "report_path", "reports_any_domain", "report_body_limit",
      "threads", "max_connections", "header_limit", "cert_cache", "handshake_timeout", "header_timeout",
      "idle_timeout", "reload_interval", "cert_scan_interval", "shutdown_grace", "requests_per_second"};
  for (const auto& [k, v] : root)
    if (!v.is_table() && !known.count(std::string(k.str())))
      return Error{"config-invalid", 0, 0, fmt::format("{}: unknown key \"{}\"", path, k.str()),
                   "see docs/config.md for the keys"};
  return true;
}

}  // namespace

void register_serve_command(CLI::App& app, int& exit_code) {
  struct Flags {
    std::string config, db, cert_dir, acme_directory, acme_ca_file;
    std::vector<std::string> https, http, admin;
    unsigned threads = 0;
    double idle_timeout = 0, header_timeout = 0, reload_interval = 0;
  };
  auto f = std::make_shared<Flags>();
  auto* serve = app.add_subcommand("serve", "host MTA-STS policies over HTTPS for every domain in the store");
  serve->add_option("--config", f->config, "TOML config file (docs/config.md)")->check(CLI::ExistingFile);
  serve->add_option("--db", f->db, "SQLite path or postgresql:// URL (default ./mtasts.db)");
  serve->add_option("--listen-https", f->https, "HTTPS address:port (default 0.0.0.0:443); repeat for more");
  serve->add_option("--listen-http", f->http, "HTTP address:port for ACME and redirects (default 0.0.0.0:80; off)");
  serve->add_option("--listen-admin", f->admin, "admin API + /metrics, plain HTTP (default 127.0.0.1:8470; off)");
  serve->add_option("--cert-dir", f->cert_dir, "certificates in certbot or lego layout");
  serve->add_option("--acme-directory", f->acme_directory, "ACME directory URL");
  serve->add_option("--acme-ca-file", f->acme_ca_file, "CA bundle to trust for the ACME server");
  serve->add_option("--threads", f->threads, "worker threads (default: one per core)");
  serve->add_option("--idle-timeout", f->idle_timeout, "seconds a keep-alive connection may idle");
  serve->add_option("--header-timeout", f->header_timeout, "seconds to receive a request's headers");
  serve->add_option("--reload-interval", f->reload_interval, "seconds between store change checks");
  serve->callback([f, &exit_code] {
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
    serve::ServeConfig c;
    if (!f->config.empty())
      if (auto r = read_config(f->config, c); !r) {
        fmt::print(stderr, "mtasts serve: error [{}] {}\n", r.error().code, r.error().message);
        exit_code = kExitUsage;
        return;
      }
    if (!f->db.empty()) c.db = f->db;
    if (!f->https.empty()) c.listen_https = f->https;
    if (!f->http.empty()) c.listen_http = f->http;
    if (!f->admin.empty()) c.listen_admin = f->admin;
    if (!f->cert_dir.empty()) c.cert_dir = f->cert_dir;
    if (!f->acme_directory.empty()) c.acme_directory = f->acme_directory;
    if (!f->acme_ca_file.empty()) c.acme_ca_file = f->acme_ca_file;
    if (f->threads) c.threads = f->threads;
    if (f->idle_timeout > 0) c.idle_timeout = seconds(f->idle_timeout);
    if (f->header_timeout > 0) c.header_timeout = seconds(f->header_timeout);
    if (f->reload_interval > 0) c.reload_interval = seconds(f->reload_interval);
    exit_code = serve::run(c);
  });

  auto db = std::make_shared<std::string>("mtasts.db");
  auto name = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  auto* token = app.add_subcommand("token", "bearer tokens for the admin API");
  token->require_subcommand(1);
  auto open = [db](int& code) -> std::unique_ptr<store::TokenStore> {
    auto t = store::TokenStore::open(*db);
    if (!t) {
      fmt::print(stderr, "mtasts token: error [{}] {}\n", t.error().code, t.error().message);
      code = kExitUsage;
      return nullptr;
    }
    return std::move(t).value();
  };
  auto* add = token->add_subcommand("add", "create a token; it is printed once and stored hashed");
  add->add_option("NAME", *name, "a name for the token (who or what uses it)")->required();
  add->add_option("--db", *db, "SQLite path or postgresql:// URL");
  add->add_flag("--json", *json, "JSON output");
  add->callback([=, &exit_code] {
    auto t = open(exit_code);
    if (!t) return;
    auto secret = t->create(*name, actor(), std::time(nullptr));
    if (!secret) {
      fmt::print(stderr, "mtasts token: error [{}] {}\n", secret.error().code, secret.error().message);
      exit_code = secret.error().code == "token-exists" || secret.error().code == "token-name" ? kExitInvalid : kExitUsage;
      return;
    }
    if (*json) print_json({{"name", *name}, {"token", *secret}});
    else fmt::print("{}\n(shown once: store it now; the server keeps only its hash)\n", *secret);
  });
  auto* list = token->add_subcommand("list", "the tokens (names and last use, never the secrets)");
  list->add_option("--db", *db, "SQLite path or postgresql:// URL");
  list->add_flag("--json", *json, "JSON output");
  list->callback([=, &exit_code] {
    auto t = open(exit_code);
    if (!t) return;
    auto all = t->list();
    if (!all) {
      fmt::print(stderr, "mtasts token: error [{}] {}\n", all.error().code, all.error().message);
      exit_code = kExitUsage;
      return;
    }
    boost::json::array arr;
    for (const auto& x : *all) {
      if (*json) arr.push_back({{"name", x.name}, {"created", x.created}, {"last_used", x.last_used}});
      else fmt::print("{}  created {}  last used {}\n", x.name, x.created, x.last_used ? std::to_string(x.last_used) : "never");
    }
    if (*json) print_json({{"tokens", std::move(arr)}});
  });
  auto* remove = token->add_subcommand("remove", "revoke a token");
  remove->add_option("NAME", *name, "the token's name")->required();
  remove->add_option("--db", *db, "SQLite path or postgresql:// URL");
  remove->callback([=, &exit_code] {
    auto t = open(exit_code);
    if (!t) return;
    auto r = t->remove(*name, actor(), std::time(nullptr));
    if (!r) {
      fmt::print(stderr, "mtasts token: error [{}] {}\n", r.error().code, r.error().message);
      exit_code = r.error().code == "not-found" ? kExitInvalid : kExitUsage;
      return;
    }
    fmt::print("token {} removed\n", *name);
  });
}

}  // namespace mtasts::cli
