// One storage interface for everything mtasts keeps: hosted domains with their policy history,
// and an audit log of every change. SQLite (a file path, the default) and PostgreSQL (a
// postgresql:// URL, for several nodes) implement it; one test suite runs against both.
//
// Blocking by design: daemons call it from a small thread pool, never on an I/O thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/policy.h"

namespace mtasts::store {

// A hosted domain: the policy to serve, the TLS-RPT destinations, and the current policy id.
struct Domain {
  std::string name;  // normalized (A-labels, lower case)
  Policy policy;
  std::vector<std::string> rua;
  std::string policy_id;   // the id published in _mta-sts; changes with the policy content
  std::int64_t version = 0;  // 1, 2, ... one per policy change
  std::int64_t created = 0;  // seconds since the epoch
  std::int64_t updated = 0;
};

struct PolicyVersion {
  std::string domain;
  std::int64_t version = 0;
  std::string policy_id;
  std::string policy_text;  // exactly what was served
  std::int64_t created = 0;
  std::string actor;
};

// At most this many ids may be asked for again in one Store::changes call.
inline constexpr std::size_t kMaxChangeIdsAgain = 1000;

// One audit log entry as the change feed sees it (store/change_feed.h).
struct Change {
  std::int64_t id = 0;
  std::string domain;  // "" for an entry about no domain (tokens)
};

struct AuditEntry {
  std::int64_t id = 0;
  std::int64_t at = 0;
  std::string actor;   // "cli:root", "api:token-name"...
  std::string action;  // domain.add, domain.set, domain.remove
  std::string domain;
  std::string detail;  // what changed, in words
};

// What put_domain did.
struct PutResult {
  Domain domain;
  bool created = false;
  bool policy_changed = false;  // a new version and id
  std::string previous_id;
};

class Store {
 public:
  virtual ~Store() = default;

  virtual std::string backend() const = 0;  // "sqlite" | "postgresql"
  virtual std::int64_t schema_version() = 0;

  virtual Result<std::optional<Domain>> get_domain(const std::string& name) = 0;
  // Sorted by name; `after` continues a listing (keyset paging), `limit` 0 = all.
  virtual Result<std::vector<Domain>> list_domains(const std::string& after = {},
                                                   std::size_t limit = 0) = 0;
  // Inserts or updates a domain. When the policy content changes (or on insert) a new version
  // with a new id is stored, in the same transaction as the domain row and the audit entry.
  virtual Result<PutResult> put_domain(const std::string& name, const Policy& policy,
                                       const std::vector<std::string>& rua,
                                       const std::string& actor, std::int64_t now) = 0;
  // Errors: not-found.
  virtual Result<Domain> remove_domain(const std::string& name, const std::string& actor,
                                       std::int64_t now) = 0;
  // Change feed for servers that keep domains in memory (read it through store/change_feed.h,
  // which also catches the late commits): the highest audit id, and every audit entry above
  // `after` together with those whose ids are in `also` (at most kMaxChangeIdsAgain), in id order.
  virtual Result<std::int64_t> last_change() = 0;
  virtual Result<std::vector<Change>> changes(std::int64_t after, const std::vector<std::int64_t>& also) = 0;
  virtual Result<std::vector<PolicyVersion>> policy_history(const std::string& name) = 0;
  virtual Result<std::vector<AuditEntry>> audit_log(const std::string& domain = {},
                                                    std::size_t limit = 100) = 0;
};

// "postgresql://..." or "postgres://..." -> PostgreSQL; anything else is a SQLite file path
// (created when missing). Migrations run on open. Errors: store-open, store-migrate.
Result<std::unique_ptr<Store>> open_store(const std::string& location);

}  // namespace mtasts::store
