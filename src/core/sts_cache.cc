#include "core/sts_cache.h"

#include <algorithm>
#include <cmath>

#include "core/txt_record.h"
#include "fmt/format.h"

namespace mtasts {

std::string_view to_string(Answer answer) {
  switch (answer) {
    case Answer::policy: return "policy";
    case Answer::no_policy: return "no-policy";
    case Answer::temp_failure: return "temp-failure";
    case Answer::fetch: return "fetch";
  }
  return "?";
}

TxtObservation classify_sts_records(const std::vector<std::string>& records) {
  std::vector<const std::string*> sts;
  for (const auto& r : records)
    if (starts_record_of_kind(r, RecordKind::sts)) sts.push_back(&r);
  TxtObservation out;
  if (sts.empty()) {
    out.detail = "no v=STSv1 TXT record";
    return out;
  }
  if (sts.size() > 1) {
    out.detail = fmt::format("{} v=STSv1 TXT records (RFC 8461 §3.1: treated as none)", sts.size());
    return out;
  }
  auto parsed = parse_sts_record(*sts.front());
  if (!parsed) {
    out.detail = fmt::format("the v=STSv1 TXT record is invalid: {}", parsed.error().message);
    return out;
  }
  out.kind = TxtObservation::Kind::record;
  out.id = parsed->id;
  return out;
}

std::int64_t refresh_time(std::int64_t checked, std::uint32_t max_age, double jitter,
                          const CacheTuning& tuning) {
  std::int64_t base = std::min<std::int64_t>(max_age / 2, tuning.refresh_interval);
  base = std::max<std::int64_t>(base, 1);
  jitter = std::clamp(jitter, 0.0, 1.0);
  return checked + base - static_cast<std::int64_t>(std::floor(static_cast<double>(base) * jitter / 4));
}

bool needs_txt_check(const std::optional<CachedPolicy>& cached, std::int64_t now,
                     const CacheTuning& tuning) {
  return !cached || !cached->valid_at(now) || now - cached->checked >= tuning.grace ||
         now < cached->checked;  // the clock went back: do not trust the entry's age
}

namespace {

std::string describe(const CachedPolicy& e) {
  std::string mx;
  for (const auto& p : e.policy.mx) mx += (mx.empty() ? "" : " ") + p.canonical();
  return fmt::format("id {}, mode {}, max_age {}{}{}", e.id, to_string(e.policy.mode),
                     e.policy.max_age, mx.empty() ? "" : ", mx ", mx);
}

Decision keep(const CachedPolicy& cached, std::string reason) {
  Decision d;
  d.answer = Answer::policy;
  d.entry = cached;
  d.reason = std::move(reason);
  return d;
}

Decision nothing(const std::optional<CachedPolicy>& cached, Answer answer, std::string reason,
                 std::string_view why_gone) {
  Decision d;
  d.answer = answer;
  d.reason = std::move(reason);
  if (cached) {
    d.erase = true;
    d.change = fmt::format("{}: policy {} {}; no policy in force", cached->domain, cached->id, why_gone);
  }
  return d;
}

}  // namespace

Decision from_cache(const CachedPolicy& cached, std::int64_t now) {
  return keep(cached, fmt::format("cached policy ({}), its id confirmed by DNS {} s ago",
                                  describe(cached), now - cached.checked));
}

Decision after_txt(const std::optional<CachedPolicy>& cached, const TxtObservation& txt,
                   std::int64_t now, double jitter, const CacheTuning& tuning) {
  const bool valid = cached && cached->valid_at(now);
  switch (txt.kind) {
    case TxtObservation::Kind::dns_failure:
      if (valid)
        return keep(*cached, fmt::format("the _mta-sts lookup failed ({}); the cached policy ({}) "
                                         "stays in force until it expires",
                                         txt.detail, describe(*cached)));
      return nothing(cached, Answer::temp_failure,
                     fmt::format("the _mta-sts lookup failed ({}) and no valid policy is cached",
                                 txt.detail),
                     "expired");
    case TxtObservation::Kind::no_record:
      // RFC 8461 §8.3: a cached policy outlives its TXT record until max_age runs out.
      if (valid)
        return keep(*cached, fmt::format("{}; the cached policy ({}) stays in force until it "
                                         "expires (RFC 8461 §8.3)",
                                         txt.detail, describe(*cached)));
      return nothing(cached, Answer::no_policy, fmt::format("{}: no MTA-STS policy", txt.detail),
                     "expired and the TXT record is gone");
    case TxtObservation::Kind::record:
      break;
  }
  if (valid && cached->id == txt.id) {
    // RFC 8461 §5.1: the id is unchanged, so the cached policy is current; its max_age runs
    // again from now.
    Decision d = keep(*cached, fmt::format("the TXT id {} is unchanged: cached policy ({})",
                                           txt.id, describe(*cached)));
    d.entry->checked = now;
    d.entry->expires = now + cached->policy.max_age;
    d.entry->refresh = refresh_time(now, cached->policy.max_age, jitter, tuning);
    d.write = true;
    return d;
  }
  Decision d;
  d.answer = Answer::fetch;
  if (cached) d.entry = cached;
  d.reason = !cached  ? fmt::format("TXT id {}, nothing cached: fetch the policy", txt.id)
             : !valid ? fmt::format("TXT id {}, the cached policy expired: fetch the policy", txt.id)
                      : fmt::format("the TXT id changed from {} to {}: fetch the policy",
                                    cached->id, txt.id);
  return d;
}

Decision after_fetch(const std::optional<CachedPolicy>& cached, std::string_view domain,
                     std::string_view id, const FetchObservation& fetch, std::int64_t now,
                     double jitter, const CacheTuning& tuning) {
  const bool valid = cached && cached->valid_at(now);
  if (!fetch.ok) {
    if (valid) {
      // RFC 8461 §5.1: a failed refetch never replaces a valid cached policy. Remember that
      // we looked, so the next attempt waits for the grace period.
      Decision d = keep(*cached, fmt::format("the policy fetch failed ({}: {}); the cached policy "
                                             "({}) stays in force until it expires",
                                             fetch.result_type, fetch.detail, describe(*cached)));
      d.entry->checked = now;
      d.write = true;
      return d;
    }
    return nothing(cached, Answer::no_policy,
                   fmt::format("the policy fetch failed ({}: {}): no MTA-STS policy",
                               fetch.result_type, fetch.detail),
                   "expired and its refetch failed");
  }
  CachedPolicy e;
  e.domain = std::string(domain);
  e.id = std::string(id);
  e.policy = fetch.policy;
  e.policy_text = fetch.text;
  e.fetched = e.checked = now;
  e.expires = now + fetch.policy.max_age;
  e.refresh = refresh_time(now, fetch.policy.max_age, jitter, tuning);
  Decision d;
  d.answer = Answer::policy;
  d.entry = e;
  d.write = true;
  d.reason = fmt::format("fetched the policy ({})", describe(e));
  if (!cached)
    d.change = fmt::format("{}: new policy: {}", e.domain, describe(e));
  else if (cached->policy != e.policy || !valid)
    d.change = fmt::format("{}: policy {} replaced: {}", e.domain, cached->id, describe(e));
  return d;
}

}  // namespace mtasts
