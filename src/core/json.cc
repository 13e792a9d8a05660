#include "core/json.h"

#include <boost/json.hpp>

#include "core/text.h"

namespace mtasts {

boost::json::value to_json(const Error& e) {
  boost::json::object o;
  o["code"] = e.code;
  o["line"] = e.line;
  if (e.column) o["column"] = e.column;
  o["message"] = e.message;
  if (!e.fix.empty()) o["fix"] = e.fix;
  return o;
}

boost::json::value to_json(const Findings& f) {
  boost::json::array errors, warnings;
  for (const auto& e : f.errors) errors.push_back(to_json(e));
  for (const auto& w : f.warnings) warnings.push_back(to_json(w));
  return boost::json::object{
      {"valid", f.valid()}, {"errors", std::move(errors)}, {"warnings", std::move(warnings)}};
}

boost::json::value to_json(const Policy& p) {
  boost::json::array mx;
  for (const auto& m : p.mx)
    mx.emplace_back(m.text.empty() ? m.canonical() : m.text);
  return boost::json::object{{"version", "STSv1"},
                             {"mode", to_string(p.mode)},
                             {"mx", std::move(mx)},
                             {"max_age", p.max_age}};
}

namespace {

// JSON text must be UTF-8: strings that echo untrusted bytes get U+FFFD for each invalid
// sequence, so `--json` output and API answers always parse.
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

}  // namespace mtasts
