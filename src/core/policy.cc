#include "core/policy.h"

#include <array>
#include <charconv>

#include "core/domain.h"
#include "core/text.h"
#include "fmt/format.h"

namespace mtasts {

std::string_view to_string(Mode mode) {
  switch (mode) {
    case Mode::enforce: return "enforce";
    case Mode::testing: return "testing";
    case Mode::none: return "none";
  }
  return "none";
}

std::optional<Mode> parse_mode(std::string_view text) {
  if (text == "enforce") return Mode::enforce;
  if (text == "testing") return Mode::testing;
  if (text == "none") return Mode::none;
  return std::nullopt;
}

bool Policy::matches(std::string_view host) const {
  for (const auto& p : mx)
    if (mx_matches(p, host)) return true;
  return false;
}

namespace {

constexpr std::array<std::string_view, 4> kFieldNames = {"version", "mode", "max_age", "mx"};

bool looks_like_ipv4(std::string_view s) {
  int labels = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == '.') {
      if (i == start || i - start > 3) return false;
      ++labels;
      start = i + 1;
    } else if (!is_digit(s[i])) {
      return false;
    }
  }
  return labels == 4;
}

// A file saved as "Unicode" (UTF-16: Windows Notepad's old default, PowerShell's Out-File) or
// UTF-32: every ASCII character comes with NUL bytes. The name of the encoding, or "".
std::string_view wide_encoding(std::string_view b) {
  // Each test also wants the first character after the BOM to be ASCII-like (one non-zero byte
  // beside zeros): a BOM alone could begin binary garbage.
  auto at = [&](std::size_t i) { return i < b.size() ? static_cast<unsigned char>(b[i]) : 0x100u; };
  auto zero = [&](std::size_t i) { return at(i) == 0; };
  auto byte = [&](std::size_t i) { return at(i) != 0 && at(i) < 0x80; };
  if (b.starts_with(std::string_view("\xFF\xFE\0\0", 4)) && byte(4) && zero(5) && zero(6) && zero(7))
    return "UTF-32 (little-endian, with a BOM)";
  if (b.starts_with(std::string_view("\0\0\xFE\xFF", 4)) && zero(4) && zero(5) && zero(6) && byte(7))
    return "UTF-32 (big-endian, with a BOM)";
  if (b.starts_with("\xFF\xFE") && byte(2) && zero(3)) return "UTF-16 (little-endian, with a BOM)";
  if (b.starts_with("\xFE\xFF") && zero(2) && byte(3)) return "UTF-16 (big-endian, with a BOM)";
  if (byte(0) && zero(1) && byte(2) && zero(3)) return "UTF-16 (little-endian)";
  if (zero(0) && byte(1) && zero(2) && byte(3)) return "UTF-16 (big-endian)";
  return "";
}

class PolicyLinter {
 public:
  PolicyLint run(std::string_view body);

 private:
  void line(std::string_view text, std::size_t no);
  void field(std::string_view name, std::string_view value, std::size_t no, std::size_t col);
  void version(std::string_view value, std::size_t no, std::size_t col);
  void mode(std::string_view value, std::size_t no, std::size_t col);
  void max_age(std::string_view value, std::size_t no, std::size_t col);
  void mx(std::string_view value, std::size_t no, std::size_t col);
  bool first(bool& seen, std::string_view name, std::size_t no);

  void error(std::string code, std::size_t line, std::size_t col, std::string message,
             std::string fix) {
    add(findings_.errors, dropped_errors_,
        Error{std::move(code), line, col, std::move(message), std::move(fix)});
  }
  void warn(std::string code, std::size_t line, std::size_t col, std::string message,
            std::string fix) {
    add(findings_.warnings, dropped_warnings_,
        Error{std::move(code), line, col, std::move(message), std::move(fix)});
  }
  static void add(std::vector<Error>& list, std::size_t& dropped, Error e) {
    if (list.size() < kMaxFindings) list.push_back(std::move(e));
    else ++dropped;
  }

