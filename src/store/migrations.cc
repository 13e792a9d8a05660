// Schema migrations for every feature store, in one list, and the column helpers they share.
#include <charconv>
#include <ctime>

#include "fmt/format.h"
#include "fmt/ranges.h"
#include "store/sql.h"

namespace mtasts::store {

namespace {

struct Migration {
  std::int64_t version;    // unique, never reused; applied in list order
  std::string_view what;
  std::string_view sql;    // {autoinc} is the backend's auto-numbered key type
};

// Append, never edit an applied migration. Versions are unique and never reused; they need not be
// contiguous when features land side by side (a database missing one gets it when it appears).
constexpr Migration kMigrations[] = {
    {1, "domains, policy versions, audit log", R"(CREATE TABLE domains (
         name TEXT PRIMARY KEY,
         mode TEXT NOT NULL,
         max_age BIGINT NOT NULL,
         mx TEXT NOT NULL,
         rua TEXT NOT NULL,
         policy_id TEXT NOT NULL,
         version BIGINT NOT NULL,
         created BIGINT NOT NULL,
         updated BIGINT NOT NULL);
       CREATE TABLE policy_versions (
         domain TEXT NOT NULL,
         version BIGINT NOT NULL,
         policy_id TEXT NOT NULL,
         policy_text TEXT NOT NULL,
         created BIGINT NOT NULL,
         actor TEXT NOT NULL,
         PRIMARY KEY (domain, version));
       CREATE TABLE audit_log (
         id {autoinc},
         at BIGINT NOT NULL,
         actor TEXT NOT NULL,
         action TEXT NOT NULL,
         domain TEXT NOT NULL,
         detail TEXT NOT NULL);
       CREATE INDEX audit_log_domain ON audit_log (domain, id);)"},
    {2, "admin API tokens", R"(CREATE TABLE api_tokens (
         name TEXT PRIMARY KEY,
         hash TEXT NOT NULL UNIQUE,
         created BIGINT NOT NULL,
         last_used BIGINT NOT NULL);)"},
    {3, "TLS-RPT reports", R"(CREATE TABLE tlsrpt_reports (
         id {autoinc},
         organization_name TEXT NOT NULL,
         report_id TEXT NOT NULL,
         start_time BIGINT NOT NULL,
         end_time BIGINT NOT NULL,
         contact_info TEXT NOT NULL,
         received BIGINT NOT NULL,
         source TEXT NOT NULL,
         raw_gzip_base64 TEXT NOT NULL,
         UNIQUE (organization_name, report_id));
       CREATE INDEX tlsrpt_reports_start ON tlsrpt_reports (start_time);
       CREATE INDEX tlsrpt_reports_end ON tlsrpt_reports (end_time);
       CREATE TABLE tlsrpt_policies (
         report BIGINT NOT NULL REFERENCES tlsrpt_reports (id) ON DELETE CASCADE,
         idx BIGINT NOT NULL,
         policy_type TEXT NOT NULL,
         policy_domain TEXT NOT NULL,
         policy_string TEXT NOT NULL,
         mx_host TEXT NOT NULL,
         successful BIGINT NOT NULL,
         failed BIGINT NOT NULL,
         PRIMARY KEY (report, idx));
       CREATE INDEX tlsrpt_policies_domain ON tlsrpt_policies (policy_domain);
       CREATE TABLE tlsrpt_failures (
         report BIGINT NOT NULL,
         policy BIGINT NOT NULL,
         idx BIGINT NOT NULL,
         result_type TEXT NOT NULL,
         sending_mta_ip TEXT NOT NULL,
         receiving_mx_hostname TEXT NOT NULL,
         receiving_mx_helo TEXT NOT NULL,
         receiving_ip TEXT NOT NULL,
         failed BIGINT NOT NULL,
         additional_information TEXT NOT NULL,
         failure_reason_code TEXT NOT NULL,
         PRIMARY KEY (report, policy, idx),
         FOREIGN KEY (report, policy) REFERENCES tlsrpt_policies (report, idx) ON DELETE CASCADE);)"},
    {4, "resolver policy cache", R"(CREATE TABLE resolver_policies (
         domain TEXT PRIMARY KEY,
         policy_id TEXT NOT NULL,
         mode TEXT NOT NULL,
         max_age BIGINT NOT NULL,
         mx TEXT NOT NULL,
         policy_text TEXT NOT NULL,
         fetched BIGINT NOT NULL,
         checked BIGINT NOT NULL,
         expires BIGINT NOT NULL,
         refresh BIGINT NOT NULL);
       CREATE INDEX resolver_policies_refresh ON resolver_policies (refresh);)"},
    {5, "certificates and ACME accounts", R"(CREATE TABLE acme_accounts (
         directory_url TEXT PRIMARY KEY,
         key_pem TEXT NOT NULL,
         account_url TEXT NOT NULL,
         created BIGINT NOT NULL);
       CREATE TABLE certificates (
         host TEXT PRIMARY KEY,
         chain_pem TEXT NOT NULL,
         key_pem TEXT NOT NULL,
         not_before BIGINT NOT NULL,
         not_after BIGINT NOT NULL,
         issuer TEXT NOT NULL,
         updated BIGINT NOT NULL);
       CREATE INDEX certificates_not_after ON certificates (not_after);)"},
    {6, "ACME challenges shared by every node, issuance leases", R"(CREATE TABLE acme_challenges (
         kind TEXT NOT NULL,
         name TEXT NOT NULL,
         key_authorization TEXT NOT NULL,
         certificate_pem TEXT NOT NULL,
         private_key_pem TEXT NOT NULL,
         expires BIGINT NOT NULL,
         PRIMARY KEY (kind, name));
       CREATE TABLE acme_leases (
         host TEXT PRIMARY KEY,
         node TEXT NOT NULL,
         expires BIGINT NOT NULL);)"},
};

}  // namespace

