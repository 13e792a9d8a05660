// For the store suites that run once per backend: SQLite always (a temp file), PostgreSQL when
// MTASTS_TEST_POSTGRES_URL is set (ctest runs those through tests/harness/with_postgres.py).
#pragma once

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace mtasts::store {

inline const char* postgres_url() { return std::getenv("MTASTS_TEST_POSTGRES_URL"); }

inline std::vector<std::string> backends() {
  std::vector<std::string> out = {"sqlite"};
  if (postgres_url()) out.push_back("postgresql");
  return out;
}

// A fresh database for the current test: a new SQLite file named after it, or PostgreSQL with an
// empty public schema. `error` is set when PostgreSQL cannot be reached.
class TestDatabase {
 public:
  TestDatabase(const std::string& backend, const std::string& prefix) {
    if (backend == "sqlite") {
      std::string test = testing::UnitTest::GetInstance()->current_test_info()->name();
      for (char& c : test)
        if (c == '/') c = '-';
      path_ = std::filesystem::temp_directory_path() /
              (prefix + "-" + std::to_string(getpid()) + "-" + test + ".db");
      remove_files();
      location_ = path_.string();
      return;
    }
    location_ = postgres_url() ? postgres_url() : "";
    PGconn* c = PQconnectdb(location_.c_str());
    if (PQstatus(c) != CONNECTION_OK)
      error = PQerrorMessage(c);
    else
      PQclear(PQexec(c, "SET client_min_messages = warning; DROP SCHEMA public CASCADE; CREATE SCHEMA public;"));
    PQfinish(c);
  }
  ~TestDatabase() { remove_files(); }
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  const std::string& location() const { return location_; }
  std::string error;

 private:
  void remove_files() {
    if (path_.empty()) return;
    std::filesystem::remove(path_);
    std::filesystem::remove(path_.string() + "-wal");
    std::filesystem::remove(path_.string() + "-shm");
  }
  std::filesystem::path path_;
  std::string location_;
};

}  // namespace mtasts::store
