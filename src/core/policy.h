// The MTA-STS policy file (RFC 8461 §3.2): parse strictly, lint with warnings where real senders
// are lenient, and serialize canonically.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/mx_pattern.h"

namespace mtasts {

enum class Mode { enforce, testing, none };
std::string_view to_string(Mode mode);
std::optional<Mode> parse_mode(std::string_view text);  // exact, case-sensitive

inline constexpr std::size_t kMaxPolicySize = 64 * 1024;   // RFC 8461 §3.3
inline constexpr std::uint32_t kMaxMaxAge = 31'557'600;    // RFC 8461 §3.2
inline constexpr std::uint32_t kRecommendedMinMaxAge = 86'400;
inline constexpr std::size_t kMaxMxPatterns = 1000;        // our bound, far above any real policy
inline constexpr std::size_t kMaxFindings = 100;           // per list, then one summary finding

struct Policy {
  Mode mode = Mode::testing;
  std::uint32_t max_age = 0;
  std::vector<MxPattern> mx;

  // RFC 8461 §4.1: does any mx pattern match this (normalized) MX host?
  bool matches(std::string_view normalized_host) const;
  friend bool operator==(const Policy&, const Policy&) = default;
};

struct PolicyLint {
  Findings findings;
  std::optional<Policy> policy;  // set when findings.valid()
};

// Everything wrong with a policy body, by line. Never throws; bounded work for any input.
PolicyLint lint_policy(std::string_view body);

// The policy, or the first error. Warnings are dropped.
Result<Policy> parse_policy(std::string_view body);

// Canonical text: version, mode, mx lines in order, max_age; CRLF line ends (RFC 8461 §3.2).
std::string serialize_policy(const Policy& policy);

}  // namespace mtasts
