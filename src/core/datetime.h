// RFC 3339 date-times, as TLS-RPT reports carry them (RFC 8460 §4.4).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"

namespace mtasts {

// RFC 3339 date-time -> seconds since 1970-01-01T00:00:00Z (offset applied, a leap second
// counted as :59). Checks the calendar (month lengths, leap years). Errors: datetime-invalid.
Result<std::int64_t> parse_rfc3339(std::string_view text);

// Seconds since the epoch -> the UTC date, "YYYY-MM-DD" (days of reports, summaries).
std::string utc_date(std::int64_t epoch);

}  // namespace mtasts
