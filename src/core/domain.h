// Domain names as MTA-STS uses them: RFC 5321 `Domain` syntax (LDH labels), length limits of
// RFC 1035, and normalization for comparison (lower case, no trailing dot, IDNA A-labels).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"

namespace mtasts {

inline constexpr std::size_t kMaxDomainLength = 253;  // octets, presentation form, no final dot
inline constexpr std::size_t kMaxLabelLength = 63;

// Checks `name` against RFC 5321 `Domain` (sub-domain *("." sub-domain), sub-domain = Let-dig
// [Ldh-str]) plus the label and name length limits. `name` must not have a trailing dot.
// Returns the problem (code `domain-invalid`, column = 1-based offset in `name`) or nothing.
std::optional<Error> check_domain_syntax(std::string_view name);

bool is_ascii(std::string_view s);
std::string ascii_lower(std::string_view s);
bool has_ascii_upper(std::string_view s);

// Normalizes a host name for comparison: strips one trailing dot, converts U-labels to A-labels
// (IDNA2008 via libidn2), lower-cases, then checks the syntax. Errors: `domain-invalid`.
Result<std::string> normalize_domain(std::string_view name);

}  // namespace mtasts