std::int64_t to_int(const std::optional<std::string>& s) {
  std::int64_t v = 0;
  if (s) std::from_chars(s->data(), s->data() + s->size(), v);
  return v;
}

std::vector<std::string> split_lines(const std::optional<std::string>& s) {
  std::vector<std::string> out;
  if (!s || s->empty()) return out;
  std::size_t start = 0;
  while (true) {
    std::size_t nl = s->find('\n', start);
    out.push_back(s->substr(start, nl == std::string::npos ? std::string::npos : nl - start));
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  return out;
}

std::string join_lines(const std::vector<std::string>& v) { return fmt::format("{}", fmt::join(v, "\n")); }


Result<bool> migrate(Connection& db) {
  if (auto r = db.script("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied BIGINT NOT NULL)"); !r)
    return r.error();
  for (const Migration& m : kMigrations) {
    auto done = transaction<bool>(db, [&]() -> Result<bool> {
      if (auto l = db.lock_migrations(); !l) return l.error();
      auto seen = db.query("SELECT version FROM schema_migrations WHERE version = $1", {m.version});
      if (!seen) return seen.error();
      if (!seen->empty()) return true;
      std::string sql(m.sql);
      for (std::size_t at; (at = sql.find("{autoinc}")) != std::string::npos;)
        sql.replace(at, 9, db.autoincrement());
      if (auto s = db.script(sql); !s) return s.error();
      auto mark = db.query("INSERT INTO schema_migrations (version, applied) VALUES ($1, $2)",
                           {m.version, static_cast<std::int64_t>(std::time(nullptr))});
      if (!mark) return mark.error();
      return true;
    });
    if (!done) {
      Error e = done.error();
      e.code = "store-migrate";
      e.message = fmt::format("migration {} ({}): {}", m.version, m.what, e.message);
      return e;
    }
  }
  return true;
}

Result<std::unique_ptr<Connection>> open_connection(const std::string& location) {
  Error error;
  std::unique_ptr<Connection> c;
  if (location.starts_with("postgresql://") || location.starts_with("postgres://"))
    c = open_postgres(location, error);
  else
    c = open_sqlite(location, error);
  if (!c) return error;
  if (auto m = migrate(*c); !m) return m.error();
  return c;
}

}  // namespace mtasts::store
