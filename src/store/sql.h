// The little SQL each backend must provide; the store logic (sql_store.cc) is written once on
// top of it. SQL text uses $1, $2... placeholders (PostgreSQL's); the SQLite driver maps them.
#pragma once

#include <cstdint>
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

inline Error store_error(std::string code, std::string message) {
  return Error{std::move(code), 0, 0, std::move(message), {}};
}

}  // namespace mtasts::store