  Findings findings_;
  Policy policy_;
  bool seen_version_ = false, seen_mode_ = false, seen_max_age_ = false;
  bool mode_ok_ = false, max_age_ok_ = false;
  std::size_t mx_lines_ = 0;
  std::size_t first_mx_line_ = 0, max_age_line_ = 0;
  std::size_t dropped_errors_ = 0, dropped_warnings_ = 0;
};

PolicyLint PolicyLinter::run(std::string_view body) {
  if (body.size() > kMaxPolicySize) {
    error("policy-too-large", 0, 0,
          fmt::format("the policy is {} bytes; senders stop reading at {} bytes (RFC 8461 §3.3)",
                      body.size(), kMaxPolicySize),
          "keep the policy to the four fields and the real MX patterns");
    return {std::move(findings_), std::nullopt};
  }
  if (std::string_view enc = wide_encoding(body); !enc.empty()) {
    error("encoding-utf16", 1, 1,
          fmt::format("the file is encoded as {}, not ASCII or UTF-8: every character comes with "
                      "NUL bytes, and the policy grammar is ASCII (RFC 8461 §3.2)",
                      enc),
          "save the file as UTF-8 without BOM or plain ASCII (Notepad: Save As, Encoding UTF-8; "
          "PowerShell: Out-File -Encoding ascii)");
    return {std::move(findings_), std::nullopt};
  }
  std::string_view without_bom = body.starts_with("\xEF\xBB\xBF") ? body.substr(3) : body;
  if (without_bom.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    error("policy-empty", 0, 0, "the policy is empty",
          "write version, mode, mx and max_age lines, e.g. \"version: STSv1\"");
    return {std::move(findings_), std::nullopt};
  }
  if (body.substr(0, 3) == "\xEF\xBB\xBF") {
    warn("bom", 1, 1, "the file starts with a UTF-8 byte order mark; the grammar has none",
         "save the file as UTF-8 without BOM (plain ASCII is best)");
    body.remove_prefix(3);
  }
  std::size_t pos = 0, no = 0;
  while (pos < body.size()) {
    ++no;
    std::size_t nl = body.find('\n', pos);
    std::size_t end = nl == std::string_view::npos ? body.size() : nl;
    std::string_view text = body.substr(pos, end - pos);
    pos = nl == std::string_view::npos ? body.size() : nl + 1;
    if (!text.empty() && text.back() == '\r' && nl != std::string_view::npos) text.remove_suffix(1);
    line(text, no);
  }

  // RFC 8461 §3.2: version, mode and max_age are required; mx unless the mode is none.
  if (!seen_version_)
    error("version-missing", 0, 0, "there is no \"version\" field",
          "add the line \"version: STSv1\"");
  if (!seen_mode_)
    error("mode-missing", 0, 0, "there is no \"mode\" field",
          "add \"mode: testing\" (then \"mode: enforce\" once reports are clean)");
  if (!seen_max_age_)
    error("max-age-missing", 0, 0, "there is no \"max_age\" field",
          "add \"max_age: 604800\" (one week; up to 31557600)");
  if (mode_ok_ && policy_.mode != Mode::none && mx_lines_ == 0)
    error("mx-missing", 0, 0,
          fmt::format("mode {} needs at least one \"mx\" field", to_string(policy_.mode)),
          "add one \"mx:\" line per MX host, exactly as in DNS, e.g. \"mx: mx1.example.com\"");
  if (mode_ok_ && policy_.mode == Mode::none && mx_lines_ > 0)
    warn("mode-none-with-mx", first_mx_line_, 0, "with mode none the mx lines are ignored by senders",
         "this is fine while taking MTA-STS down; remove them or set mode testing/enforce");
  if (max_age_ok_ && policy_.max_age < kRecommendedMinMaxAge)
    warn("max-age-short", max_age_line_, 0,
         fmt::format("max_age {} is under one day; senders will refetch the policy very often "
                     "and an attacker only has to block it briefly",
                     policy_.max_age),
         "use at least 86400 while testing and 1209600 or more when enforcing");
  if (dropped_errors_)
    findings_.errors.push_back(Error{"too-many-problems", 0, 0,
                                     fmt::format("{} more errors not shown", dropped_errors_), {}});
  if (dropped_warnings_)
    findings_.warnings.push_back(
        Error{"too-many-problems", 0, 0,
              fmt::format("{} more warnings not shown", dropped_warnings_), {}});

  PolicyLint out{std::move(findings_), std::nullopt};
  if (out.findings.valid()) out.policy = std::move(policy_);
  return out;
}

