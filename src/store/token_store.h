// Bearer tokens for the admin API. A token is shown once, when it is created; the store keeps
// only its SHA-256, so a leaked database does not leak working tokens. Tokens are 160 random bits,
// so a fast hash is enough (no password stretching needed).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "store/sql.h"

namespace mtasts::store {

struct ApiToken {
  std::string name;
  std::int64_t created = 0;
  std::int64_t last_used = 0;  // 0: never
};

class TokenStore {
 public:
  explicit TokenStore(std::unique_ptr<Connection> db) : db_(std::move(db)) {}
  static Result<std::unique_ptr<TokenStore>> open(const std::string& location);

  // A new token "mtasts_<40 hex>"; returned once, never stored. Errors: token-exists, token-name.
  Result<std::string> create(const std::string& name, const std::string& actor, std::int64_t now);
  // The token the secret belongs to (and records its use), or nullopt.
  Result<std::optional<ApiToken>> verify(const std::string& secret, std::int64_t now);
  Result<std::vector<ApiToken>> list();
  // Errors: not-found.
  Result<bool> remove(const std::string& name, const std::string& actor, std::int64_t now);

 private:
  std::unique_ptr<Connection> db_;
};

}  // namespace mtasts::store
