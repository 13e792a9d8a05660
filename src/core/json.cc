#include "core/json.h"

#include <boost/json.hpp>

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

}  // namespace mtasts
