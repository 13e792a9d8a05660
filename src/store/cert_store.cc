#include "store/cert_store.h"

namespace mtasts::store {

namespace {

const char* kCertColumns = "host, chain_pem, key_pem, not_before, not_after, issuer, updated";

CertificateRecord certificate_of(const Row& r) {
  return CertificateRecord{r[0].value_or(""), r[1].value_or(""), r[2].value_or(""), to_int(r[3]),
                           to_int(r[4]),      r[5].value_or(""), to_int(r[6])};
}

std::vector<std::string> first_column(const std::vector<Row>& rows) {
  std::vector<std::string> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back(r[0].value_or(""));
  return out;
}

}  // namespace

Result<std::unique_ptr<CertStore>> CertStore::open(const std::string& location) {
  auto c = open_connection(location);
  if (!c) return c.error();
  return std::make_unique<CertStore>(std::move(c).value());
}

CertStore::CertStore(std::unique_ptr<Connection> db) : db_(std::move(db)) {}

std::string CertStore::backend() const { return db_->backend(); }

Result<std::optional<AcmeAccountRecord>> CertStore::account(const std::string& directory_url) {
  std::lock_guard lock(mu_);
  auto rows = db_->query(
      "SELECT directory_url, key_pem, account_url, created FROM acme_accounts WHERE directory_url = $1",
      {directory_url});
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<AcmeAccountRecord>();
  const Row& r = rows->front();
  return std::optional<AcmeAccountRecord>(
      AcmeAccountRecord{r[0].value_or(""), r[1].value_or(""), r[2].value_or(""), to_int(r[3])});
}

Result<bool> CertStore::put_account(const AcmeAccountRecord& a) {
  std::lock_guard lock(mu_);
  auto r = db_->query(
      "INSERT INTO acme_accounts (directory_url, key_pem, account_url, created) VALUES ($1, $2, $3, $4) "
      "ON CONFLICT (directory_url) DO UPDATE SET key_pem = excluded.key_pem, "
      "account_url = excluded.account_url, created = excluded.created",
      {a.directory_url, a.key_pem, a.account_url, a.created});
  if (!r) return r.error();
  return true;
}

Result<std::optional<CertificateRecord>> CertStore::certificate(const std::string& host) {
  std::lock_guard lock(mu_);
  auto rows = db_->query(std::string("SELECT ") + kCertColumns + " FROM certificates WHERE host = $1", {host});
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<CertificateRecord>();
  return std::optional<CertificateRecord>(certificate_of(rows->front()));
}

Result<bool> CertStore::put_certificate(const CertificateRecord& c) {
  std::lock_guard lock(mu_);
  auto r = db_->query(
      "INSERT INTO certificates (host, chain_pem, key_pem, not_before, not_after, issuer, updated) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (host) DO UPDATE SET "
      "chain_pem = excluded.chain_pem, key_pem = excluded.key_pem, not_before = excluded.not_before, "
      "not_after = excluded.not_after, issuer = excluded.issuer, updated = excluded.updated",
      {c.host, c.chain_pem, c.key_pem, c.not_before, c.not_after, c.issuer, c.updated});
  if (!r) return r.error();
  return true;
}

Result<bool> CertStore::remove_certificate(const std::string& host) {
  std::lock_guard lock(mu_);
  auto r = db_->query("DELETE FROM certificates WHERE host = $1", {host});
  if (!r) return r.error();
  return true;
}

Result<std::vector<std::string>> CertStore::expiring_before(std::int64_t t) {
  std::lock_guard lock(mu_);
  auto rows = db_->query("SELECT host FROM certificates WHERE not_after < $1 ORDER BY not_after, host", {t});
  if (!rows) return rows.error();
  return first_column(*rows);
}

Result<std::vector<std::string>> CertStore::hosts() {
  std::lock_guard lock(mu_);
  auto rows = db_->query("SELECT host FROM certificates ORDER BY host", {});
  if (!rows) return rows.error();
  return first_column(*rows);
}

Result<std::vector<std::pair<std::string, std::int64_t>>> CertStore::updated_since(std::int64_t t) {
  std::lock_guard lock(mu_);
  auto rows = db_->query("SELECT host, updated FROM certificates WHERE updated > $1 ORDER BY updated, host", {t});
  if (!rows) return rows.error();
  std::vector<std::pair<std::string, std::int64_t>> out;
  for (const auto& r : *rows) out.emplace_back(r[0].value_or(""), to_int(r[1]));
  return out;
}

Result<bool> CertStore::put_challenge(const ChallengeRecord& c) {
  std::lock_guard lock(mu_);
  auto r = db_->query(
      "INSERT INTO acme_challenges (kind, name, key_authorization, certificate_pem, private_key_pem, expires) "
      "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (kind, name) DO UPDATE SET "
      "key_authorization = excluded.key_authorization, certificate_pem = excluded.certificate_pem, "
      "private_key_pem = excluded.private_key_pem, expires = excluded.expires",
      {c.kind, c.name, c.key_authorization, c.certificate_pem, c.private_key_pem, c.expires});
  if (!r) return r.error();
  return true;
}

Result<bool> CertStore::remove_challenge(const std::string& kind, const std::string& name) {
  std::lock_guard lock(mu_);
  auto r = db_->query("DELETE FROM acme_challenges WHERE kind = $1 AND name = $2", {kind, name});
  if (!r) return r.error();
  return true;
}

Result<std::vector<ChallengeRecord>> CertStore::challenges(std::int64_t now) {
  std::lock_guard lock(mu_);
  // Read every reload tick by every node: a plain read, and a write only when something expired.
  auto rows = db_->query(
      "SELECT kind, name, key_authorization, certificate_pem, private_key_pem, expires "
      "FROM acme_challenges ORDER BY kind, name",
      {});
  if (!rows) return rows.error();
  std::vector<ChallengeRecord> out;
  out.reserve(rows->size());
  bool expired = false;
  for (const auto& r : *rows) {
    ChallengeRecord c{r[0].value_or(""), r[1].value_or(""), r[2].value_or(""),
                      r[3].value_or(""), r[4].value_or(""), to_int(r[5])};
    if (c.expires <= now) expired = true;
    else out.push_back(std::move(c));
  }
  if (expired)
    if (auto d = db_->query("DELETE FROM acme_challenges WHERE expires <= $1", {now}); !d) return d.error();
  return out;
}

Result<bool> CertStore::take_lease(const std::string& host, const std::string& node, std::int64_t now,
                                   std::int64_t until) {
  std::lock_guard lock(mu_);
  // One statement, atomic on both backends: insert, or take over an expired or own lease.
  auto rows = db_->query(
      "INSERT INTO acme_leases (host, node, expires) VALUES ($1, $2, $3) ON CONFLICT (host) DO UPDATE "
      "SET node = excluded.node, expires = excluded.expires "
      "WHERE acme_leases.expires <= $4 OR acme_leases.node = excluded.node RETURNING node",
      {host, node, until, now});
  if (!rows) return rows.error();
  return !rows->empty();
}

Result<bool> CertStore::release_lease(const std::string& host, const std::string& node) {
  std::lock_guard lock(mu_);
  auto r = db_->query("DELETE FROM acme_leases WHERE host = $1 AND node = $2", {host, node});
  if (!r) return r.error();
  return true;
}

}  // namespace mtasts::store
