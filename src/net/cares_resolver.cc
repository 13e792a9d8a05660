#include "net/cares_resolver.h"

#include <ares.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <ldns/ldns.h>

#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <map>
#include <mutex>

#include "core/domain.h"
#include "fmt/format.h"

namespace asio = boost::asio;

namespace mtasts::net {

std::string_view to_string(DnsStatus status) {
  switch (status) {
    case DnsStatus::ok: return "ok";
    case DnsStatus::nodata: return "nodata";
    case DnsStatus::nxdomain: return "nxdomain";
    case DnsStatus::servfail: return "servfail";
    case DnsStatus::timeout: return "timeout";
    case DnsStatus::error: return "error";
  }
  return "error";
}

namespace {

constexpr int kMaxCnameDepth = 8;

struct RawAnswer {
  int status = ARES_EBADRESP;
  std::vector<unsigned char> wire;
};

struct PendingQuery {
  virtual ~PendingQuery() = default;
  virtual void complete(RawAnswer answer) = 0;
};

template <typename Handler>
struct PendingQueryImpl final : PendingQuery {
  explicit PendingQueryImpl(Handler h) : handler(std::move(h)) {}
  void complete(RawAnswer answer) override {
    // Never resume the caller inside ares_process_fd: post to the handler's executor.
    auto ex = asio::get_associated_executor(handler);
    asio::post(ex, [h = std::move(handler), a = std::move(answer)]() mutable { h(std::move(a)); });
  }
  Handler handler;
};

DnsStatus status_from_ares(int status) {
  switch (status) {
    case ARES_SUCCESS: return DnsStatus::ok;
    case ARES_ENODATA: return DnsStatus::nodata;
    case ARES_ENOTFOUND: return DnsStatus::nxdomain;
    case ARES_ESERVFAIL:
    case ARES_EREFUSED: return DnsStatus::servfail;
    case ARES_ETIMEOUT:
    case ARES_ECONNREFUSED: return DnsStatus::timeout;
    default: return DnsStatus::error;
  }
}

std::string dname_text(const ldns_rdf* rdf) {
  char* s = ldns_rdf2str(rdf);
  std::string out = s ? s : "";
  free(s);
  if (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

// The records of `type` for `name` in an answer, following CNAMEs inside it. Returns the
// final owner name (after the chain) and appends CNAME steps to `chain`.
struct Parsed {
  bool ok = false;
  std::string final_name;
  std::vector<const ldns_rr*> records;
};

Parsed parse_answer(const ldns_pkt* pkt, std::string name, ldns_rr_type type,
                    std::vector<std::string>& chain) {
  Parsed out;
  ldns_rr_list* answer = ldns_pkt_answer(pkt);
  std::size_t n = answer ? ldns_rr_list_rr_count(answer) : 0;
  std::string current = ascii_lower(name);
  for (int depth = 0; depth <= kMaxCnameDepth; ++depth) {
    bool followed = false;
    for (std::size_t i = 0; i < n; ++i) {
      const ldns_rr* rr = ldns_rr_list_rr(answer, i);
      if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_CNAME) continue;
      if (ascii_lower(dname_text(ldns_rr_owner(rr))) != current) continue;
      if (ldns_rr_rd_count(rr) < 1) continue;
      current = ascii_lower(dname_text(ldns_rr_rdf(rr, 0)));
      chain.push_back(current);
      followed = true;
      break;
    }
    if (!followed) break;
  }
  out.final_name = current;
  for (std::size_t i = 0; i < n; ++i) {
    const ldns_rr* rr = ldns_rr_list_rr(answer, i);
    if (ldns_rr_get_type(rr) == type && ascii_lower(dname_text(ldns_rr_owner(rr))) == current)
      out.records.push_back(rr);
  }
  out.ok = true;
  return out;
}

}  // namespace

struct CaresResolver::Impl {
  struct Watch {
    explicit Watch(asio::io_context& io, int fd) : desc(io, fd) {}
    asio::posix::stream_descriptor desc;
    bool want_read = false, want_write = false, reading = false, writing = false, alive = true;
  };

  explicit Impl(asio::io_context& io_) : io(io_), timer(io_) {}
  ~Impl() {
    if (channel) ares_destroy(channel);  // fails pending queries with ARES_EDESTRUCTION
    for (auto& [fd, w] : watches) {
      w->alive = false;
      w->desc.cancel();
      w->desc.release();  // c-ares owns and closes the socket
    }
  }

  static void sock_state(void* data, ares_socket_t fd, int readable, int writable) {
    static_cast<Impl*>(data)->update(fd, readable != 0, writable != 0);
  }

  void update(ares_socket_t fd, bool readable, bool writable) {
    auto it = watches.find(fd);
    if (!readable && !writable) {
      if (it != watches.end()) {
        it->second->alive = false;
        it->second->desc.cancel();
        it->second->desc.release();
        watches.erase(it);
      }
      return;
    }
    if (it == watches.end()) it = watches.emplace(fd, std::make_shared<Watch>(io, fd)).first;
    auto w = it->second;
    w->want_read = readable;
    w->want_write = writable;
    wait(w, fd);
  }

