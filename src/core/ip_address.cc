#include "core/ip_address.h"

#include "core/text.h"

namespace mtasts {

bool is_ip_address(std::string_view s) {
  if (s.empty() || s.size() > 45) return false;
  // IPv4 dotted quad.
  if (s.find(':') == std::string_view::npos) {
    int parts = 0;
    std::size_t start = 0;
    for (std::size_t i = 0; i <= s.size(); ++i) {
      if (i == s.size() || s[i] == '.') {
        std::size_t len = i - start;
        if (len == 0 || len > 3) return false;
        int v = 0;
        for (std::size_t k = start; k < i; ++k) v = v * 10 + (s[k] - '0');
        if (v > 255 || (len > 1 && s[start] == '0')) return false;
        ++parts;
        start = i + 1;
      } else if (!is_digit(s[i])) {
        return false;
      }
    }
    return parts == 4;
  }
  // IPv6 (RFC 4291 text forms, with an optional embedded IPv4 tail).
  int groups = 0;
  bool gap = false;
  std::size_t i = 0;
  if (s.starts_with("::")) {
    gap = true;
    i = 2;
    if (i == s.size()) return true;
  }
  while (i < s.size()) {
    std::size_t j = i;
    while (j < s.size() && s[j] != ':') ++j;
    std::string_view part = s.substr(i, j - i);
    if (part.find('.') != std::string_view::npos) {
      if (j != s.size() || !is_ip_address(part)) return false;
      groups += 2;
      break;
    }
    if (part.empty() || part.size() > 4) return false;
    for (char c : part)
      if (!is_digit(c) && !((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
    ++groups;
    if (j == s.size()) break;
    if (j + 1 < s.size() && s[j + 1] == ':') {
      if (gap) return false;
      gap = true;
      i = j + 2;
      if (i == s.size()) break;
    } else {
      i = j + 1;
      if (i == s.size()) return false;
    }
  }
  return gap ? groups < 8 : groups == 8;
}

}  // namespace mtasts
