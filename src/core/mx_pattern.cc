#include "core/mx_pattern.h"

#include "core/domain.h"

namespace mtasts {

Result<MxPattern> parse_mx_pattern(std::string_view text, MxPatternQuirks* quirks) {
  MxPattern p;
  p.text = std::string(text);
  std::string_view rest = text;
  std::size_t offset = 0;
  if (rest.size() >= 2 && rest[0] == '*' && rest[1] == '.') {
    p.wildcard = true;
    rest.remove_prefix(2);
    offset = 2;
  }
  if (rest.empty())
    return Error{"pattern-invalid", 0, offset + 1,
                 p.wildcard ? "\"*.\" must be followed by a domain name" : "the pattern is empty",
                 "write a host name such as mx1.example.com or *.mx.example.com"};
  if (auto star = rest.find('*'); star != std::string_view::npos)
    return Error{"pattern-invalid", 0, offset + star + 1,
                 "a wildcard is only allowed as the whole leftmost label (\"*.example.com\")",
                 "list the MX hosts explicitly or use one leading \"*.\""};
  if (quirks) {
    quirks->trailing_dot = rest.back() == '.';
    quirks->uppercase = has_ascii_upper(rest);
    quirks->unicode = !is_ascii(rest);
  }
  auto normalized = normalize_domain(rest);
  if (!normalized) {
    const Error& e = normalized.error();
    return Error{"pattern-invalid", 0, e.column ? e.column + offset : 0, e.message,
                 "write the MX host name exactly as in DNS, letters, digits, '-' and dots"};
  }
  p.domain = std::move(normalized).value();
  return p;
}

bool mx_matches(const MxPattern& pattern, std::string_view host) {
  if (!pattern.wildcard) return host == pattern.domain;
  // host = label "." domain, with a non-empty label that contains no dot.
  if (host.size() < pattern.domain.size() + 2) return false;
  std::size_t label_len = host.size() - pattern.domain.size() - 1;
  if (host[label_len] != '.') return false;
  if (host.substr(label_len + 1) != pattern.domain) return false;
  return host.substr(0, label_len).find('.') == std::string_view::npos;
}

Result<std::vector<MxPattern>> normalize_mx_list(const std::vector<std::string>& texts) {
  std::vector<MxPattern> out;
  for (const auto& text : texts) {
    auto p = parse_mx_pattern(text);
    if (!p) {
      Error e = p.error();
      e.code = "mx-invalid";
      e.message = "mx \"" + text + "\": " + e.message;
      return e;
    }
    MxPattern pattern = std::move(p).value();
    pattern.text = pattern.canonical();
    bool seen = false;
    for (const auto& q : out) seen = seen || q == pattern;
    if (!seen) out.push_back(std::move(pattern));
  }
  return out;
}

Result<bool> mx_match(std::string_view pattern, std::string_view host) {
  auto p = parse_mx_pattern(pattern);
  if (!p) return p.error();
  if (host.find('*') != std::string_view::npos)
    return Error{"host-invalid", 0, host.find('*') + 1,
                 "a host name cannot contain a wildcard; the pattern goes first", {}};
  auto h = normalize_domain(host);
  if (!h) {
    Error e = h.error();
    e.code = "host-invalid";
    return e;
  }
  return mx_matches(*p, *h);
}

}  // namespace mtasts