void PolicyLinter::line(std::string_view text, std::size_t no) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\r') {
      error("bare-cr", no, i + 1, "a carriage return that is not followed by a line feed",
            "end lines with LF or CRLF only");
      return;
    }
    if ((c < 0x20 && c != '\t') || c == 0x7F) {
      error("control-character", no, i + 1,
            fmt::format("control character 0x{:02X} is not allowed in a policy", c),
            "the file must be plain text: remove binary data");
      return;
    }
  }
  if (auto bad = find_invalid_utf8(text); bad != std::string_view::npos) {
    error("invalid-utf8", no, bad + 1, "the line is not valid UTF-8",
          "save the file as UTF-8 (plain ASCII is best)");
    return;
  }
  if (trim_wsp(text).empty()) {
    warn("blank-line", no, 1, "an empty line; the policy grammar has none (senders skip it)",
         "remove the empty line");
    return;
  }
  std::size_t col = 1;
  if (is_wsp(text.front())) {
    warn("leading-whitespace", no, 1, "whitespace before the field name",
         "start each line with the field name");
    while (is_wsp(text.front())) {
      text.remove_prefix(1);
      ++col;
    }
  }
  if (is_wsp(text.back())) {
    warn("trailing-whitespace", no, col + trim_wsp(text).size(), "whitespace at the end of the line",
         "remove trailing spaces and tabs");
    text = trim_wsp(text);
  }
  std::size_t colon = text.find(':');
  if (colon == std::string_view::npos) {
    bool record = text.starts_with("v=STSv1") || text.starts_with("v=TLSRPTv1");
    error("line-syntax", no, col,
          record ? "this is a DNS TXT record, not a policy file line"
                 : "the line is not a \"name: value\" field (no ':')",
          record ? "publish the TXT record in DNS; the policy file holds version/mode/mx/max_age"
                 : "write fields as \"name: value\", e.g. \"mode: enforce\"");
    return;
  }
  std::string_view name = text.substr(0, colon);
  if (name.empty()) {
    error("line-syntax", no, col, "the line has no field name before ':'",
          "write fields as \"name: value\"");
    return;
  }
  if (is_wsp(name.back())) {
    error("whitespace-before-colon", no, col + trim_wsp(name).size(),
          fmt::format("whitespace between \"{}\" and ':'; the field name would contain it",
                      trim_wsp(name)),
          fmt::format("write \"{}: value\" with the colon right after the name", trim_wsp(name)));
    return;
  }
  if (!is_ext_name(name)) {
    error("field-name-invalid", no, col,
          fmt::format("\"{}\" is not a valid field name", name),
          "field names are letters, digits, '_', '-' and '.', up to 32 characters");
    return;
  }
  std::size_t vstart = colon + 1;
  while (vstart < text.size() && is_wsp(text[vstart])) ++vstart;
  if (vstart == text.size()) {
    error("line-syntax", no, col + colon, fmt::format("the \"{}\" field has no value", name),
          fmt::format("write a value after \"{}:\" or remove the line", name));
    return;
  }
  field(name, text.substr(vstart), no, col + vstart);
}

bool PolicyLinter::first(bool& seen, std::string_view name, std::size_t no) {
  if (!seen) {
    seen = true;
    return true;
  }
  warn("field-duplicate", no, 1,
       fmt::format("\"{}\" appears again; senders use the first one and ignore this", name),
       fmt::format("keep one \"{}\" line", name));
  return false;
}

