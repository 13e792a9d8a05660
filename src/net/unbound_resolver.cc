#include "net/unbound_resolver.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <unbound.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include <fstream>
#include <sstream>
#include <unordered_map>

#include "fmt/format.h"
#include "net/endpoint.h"

namespace asio = boost::asio;

namespace mtasts::net {

namespace {

// What a libunbound callback got, as one RRset with its DNSSEC state; frees `r`.
SecureRrset rrset_of(int err, ub_result* r) {
  SecureRrset a;
  if (err != 0) {
    a.security = Dnssec::failed;
    a.detail = ub_strerror(err);
  } else if (r->bogus) {
    a.security = Dnssec::bogus;
    a.detail = r->why_bogus ? r->why_bogus : "validation failed";
  } else if (r->rcode == 0 || r->rcode == 3) {  // NOERROR, NXDOMAIN
    a.security = r->secure ? Dnssec::secure : Dnssec::insecure;
    a.exists = r->havedata != 0;
    a.ttl = r->ttl > 0 ? static_cast<std::uint32_t>(r->ttl) : 0;
    for (int i = 0; r->havedata && r->data[i]; ++i) a.rdata.emplace_back(r->data[i], static_cast<std::size_t>(r->len[i]));
  } else {
    a.security = Dnssec::failed;
    a.detail = fmt::format("rcode {}", r->rcode == 2 ? "SERVFAIL" : r->rcode == 5 ? "REFUSED" : std::to_string(r->rcode));
  }
  if (r) ub_resolve_free(r);
  return a;
}

}  // namespace

struct UnboundResolver::Impl {
  struct Pending {
    explicit Pending(asio::any_io_executor ex) : wake(ex) {}
    asio::steady_timer wake;
    bool done = false;
    int id = 0;
    Impl* impl = nullptr;
    SecureRrset answer;
  };

  explicit Impl(asio::io_context& io) : fd(io) {}
  ~Impl() {
    boost::system::error_code ignored;
    fd.cancel(ignored);
    for (auto& [id, p] : pending) ub_cancel(ctx, id);
    pending.clear();
    fd.close(ignored);
    if (ctx) ub_ctx_delete(ctx);
  }

  ub_ctx* ctx = nullptr;
  asio::posix::stream_descriptor fd;  // a dup of ub_fd(ctx)
  bool watching = false;
  std::chrono::milliseconds timeout{3000};
  std::unordered_map<int, std::shared_ptr<Pending>> pending;
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);

  // Results are read (and the callbacks run) only on this context's thread.
  void watch() {
    if (watching || pending.empty()) return;
    watching = true;
    fd.async_wait(asio::posix::stream_descriptor::wait_read,
                  [this, alive = std::weak_ptr<bool>(alive)](boost::system::error_code ec) {
                    if (ec || alive.expired()) return;
                    watching = false;
                    ub_process(ctx);
                    watch();
                  });
  }

  static void on_result(void* arg, int err, ub_result* r) {
    auto* p = static_cast<Pending*>(arg);
    p->answer = rrset_of(err, r);
    Impl* impl = p->impl;
    auto keep = impl->pending[p->id];  // alive until this returns
    impl->pending.erase(p->id);
    p->done = true;
    p->wake.cancel();
  }
};

UnboundResolver::UnboundResolver(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
UnboundResolver::~UnboundResolver() = default;

namespace {

// libunbound reads the anchor file only at its first lookup: check now that it holds anchors.
bool has_trust_anchor(const std::string& path, std::string& error) {
  std::ifstream in(path);
  if (!in) {
    error = fmt::format("trust anchor file {}: cannot read it (Debian: apt-get install dns-root-data)", path);
    return false;
  }
  if (!trust_anchor_owners(path).empty()) return true;
  error = fmt::format("trust anchor file {}: no DS or DNSKEY record", path);
  return false;
}

}  // namespace

namespace {

// The settings every context gets: asynchronous (a thread of libunbound's own), loopback
// forwarders allowed, the upstream, the trust anchors.
bool configure(ub_ctx* ctx, const DnssecOptions& o, std::string& error) {
  auto check = [&](int rc, std::string_view what) {
    if (rc == 0) return true;
    error = fmt::format("libunbound: {}: {}", what, ub_strerror(rc));
    return false;
  };
  // A thread of libunbound's own resolves (not a forked process); ub_fd says when results wait.
  if (!check(ub_ctx_async(ctx, 1), "async")) return false;
  // Forwarders on loopback (a local validating resolver, the tests' knotd) are allowed.
  if (!check(ub_ctx_set_option(ctx, "do-not-query-localhost:", "no"), "do-not-query-localhost")) return false;
  if (!o.server.empty()) {
    auto hp = parse_host_port(o.server, 53);
    if (!hp) {
      error = "dns server: " + hp.error().message;
      return false;
    }
    if (!check(ub_ctx_set_fwd(ctx, fmt::format("{}@{}", hp->host, hp->port).c_str()), "forwarder " + o.server))
      return false;
    // unbound answers RFC 6761's "test." itself (NXDOMAIN); with a server of one's own (the
    // tests' knotd serves *.test) the names are resolved like any other.
    if (!check(ub_ctx_set_option(ctx, "local-zone:", "test. transparent"), "local-zone test.")) return false;
  } else if (!check(ub_ctx_resolvconf(ctx, nullptr), "/etc/resolv.conf")) {
    return false;
  }
  if (!has_trust_anchor(o.trust_anchor_file, error)) return false;
  return check(ub_ctx_add_ta_file(ctx, o.trust_anchor_file.c_str()), "trust anchor " + o.trust_anchor_file);
}

struct ContextDeleter {
  void operator()(ub_ctx* c) const { ub_ctx_delete(c); }
};

}  // namespace

std::vector<std::string> trust_anchor_owners(const std::string& path) {
  std::vector<std::string> owners;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line.substr(0, line.find(';')));
    std::vector<std::string> w;
    for (std::string x; words >> x;) w.push_back(x);
    bool anchor = false;
    for (std::size_t i = 1; i < w.size(); ++i) anchor = anchor || w[i] == "DS" || w[i] == "DNSKEY";
    if (!anchor || w[0].starts_with('$')) continue;
    std::string owner = w[0] == "." ? w[0] : (w[0].ends_with('.') ? w[0].substr(0, w[0].size() - 1) : w[0]);
    if (std::find(owners.begin(), owners.end(), owner) == owners.end()) owners.push_back(owner);
  }
  return owners;
}

