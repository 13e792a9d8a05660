#include "core/datetime.h"

#include <algorithm>
#include <ctime>

#include "core/text.h"
#include "fmt/format.h"

namespace mtasts {

namespace {

bool two_digits(std::string_view s, std::size_t at, int& out) {
  if (at + 2 > s.size() || !is_digit(s[at]) || !is_digit(s[at + 1])) return false;
  out = (s[at] - '0') * 10 + (s[at + 1] - '0');
  return true;
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

}  // namespace

Result<std::int64_t> parse_rfc3339(std::string_view s) {
  auto bad = [&](std::string why) {
    return Error{"datetime-invalid", 0, 0,
                 fmt::format("\"{}\" is not an RFC 3339 date-time: {}",
                             s.size() > 40 ? std::string(s.substr(0, 40)) + "..." : std::string(s),
                             why),
                 "use the form 2024-01-31T00:00:00Z"};
  };
  // full-date "T" partial-time time-offset; "T" and "Z" may be lower case (RFC 3339 §5.6 NOTE).
  if (s.size() < 20) return bad("too short");
  int y1, y2, mo, d, h, mi, se;
  if (!two_digits(s, 0, y1) || !two_digits(s, 2, y2) || s[4] != '-' || !two_digits(s, 5, mo) ||
      s[7] != '-' || !two_digits(s, 8, d) || (s[10] != 'T' && s[10] != 't') ||
      !two_digits(s, 11, h) || s[13] != ':' || !two_digits(s, 14, mi) || s[16] != ':' ||
      !two_digits(s, 17, se))
    return bad("expected YYYY-MM-DDTHH:MM:SS");
  int year = y1 * 100 + y2;
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (mo < 1 || mo > 12) return bad("month out of range");
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  int mdays = kDays[mo - 1] + (mo == 2 && leap ? 1 : 0);
  if (d < 1 || d > mdays) return bad("day out of range");
  if (h > 23 || mi > 59 || se > 60) return bad("time out of range");
  std::size_t i = 19;
  if (i < s.size() && s[i] == '.') {
    ++i;
    std::size_t digits = 0;
    while (i < s.size() && is_digit(s[i])) ++i, ++digits;
    if (digits == 0) return bad("empty fraction");
  }
  if (i >= s.size()) return bad("missing time zone (Z or +HH:MM)");
  int offset = 0;
  if (s[i] == 'Z' || s[i] == 'z') {
    ++i;
  } else if (s[i] == '+' || s[i] == '-') {
    int oh, om;
    if (!two_digits(s, i + 1, oh) || i + 3 >= s.size() || s[i + 3] != ':' ||
        !two_digits(s, i + 4, om) || oh > 23 || om > 59)
      return bad("bad time zone offset");
    offset = (oh * 60 + om) * 60 * (s[i] == '-' ? -1 : 1);
    i += 6;
  } else {
    return bad("missing time zone (Z or +HH:MM)");
  }
  if (i != s.size()) return bad("unexpected text after the time");
  std::int64_t days = days_from_civil(year, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  return days * 86400 + h * 3600 + mi * 60 + std::min(se, 59) - offset;
}

std::string utc_date(std::int64_t epoch) {
  std::time_t t = static_cast<std::time_t>(epoch);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

}  // namespace mtasts
