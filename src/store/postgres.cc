// PostgreSQL driver (libpq): text parameters and results, one connection per Store.
#include <libpq-fe.h>

#include "fmt/format.h"
#include "store/sql.h"

namespace mtasts::store {

namespace {

class PgConnection final : public Connection {
 public:
  explicit PgConnection(PGconn* c) : c_(c) {}
  ~PgConnection() override { PQfinish(c_); }

  std::string backend() const override { return "postgresql"; }
  std::string_view lock_clause() const override { return " FOR UPDATE"; }
  std::string_view autoincrement() const override {
    return "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY";
  }
  // Two nodes starting at once must not both run a migration.
  Result<bool> lock_migrations() override {
    auto r = query("SELECT pg_advisory_xact_lock(8461)", {});
    if (!r) return r.error();
    return true;
  }

  Result<std::vector<Row>> query(std::string_view sql, const std::vector<Param>& params) override {
    std::vector<std::string> text(params.size());
    std::vector<const char*> values(params.size(), nullptr);
    for (std::size_t i = 0; i < params.size(); ++i) {
      if (std::holds_alternative<std::nullptr_t>(params[i])) continue;
      text[i] = std::holds_alternative<std::int64_t>(params[i])
                    ? std::to_string(std::get<std::int64_t>(params[i]))
                    : std::get<std::string>(params[i]);
      values[i] = text[i].c_str();
    }
    PGresult* res = PQexecParams(c_, std::string(sql).c_str(), static_cast<int>(params.size()),
                                 nullptr, values.data(), nullptr, nullptr, 0);
    auto status = PQresultStatus(res);
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
      Error e = store_error("store-error", fmt::format("postgresql: {}", PQresultErrorMessage(res)));
      PQclear(res);
      return e;
    }
    std::vector<Row> rows;
    int n = PQntuples(res), cols = PQnfields(res);
    rows.reserve(static_cast<std::size_t>(n));
    for (int r = 0; r < n; ++r) {
      Row row(static_cast<std::size_t>(cols));
      for (int c = 0; c < cols; ++c)
        if (!PQgetisnull(res, r, c))
          row[static_cast<std::size_t>(c)] =
              std::string(PQgetvalue(res, r, c), static_cast<std::size_t>(PQgetlength(res, r, c)));
      rows.push_back(std::move(row));
    }
    PQclear(res);
    return rows;
  }

  Result<bool> script(std::string_view sql) override {
    PGresult* res = PQexec(c_, std::string(sql).c_str());
    auto status = PQresultStatus(res);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      Error e = store_error("store-error", fmt::format("postgresql: {}", PQresultErrorMessage(res)));
      PQclear(res);
      return e;
    }
    PQclear(res);
    return true;
  }

  Result<bool> begin() override { return script("BEGIN"); }
  Result<bool> commit() override { return script("COMMIT"); }
  void rollback() override { PQclear(PQexec(c_, "ROLLBACK")); }

 private:
  PGconn* c_;
};

}  // namespace

std::unique_ptr<Connection> open_postgres(const std::string& url, Error& error) {
  PGconn* c = PQconnectdb(url.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    // The URL may hold a password: never print it, only the server's complaint.
    error = store_error("store-open", fmt::format("cannot connect to PostgreSQL: {}", PQerrorMessage(c)));
    PQfinish(c);
    return nullptr;
  }
  auto conn = std::make_unique<PgConnection>(c);
  if (auto r = conn->script("SET client_min_messages = warning"); !r) {
    error = r.error();
    return nullptr;
  }
  return conn;
}

}  // namespace mtasts::store
