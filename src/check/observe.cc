// The I/O half of `check`: DNS, the policy fetch and the MX probes, concurrently per domain.
#include <algorithm>

#include "check/check.h"
#include "core/domain.h"
#include "core/txt_record.h"
#include "net/wait_group.h"

namespace mtasts::check {

namespace {

bool has_record(const net::TxtAnswer& a, RecordKind kind) {
  for (const auto& strings : a.records)
    if (starts_record_of_kind(join_txt_strings(strings), kind)) return true;
  return false;
}

}  // namespace

net::awaitable<Observations> observe(net::Resolver& resolver, const Options& options,
                                     std::string domain, std::int64_t now) {
  Observations obs;
  obs.domain = domain;
  obs.now = now;
  auto name = normalize_domain(domain);
  if (!name) {
    obs.name_error = name.error().message;
    co_return obs;
  }
  obs.name = *name;
  const std::string& d = obs.name;

  // Round 1: the records, and the policy fetch (a sender fetches only after seeing the record,
  // but the fetch tells the owner what is wrong either way).
  // (Built with push_back: GCC 12 miscompiles initializer lists inside coroutines.)
  std::vector<std::function<net::awaitable<void>()>> round1;
  round1.push_back([&]() -> net::awaitable<void> {
    obs.sts_txt = co_await resolver.txt("_mta-sts." + d);
  });
  round1.push_back([&]() -> net::awaitable<void> {
    obs.tlsrpt_txt = co_await resolver.txt("_smtp._tls." + d);
  });
  round1.push_back([&]() -> net::awaitable<void> { obs.mx = co_await resolver.mx(d); });
  round1.push_back([&]() -> net::awaitable<void> {
    obs.fetch = co_await net::fetch_policy(resolver, options.fetch, d);
  });
  co_await net::run_all(std::move(round1));

  // Round 2: the MX probes, and where a missing record may have gone instead.
  std::vector<net::MxRecord> mx = obs.mx.records;
  std::stable_sort(mx.begin(), mx.end(),
                   [](const auto& a, const auto& b) { return a.preference < b.preference; });
  bool null_mx = mx.size() == 1 && (mx[0].host.empty() || mx[0].host == ".");
  std::vector<std::function<net::awaitable<void>()>> tasks;
  if (!null_mx) {
    std::vector<std::string> hosts;
    for (const auto& r : mx) {
      if (r.host.empty() || r.host == ".") continue;  // a null MX beside real ones: nothing to probe
      auto h = normalize_domain(r.host);
      std::string host = h ? *h : r.host;
      if (std::find(hosts.begin(), hosts.end(), host) == hosts.end()) hosts.push_back(host);
    }
    if (hosts.size() > options.max_mx) hosts.resize(options.max_mx);
    obs.probes.resize(hosts.size());
    for (std::size_t i = 0; i < hosts.size(); ++i)
      tasks.push_back([&, i, host = hosts[i]]() -> net::awaitable<void> {
        obs.probes[i] = co_await net::probe_smtp(resolver, options.probe, host);
      });
  }
  if (!has_record(obs.sts_txt, RecordKind::sts)) {
    tasks.push_back([&]() -> net::awaitable<void> { obs.apex_txt = co_await resolver.txt(d); });
    tasks.push_back([&]() -> net::awaitable<void> {
      obs.underscore_sts_txt = co_await resolver.txt("_mta_sts." + d);
    });
    tasks.push_back([&]() -> net::awaitable<void> {
      obs.host_sts_txt = co_await resolver.txt("mta-sts." + d);
    });
  }
  if (!has_record(obs.tlsrpt_txt, RecordKind::tlsrpt))
    tasks.push_back([&]() -> net::awaitable<void> {
      obs.draft_tlsrpt_txt = co_await resolver.txt("_smtp-tlsrpt." + d);
    });
  co_await net::run_all(std::move(tasks));
  co_return obs;
}

}  // namespace mtasts::check