bool check_trust_anchors(const DnssecOptions& o, std::vector<std::string>& warnings, std::string& error) {
  std::unique_ptr<ub_ctx, ContextDeleter> ctx(ub_ctx_create());
  if (!ctx) {
    error = "libunbound: cannot create a context";
    return false;
  }
  if (!configure(ctx.get(), o, error)) return false;
  const auto owners = trust_anchor_owners(o.trust_anchor_file);
  struct Probe {
    std::string owner;
    bool done = false;
    SecureRrset answer;
  };
  std::vector<Probe> probes(owners.size());
  auto on_result = [](void* arg, int err, ub_result* r) {
    auto* p = static_cast<Probe*>(arg);
    p->done = true;
    p->answer = rrset_of(err, r);
  };
  for (std::size_t i = 0; i < owners.size(); ++i) {
    probes[i].owner = owners[i];
    int id = 0;
    if (int rc = ub_resolve_async(ctx.get(), owners[i].c_str(), 48 /* DNSKEY */, 1, &probes[i], on_result, &id); rc != 0) {
      probes[i].done = true;
      probes[i].answer.detail = ub_strerror(rc);
    }
  }
  const auto deadline = std::chrono::steady_clock::now() + 2 * o.timeout;
  auto pending = [&] { return std::any_of(probes.begin(), probes.end(), [](const Probe& p) { return !p.done; }); };
  while (pending()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd pfd{ub_fd(ctx.get()), POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left.count())) > 0) ub_process(ctx.get());
  }
  std::size_t secure = 0;
  std::string reasons;
  for (const auto& p : probes) {
    if (p.answer.security == Dnssec::secure && p.answer.exists) {
      ++secure;
      continue;
    }
    std::string why = !p.done                                   ? "no answer in time"
                      : p.answer.security == Dnssec::secure     ? "no DNSKEY records"
                      : p.answer.security == Dnssec::insecure   ? "answered without DNSSEC signatures"
                      : p.answer.security == Dnssec::bogus      ? "bogus: " + p.answer.detail
                                                                : p.answer.detail;
    std::string line = fmt::format("the DNSKEY of trust anchor {} does not validate ({})", p.owner, why);
    warnings.push_back(line);
    if (!reasons.empty()) reasons += "; ";
    reasons += line;
  }
  if (secure > 0) return true;
  error = fmt::format("DNSSEC validation does not work through {}: {}. Every DANE lookup would be TEMP; use a "
                      "DNSSEC-aware resolver (one that returns signatures: unbound, knot-resolver, bind) or fix "
                      "the trust anchor file {}",
                      o.server.empty() ? std::string("the nameservers of /etc/resolv.conf") : o.server,
                      owners.empty() ? std::string("no trust anchor") : reasons, o.trust_anchor_file);
  return false;
}

std::unique_ptr<UnboundResolver> UnboundResolver::create(asio::io_context& io, const DnssecOptions& o,
                                                         std::string& error) {
  auto impl = std::make_unique<Impl>(io);
  impl->timeout = o.timeout;
  impl->ctx = ub_ctx_create();
  if (!impl->ctx) {
    error = "libunbound: cannot create a context";
    return nullptr;
  }
  if (!configure(impl->ctx, o, error)) return nullptr;
  int fd = ::dup(ub_fd(impl->ctx));
  boost::system::error_code ec;
  if (fd < 0 || (impl->fd.assign(fd, ec), ec)) {
    if (fd >= 0) ::close(fd);
    error = "libunbound: cannot watch its descriptor";
    return nullptr;
  }
  return std::unique_ptr<UnboundResolver>(new UnboundResolver(std::move(impl)));
}

awaitable<SecureRrset> UnboundResolver::lookup(std::string name, std::uint16_t type) {
  Impl& impl = *impl_;
  auto ex = co_await asio::this_coro::executor;
  auto p = std::make_shared<Impl::Pending>(ex);
  p->impl = &impl;
  int id = 0;
  int rc = ub_resolve_async(impl.ctx, name.c_str(), type, 1 /* IN */, p.get(), &Impl::on_result, &id);
  if (rc != 0) {
    p->answer.detail = ub_strerror(rc);
    co_return p->answer;
  }
  p->id = id;
  impl.pending.emplace(id, p);
  impl.watch();
  p->wake.expires_after(impl.timeout);
  co_await p->wake.async_wait(asio::as_tuple(asio::use_awaitable));
  if (!p->done) {
    ub_cancel(impl.ctx, id);
    impl.pending.erase(id);
    p->answer.security = Dnssec::failed;
    p->answer.detail = fmt::format("timeout after {} ms", impl.timeout.count());
  }
  co_return std::move(p->answer);
}

}  // namespace mtasts::net
