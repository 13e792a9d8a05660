// mtasts resolver [dump|purge]: the sender-side socketmap daemon for Postfix and its cache;
// mtasts query DOMAIN: one lookup, explained.
#include <CLI/CLI.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include <ctime>
#include <filesystem>

#include "cli/commands.h"
#include "cli/output.h"
#include "core/domain.h"
#include "core/json.h"
#include "core/socketmap.h"
#include "core/text.h"
#include "fmt/format.h"
#include "net/cares_resolver.h"
#include "net/unbound_resolver.h"
#include "net/tls.h"
#include "resolve/config.h"
#include "resolve/dane_probe.h"
#include "resolve/lookup.h"
#include "resolve/server.h"
#include "store/policy_cache.h"

namespace asio = boost::asio;

namespace mtasts::cli {

namespace {

struct ResolverOptions {
  std::string config;
  std::vector<std::string> listen;
  std::string db, dns_server, ca_file, metrics_listen, log_level = "info";
  std::vector<std::string> connect_to;
  unsigned threads = 0;
  bool json = false, expired = false, dane = false;
  std::string dane_trust_anchor;
  std::vector<std::string> domains;
};

// The config file, then the flags on top.
std::optional<resolve::Config> effective_config(const ResolverOptions& o, std::string_view who) {
  resolve::Config c;
  if (!o.config.empty()) {
    auto loaded = resolve::load_config(o.config);
    if (!loaded) {
      const auto& e = loaded.error();
      fmt::print(stderr, "mtasts {}: {}{}: {}\n", who, o.config, e.line ? fmt::format(":{}", e.line) : "", e.message);
      return std::nullopt;
    }
    c = std::move(loaded).value();
  }
  if (!o.listen.empty()) c.listen = o.listen;
  if (!o.db.empty()) c.db = o.db;
  if (!o.dns_server.empty()) c.dns_server = o.dns_server;
  if (!o.ca_file.empty()) c.ca_file = o.ca_file;
  if (!o.metrics_listen.empty()) c.metrics_listen = o.metrics_listen;
  if (!o.connect_to.empty()) c.connect_to = o.connect_to;
  if (o.threads) c.threads = o.threads;
  if (o.dane) c.dane = true;
  if (!o.dane_trust_anchor.empty()) c.dane_trust_anchor = o.dane_trust_anchor;
  c.resolve_dane();
  return c;
}

boost::json::object entry_json(const CachedPolicy& e) {
  return {{"domain", e.domain},  {"id", e.id},           {"policy", to_json(e.policy)},
          {"fetched", e.fetched}, {"checked", e.checked}, {"expires", e.expires},
          {"refresh", e.refresh}};
}

std::string when(std::int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

int run_daemon(const ResolverOptions& o) {
  auto c = effective_config(o, "resolver");
  if (!c) return kExitUsage;
  auto level = spdlog::level::from_str(o.log_level);
  spdlog::set_level(level);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %l %v");
  std::string error;
  int rc = resolve::run_server(*c, error);
  if (rc != 0) fmt::print(stderr, "mtasts resolver: {}\n", error);
  return rc;
}

int run_dump(const ResolverOptions& o) {
  auto c = effective_config(o, "resolver dump");
  if (!c) return kExitUsage;
  auto cache = store::PolicyCache::open(c->db);
  if (!cache) {
    fmt::print(stderr, "mtasts resolver dump: {}\n", cache.error().message);
    return kExitUsage;
  }
  const std::int64_t now = std::time(nullptr);
  boost::json::array all;
  std::string after;
  std::size_t n = 0;
  while (true) {
    auto page = (*cache)->list(after, 500);
    if (!page) {
      fmt::print(stderr, "mtasts resolver dump: {}\n", page.error().message);
      return kExitUsage;
    }
    if (page->empty()) break;
    for (const auto& e : *page) {
      ++n;
      if (o.json) {
        all.push_back(entry_json(e));
      } else {
        std::string mx;
        for (const auto& p : e.policy.mx) mx += (mx.empty() ? "" : " ") + p.canonical();
        fmt::print("{}  id {}  mode {}  max_age {}  {}  until {}  mx {}\n", e.domain, e.id,
                   to_string(e.policy.mode), e.policy.max_age, e.valid_at(now) ? "valid" : "EXPIRED",
                   when(e.expires), mx.empty() ? "-" : mx);
      }
    }
    after = page->back().domain;
  }
  if (o.json) print_json(boost::json::object{{"policies", std::move(all)}});
  else fmt::print("{} cached polic{}\n", n, n == 1 ? "y" : "ies");
  return kExitOk;
}

int run_purge(const ResolverOptions& o) {
  auto c = effective_config(o, "resolver purge");
  if (!c) return kExitUsage;
  auto cache = store::PolicyCache::open(c->db);
  if (!cache) {
    fmt::print(stderr, "mtasts resolver purge: {}\n", cache.error().message);
    return kExitUsage;
  }
  std::int64_t removed = 0;
  if (!o.domains.empty()) {
    for (const auto& d : o.domains) {
      auto name = normalize_domain(d);
      if (!name) {
        fmt::print(stderr, "mtasts resolver purge: {}\n", name.error().message);
        return kExitUsage;
      }
      auto r = (*cache)->erase(*name);
      if (!r) {
        fmt::print(stderr, "mtasts resolver purge: {}\n", r.error().message);
        return kExitUsage;
      }
      removed += *r ? 1 : 0;
    }
  } else {
    auto r = o.expired ? (*cache)->purge(static_cast<std::int64_t>(std::time(nullptr))) : (*cache)->purge();
    if (!r) {
      fmt::print(stderr, "mtasts resolver purge: {}\n", r.error().message);
      return kExitUsage;
    }
    removed = *r;
  }
  if (o.json) print_json(boost::json::object{{"removed", removed}});
  else fmt::print("removed {} cached polic{} (a running resolver forgets them within its cache_grace)\n",
                  removed, removed == 1 ? "y" : "ies");
  return kExitOk;
}

struct QueryOptions {
  std::string domain, dns_server, ca_file, dane_trust_anchor;
  std::vector<std::string> connect_to;
  double timeout = 10;
  bool json = false, strict_testing = false, tlsrpt = false, no_sni = false, dane = false;
};

boost::json::object dane_json(const resolve::DaneProbe& p) {
  const auto& d = p.decision;
  boost::json::array hosts;
  for (const auto& h : d.hosts)
    hosts.push_back(boost::json::object{{"host", h.host}, {"answer", to_string(h.answer)}, {"usable", h.usable},
                                        {"unusable", h.unusable}, {"why", h.why}});
  boost::json::object out{{"answer", to_string(d.answer)}, {"reason", d.reason}, {"ttl", d.ttl},
                          {"mx", to_string(p.observation.mx.security)}, {"hosts", std::move(hosts)}};
  if (!d.result_type.empty()) out["result_type"] = d.result_type;
  return out;
}

int run_query(const QueryOptions& o) {
  auto domain = policy_domain_of_key(o.domain);
  if (!domain) {
    fmt::print(stderr, "mtasts query: {} is not a domain an MTA-STS policy can apply to\n", o.domain);
    return kExitUsage;
  }
  std::string error;
  auto tls = net::make_client_context(o.ca_file, net::TlsFloor::tls12, error);
  if (!tls) {
    fmt::print(stderr, "mtasts query: {}\n", error);
    return kExitUsage;
  }
  net::FetchOptions fetch;
  fetch.tls = tls.get();
  fetch.timeout = std::chrono::milliseconds(static_cast<long>(o.timeout * 1000));
  for (const auto& rule : o.connect_to) {
    auto r = net::parse_connect_to(rule);
    if (!r) {
      fmt::print(stderr, "mtasts query: --connect-to {}\n", r.error().message);
      return kExitUsage;
    }
    fetch.connect_to.push_back(*r);
  }
  asio::io_context io(1);
  net::ResolverOptions ropts;
  if (!o.dns_server.empty()) {
    auto hp = net::parse_host_port(o.dns_server, 53);
    if (!hp) {
      fmt::print(stderr, "mtasts query: --dns-server {}\n", hp.error().message);
      return kExitUsage;
    }
    ropts.server = net::to_string(*hp);
  }
  auto resolver = net::CaresResolver::create(io, ropts, error);
  if (!resolver) {
    fmt::print(stderr, "mtasts query: {}\n", error);
    return kExitUsage;
  }
  std::unique_ptr<net::UnboundResolver> dnssec;
  if (o.dane) {
    net::DnssecOptions dopts;
    dopts.server = ropts.server;
    if (!o.dane_trust_anchor.empty()) dopts.trust_anchor_file = o.dane_trust_anchor;
    dnssec = net::UnboundResolver::create(io, dopts, error);
    if (!dnssec) {
      fmt::print(stderr, "mtasts query: --dane: {}\n", error);
      return kExitUsage;
    }
  }
  resolve::Lookup result;
  std::optional<resolve::DaneProbe> dane;
  const std::int64_t now = std::time(nullptr);
  asio::co_spawn(io, [&]() -> net::awaitable<void> {
    if (dnssec) dane = co_await resolve::probe_dane(*dnssec, *domain);
    result = co_await resolve::lookup(*resolver, fetch, *domain, std::nullopt, now, 0, CacheTuning{}, true);
  }, [&](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
    io.stop();
  });
  io.run();

  ZoneSettings zone;
  zone.strict_testing = o.strict_testing;
  zone.tlsrpt = o.tlsrpt;
  zone.require_sni = !o.no_sni;
  const Decision& d = result.decision;
  std::string reply = d.answer == Answer::policy && d.entry
                          ? policy_answer(*domain, d.entry->policy, d.entry->policy_text, zone)
                      : d.answer == Answer::temp_failure ? temp_answer(d.reason)
                                                         : not_found_answer();
  // DANE takes precedence (RFC 8461 §2); a bogus or failed DANE probe is TEMP.
  const DaneAnswer dane_answer_kind = dane ? dane->decision.answer : DaneAnswer::none;
  if (dane_answer_kind == DaneAnswer::temp) reply = temp_answer(dane->decision.reason);
  else if (dane_answer_kind != DaneAnswer::none) reply = dane_answer(dane_answer_kind);
  if (o.json) {
    boost::json::object out{{"domain", *domain}, {"answer", reply}, {"decision", to_string(d.answer)},
                            {"reason", d.reason}};
    if (dane) out["dane"] = dane_json(*dane);
    if (result.txt.kind == TxtObservation::Kind::record) out["id"] = result.txt.id;
    if (result.fetch && !result.fetch->ok) out["result_type"] = result.fetch->result_type;
    out["policy"] = d.entry ? to_json(d.entry->policy) : boost::json::value(nullptr);
    print_json(out);
  } else {
    fmt::print("{}: {}\n", *domain, reply);
    if (dane) {
      const auto& dd = dane->decision;
      fmt::print("  dane: {}: {}{}\n", to_string(dd.answer), terminal_safe(dd.reason),
                 dd.result_type.empty() ? "" : fmt::format(" ({})", dd.result_type));
      for (const auto& h : dd.hosts) fmt::print("    {}: {}\n", terminal_safe(h.host), terminal_safe(h.why));
      if (dd.answer == DaneAnswer::dane || dd.answer == DaneAnswer::dane_only)
        fmt::print("  DANE takes precedence over MTA-STS (RFC 8461 §2); Postfix needs smtp_dns_support_level = dnssec\n");
    }
    fmt::print("  {}: {}\n", dane ? "mta-sts" : "why", terminal_safe(d.reason));  // may quote a server
    if (d.entry && d.answer == Answer::policy) {
      if (d.entry->policy.mode == Mode::testing && !zone.strict_testing)
        fmt::print("  mode testing: Postfix delivers as without MTA-STS (strict_testing enforces it)\n");
      if (d.entry->policy.mode == Mode::none) fmt::print("  mode none: the domain withdrew its policy\n");
    }
  }
  return d.answer == Answer::temp_failure || dane_answer_kind == DaneAnswer::temp ? kExitUsage : kExitOk;
}

}  // namespace

void register_resolver_commands(CLI::App& app, int& exit_code) {
  static ResolverOptions opt;
  auto* cmd = app.add_subcommand("resolver", "the sender-side MTA-STS socketmap daemon for Postfix (smtp_tls_policy_maps)");
  auto common = [](CLI::App* c) {
    c->add_option("--config", opt.config, "TOML configuration file (docs/config.md)");
    c->add_option("--db", opt.db, "policy cache: a SQLite path or a postgresql:// URL (default mtasts-resolver.db)");
  };
  common(cmd);
  cmd->add_option("--listen", opt.listen, "A:P or unix:PATH (repeatable; default 127.0.0.1:8461)");
  cmd->add_option("--dns-server", opt.dns_server, "DNS server IP[:PORT] instead of resolv.conf");
  cmd->add_option("--ca-file", opt.ca_file, "trust these CA certificates instead of the system's");
  cmd->add_option("--connect-to", opt.connect_to, "HOST:PORT:ADDR:PORT for the policy fetch (tests; repeatable)");
  cmd->add_option("--metrics-listen", opt.metrics_listen, "A:P serving Prometheus /metrics over HTTP");
  cmd->add_flag("--dane", opt.dane, "DANE precedence in every zone without its own `dane` (docs/resolver.md)");
  cmd->add_option("--dane-trust-anchor", opt.dane_trust_anchor,
                  "DS/DNSKEY trust anchors for DANE (default /usr/share/dns/root.key)");
  cmd->add_option("--threads", opt.threads, "I/O threads (default: one per core)")->check(CLI::Range(1, 256));
  cmd->add_option("--log-level", opt.log_level, "debug, info (default), warn, error");
  auto* dump = cmd->add_subcommand("dump", "print the cached policies");
  common(dump);
  dump->add_flag("--json", opt.json, "one JSON document");
  auto* purge = cmd->add_subcommand("purge", "remove cached policies (all, the expired ones, or the domains given)");
  common(purge);
  purge->add_option("DOMAIN", opt.domains, "only these domains");
  purge->add_flag("--expired", opt.expired, "only the expired ones");
  purge->add_flag("--json", opt.json, "one JSON document");
  dump->callback([&] { exit_code = run_dump(opt); });
  purge->callback([&] { exit_code = run_purge(opt); });
  cmd->callback([cmd, dump, purge, &exit_code] {
    if (cmd->got_subcommand(dump) || cmd->got_subcommand(purge)) return;
    exit_code = run_daemon(opt);
  });

  static QueryOptions q;
  auto* query = app.add_subcommand("query", "look up one domain's MTA-STS policy and show what the resolver answers");
  query->add_option("DOMAIN", q.domain, "the mail domain")->required();
  query->add_option("--dns-server", q.dns_server, "DNS server IP[:PORT] instead of resolv.conf");
  query->add_option("--ca-file", q.ca_file, "trust these CA certificates instead of the system's");
  query->add_option("--connect-to", q.connect_to, "HOST:PORT:ADDR:PORT: connect there instead (repeatable)");
  query->add_option("--timeout", q.timeout, "seconds for the policy fetch (default 10)")->check(CLI::Range(0.1, 600.0));
  query->add_flag("--strict-testing", q.strict_testing, "answer testing policies like enforce");
  query->add_flag("--tlsrpt", q.tlsrpt, "add the Postfix 3.10 TLSRPT attributes");
  query->add_flag("--no-sni", q.no_sni, "leave out servername=hostname");
  query->add_flag("--dane", q.dane, "probe DANE first (MX, TLSA through a validating resolver) as the resolver does");
  query->add_option("--dane-trust-anchor", q.dane_trust_anchor,
                    "DS/DNSKEY trust anchors (default /usr/share/dns/root.key)");
  query->add_flag("--json", q.json, "one JSON document");
  query->callback([&] { exit_code = run_query(q); });
}

}  // namespace mtasts::cli
