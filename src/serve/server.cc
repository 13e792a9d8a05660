#include "serve/server.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <ctime>
#include <map>
#include <set>
#include <thread>

#include "net/endpoint.h"
#include "net/tls.h"
#include "serve/acme_files.h"
#include "serve/acme_manager.h"
#include "serve/server_state.h"
#include "store/cert_store.h"
#include "store/change_feed.h"

namespace mtasts::serve {

namespace asio = boost::asio;
using asio::ip::tcp;

Counters::Counters(Metrics& m)
    : policy_served(m.counter("mtasts_serve_requests_total", "HTTP requests answered, by outcome", {{"outcome", "policy"}})),
      not_found(m.counter("mtasts_serve_requests_total", "", {{"outcome", "not_found"}})),
      not_hosted(m.counter("mtasts_serve_requests_total", "", {{"outcome", "not_hosted"}})),
      bad_request(m.counter("mtasts_serve_requests_total", "", {{"outcome", "bad_request"}})),
      header_too_large(m.counter("mtasts_serve_requests_total", "", {{"outcome", "header_too_large"}})),
      rate_limited(m.counter("mtasts_serve_requests_total", "", {{"outcome", "rate_limited"}})),
      method_not_allowed(m.counter("mtasts_serve_requests_total", "", {{"outcome", "method_not_allowed"}})),
      redirects(m.counter("mtasts_serve_requests_total", "", {{"outcome", "redirect"}})),
      acme_http01(m.counter("mtasts_serve_requests_total", "", {{"outcome", "acme_http01"}})),
      api_requests(m.counter("mtasts_serve_requests_total", "", {{"outcome", "api"}})),
      handshakes(m.counter("mtasts_serve_tls_handshakes_total", "TLS handshakes completed")),
      handshake_failures(m.counter("mtasts_serve_tls_handshake_failures_total", "TLS handshakes that failed or timed out")),
      refused_unknown_sni(m.counter("mtasts_serve_tls_refused_total", "Handshakes refused before a certificate was sent", {{"reason", "unknown_sni"}})),
      refused_no_sni(m.counter("mtasts_serve_tls_refused_total", "", {{"reason", "no_sni"}})),
      refused_cert_error(m.counter("mtasts_serve_tls_refused_total", "", {{"reason", "cert_error"}})),
      connections_total(m.counter("mtasts_serve_connections_total", "Connections accepted")),
      connections_rejected(m.counter("mtasts_serve_connections_rejected_total", "Connections closed at once: over max_connections")),
      header_timeouts(m.counter("mtasts_serve_header_timeouts_total", "Connections closed: request headers not complete in time")),
      idle_closes(m.counter("mtasts_serve_idle_closes_total", "Keep-alive connections closed after idle_timeout")),
      reloads(m.counter("mtasts_serve_reloads_total", "Snapshots of domains or certificates published")),
      reload_errors(m.counter("mtasts_serve_reload_errors_total", "Reloads that failed (the previous snapshot stays)")),
      feed_gaps_dropped(m.counter("mtasts_serve_change_feed_gaps_dropped_total", "Audit ids the domain change feed stopped waiting for (never committed in time)")),
      cert_problems(m.counter("mtasts_serve_certificate_problems_total", "Certificate files that could not be used")),
      connections_open(m.gauge("mtasts_serve_connections_open", "Connections open now")),
      domains(m.gauge("mtasts_serve_domains", "Domains hosted")),
      cert_files(m.gauge("mtasts_serve_certificate_files", "Certificate files indexed")) {}

namespace {

// Reloads on the control thread: the store's change feed, the certificate directory.
class Control {
 public:
  Control(Shared& s, std::unique_ptr<store::Store> store) : s_(s), store_(std::move(store)) {}

  // Start-up: everything, with the change feed positioned before the listing.
  Result<bool> load_all() {
    if (auto r = feed_.start(std::time(nullptr)); !r) return r.error();
    return list_all();
  }

