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
    fmt::print("{}: {} [{}] {}\n", place, label, e.code, e.message);
    if (!e.fix.empty()) fmt::print("    {} {}\n", style.dim("fix:"), e.fix);
  };
  for (const auto& e : findings.errors) one(e, true);
  for (const auto& w : findings.warnings) one(w, false);
}

namespace {

// JSON text must be UTF-8: strings that echo untrusted bytes get U+FFFD for each invalid
// sequence, so `--json` output always parses.
void make_valid_utf8(boost::json::value& v) {
  if (v.is_string()) {
    boost::json::string& s = v.get_string();
    std::string_view view(s.data(), s.size());
    if (find_invalid_utf8(view) == std::string_view::npos) return;
    std::string out;
    while (!view.empty()) {
      std::size_t bad = find_invalid_utf8(view);
      if (bad == std::string_view::npos) {
        out += view;
        break;
      }
      out += view.substr(0, bad);
      out += "\xEF\xBF\xBD";
      view.remove_prefix(bad + 1);
    }
    s = out;
  } else if (v.is_array()) {
    for (auto& item : v.get_array()) make_valid_utf8(item);
  } else if (v.is_object()) {
    for (auto& kv : v.get_object()) make_valid_utf8(kv.value());
  }
}

}  // namespace

std::string json_text(const boost::json::value& value) {
  boost::json::value v = value;
  make_valid_utf8(v);
  return boost::json::serialize(v);
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
