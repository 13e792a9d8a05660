// SQLite driver: one file, WAL, FULL sync (an acknowledged write survives power loss), a busy
// timeout so several processes can share the file.
#include <sqlite3.h>

#include <cctype>
#include <map>

#include "fmt/format.h"
#include "store/sql.h"

namespace mtasts::store {

namespace {

class SqliteConnection final : public Connection {
 public:
  explicit SqliteConnection(sqlite3* db) : db_(db) {}
  ~SqliteConnection() override {
    for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
    sqlite3_close_v2(db_);
  }

  std::string backend() const override { return "sqlite"; }
  std::string_view lock_clause() const override { return ""; }
  std::string_view autoincrement() const override { return "INTEGER PRIMARY KEY AUTOINCREMENT"; }
  Result<bool> lock_migrations() override { return true; }  // BEGIN IMMEDIATE already serializes

  Result<std::vector<Row>> query(std::string_view sql, const std::vector<Param>& params) override {
    sqlite3_stmt* stmt = prepare(sql);
    if (!stmt) return fail("query");
    // However this returns, the statement is left reset with no pointer into `params` (so the
    // next use starts clean).
    struct Release {
      sqlite3_stmt* s;
      ~Release() {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
      }
    } release{stmt};
    for (std::size_t i = 0; i < params.size(); ++i) {
      int n = static_cast<int>(i) + 1;
      int rc = std::visit(
          [&](const auto& v) -> int {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, std::nullptr_t>) return sqlite3_bind_null(stmt, n);
            else if constexpr (std::is_same_v<T, std::int64_t>) return sqlite3_bind_int64(stmt, n, v);
            // SQLITE_STATIC: `params` outlive the statement's use here (see Release), so
            // SQLite need not copy each value.
            else return sqlite3_bind_text(stmt, n, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
          },
          params[i]);
      if (rc != SQLITE_OK) return fail("bind");
    }
    std::vector<Row> rows;
    while (true) {
      int rc = sqlite3_step(stmt);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) return fail("step");
      int cols = sqlite3_column_count(stmt);
      Row row(static_cast<std::size_t>(cols));
      for (int c = 0; c < cols; ++c) {
        if (sqlite3_column_type(stmt, c) == SQLITE_NULL) continue;
        const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
        row[static_cast<std::size_t>(c)] = std::string(text, static_cast<std::size_t>(sqlite3_column_bytes(stmt, c)));
      }
      rows.push_back(std::move(row));
    }
    return rows;
  }

  Result<bool> script(std::string_view sql) override {
    char* message = nullptr;
    if (sqlite3_exec(db_, std::string(sql).c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
      Error e = store_error("store-error", message ? message : "sqlite error");
      sqlite3_free(message);
      return e;
    }
    return true;
  }

  Result<bool> begin() override { return script("BEGIN IMMEDIATE"); }
  Result<bool> commit() override { return script("COMMIT"); }
  void rollback() override { sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr); }

 private:
  // Statements are prepared once and kept: the SQL is constant text from sql_store.cc.
  sqlite3_stmt* prepare(std::string_view sql) {
    if (auto it = cache_.find(sql); it != cache_.end()) return it->second;  // no copy of the text
    std::string key(sql);
    // $N placeholders -> ?N (SQLite's numbered form).
    std::string mapped = key;
    for (std::size_t i = 0; i < mapped.size(); ++i)
      if (mapped[i] == '$' && i + 1 < mapped.size() && std::isdigit(static_cast<unsigned char>(mapped[i + 1])))
        mapped[i] = '?';
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, mapped.c_str(), -1, &stmt, nullptr) != SQLITE_OK) return nullptr;
    cache_.emplace(std::move(key), stmt);
    return stmt;
  }
  Error fail(std::string_view what) {
    return store_error("store-error", fmt::format("sqlite {}: {}", what, sqlite3_errmsg(db_)));
  }

  sqlite3* db_;
  std::map<std::string, sqlite3_stmt*, std::less<>> cache_;
};

}  // namespace

std::unique_ptr<Connection> open_sqlite(const std::string& path, Error& error) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    error = store_error("store-open", fmt::format("cannot open SQLite database {}: {}", path,
                                                  db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
    sqlite3_close_v2(db);
    return nullptr;
  }
  sqlite3_busy_timeout(db, 10000);
  auto c = std::make_unique<SqliteConnection>(db);
  for (const char* pragma : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL",
                             "PRAGMA foreign_keys=ON"}) {
    if (auto r = c->script(pragma); !r) {
      error = store_error("store-open", fmt::format("{}: {}", path, r.error().message));
      return nullptr;
    }
  }
  return c;
}

}  // namespace mtasts::store