  // Applies what changed since the last poll (store/change_feed.h: late commits included); a
  // long backlog means a full listing. When anything fails after the feed moved on, the next
  // tick lists every domain, so no change is lost to an error.
  void reload_domains() {
    auto batch = feed_.poll(std::time(nullptr));
    if (!batch) return failed("store", batch.error().message);
    if (auto dropped = feed_.take_dropped()) {
      s_.counters.feed_gaps_dropped.inc(dropped);
      spdlog::warn("event=change-feed-gaps-dropped count={} (audit ids never committed within {} s: rolled back, or a sequence jump)",
                   dropped, store::ChangeCursor::Options{}.gap_lifetime);
    }
    if (batch->full || relist_) {
      if (auto r = list_all(); !r) return failed("store", r.error().message);
      return;
    }
    if (batch->domains.empty()) return;
    std::vector<store::Domain> changed;
    std::vector<std::string> removed;
    for (const auto& name : batch->domains) {
      auto d = store_->get_domain(name);
      if (!d) {
        relist_ = true;
        return failed("store", d.error().message);
      }
      if (*d) changed.push_back(std::move(**d));
      else removed.push_back(name);
    }
    auto base = s_.hosted.get();
    publish(HostedSet::update(*base, changed, removed));
    for (const auto& d : changed) spdlog::info("event=policy-loaded domain={} id={} version={}", d.name, d.policy_id, d.version);
    if (!changed.empty() && on_domains_changed) on_domains_changed();
    for (const auto& name : removed) spdlog::info("event=policy-unloaded domain={}", name);
  }

  void rescan_certs() {
    std::vector<std::string> dirs;
    if (!s_.config.cert_dir.empty()) dirs.push_back(s_.config.cert_dir);
    if (!s_.config.acme_directory.empty()) dirs.push_back(s_.config.acme_cert_dir);
    if (dirs.empty()) return;
    std::vector<ScanProblem> problems;
    auto previous = s_.certs.get();
    auto index = CertIndex::scan(dirs, previous.get(), problems);
    for (const auto& p : problems) {
      // Logged once per file version, counted every scan it is still broken.
      s_.counters.cert_problems.inc();
      if (logged_.insert(p.path + "|" + p.message).second)
        spdlog::warn("event=certificate-unusable file={} problem=\"{}\"", p.path, p.message);
    }
    s_.counters.cert_files.set(static_cast<std::int64_t>(index->files()));
    s_.certs.publish(std::move(index));
    s_.counters.reloads.inc();
  }

  // Challenge answers every node published (the CA may ask this node for another's order).
  void sync_challenges(store::CertStore& certs) {
    auto rows = certs.challenges(static_cast<std::int64_t>(std::time(nullptr)));
    if (!rows) return failed("acme-challenges", rows.error().message);
    std::map<std::string, std::string> http01;
    std::map<std::string, std::shared_ptr<const AlpnCertificate>> alpn;
    for (auto& r : *rows) {
      if (r.kind == "http-01") http01.emplace(std::move(r.name), std::move(r.key_authorization));
      else if (r.kind == "tls-alpn-01")
        alpn.emplace(std::move(r.name), std::make_shared<const AlpnCertificate>(
                                            AlpnCertificate{std::move(r.certificate_pem), std::move(r.private_key_pem)}));
    }
    s_.challenges.replace_shared(std::move(http01), std::move(alpn));
  }

  // ACME certificates: from the store into acme_cert_dir, then into the index.
  void sync_acme(store::CertStore& certs) {
    auto copied = copy_new_certificates(certs, s_.config.acme_cert_dir, acme_copied_);
    if (!copied) return failed("acme-certificates", copied.error().message);
    if (*copied) {
      spdlog::info("event=acme-certificates-copied count={} dir={}", *copied, s_.config.acme_cert_dir);
      rescan_certs();
    }
  }

 private:
  Result<bool> list_all() {
    relist_ = true;  // until it succeeds
    std::vector<store::Domain> all;
    std::string after;
    for (;;) {  // pages, so a huge listing does not hold one giant result twice
      auto page = store_->list_domains(after, 10000);
      if (!page) return page.error();
      if (page->empty()) break;
      after = page->back().name;
      std::move(page->begin(), page->end(), std::back_inserter(all));
    }
    publish(HostedSet::build(all));
    relist_ = false;
    if (on_domains_changed) on_domains_changed();
    return true;
  }

