#include "store/policy_cache.h"

#include "fmt/format.h"

namespace mtasts::store {

namespace {

constexpr std::string_view kColumns =
    "domain, policy_id, mode, max_age, mx, policy_text, fetched, checked, expires, refresh";

Result<CachedPolicy> from_row(const Row& r) {
  CachedPolicy e;
  e.domain = r[0].value_or("");
  e.id = r[1].value_or("");
  auto mode = parse_mode(r[2].value_or(""));
  if (!mode) return store_error("store-corrupt", fmt::format("cached policy {}: bad mode", e.domain));
  e.policy.mode = *mode;
  e.policy.max_age = static_cast<std::uint32_t>(to_int(r[3]));
  for (const auto& text : split_lines(r[4])) {
    auto p = parse_mx_pattern(text);
    if (!p) return store_error("store-corrupt", fmt::format("cached policy {}: bad mx", e.domain));
    e.policy.mx.push_back(std::move(p).value());
  }
  e.policy_text = r[5].value_or("");
  e.fetched = to_int(r[6]);
  e.checked = to_int(r[7]);
  e.expires = to_int(r[8]);
  e.refresh = to_int(r[9]);
  return e;
}

Result<std::vector<CachedPolicy>> from_rows(const Result<std::vector<Row>>& rows) {
  if (!rows) return rows.error();
  std::vector<CachedPolicy> out;
  out.reserve(rows->size());
  for (const auto& r : *rows) {
    auto e = from_row(r);
    if (!e) return e.error();
    out.push_back(std::move(e).value());
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<PolicyCache>> PolicyCache::open(const std::string& location) {
  auto c = open_connection(location);
  if (!c) return c.error();
  // A cache, not a record: with WAL, NORMAL survives a killed process (kill -9) and may lose
  // only the last writes on power loss, which the next lookup refetches. FULL would fsync every
  // fetched policy and serialize a cold start on the disk.
  if ((*c)->backend() == "sqlite")
    if (auto r = (*c)->script("PRAGMA synchronous=NORMAL"); !r) return r.error();
  return std::make_unique<PolicyCache>(std::move(c).value());
}

Result<std::optional<CachedPolicy>> PolicyCache::get(const std::string& domain) {
  auto rows = db_->query(fmt::format("SELECT {} FROM resolver_policies WHERE domain = $1", kColumns), {domain});
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<CachedPolicy>();
  auto e = from_row(rows->front());
  if (!e) return e.error();
  return std::optional<CachedPolicy>(std::move(e).value());
}

Result<bool> PolicyCache::put(const CachedPolicy& e) {
  std::vector<std::string> mx;
  for (const auto& p : e.policy.mx) mx.push_back(p.canonical());
  auto r = db_->query(
      fmt::format("INSERT INTO resolver_policies ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
                  "ON CONFLICT (domain) DO UPDATE SET policy_id = excluded.policy_id, "
                  "mode = excluded.mode, max_age = excluded.max_age, mx = excluded.mx, "
                  "policy_text = excluded.policy_text, fetched = excluded.fetched, "
                  "checked = excluded.checked, expires = excluded.expires, refresh = excluded.refresh",
                  kColumns),
      {e.domain, e.id, std::string(to_string(e.policy.mode)), std::int64_t{e.policy.max_age},
       join_lines(mx), e.policy_text, e.fetched, e.checked, e.expires, e.refresh});
  if (!r) return r.error();
  return true;
}

Result<bool> PolicyCache::erase(const std::string& domain) {
  auto r = db_->query("DELETE FROM resolver_policies WHERE domain = $1 RETURNING domain", {domain});
  if (!r) return r.error();
  return !r->empty();
}

Result<std::vector<CachedPolicy>> PolicyCache::due(std::int64_t now, std::size_t limit) {
  return from_rows(db_->query(
      fmt::format("SELECT {} FROM resolver_policies WHERE refresh <= $1 AND expires > $1 "
                  "ORDER BY refresh, domain LIMIT $2",
                  kColumns),
      {now, static_cast<std::int64_t>(limit)}));
}

Result<std::vector<CachedPolicy>> PolicyCache::list(const std::string& after, std::size_t limit) {
  return from_rows(db_->query(
      fmt::format("SELECT {} FROM resolver_policies WHERE domain > $1 ORDER BY domain LIMIT $2", kColumns),
      {after, static_cast<std::int64_t>(limit)}));
}

Result<std::int64_t> PolicyCache::purge(std::optional<std::int64_t> expired_before) {
  auto r = expired_before
               ? db_->query("DELETE FROM resolver_policies WHERE expires <= $1 RETURNING domain", {*expired_before})
               : db_->query("DELETE FROM resolver_policies RETURNING domain", {});
  if (!r) return r.error();
  return static_cast<std::int64_t>(r->size());
}

Result<std::int64_t> PolicyCache::count() {
  auto r = db_->query("SELECT COUNT(*) FROM resolver_policies", {});
  if (!r) return r.error();
  return r->empty() ? 0 : to_int(r->front()[0]);
}

}  // namespace mtasts::store