  void wait(const std::shared_ptr<Watch>& w, ares_socket_t fd) {
    if (w->want_read && !w->reading) {
      w->reading = true;
      w->desc.async_wait(asio::posix::stream_descriptor::wait_read,
                         [this, w, fd](boost::system::error_code ec) {
                           w->reading = false;
                           if (ec || !w->alive) return;
                           ares_process_fd(channel, fd, ARES_SOCKET_BAD);
                           if (w->alive) wait(w, fd);
                           arm_timer();
                         });
    }
    if (w->want_write && !w->writing) {
      w->writing = true;
      w->desc.async_wait(asio::posix::stream_descriptor::wait_write,
                         [this, w, fd](boost::system::error_code ec) {
                           w->writing = false;
                           if (ec || !w->alive) return;
                           ares_process_fd(channel, ARES_SOCKET_BAD, fd);
                           if (w->alive) wait(w, fd);
                           arm_timer();
                         });
    }
  }

  // c-ares keeps its own retransmission timers; wake it when the next one is due.
  void arm_timer() {
    timeval tv{};
    if (!ares_timeout(channel, nullptr, &tv)) return;  // nothing pending
    auto due = std::chrono::seconds(tv.tv_sec) + std::chrono::microseconds(tv.tv_usec);
    timer.expires_after(due);
    timer.async_wait([this](boost::system::error_code ec) {
      if (ec) return;  // re-armed or shut down
      ares_process_fd(channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
      arm_timer();
    });
  }

  static void on_answer(void* arg, int status, int /*timeouts*/, unsigned char* abuf, int alen) {
    auto* q = static_cast<PendingQuery*>(arg);
    RawAnswer a;
    a.status = status;
    if (abuf && alen > 0) a.wire.assign(abuf, abuf + alen);
    q->complete(std::move(a));
    delete q;
  }

  awaitable<RawAnswer> query(const std::string& name, int type) {
    return asio::async_initiate<const asio::use_awaitable_t<>, void(RawAnswer)>(
        [this, name, type](auto handler) {
          using H = decltype(handler);
          auto* q = new PendingQueryImpl<H>(std::move(handler));
          ares_query(channel, name.c_str(), ns_c_in, type, &Impl::on_answer, q);
          arm_timer();
        },
        asio::use_awaitable);
  }

  // One lookup with CNAME chasing: `collect` turns the records of the final name into the answer.
  template <typename Answer, typename Collect>
  awaitable<Answer> lookup(std::string name, int type, Collect collect) {
    Answer out;
    if (!name.empty() && name.back() == '.') name.pop_back();
    if (name.empty() || name.size() > kMaxDomainLength) {
      out.status = DnsStatus::error;
      out.detail = "not a valid domain name";
      co_return out;
    }
    for (int depth = 0; depth <= kMaxCnameDepth; ++depth) {
      RawAnswer raw = co_await query(name, type);
      out.status = status_from_ares(raw.status);
      if (out.status != DnsStatus::ok) {
        out.detail = ares_strerror(raw.status);
        // An NXDOMAIN or NODATA answer for a CNAME whose target is missing carries the chain in
        // its answer section (RFC 6604 §2.1: the rcode is about the last name of the chain):
        // keep it, so messages can name the name that is really missing.
        if ((out.status == DnsStatus::nxdomain || out.status == DnsStatus::nodata) &&
            !raw.wire.empty()) {
          ldns_pkt* pkt = nullptr;
          if (ldns_wire2pkt(&pkt, raw.wire.data(), raw.wire.size()) == LDNS_STATUS_OK) {
            parse_answer(pkt, name, static_cast<ldns_rr_type>(type), out.cname_chain);
            ldns_pkt_free(pkt);
          }
        }
        co_return out;
      }
      ldns_pkt* pkt = nullptr;
      if (ldns_wire2pkt(&pkt, raw.wire.data(), raw.wire.size()) != LDNS_STATUS_OK) {
        out.status = DnsStatus::error;
        out.detail = "malformed DNS answer";
        co_return out;
      }
      Parsed parsed = parse_answer(pkt, name, static_cast<ldns_rr_type>(type), out.cname_chain);
      if (!parsed.records.empty()) {
        collect(parsed.records, out);
        ldns_pkt_free(pkt);
        co_return out;
      }
      ldns_pkt_free(pkt);
      if (parsed.final_name == ascii_lower(name)) {  // no chain to follow: the name has no data
        out.status = DnsStatus::nodata;
        co_return out;
      }
      name = parsed.final_name;  // a CNAME into a zone this server does not answer for
    }
    out.status = DnsStatus::error;
    out.detail = fmt::format("CNAME chain longer than {}", kMaxCnameDepth);
    co_return out;
  }

  asio::io_context& io;
  ares_channel channel = nullptr;
  std::map<ares_socket_t, std::shared_ptr<Watch>> watches;
  asio::steady_timer timer;
};

namespace {
std::once_flag g_ares_init;
}

CaresResolver::CaresResolver(asio::io_context& io, const ResolverOptions&)
    : impl_(std::make_unique<Impl>(io)) {}
CaresResolver::~CaresResolver() = default;

std::unique_ptr<CaresResolver> CaresResolver::create(asio::io_context& io,
                                                     const ResolverOptions& options,
                                                     std::string& error) {
  std::call_once(g_ares_init, [] { ares_library_init(ARES_LIB_INIT_ALL); });
  auto r = std::unique_ptr<CaresResolver>(new CaresResolver(io, options));
  Impl& impl = *r->impl_;
  ares_options opts{};
  opts.sock_state_cb = &Impl::sock_state;
  opts.sock_state_cb_data = &impl;
  opts.timeout = static_cast<int>(options.timeout.count());
  opts.tries = options.tries;
  opts.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_EDNS;
  opts.ednspsz = 1232;
  // Hundreds of queries share one UDP socket while the thread is busy with TLS handshakes: with
  // the default 208 KB receive buffer answers are dropped (and retried 2 s later, or reported as
  // DNS errors). The kernel caps the request at net.core.rmem_max.
  opts.socket_receive_buffer_size = 4 << 20;
  int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS |
             ARES_OPT_EDNSPSZ | ARES_OPT_SOCK_RCVBUF;
  if (int rc = ares_init_options(&impl.channel, &opts, mask); rc != ARES_SUCCESS) {
    error = fmt::format("cannot start the DNS resolver: {}", ares_strerror(rc));
    return nullptr;
  }
  if (!options.server.empty()) {
    if (int rc = ares_set_servers_ports_csv(impl.channel, options.server.c_str());
        rc != ARES_SUCCESS) {
      error = fmt::format("bad DNS server \"{}\": {}", options.server, ares_strerror(rc));
      return nullptr;
    }
  }
  return r;
}

awaitable<TxtAnswer> CaresResolver::txt(std::string name) {
  return impl_->lookup<TxtAnswer>(std::move(name), ns_t_txt, [](const auto& rrs, TxtAnswer& out) {
    for (const ldns_rr* rr : rrs) {
      std::vector<std::string> strings;
      for (std::size_t i = 0; i < ldns_rr_rd_count(rr); ++i) {
        const ldns_rdf* rdf = ldns_rr_rdf(rr, i);
        const std::uint8_t* data = ldns_rdf_data(rdf);
        std::size_t size = ldns_rdf_size(rdf);
        if (size == 0) continue;
        std::size_t len = std::min<std::size_t>(data[0], size - 1);
        strings.emplace_back(reinterpret_cast<const char*>(data + 1), len);
      }
      out.records.push_back(std::move(strings));
    }
  });
}

awaitable<MxAnswer> CaresResolver::mx(std::string name) {
  return impl_->lookup<MxAnswer>(std::move(name), ns_t_mx, [](const auto& rrs, MxAnswer& out) {
    for (const ldns_rr* rr : rrs) {
      if (ldns_rr_rd_count(rr) < 2) continue;
      out.records.push_back({ldns_rdf2native_int16(ldns_rr_rdf(rr, 0)),
                             dname_text(ldns_rr_rdf(rr, 1))});
    }
  });
}

awaitable<AddressAnswer> CaresResolver::addresses(std::string name) {
  auto collect = [](const auto& rrs, AddressAnswer& out) {
    for (const ldns_rr* rr : rrs) {
      if (ldns_rr_rd_count(rr) < 1) continue;
      const ldns_rdf* rdf = ldns_rr_rdf(rr, 0);
      char text[INET6_ADDRSTRLEN] = {};
      int family = ldns_rdf_size(rdf) == 4 ? AF_INET : AF_INET6;
      if (ldns_rdf_size(rdf) != 4 && ldns_rdf_size(rdf) != 16) continue;
      if (inet_ntop(family, ldns_rdf_data(rdf), text, sizeof text)) out.addresses.push_back(text);
    }
  };
  AddressAnswer v4 = co_await impl_->lookup<AddressAnswer>(name, ns_t_a, collect);
  if (v4.status == DnsStatus::nxdomain || v4.status == DnsStatus::servfail ||
      v4.status == DnsStatus::timeout)
    co_return v4;
  AddressAnswer v6 = co_await impl_->lookup<AddressAnswer>(name, ns_t_aaaa, collect);
  for (auto& a : v6.addresses) v4.addresses.push_back(std::move(a));
  if (v4.addresses.empty()) {
    v4.status = v6.status == DnsStatus::ok ? DnsStatus::nodata : v6.status;
    if (v4.detail.empty()) v4.detail = v6.detail;
  } else {
    v4.status = DnsStatus::ok;
  }
  co_return v4;
}

}  // namespace mtasts::net
