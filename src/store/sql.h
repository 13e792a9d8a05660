// The little SQL each backend must provide; the store logic (sql_store.cc) is written once on
// top of it. SQL text uses $1, $2... placeholders (PostgreSQL's); the SQLite driver maps them.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/error.h"

namespace mtasts::store {

using Param = std::variant<std::nullptr_t, std::int64_t, std::string>;
using Row = std::vector<std::optional<std::string>>;  // every column as text (NULL = nullopt)

class Connection {
 public:
  virtual ~Connection() = default;
  virtual std::string backend() const = 0;
  // One statement with parameters; returns the rows (empty for statements without results).
  virtual Result<std::vector<Row>> query(std::string_view sql, const std::vector<Param>& params) = 0;
  // Several statements without parameters (migrations).
  virtual Result<bool> script(std::string_view sql) = 0;
  // A write transaction that serializes against other writers of the same rows:
  // SQLite BEGIN IMMEDIATE, PostgreSQL BEGIN (callers add lock_clause() to their SELECTs).
  virtual Result<bool> begin() = 0;
  virtual Result<bool> commit() = 0;
  virtual void rollback() = 0;
  virtual std::string_view lock_clause() const = 0;   // " FOR UPDATE" or ""
  virtual std::string_view autoincrement() const = 0;  // an auto-numbered primary key column type
  // Serializes migrations across processes inside the current transaction.
  virtual Result<bool> lock_migrations() = 0;
};

std::unique_ptr<Connection> open_sqlite(const std::string& path, Error& error);
std::unique_ptr<Connection> open_postgres(const std::string& url, Error& error);

// "postgresql://..." or "postgres://..." -> PostgreSQL, anything else a SQLite file path; runs
// every migration (store/migrations.cc) before returning. Each feature store (domains, reports,
// the resolver's policy cache, ...) opens its own connection with this.
Result<std::unique_ptr<Connection>> open_connection(const std::string& location);

// Applies the migrations the database has not seen yet. Errors: store-migrate.
Result<bool> migrate(Connection& db);

// Runs `body` in a write transaction; rolls back when it returns an error or the commit fails.
template <typename T, typename F>
Result<T> transaction(Connection& db, F body) {
  if (auto b = db.begin(); !b) return b.error();
  Result<T> r = body();
  if (!r) {
    db.rollback();
    return r;
  }
  if (auto c = db.commit(); !c) {
    db.rollback();
    return c.error();
  }
  return r;
}

// Column helpers: every column arrives as text.
std::int64_t to_int(const std::optional<std::string>& s);
std::vector<std::string> split_lines(const std::optional<std::string>& s);  // "" -> {}
std::string join_lines(const std::vector<std::string>& v);

inline Error store_error(std::string code, std::string message) {
  return Error{std::move(code), 0, 0, std::move(message), {}};
}

}  // namespace mtasts::store
