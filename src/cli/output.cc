#include "cli/output.h"

#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>

#include "core/text.h"
#include "fmt/format.h"

namespace mtasts::cli {

namespace {
std::string wrap(bool on, const char* code, std::string_view s) {
  if (!on) return std::string(s);
  return fmt::format("\x1b[{}m{}\x1b[0m", code, s);
}
}  // namespace

std::string Style::red(std::string_view s) const { return wrap(color, "31", s); }
std::string Style::yellow(std::string_view s) const { return wrap(color, "33", s); }
std::string Style::green(std::string_view s) const { return wrap(color, "32", s); }
std::string Style::bold(std::string_view s) const { return wrap(color, "1", s); }
std::string Style::dim(std::string_view s) const { return wrap(color, "2", s); }

Style stdout_style() {
  const char* no_color = std::getenv("NO_COLOR");
  return Style{isatty(STDOUT_FILENO) == 1 && (no_color == nullptr || *no_color == '\0')};
}

void print_findings(const Findings& findings, std::string_view where, const Style& style) {
  auto one = [&](const Error& e, bool is_error) {
    std::string place(where);
    if (e.line) place += fmt::format(":{}", e.line);
    if (e.column) place += fmt::format(":{}", e.column);
    std::string label = is_error ? style.red("error") : style.yellow("warning");
    fmt::print("{}: {} [{}] {}\n", place, label, e.code, terminal_safe(e.message));
    if (!e.fix.empty()) fmt::print("    {} {}\n", style.dim("fix:"), terminal_safe(e.fix));
  };
  for (const auto& e : findings.errors) one(e, true);
  for (const auto& w : findings.warnings) one(w, false);
}

std::string actor() {
  const char* user = std::getenv("SUDO_USER");
  if (!user || !*user) user = std::getenv("USER");
  return fmt::format("cli:{}", user && *user ? user : std::to_string(getuid()));
}

void print_json(const boost::json::value& value) {
  std::string s = json_text(value);
  s += '\n';
  std::fwrite(s.data(), 1, s.size(), stdout);
}

Result<std::string> read_input(const std::string& path, std::size_t limit) {
  std::FILE* f = path == "-" ? stdin : std::fopen(path.c_str(), "rb");
  if (!f)
    return Error{"io-error", 0, 0, fmt::format("cannot open {}: {}", path, std::strerror(errno)), {}};
  std::string data;
  char buf[65536];
  while (data.size() <= limit) {
    std::size_t n = std::fread(buf, 1, sizeof buf, f);
    if (n == 0) break;
    data.append(buf, std::min(n, limit + 1 - data.size()));
  }
  bool failed = std::ferror(f);
  if (f != stdin) std::fclose(f);
  if (failed)
    return Error{"io-error", 0, 0, fmt::format("cannot read {}: {}", path, std::strerror(errno)), {}};
  return data;
}

}  // namespace mtasts::cli
