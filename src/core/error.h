// Errors and results for the sans-I/O core: every parser returns a value or an Error that says
// what is wrong (a stable code), where (line/column) and how to fix it.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace mtasts {

struct Error {
  std::string code;        // stable, kebab-case, see docs/lint-codes.md
  std::size_t line = 0;    // 1-based line for line-oriented inputs, 0 otherwise
  std::size_t column = 0;  // 1-based column / byte offset, 0 when not meaningful
  std::string message;     // one sentence for people
  std::string fix;         // one line: what to change (may be empty)
};

// A value or an Error, in the spirit of std::expected (C++23).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}          // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}      // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  const T& value() const& { return std::get<0>(v_); }
  T& value() & { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const T& operator*() const& { return value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// Result of linting: everything found, not just the first problem. `valid` means no errors.
struct Findings {
  std::vector<Error> errors;
  std::vector<Error> warnings;
  bool valid() const { return errors.empty(); }
};

// The value a linter produced, or its first error: how every parse_x() wraps its lint_x().
template <typename T>
Result<T> value_or_first_error(const Findings& findings, std::optional<T>&& value) {
  if (value && findings.valid()) return std::move(*value);
  if (!findings.errors.empty()) return findings.errors.front();
  return Error{"internal", 0, 0, "no value and no error", {}};
}

}  // namespace mtasts
