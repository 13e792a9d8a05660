#include "resolve/dane_probe.h"

#include <functional>
#include <vector>

#include "net/wait_group.h"

namespace mtasts::resolve {

net::awaitable<DaneProbe> probe_dane(net::DnssecResolver& resolver, std::string domain) {
  DaneProbe out;
  DaneObservation& o = out.observation;
  o.mx = co_await resolver.lookup(domain, net::rrtype::mx);
  if (o.mx.exists) {
    auto hosts = net::mx_hosts_of(o.mx.rdata);
    if (hosts) {
      o.mx_hosts = std::move(hosts).value();
    } else {
      o.mx.security = Dnssec::failed;
      o.mx.detail = hosts.error().message;
    }
  }
  const auto probe = dane_hosts_to_probe(o.mx, o.mx_hosts);
  struct Host {
    SecureRrset a, aaaa, tlsa;
  };
  std::vector<Host> got(probe.size());
  std::vector<std::function<net::awaitable<void>()>> tasks;
  for (std::size_t i = 0; i < probe.size(); ++i) {
    const std::string host = probe[i];
    Host* slot = &got[i];
    tasks.push_back([&resolver, host, slot]() -> net::awaitable<void> {
      slot->a = co_await resolver.lookup(host, net::rrtype::a);
    });
    tasks.push_back([&resolver, host, slot]() -> net::awaitable<void> {
      slot->aaaa = co_await resolver.lookup(host, net::rrtype::aaaa);
    });
    tasks.push_back([&resolver, host, slot]() -> net::awaitable<void> {
      slot->tlsa = co_await resolver.lookup("_25._tcp." + host, net::rrtype::tlsa);
    });
  }
  co_await net::run_all(std::move(tasks));
  for (std::size_t i = 0; i < probe.size(); ++i) {
    DaneHostObservation h;
    h.host = probe[i];
    h.address = merge_addresses(got[i].a, got[i].aaaa);
    h.tlsa = std::move(got[i].tlsa);
    o.hosts.push_back(std::move(h));
  }
  out.decision = decide_dane(o);
  co_return out;
}

}  // namespace mtasts::resolve
