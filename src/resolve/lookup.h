// One fresh RFC 8461 §5 lookup for a domain: the `_mta-sts` TXT record, and when the cache
// decisions (core/sts_cache.h) say so, the policy fetch (net/policy_fetch.h, shared with
// `check`). No cache of its own: the daemon's Engine and `mtasts query` give it what is cached.
#pragma once

#include <optional>
#include <string>

#include "core/sts_cache.h"
#include "net/policy_fetch.h"
#include "net/resolver.h"

namespace mtasts::resolve {

// RFC 8461 §3.1 on a DNS answer: NXDOMAIN and no data are "no record"; SERVFAIL, refused,
// timeouts and malformed answers are DNS failures (answered TEMP when nothing valid is cached).
TxtObservation observe_txt(const net::TxtAnswer& answer);

// RFC 8461 §3.3 on what the fetch saw: HTTP 200, text/plain, a valid policy; else the RFC 8460
// result type (sts-webpki-invalid, sts-policy-invalid, sts-policy-fetch-error) and why.
FetchObservation judge_fetch(const net::PolicyFetch& fetch);

struct Lookup {
  Decision decision;
  TxtObservation txt;                     // when DNS was asked
  bool txt_checked = false;
  std::optional<FetchObservation> fetch;  // when the policy was fetched
};

// `cached` is what the caller's cache holds (nothing for a one-off query). `force` skips the
// grace period (the background refresh).
net::awaitable<Lookup> lookup(net::Resolver& resolver, const net::FetchOptions& fetch_options,
                              std::string domain, std::optional<CachedPolicy> cached,
                              std::int64_t now, double jitter, const CacheTuning& tuning,
                              bool force);

}  // namespace mtasts::resolve
