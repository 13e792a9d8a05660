// The sender's policy cache of RFC 8461 §5 as pure functions of (cached entry, new observation,
// now): no clock, no DNS, no HTTP here. The resolver daemon and `mtasts query` drive it:
//
//   1. needs_txt_check(cached, now, grace): may the cached entry answer without DNS?
//   2. after_txt(cached, txt, now, jitter): the `_mta-sts` TXT answer decides: use the cached
//      policy, fetch a new one, no policy, or a temporary failure (DNS itself failed).
//   3. after_fetch(cached, id, fetch, now, jitter): the fetched policy, or the failure.
//
// Each step returns a Decision: what to answer, what to write to (or erase from) the cache,
// and, when the policy the domain is protected by changes, a one-line description for the log.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/policy.h"

namespace mtasts {

struct CachedPolicy {
  std::string domain;        // normalized (A-labels, lower case)
  std::string id;            // the `_mta-sts` id the policy was fetched (or last confirmed) under
  Policy policy;
  std::string policy_text;   // the body as served (Postfix 3.10 policy_string attributes)
  std::int64_t fetched = 0;  // last successful fetch, seconds since the epoch
  std::int64_t checked = 0;  // last time DNS confirmed the id (or the fetch)
  std::int64_t expires = 0;  // checked + max_age (RFC 8461 §5.1: an unchanged id renews it)
  std::int64_t refresh = 0;  // when the background refresh looks again (RFC 8461 §10.2)

  bool valid_at(std::int64_t now) const { return now < expires; }
  friend bool operator==(const CachedPolicy&, const CachedPolicy&) = default;
};

// What the `_mta-sts.<domain>` TXT lookup found.
struct TxtObservation {
  enum class Kind {
    record,       // exactly one valid "v=STSv1" record; `id` is its id
    no_record,    // NXDOMAIN, no data, no v=STSv1 record, several, or an invalid one (§3.1)
    dns_failure,  // SERVFAIL, refused, timeout: nothing is known
  };
  Kind kind = Kind::no_record;
  std::string id;
  std::string detail;
};

// RFC 8461 §3.1 on the records of one TXT answer (each record's strings already joined).
TxtObservation classify_sts_records(const std::vector<std::string>& records);

// The outcome of the HTTPS fetch, judged: a valid policy, or why not as an RFC 8460 result type
// (sts-policy-fetch-error, sts-policy-invalid, sts-webpki-invalid).
struct FetchObservation {
  bool ok = false;
  Policy policy;
  std::string text;
  std::string result_type;
  std::string detail;
};

enum class Answer {
  policy,        // the entry's policy is in force (its mode says what Postfix gets)
  no_policy,     // deliver as without MTA-STS (also mode none)
  temp_failure,  // DNS failed and nothing valid is cached: ask Postfix to try later
  fetch,         // (after_txt only) fetch the policy, then call after_fetch
};
std::string_view to_string(Answer answer);

struct Decision {
  Answer answer = Answer::no_policy;
  std::optional<CachedPolicy> entry;  // the policy answered with (answer == policy), or cached
  bool write = false;                 // store `entry` (new or renewed)
  bool erase = false;                 // drop the cached entry
  std::string reason;                 // why, in plain words (`mtasts query` prints it)
  std::string change;                 // non-empty when the policy in force changed: log it
};

struct CacheTuning {
  std::int64_t grace = 60;                // seconds an entry answers without a DNS check
  std::int64_t refresh_interval = 86400;  // the background refresh looks at least this often
};

// The moment the background refresh should look at an entry checked at `checked`: half-way to
// its expiry (at least a second) but at most `refresh_interval` later, moved earlier by up to a quarter of that by
// `jitter` (in [0, 1), drawn by the caller) so a fleet does not refresh in step.
std::int64_t refresh_time(std::int64_t checked, std::uint32_t max_age, double jitter,
                          const CacheTuning& tuning);

// True when the cached entry cannot answer alone: none, expired, or older than the grace.
bool needs_txt_check(const std::optional<CachedPolicy>& cached, std::int64_t now,
                     const CacheTuning& tuning);

// The answer of a cached entry without any lookup (needs_txt_check() was false).
Decision from_cache(const CachedPolicy& cached, std::int64_t now);

Decision after_txt(const std::optional<CachedPolicy>& cached, const TxtObservation& txt,
                   std::int64_t now, double jitter, const CacheTuning& tuning);

Decision after_fetch(const std::optional<CachedPolicy>& cached, std::string_view domain,
                     std::string_view id, const FetchObservation& fetch, std::int64_t now,
                     double jitter, const CacheTuning& tuning);

}  // namespace mtasts
