// MX host patterns of an MTA-STS policy and how senders match them (RFC 8461 §4.1).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace mtasts {

struct MxPattern {
  std::string text;    // as written in the policy
  std::string domain;  // normalized (A-labels, lower case, no trailing dot), without "*."
  bool wildcard = false;

  // Normal form: "*." + domain for wildcards, else the domain.
  std::string canonical() const { return (wildcard ? "*." : "") + domain; }

  friend bool operator==(const MxPattern& a, const MxPattern& b) {
    return a.wildcard == b.wildcard && a.domain == b.domain;
  }
};

// What a pattern looked like before normalization; the policy linter warns about these.
struct MxPatternQuirks {
  bool uppercase = false;
  bool trailing_dot = false;
  bool unicode = false;
};

// Parses `["*."] Domain`. RFC 8461 §3.2/§4.1: a wildcard may only be the whole leftmost label.
// Lenient like senders about case, a trailing dot and U-labels (reported in `quirks`).
// Errors: `pattern-invalid`, column = 1-based offset in `text`.
Result<MxPattern> parse_mx_pattern(std::string_view text, MxPatternQuirks* quirks = nullptr);

// `host` must already be normalized (see normalize_domain). RFC 8461 §4.1: "*.example.com"
// matches exactly one extra leftmost label: "mx.example.com", not "example.com" or
// "a.b.example.com".
bool mx_matches(const MxPattern& pattern, std::string_view normalized_host);

// The patterns an admin typed (--mx flags): each parsed, written in normal form (A-labels, lower
// case, no trailing dot; `text` too), duplicates dropped, order kept. Errors: mx-invalid.
Result<std::vector<MxPattern>> normalize_mx_list(const std::vector<std::string>& texts);

// Convenience for the CLI and tests: parses both sides. Errors: `pattern-invalid`, `host-invalid`.
Result<bool> mx_match(std::string_view pattern, std::string_view host);

}  // namespace mtasts
