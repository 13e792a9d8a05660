// JSON forms of core values, shared by the CLI, the tests and (later) the API.
#pragma once

#include <boost/json/fwd.hpp>

#include <string>
#include <string_view>

#include "core/error.h"
#include "core/policy.h"

namespace mtasts {

boost::json::value to_json(const Error& e);
// {"valid": bool, "errors": [...], "warnings": [...]}
boost::json::value to_json(const Findings& f);
// {"version": "STSv1", "mode": "...", "mx": ["as written"], "max_age": N}
boost::json::value to_json(const Policy& p);

// JSON text, always valid UTF-8: strings echoing untrusted bytes get U+FFFD for invalid ones.
std::string json_text(const boost::json::value& v);

}  // namespace mtasts
