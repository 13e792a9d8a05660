// Output helpers shared by the subcommands: exit codes, colour on a TTY, findings as text/JSON.
#pragma once

#include <boost/json/fwd.hpp>

#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/json.h"
#include "core/policy.h"

namespace mtasts::cli {

// DESIGN.md: 0 success/valid/healthy, 1 the input or deployment has errors, 2 usage or I/O.
inline constexpr int kExitOk = 0;
inline constexpr int kExitInvalid = 1;
inline constexpr int kExitUsage = 2;

struct Style {
  bool color = false;
  std::string red(std::string_view s) const;
  std::string yellow(std::string_view s) const;
  std::string green(std::string_view s) const;
  std::string bold(std::string_view s) const;
  std::string dim(std::string_view s) const;
};
Style stdout_style();

// "where:LINE:COL: error [code] message\n    fix: ..." for each finding.
void print_findings(const Findings& findings, std::string_view where, const Style& style);


using mtasts::json_text;

// Who the audit log names for a change made from the command line: "cli:USER" (the sudo user
// when run through sudo).
std::string actor();

// One JSON document on stdout, one line.
void print_json(const boost::json::value& v);

// Reads a whole file ("-" = stdin), at most `limit` bytes (then the returned size is limit + 1,
// so callers can report "too large"). Errors: io-error.
Result<std::string> read_input(const std::string& path, std::size_t limit);

}  // namespace mtasts::cli