void PolicyLinter::field(std::string_view name, std::string_view value, std::size_t no,
                         std::size_t col) {
  if (name == "version") return version(value, no, col);
  if (name == "mode") return mode(value, no, col);
  if (name == "max_age") return max_age(value, no, col);
  if (name == "mx") return mx(value, no, col);
  std::string lower = ascii_lower(name);
  for (std::string_view known : kFieldNames) {
    if (lower == known) {
      warn("field-name-case", no, 1,
           fmt::format("\"{}\" is not \"{}\": field names are case-sensitive and senders ignore "
                       "this line",
                       name, known),
           fmt::format("write \"{}:\" in lower case", known));
      return;
    }
  }
  std::string hint;
  for (std::string_view known : kFieldNames)
    if (edit_distance(lower, known, known.size() <= 2 ? 1 : 2) <= (known.size() <= 2 ? 1u : 2u))
      hint = fmt::format(" (did you mean \"{}\"?)", known);
  if (lower == "max-age" || lower == "maxage") hint = " (did you mean \"max_age\"?)";
  warn("unknown-field", no, 1,
       fmt::format("unknown field \"{}\"{}; senders ignore it", name, hint),
       hint.empty() ? "remove it unless you rely on a policy extension"
                    : "fix the field name; as written it has no effect");
}

void PolicyLinter::version(std::string_view value, std::size_t no, std::size_t col) {
  if (!first(seen_version_, "version", no)) return;
  if (value != "STSv1")
    error("version-invalid", no, col,
          fmt::format("version is \"{}\"; the only version is \"STSv1\" (case-sensitive)", value),
          "write \"version: STSv1\"");
}

void PolicyLinter::mode(std::string_view value, std::size_t no, std::size_t col) {
  if (!first(seen_mode_, "mode", no)) return;
  if (auto m = parse_mode(value)) {
    policy_.mode = *m;
    mode_ok_ = true;
    return;
  }
  std::string lower = ascii_lower(value);
  std::string why = value == "report"
                        ? "\"report\" is from drafts of the RFC; senders reject it"
                        : (parse_mode(lower) ? "values are case-sensitive"
                                             : "the mode must be enforce, testing or none");
  error("mode-invalid", no, col, fmt::format("mode \"{}\" is not valid: {}", value, why),
        value == "report" ? "write \"mode: testing\"" : "write \"mode: testing\", \"mode: enforce\" or \"mode: none\"");
}

void PolicyLinter::max_age(std::string_view value, std::size_t no, std::size_t col) {
  if (!first(seen_max_age_, "max_age", no)) return;
  bool digits = !value.empty() && value.size() <= 10;
  for (char c : value) digits = digits && is_digit(c);
  if (!digits) {
    error("max-age-invalid", no, col,
          fmt::format("max_age \"{}\" is not a whole number of seconds (1 to 10 digits, no sign)",
                      value.size() > 40 ? std::string(value.substr(0, 40)) + "..." : std::string(value)),
          "write max_age in seconds, e.g. \"max_age: 604800\"");
    return;
  }
  std::uint64_t n = 0;
  std::from_chars(value.data(), value.data() + value.size(), n);
  if (n > kMaxMaxAge) {
    error("max-age-range", no, col,
          fmt::format("max_age {} is over the maximum of {} (one year)", n, kMaxMaxAge),
          "use at most \"max_age: 31557600\"");
    return;
  }
  if (value.size() > 1 && value[0] == '0')
    warn("max-age-leading-zero", no, col, "max_age has leading zeros",
         fmt::format("write \"max_age: {}\"", n));
  policy_.max_age = static_cast<std::uint32_t>(n);
  max_age_ok_ = true;
  max_age_line_ = no;
}

