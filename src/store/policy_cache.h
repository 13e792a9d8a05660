// The resolver's policy cache (RFC 8461 §5) in the store: SQLite by default, so it survives a
// restart (kill -9 included: every write is a committed transaction), or PostgreSQL, so a fleet
// of MTAs shares one cache. Written once on store::Connection (migration 4). Not thread-safe:
// one thread at a time (the daemon gives it a thread of its own).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/sts_cache.h"
#include "store/sql.h"

namespace mtasts::store {

class PolicyCache {
 public:
  explicit PolicyCache(std::unique_ptr<Connection> db) : db_(std::move(db)) {}

  // A SQLite path or a postgresql:// URL; runs the migrations. Errors: store-open, store-migrate.
  static Result<std::unique_ptr<PolicyCache>> open(const std::string& location);

  std::string backend() const { return db_->backend(); }

  Result<std::optional<CachedPolicy>> get(const std::string& domain);
  // Insert or replace the domain's entry.
  Result<bool> put(const CachedPolicy& entry);
  // Whether there was an entry.
  Result<bool> erase(const std::string& domain);
  // Entries whose refresh time has come and that are still valid, soonest first.
  Result<std::vector<CachedPolicy>> due(std::int64_t now, std::size_t limit);
  // Every entry in domain order after `after` (paging for `resolver dump`).
  Result<std::vector<CachedPolicy>> list(const std::string& after, std::size_t limit);
  // Removes every entry (or those already expired at `expired_before` when given); the count.
  Result<std::int64_t> purge(std::optional<std::int64_t> expired_before = std::nullopt);
  Result<std::int64_t> count();

 private:
  std::unique_ptr<Connection> db_;
};

}  // namespace mtasts::store
