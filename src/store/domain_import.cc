#include "store/domain_import.h"

#include <boost/json.hpp>

#include <charconv>

#include "core/json.h"
#include "core/policy.h"
#include "core/text.h"
#include "fmt/format.h"
#include "fmt/ranges.h"

namespace mtasts::store {

namespace {

std::vector<std::string> words(std::string_view s) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && is_wsp(s[i])) ++i;
    std::size_t j = i;
    while (j < s.size() && !is_wsp(s[j])) ++j;
    if (j > i) out.emplace_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

Result<ImportLine> parse_json_line(std::string_view text, std::size_t line) {
  auto bad = [&](std::string why) { return Error{"import-invalid", line, 0, why, {}}; };
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  if (ec || !v.is_object()) return bad("not a JSON object");
  const auto& o = v.as_object();
  ImportLine b;
  b.line = line;
  auto str = [&](const char* key, std::string& out) -> bool {
    if (const auto* x = o.if_contains(key)) {
      if (!x->is_string()) return false;
      out = std::string(x->as_string());
    }
    return true;
  };
  auto list = [&](const char* key, std::vector<std::string>& out) -> bool {
    if (const auto* x = o.if_contains(key)) {
      if (!x->is_array()) return false;
      for (const auto& item : x->as_array()) {
        if (!item.is_string()) return false;
        out.emplace_back(item.as_string());
      }
    }
    return true;
  };
  if (!str("domain", b.domain) || b.domain.empty()) return bad("\"domain\" must be a non-empty string");
  if (!str("mode", b.mode)) return bad("\"mode\" must be a string");
  if (const auto* m = o.if_contains("max_age")) {
    if (!m->is_int64() || m->as_int64() < 0 || m->as_int64() > kMaxMaxAge)
      return bad("\"max_age\" must be a whole number 0..31557600");
    b.max_age = static_cast<std::uint32_t>(m->as_int64());
  }
  if (!list("mx", b.mx) || !list("rua", b.rua)) return bad("\"mx\" and \"rua\" must be arrays of strings");
  return b;
}

Result<ImportLine> parse_csv_line(std::string_view text, std::size_t line) {
  std::vector<std::string_view> f;
  std::size_t start = 0;
  while (true) {
    std::size_t comma = text.find(',', start);
    f.push_back(trim_wsp(text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start)));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  if (f.size() != 5 || text.find('"') != std::string_view::npos)
    return Error{"import-invalid", line, 0, "expected 5 fields: domain,mode,max_age,mx,rua (no quotes)", {}};
  ImportLine b;
  b.line = line;
  b.domain = std::string(f[0]);
  if (!f[1].empty()) b.mode = std::string(f[1]);
  if (!f[2].empty()) {
    std::uint64_t n = 0;
    auto [p, ec] = std::from_chars(f[2].data(), f[2].data() + f[2].size(), n);
    if (ec != std::errc() || p != f[2].data() + f[2].size() || n > kMaxMaxAge)
      return Error{"import-invalid", line, 0, "max_age must be a whole number 0..31557600", {}};
    b.max_age = static_cast<std::uint32_t>(n);
  }
  b.mx = words(f[3]);
  b.rua = words(f[4]);
  return b;
}

}  // namespace

Result<ImportLine> parse_import_line(std::string_view text, std::size_t line, bool csv) {
  return csv ? parse_csv_line(text, line) : parse_json_line(text, line);
}

std::string export_line(const Domain& d, bool csv) {
  std::vector<std::string> mx;
  for (const auto& p : d.policy.mx) mx.push_back(p.canonical());
  if (csv)
    return fmt::format("{},{},{},{},{}", d.name, to_string(d.policy.mode), d.policy.max_age,
                       fmt::join(mx, " "), fmt::join(d.rua, " "));
  boost::json::array m, r;
  for (const auto& x : mx) m.emplace_back(x);
  for (const auto& x : d.rua) r.emplace_back(x);
  return json_text(boost::json::object{{"domain", d.name}, {"mode", to_string(d.policy.mode)},
                                       {"max_age", d.policy.max_age}, {"mx", std::move(m)},
                                       {"rua", std::move(r)}, {"id", d.policy_id},
                                       {"version", d.version}});
}

}  // namespace mtasts::store
