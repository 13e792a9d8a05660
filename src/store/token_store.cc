#include "store/token_store.h"

#include <openssl/rand.h>

#include "core/policy_id.h"
#include "core/text.h"
#include "fmt/format.h"

namespace mtasts::store {

namespace {

Result<bool> audit(Connection& db, std::int64_t now, const std::string& actor, std::string_view action,
                   const std::string& detail) {
  auto r = db.query("INSERT INTO audit_log (at, actor, action, domain, detail) VALUES ($1, $2, $3, '', $4)",
                    {now, actor, std::string(action), detail});
  if (!r) return r.error();
  return true;
}

bool valid_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) return false;
  return true;
}

}  // namespace

Result<std::unique_ptr<TokenStore>> TokenStore::open(const std::string& location) {
  auto c = open_connection(location);
  if (!c) return c.error();
  return std::make_unique<TokenStore>(std::move(c).value());
}

Result<std::string> TokenStore::create(const std::string& name, const std::string& actor, std::int64_t now) {
  if (!valid_name(name))
    return store_error("token-name", "a token name is 1-64 letters, digits, '-', '_' or '.'");
  unsigned char raw[20];
  if (RAND_bytes(raw, sizeof raw) != 1) return store_error("token-random", "no randomness from OpenSSL");
  std::string secret = "mtasts_";
  for (unsigned char b : raw) secret += fmt::format("{:02x}", b);
  auto done = transaction<bool>(*db_, [&]() -> Result<bool> {
    auto seen = db_->query("SELECT name FROM api_tokens WHERE name = $1", {name});
    if (!seen) return seen.error();
    if (!seen->empty())
      return store_error("token-exists", fmt::format("a token named {} exists; remove it first", name));
    auto r = db_->query("INSERT INTO api_tokens (name, hash, created, last_used) VALUES ($1, $2, $3, 0)",
                        {name, sha256_hex(secret), now});
    if (!r) return r.error();
    return audit(*db_, now, actor, "token.add", fmt::format("token {}", name));
  });
  if (!done) return done.error();
  return secret;
}

Result<std::optional<ApiToken>> TokenStore::verify(const std::string& secret, std::int64_t now) {
  if (!secret.starts_with("mtasts_") || secret.size() != 47) return std::optional<ApiToken>();
  const std::string hash = sha256_hex(secret);
  auto rows = db_->query("SELECT name, created, last_used FROM api_tokens WHERE hash = $1", {hash});
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<ApiToken>();
  ApiToken t{(*rows)[0][0].value_or(""), to_int((*rows)[0][1]), to_int((*rows)[0][2])};
  // Record use at most once a minute per token: no write per request.
  if (now - t.last_used >= 60) {
    if (auto u = db_->query("UPDATE api_tokens SET last_used = $1 WHERE hash = $2", {now, hash}); !u)
      return u.error();
    t.last_used = now;
  }
  return std::optional<ApiToken>(std::move(t));
}

Result<std::vector<ApiToken>> TokenStore::list() {
  auto rows = db_->query("SELECT name, created, last_used FROM api_tokens ORDER BY name", {});
  if (!rows) return rows.error();
  std::vector<ApiToken> out;
  for (const auto& r : *rows) out.push_back({r[0].value_or(""), to_int(r[1]), to_int(r[2])});
  return out;
}

Result<bool> TokenStore::remove(const std::string& name, const std::string& actor, std::int64_t now) {
  return transaction<bool>(*db_, [&]() -> Result<bool> {
    auto r = db_->query("DELETE FROM api_tokens WHERE name = $1 RETURNING name", {name});
    if (!r) return r.error();
    if (r->empty()) return store_error("not-found", fmt::format("no token named {}", name));
    return audit(*db_, now, actor, "token.remove", fmt::format("token {}", name));
  });
}

}  // namespace mtasts::store