void PolicyLinter::mx(std::string_view value, std::size_t no, std::size_t col) {
  if (mx_lines_ == 0) first_mx_line_ = no;
  if (++mx_lines_ > kMaxMxPatterns) {
    if (mx_lines_ == kMaxMxPatterns + 1)
      error("too-many-mx", no, 1,
            fmt::format("more than {} mx lines; no real policy needs that many", kMaxMxPatterns),
            "use one wildcard pattern (\"*.mx.example.com\") for a large MX fleet");
    return;
  }
  MxPatternQuirks quirks;
  auto pattern = parse_mx_pattern(value, &quirks);
  if (!pattern) {
    // RFC 8461 §3.2: each "mx" field holds one pattern ("mx" lines repeat for more): a list on
    // one line ("mx1.example.com, mx2.example.com") is a common slip; say so, with the lines.
    std::vector<std::string_view> parts;
    std::size_t i = 0;
    while (i < value.size()) {
      while (i < value.size() && (value[i] == ',' || value[i] == ';' || is_wsp(value[i]))) ++i;
      std::size_t start = i;
      while (i < value.size() && value[i] != ',' && value[i] != ';' && !is_wsp(value[i])) ++i;
      if (i > start) parts.push_back(value.substr(start, i - start));
    }
    bool list = parts.size() >= 2 && parts.size() <= kMaxMxPatterns;
    for (std::size_t k = 0; list && k < parts.size(); ++k) list = static_cast<bool>(parse_mx_pattern(parts[k]));
    if (list) {
      std::string lines;
      for (std::size_t k = 0; k < parts.size() && k < 4; ++k)
        lines += fmt::format("{}\"mx: {}\"", k ? " and " : "", parts[k]);
      error("mx-invalid", no, col,
            fmt::format("mx \"{}\" lists {} hosts on one line; each mx line holds exactly one "
                        "pattern (RFC 8461 §3.2)",
                        value, parts.size()),
            fmt::format("write one mx line per host: {}{}", lines, parts.size() > 4 ? " ..." : ""));
      return;
    }
  }
  if (!pattern || quirks.unicode) {
    std::string why = pattern ? "non-ASCII characters; RFC 5321 host names are ASCII"
                              : pattern.error().message;
    std::string fix = quirks.unicode && pattern
                          ? fmt::format("write the A-label form: \"mx: {}\"", pattern->canonical())
                          : "write the MX host name exactly as in DNS, or \"*.\" plus a domain";
    error("mx-invalid", no, pattern ? col : col + pattern.error().column - 1,
          fmt::format("mx \"{}\" is not a valid pattern: {}", value, why), fix);
    return;
  }
  if (quirks.uppercase)
    warn("mx-uppercase", no, col,
         fmt::format("mx \"{}\" has upper case; senders compare case-insensitively", value),
         fmt::format("write \"mx: {}\"", pattern->canonical()));
  if (quirks.trailing_dot)
    warn("mx-trailing-dot", no, col,
         fmt::format("mx \"{}\" ends with a dot; senders strip it", value),
         fmt::format("write \"mx: {}\"", pattern->canonical()));
  if (looks_like_ipv4(pattern->domain))
    warn("mx-ip-address", no, col,
         fmt::format("mx \"{}\" looks like an IP address; MX records name hosts", value),
         "list the host names your MX records point to");
  for (const auto& seen : policy_.mx) {
    if (seen == *pattern) {
      warn("mx-duplicate", no, col, fmt::format("mx \"{}\" is listed twice", value),
           "remove the repeated line");
      break;
    }
  }
  policy_.mx.push_back(std::move(pattern).value());
}

}  // namespace

PolicyLint lint_policy(std::string_view body) { return PolicyLinter{}.run(body); }

Result<Policy> parse_policy(std::string_view body) {
  PolicyLint lint = lint_policy(body);
  return value_or_first_error(lint.findings, std::move(lint.policy));
}

std::string serialize_policy(const Policy& policy) {
  std::string out = fmt::format("version: STSv1\r\nmode: {}\r\n", to_string(policy.mode));
  for (const auto& p : policy.mx) {
    out += "mx: ";
    if (p.wildcard) out += "*.";
    out += p.domain;
    out += "\r\n";
  }
  out += fmt::format("max_age: {}\r\n", policy.max_age);
  return out;
}

}  // namespace mtasts