  void publish(std::shared_ptr<const HostedSet> set) {
    s_.counters.domains.set(static_cast<std::int64_t>(set->size()));
    s_.hosted.publish(std::move(set));
    s_.counters.reloads.inc();
  }
  void failed(std::string_view what, const std::string& message) {
    s_.counters.reload_errors.inc();
    spdlog::error("event=reload-failed source={} error=\"{}\" (still serving the previous snapshot)", what, message);
  }

  Shared& s_;
  std::unique_ptr<store::Store> store_;
  store::DomainFeed feed_{*store_};
  bool relist_ = false;  // a reload failed after the feed moved on
  CopyMark acme_copied_;

 public:
  std::function<void()> on_domains_changed;  // on the control thread
  std::set<std::string> logged_;
};

asio::awaitable<void> accept_loop(Worker& w, std::shared_ptr<tcp::acceptor> acceptor, ListenerKind kind) {
  Shared& s = w.shared;
  for (;;) {
    auto [ec, socket] = co_await acceptor->async_accept(use_tuple);
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor->is_open()) co_return;
      // EMFILE and friends: pause instead of spinning; the service goes on.
      spdlog::warn("event=accept-failed error=\"{}\"", ec.message());
      asio::steady_timer pause(w.io, std::chrono::milliseconds(100));
      co_await pause.async_wait(use_tuple);
      continue;
    }
    if (s.connections.fetch_add(1, std::memory_order_relaxed) >= static_cast<std::int64_t>(s.config.max_connections)) {
      s.connections.fetch_sub(1, std::memory_order_relaxed);
      s.counters.connections_rejected.inc();
      continue;  // the socket closes here
    }
    start_session(w, std::move(socket), kind);
  }
}

Result<tcp::endpoint> endpoint_of(const std::string& text) {
  auto hp = net::parse_host_port(text, 0);
  if (!hp) return hp.error();
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(hp->host, ec);
  if (ec || hp->port == 0)
    return Error{"listen-invalid", 0, 0, fmt::format("\"{}\" is not ADDRESS:PORT", text), "e.g. 0.0.0.0:443 or [::]:443"};
  return tcp::endpoint(addr, hp->port);
}

Result<std::shared_ptr<tcp::acceptor>> listen(asio::io_context& io, const tcp::endpoint& ep) {
  auto a = std::make_shared<tcp::acceptor>(io);
  boost::system::error_code ec;
  a->open(ep.protocol(), ec);
  if (!ec) a->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) {
    int one = 1;  // every worker binds the same port; the kernel spreads the connections
    if (::setsockopt(a->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
      ec = boost::system::error_code(errno, boost::system::system_category());
  }
  if (!ec && ep.address().is_v6()) a->set_option(asio::ip::v6_only(true), ec);
  if (!ec) a->bind(ep, ec);
  if (!ec) a->listen(4096, ec);
  if (ec)
    return Error{"listen-failed", 0, 0, fmt::format("cannot listen on {}: {}", ep.address().to_string() + ":" + std::to_string(ep.port()), ec.message()), {}};
  return a;
}

void raise_file_limit() {
  struct rlimit r {};
  if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
  }
}

}  // namespace

