// Small byte-level helpers shared by the parsers.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mtasts {

inline bool is_wsp(char c) { return c == ' ' || c == '\t'; }
inline bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
inline bool is_digit(char c) { return c >= '0' && c <= '9'; }
inline bool is_alnum(char c) { return is_alpha(c) || is_digit(c); }

// Returns the byte offset of the first invalid UTF-8 sequence (overlongs, surrogates and code
// points above U+10FFFF are invalid), or npos when `s` is valid UTF-8.
std::size_t find_invalid_utf8(std::string_view s);

// RFC 8461 §3.1/§3.2, RFC 8460 §3: ext-name = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
bool is_ext_name(std::string_view name);

// Text from the network made safe for a terminal: control characters (C0 but tab, DEL, C1 as
// UTF-8) and bytes that are not UTF-8 become \xNN, so a record, banner or certificate name cannot
// move the cursor or recolour the screen of whoever reads `mtasts check`. UTF-8 text stays.
std::string terminal_safe(std::string_view s);

// Levenshtein distance, capped: returns cap+1 as soon as the distance exceeds cap.
std::size_t edit_distance(std::string_view a, std::string_view b, std::size_t cap);

inline std::string_view trim_wsp(std::string_view s) {
  while (!s.empty() && is_wsp(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_wsp(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace mtasts
