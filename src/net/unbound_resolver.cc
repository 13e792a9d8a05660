#include "net/unbound_resolver.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <unbound.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <unordered_map>

#include "fmt/format.h"
#include "net/endpoint.h"

namespace asio = boost::asio;

namespace mtasts::net {

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
    SecureRrset& a = p->answer;
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
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line.substr(0, line.find(';')));
    std::string w;
    while (words >> w)
      if (w == "DS" || w == "DNSKEY") return true;
  }
  error = fmt::format("trust anchor file {}: no DS or DNSKEY record", path);
  return false;
}

}  // namespace

std::unique_ptr<UnboundResolver> UnboundResolver::create(asio::io_context& io, const DnssecOptions& o,
                                                         std::string& error) {
  auto impl = std::make_unique<Impl>(io);
  impl->timeout = o.timeout;
  impl->ctx = ub_ctx_create();
  if (!impl->ctx) {
    error = "libunbound: cannot create a context";
    return nullptr;
  }
  auto check = [&](int rc, std::string_view what) {
    if (rc == 0) return true;
    error = fmt::format("libunbound: {}: {}", what, ub_strerror(rc));
    return false;
  };
  // A thread of libunbound's own resolves (not a forked process); ub_fd says when results wait.
  if (!check(ub_ctx_async(impl->ctx, 1), "async")) return nullptr;
  // Forwarders on loopback (a local validating resolver, the tests' knotd) are allowed.
  if (!check(ub_ctx_set_option(impl->ctx, "do-not-query-localhost:", "no"), "do-not-query-localhost")) return nullptr;
  if (!o.server.empty()) {
    auto hp = parse_host_port(o.server, 53);
    if (!hp) {
      error = "dns server: " + hp.error().message;
      return nullptr;
    }
    if (!check(ub_ctx_set_fwd(impl->ctx, fmt::format("{}@{}", hp->host, hp->port).c_str()), "forwarder " + o.server))
      return nullptr;
    // unbound answers RFC 6761's "test." itself (NXDOMAIN); with a server of one's own (the
    // tests' knotd serves *.test) the names are resolved like any other.
    if (!check(ub_ctx_set_option(impl->ctx, "local-zone:", "test. transparent"), "local-zone test."))
      return nullptr;
  } else if (!check(ub_ctx_resolvconf(impl->ctx, nullptr), "/etc/resolv.conf")) {
    return nullptr;
  }
  if (!has_trust_anchor(o.trust_anchor_file, error)) return nullptr;
  if (!check(ub_ctx_add_ta_file(impl->ctx, o.trust_anchor_file.c_str()), "trust anchor " + o.trust_anchor_file))
    return nullptr;
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