int run(const ServeConfig& config) {
  raise_file_limit();
  Shared s(config);
  auto fail = [](const Error& e) {
    spdlog::error("event=start-failed code={} error=\"{}\"", e.code, e.message);
    return 2;
  };

  auto control_store = store::open_store(config.db);
  if (!control_store) return fail(control_store.error());
  auto api_store = store::open_store(config.db);
  if (!api_store) return fail(api_store.error());
  auto tokens = store::TokenStore::open(config.db);
  if (!tokens) return fail(tokens.error());
  Control control(s, std::move(control_store).value());
  if (auto r = control.load_all(); !r) return fail(r.error());
  control.rescan_certs();

  std::mutex logged_mu;
  std::set<std::string> logged;
  s.tls_hooks.challenges = &s.challenges;
  s.tls_hooks.lookup = [&](std::string_view sni) -> std::shared_ptr<const LoadedCert> {
    auto index = s.certs.get();
    auto file = index ? index->find(sni) : nullptr;
    if (!file) return nullptr;
    std::string error;
    auto cert = s.cert_cache.get(*file, error);
    if (!cert) {
      std::lock_guard lock(logged_mu);
      if (logged.insert(file->cert_path + "|" + file->identity).second)
        spdlog::warn("event=certificate-unusable file={} problem=\"{}\"", file->cert_path, error);
    }
    return cert;
  };
  s.tls_hooks.on_refused = [&](std::string_view why) {
    if (why == "unknown_sni") s.counters.refused_unknown_sni.inc();
    else if (why == "no_sni") s.counters.refused_no_sni.inc();
    else s.counters.refused_cert_error.inc();
  };
  std::string tls_error;
  SSL_CTX* ctx = make_server_context(&s.tls_hooks, tls_error);
  if (!ctx) return fail(Error{"tls-setup", 0, 0, tls_error, {}});
  s.tls = std::make_unique<asio::ssl::context>(ctx);
  s.cert_cache.set_context_factory([&] {
    std::string ignored;
    return make_server_context(&s.tls_hooks, ignored);
  });
  s.metrics.gauge_fn("mtasts_serve_certificates_loaded", "Certificates loaded in the LRU cache",
                     [&] { return static_cast<double>(s.cert_cache.size()); });

  // Automatic certificates (ACME), when a directory is configured. Declared before control_io:
  // the manager's coroutine frame (destroyed with control_io) refers to them.
  std::unique_ptr<store::CertStore> cert_store;
  std::unique_ptr<asio::ssl::context> acme_tls;
  std::unique_ptr<AcmeManager> acme;
  asio::thread_pool acme_pool(1);
  if (!config.acme_directory.empty()) {
    auto cs = store::CertStore::open(config.db);
    if (!cs) return fail(cs.error());
    cert_store = std::move(cs).value();
    std::string error;
    acme_tls = net::make_client_context(config.acme_ca_file, net::TlsFloor::tls12, error);
    if (!acme_tls) return fail(Error{"acme-tls", 0, 0, error, {}});
    AcmeManagerOptions o;
    o.acme.directory_url = config.acme_directory;
    o.acme.tls = acme_tls.get();
    if (config.acme_challenge == "tls-alpn-01")
      o.acme.challenges = {net::AcmeChallengeType::tls_alpn01, net::AcmeChallengeType::http01};
    if (!config.acme_email.empty()) o.acme.contact = {"mailto:" + config.acme_email};
    // Nodes sharing PostgreSQL pick up each other's challenge answers at their reload tick.
    if (cert_store->backend() == "postgresql")
      o.acme.publish_delay = config.reload_interval + std::chrono::seconds(1);
    o.blocking = acme_pool.get_executor();
    o.log = [](std::string_view line) { spdlog::info("{}", line); };
    acme = std::make_unique<AcmeManager>(o, *cert_store, s.challenges, s.metrics);
    control.sync_acme(*cert_store);
  }

  asio::io_context control_io(1);
  if (acme) {
    acme->on_changed([&](const std::string&) { asio::post(control_io, [&] { control.sync_acme(*cert_store); }); });
    asio::co_spawn(control_io, acme->run([&] { return policy_hosts(s.hosted.get()->domains()); }), asio::detached);
    control.on_domains_changed = [&] { acme->wake(); };  // a new domain gets its certificate now
  }
  auto api_reports = store::open_report_store(config.db);
  if (!api_reports) return fail(api_reports.error());
  s.admin = std::make_unique<AdminApi>(
      std::move(api_store).value(), std::move(tokens).value(), s.metrics,
      [&] {
        // After an API change: reload at once (on the control thread).
        asio::post(control_io, [&] { control.reload_domains(); });
      },
      std::move(api_reports).value());

  if (!config.report_path.empty()) {
    auto rs = store::open_report_store(config.db);
    if (!rs) return fail(rs.error());
    reports::DomainCheck accepts;
    if (!config.reports_any_domain)
      accepts = [&s](const std::string& domain) -> Result<bool> { return s.hosted.get()->contains(domain); };
    s.reports = std::make_unique<ReportReceiver>(std::move(rs).value(), s.metrics, std::move(accepts));
  }

  // Listeners: every worker binds every address (SO_REUSEPORT).
  unsigned threads = config.threads ? config.threads : std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<std::pair<tcp::endpoint, ListenerKind>> endpoints;
  for (auto [list, kind] : {std::pair{&config.listen_https, ListenerKind::https},
                            std::pair{&config.listen_http, ListenerKind::http},
                            std::pair{&config.listen_admin, ListenerKind::admin}})
    for (const auto& text : *list) {
      if (text.empty() || text == "off") continue;
      auto ep = endpoint_of(text);
      if (!ep) return fail(ep.error());
      endpoints.emplace_back(*ep, kind);
    }
  if (endpoints.empty()) return fail(Error{"listen-invalid", 0, 0, "nothing to listen on", {}});
  for (unsigned i = 0; i < threads; ++i) {
    auto w = std::make_unique<Worker>(s);
    for (const auto& [ep, kind] : endpoints) {
      auto a = listen(w->io, ep);
      if (!a) return fail(a.error());
      w->acceptors.emplace_back(*a, kind);
    }
    workers.push_back(std::move(w));
  }
  for (auto& w : workers)
    for (auto& [a, kind] : w->acceptors) asio::co_spawn(w->io, accept_loop(*w, a, kind), asio::detached);

  // Control: signals and timers.
  asio::signal_set signals(control_io, SIGTERM, SIGINT, SIGHUP);
  std::function<void()> wait_signal = [&] {
    signals.async_wait([&](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      if (sig == SIGHUP) {
        spdlog::info("event=reload reason=SIGHUP");
        control.reload_domains();
        control.rescan_certs();
        wait_signal();
        return;
      }
      spdlog::info("event=shutdown signal={} connections={}", sig == SIGTERM ? "SIGTERM" : "SIGINT", s.connections.load());
      s.draining = true;
      for (auto& w : workers)
        asio::post(w->io, [wp = w.get()] {
          for (auto& [a, kind] : wp->acceptors) {
            boost::system::error_code ignored;
            a->close(ignored);
          }
          for (SessionHandle* h : wp->sessions) h->close_if_idle();
        });
      control_io.stop();
    });
  };
  wait_signal();
  asio::steady_timer reload_timer(control_io), scan_timer(control_io);
  std::function<void()> reload_tick = [&] {
    reload_timer.expires_after(config.reload_interval);
    reload_timer.async_wait([&](const boost::system::error_code& ec) {
      if (ec) return;
      control.reload_domains();
      // Certificates other nodes (or this node's manager) stored: one cheap query a tick.
      if (cert_store) {
        control.sync_challenges(*cert_store);
        control.sync_acme(*cert_store);
      }
      reload_tick();
    });
  };
  std::function<void()> scan_tick = [&] {
    scan_timer.expires_after(config.cert_scan_interval);
    scan_timer.async_wait([&](const boost::system::error_code& ec) {
      if (ec) return;
      control.rescan_certs();
      scan_tick();
    });
  };
  reload_tick();
  scan_tick();

  std::vector<std::thread> running;
  for (auto& w : workers) running.emplace_back([wp = w.get()] { wp->io.run(); });
  {
    std::string where;
    for (const auto& [ep, kind] : endpoints)
      where += fmt::format(" {}={}:{}", kind == ListenerKind::https ? "https" : kind == ListenerKind::http ? "http" : "admin",
                           ep.address().to_string(), ep.port());
    spdlog::info("event=started threads={} domains={} certificate_files={}{}", threads, s.hosted.get()->size(),
                 s.certs.get() ? s.certs.get()->files() : 0, where);
  }
  control_io.run();

  // Draining: workers end when their last connection ends; after the grace period, stop them.
  auto deadline = std::chrono::steady_clock::now() + config.shutdown_grace;
  while (s.connections.load() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const auto left = s.connections.load();
  for (auto& w : workers) w->io.stop();
  for (auto& t : running) t.join();
  s.store_pool.join();
  spdlog::info("event=stopped connections_cut={}", left);
  return 0;
}

}  // namespace mtasts::serve
