#include "core/txt_record.h"

#include <boost/url/parse.hpp>

#include "core/domain.h"
#include "core/text.h"
#include "fmt/format.h"

namespace mtasts {

std::string_view to_string(RecordKind kind) { return kind == RecordKind::sts ? "sts" : "tlsrpt"; }

namespace {

std::string_view version_tag(RecordKind kind) {
  return kind == RecordKind::sts ? "v=STSv1" : "v=TLSRPTv1";
}

std::string_view record_name(RecordKind kind) {
  return kind == RecordKind::sts ? "_mta-sts" : "_smtp._tls";
}

// sts-ext-value / tlsrpt-ext-value = 1*(%x21-3A / %x3C / %x3E-7E)
std::size_t find_bad_ext_value_char(std::string_view v) {
  for (std::size_t i = 0; i < v.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(v[i]);
    if (c < 0x21 || c > 0x7E || c == ';' || c == '=') return i;
  }
  return std::string_view::npos;
}

std::string shown(std::string_view s) {
  std::string out;
  for (unsigned char c : s.substr(0, 64)) {
    if (c >= 0x20 && c < 0x7F) out += static_cast<char>(c);
    else out += fmt::format("\\x{:02X}", c);
  }
  if (s.size() > 64) out += "...";
  return out;
}

class RecordLinter {
 public:
  explicit RecordLinter(RecordKind kind) : kind_(kind) {}
  RecordLint run(std::string_view record);

 private:
  void field(std::string_view name, std::string_view value, std::size_t col);
  void sts_field(std::string_view name, std::string_view value, std::size_t col);
  void tlsrpt_field(std::string_view name, std::string_view value, std::size_t col);
  void extension(std::string_view name, std::string_view value, std::size_t col);
  bool first(bool& seen, std::string_view name, std::size_t col);
  void error(std::string code, std::size_t col, std::string message, std::string fix) {
    if (out_.findings.errors.size() < 50)
      out_.findings.errors.push_back({std::move(code), 0, col, std::move(message), std::move(fix)});
  }
  void warn(std::string code, std::size_t col, std::string message, std::string fix) {
    if (out_.findings.warnings.size() < 50)
      out_.findings.warnings.push_back(
          {std::move(code), 0, col, std::move(message), std::move(fix)});
  }

  RecordKind kind_;
  RecordLint out_;
  bool seen_id_ = false, seen_rua_ = false;
};

RecordLint RecordLinter::run(std::string_view record) {
  const std::string_view tag = version_tag(kind_);
  if (record.size() > kMaxTxtRecordSize) {
    error("record-too-long", 0,
          fmt::format("the record is {} bytes; real records are far shorter (limit {})", record.size(),
                      kMaxTxtRecordSize),
          "publish only the version and the required fields");
    return std::move(out_);
  }
  if (trim_wsp(record).empty()) {
    error("record-empty", 0, "the record is empty",
          kind_ == RecordKind::sts ? "publish \"v=STSv1; id=20250101000000\" at _mta-sts"
                                   : "publish \"v=TLSRPTv1; rua=mailto:tlsrpt@example.com\"");
    return std::move(out_);
  }
  if (!starts_record_of_kind(record, kind_)) {
    RecordKind other = kind_ == RecordKind::sts ? RecordKind::tlsrpt : RecordKind::sts;
    if (starts_record_of_kind(record, other)) {
      error("wrong-kind", 1,
            fmt::format("this is a {} record, not a {} record", to_string(other),
                        to_string(kind_)),
            fmt::format("publish it at {} instead", record_name(other)));
      return std::move(out_);
    }
    std::string trimmed = ascii_lower(trim_wsp(record).substr(0, tag.size()));
    std::string why = "the record must start with \"" + std::string(tag) + "\"";
    if (trimmed == ascii_lower(tag)) {
      why = is_wsp(record.front())
                ? why + "; nothing may come before it, not even spaces"
                : why + " exactly: the version is case-sensitive";
    }
    error("version-missing", 1, why + "; senders ignore this record",
          fmt::format("start the record with \"{};\"", tag));
    return std::move(out_);
  }
  out_.fields.push_back({"v", std::string(tag.substr(2))});
  std::size_t pos = tag.size();
  const std::size_t n = record.size();
  while (pos < n) {
    std::size_t ws = pos;
    while (pos < n && is_wsp(record[pos])) ++pos;
    if (pos == n) {
      warn("trailing-whitespace", ws + 1, "whitespace at the end of the record",
           "remove it (end the record with the last field or a ';')");
      break;
    }
    if (record[pos] != ';') {
      error("field-syntax", pos + 1,
            fmt::format("expected ';' before \"{}\"", shown(record.substr(pos, 20))),
            "separate fields with \"; \"");
      break;
    }
    ++pos;
    while (pos < n && is_wsp(record[pos])) ++pos;
    if (pos == n) break;  // a trailing delimiter is allowed
    if (record[pos] == ';') {
      error("field-syntax", pos + 1, "an empty field (two ';' in a row)", "remove the extra ';'");
      continue;
    }
    std::size_t semi = record.find(';', pos);
    if (semi == std::string_view::npos) semi = n;
    std::string_view raw = record.substr(pos, semi - pos);
    std::string_view text = raw;
    while (!text.empty() && is_wsp(text.back())) text.remove_suffix(1);
    std::size_t eq = text.find('=');
    if (eq == std::string_view::npos) {
      error("field-syntax", pos + 1, fmt::format("\"{}\" is not a name=value field", shown(text)),
            "write fields as name=value");
    } else {
      field(text.substr(0, eq), text.substr(eq + 1), pos + 1);
    }
    pos = pos + text.size();
  }
  if (kind_ == RecordKind::sts && !seen_id_)
    error("id-missing", 0, "there is no \"id\" field; senders treat the domain as having no policy",
          "add \"id=\" and a new value (1-32 letters and digits) each time the policy changes");
  if (kind_ == RecordKind::tlsrpt && !seen_rua_)
    error("rua-missing", 0, "there is no \"rua\" field: senders do not know where to report",
          "add \"rua=mailto:tlsrpt@example.com\" (or an https:// URL)");
  return std::move(out_);
}

bool RecordLinter::first(bool& seen, std::string_view name, std::size_t col) {
  if (!seen) {
    seen = true;
    return true;
  }
  error("field-duplicate", col, fmt::format("\"{}\" appears more than once", name),
        fmt::format("keep exactly one \"{}=\"", name));
  return false;
}

void RecordLinter::field(std::string_view name, std::string_view value, std::size_t col) {
  if (!is_ext_name(name)) {
    error("field-name-invalid", col, fmt::format("\"{}\" is not a valid field name", shown(name)),
          "field names are letters, digits, '_', '-' and '.', up to 32 characters");
    return;
  }
  bool known = name == "v" || (kind_ == RecordKind::sts ? name == "id" : name == "rua");
  bool already = false;
  for (const auto& f : out_.fields) already = already || f.name == name;
  if (!already || !known) out_.fields.push_back({std::string(name), std::string(value)});
  if (name == "v") {
    // A second version tag: an extension field by the grammar, but a duplicate to any reader.
    error("field-duplicate", col, "\"v\" appears again after the version", "remove it");
    return;
  }
  if (kind_ == RecordKind::sts) sts_field(name, value, col);
  else tlsrpt_field(name, value, col);
}

void RecordLinter::sts_field(std::string_view name, std::string_view value, std::size_t col) {
  if (name == "id") {
    if (!first(seen_id_, "id", col)) return;
    bool ok = !value.empty() && value.size() <= 32;
    for (char c : value) ok = ok && is_alnum(c);
    if (!ok)
      error("id-invalid", col + 3,
            fmt::format("id \"{}\" must be 1 to 32 letters and digits (no '-', '_', '.' or spaces)",
                        shown(value)),
            "use a value like 20250101T120000 or a short hash");
    return;
  }
  extension(name, value, col);
}

void RecordLinter::tlsrpt_field(std::string_view name, std::string_view value, std::size_t col) {
  if (name != "rua") return extension(name, value, col);
  if (!first(seen_rua_, "rua", col)) return;
  // tlsrpt-rua = %s"rua=" tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri)
  std::size_t start = 0;
  std::size_t base = col + 4;
  while (true) {
    std::size_t comma = value.find(',', start);
    std::string_view item = value.substr(start, comma == std::string_view::npos
                                                    ? std::string_view::npos
                                                    : comma - start);
    std::size_t lead = 0;
    while (lead < item.size() && is_wsp(item[lead])) ++lead;
    std::string_view uri = trim_wsp(item);
    if (uri.empty()) {
      error("rua-invalid", base + start, "an empty item in the rua list",
            "separate URIs with single commas");
    } else if (auto e = check_rua_uri(uri)) {
      e->column = base + start + lead;
      out_.findings.errors.push_back(std::move(*e));
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
}

void RecordLinter::extension(std::string_view name, std::string_view value, std::size_t col) {
  std::string lower = ascii_lower(name);
  std::string_view known = kind_ == RecordKind::sts ? "id" : "rua";
  bool value_ok = !value.empty() && find_bad_ext_value_char(value) == std::string_view::npos;
  if (lower == known || lower == "v") {
    warn("field-name-case", col,
         fmt::format("\"{}\" is not \"{}\": field names are case-sensitive", name, lower),
         fmt::format("write \"{}=\" in lower case", lower));
  } else if (value_ok) {
    warn("unknown-field", col, fmt::format("unknown field \"{}\"; senders ignore it", shown(name)),
         "remove it unless you rely on an extension");
  }
  if (value.empty()) {
    error("field-value-invalid", col + name.size() + 1,
          fmt::format("\"{}\" has an empty value", shown(name)), "give it a value or remove it");
  } else if (auto bad = find_bad_ext_value_char(value); bad != std::string_view::npos) {
    error("field-value-invalid", col + name.size() + 1 + bad,
          fmt::format("the value of \"{}\" contains a space, '=', ';' or a non-ASCII character",
                      shown(name)),
          "values are printable ASCII without spaces, '=' or ';'");
  }
}

}  // namespace

std::string join_txt_strings(const std::vector<std::string>& strings) {
  std::string out;
  for (const auto& s : strings) out += s;
  return out;
}

Result<std::string> parse_txt_presentation(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size() && is_wsp(text[i])) ++i;
  if (i == text.size() || text[i] != '"') return std::string(text);
  std::string out;
  while (i < text.size()) {
    if (is_wsp(text[i]) || text[i] == '\n' || text[i] == '\r') {
      ++i;
      continue;
    }
    if (text[i] != '"')
      return Error{"txt-syntax", 0, i + 1, "text between quoted strings",
                   "quote every part: \"v=STSv1; \" \"id=...\""};
    std::size_t open = i++;
    bool closed = false;
    while (i < text.size()) {
      char c = text[i];
      if (c == '"') {
        closed = true;
        ++i;
        break;
      }
      if (c == '\\') {
        if (i + 1 >= text.size()) break;
        if (i + 3 < text.size() && is_digit(text[i + 1]) && is_digit(text[i + 2]) &&
            is_digit(text[i + 3])) {
          int v = (text[i + 1] - '0') * 100 + (text[i + 2] - '0') * 10 + (text[i + 3] - '0');
          if (v > 255)
            return Error{"txt-syntax", 0, i + 1, "\\DDD escape above 255", {}};
          out += static_cast<char>(v);
          i += 4;
          continue;
        }
        out += text[i + 1];
        i += 2;
        continue;
      }
      out += c;
      ++i;
    }
    if (!closed)
      return Error{"txt-syntax", 0, open + 1, "a quoted string is not closed", "add the closing '\"'"};
  }
  return out;
}

bool starts_record_of_kind(std::string_view record, RecordKind kind) {
  std::string_view tag = version_tag(kind);
  if (!record.starts_with(tag)) return false;
  return record.size() == tag.size() || record[tag.size()] == ';' || is_wsp(record[tag.size()]);
}

RecordLint lint_record(std::string_view record, RecordKind kind) {
  return RecordLinter(kind).run(record);
}
RecordLint lint_sts_record(std::string_view record) { return lint_record(record, RecordKind::sts); }
RecordLint lint_tlsrpt_record(std::string_view record) {
  return lint_record(record, RecordKind::tlsrpt);
}

Result<StsRecord> parse_sts_record(std::string_view record) {
  RecordLint lint = lint_sts_record(record);
  if (!lint.findings.valid()) return lint.findings.errors.front();
  StsRecord out;
  for (auto& f : lint.fields) {
    if (f.name == "id") out.id = std::move(f.value);
    else if (f.name != "v") out.extensions.push_back(std::move(f));
  }
  return out;
}

Result<TlsRptRecord> parse_tlsrpt_record(std::string_view record) {
  RecordLint lint = lint_tlsrpt_record(record);
  if (!lint.findings.valid()) return lint.findings.errors.front();
  TlsRptRecord out;
  for (auto& f : lint.fields) {
    if (f.name == "rua") {
      std::string_view v = f.value;
      std::size_t start = 0;
      while (true) {
        std::size_t comma = v.find(',', start);
        out.rua.emplace_back(trim_wsp(v.substr(start, comma == std::string_view::npos
                                                          ? std::string_view::npos
                                                          : comma - start)));
        if (comma == std::string_view::npos) break;
        start = comma + 1;
      }
    } else if (f.name != "v") {
      out.extensions.push_back(std::move(f));
    }
  }
  return out;
}

std::string serialize_sts_record(const StsRecord& record) {
  std::string out = "v=STSv1; id=" + record.id + ";";
  for (const auto& f : record.extensions) out += " " + f.name + "=" + f.value + ";";
  return out;
}

std::string serialize_tlsrpt_record(const TlsRptRecord& record) {
  std::string out = "v=TLSRPTv1; rua=";
  for (std::size_t i = 0; i < record.rua.size(); ++i) {
    if (i) out += ",";
    out += record.rua[i];
  }
  out += ";";
  for (const auto& f : record.extensions) out += " " + f.name + "=" + f.value + ";";
  return out;
}

std::optional<Error> check_rua_uri(std::string_view uri) {
  auto fail = [&](std::string code, std::string message, std::string fix) {
    return Error{std::move(code), 0, 0, std::move(message), std::move(fix)};
  };
  // RFC 8460 §3: commas and exclamation points in a URI must be percent-encoded. In a record a
  // comma separates URIs and a semicolon ends the field, so neither reaches here from one; a URI
  // given on its own (--rua, an import, the admin API) that has one would be split by senders.
  // DMARC's size limit ("mailto:d@example.com!10m", RFC 7489 §6.4) copied into TLS-RPT, which
  // has none: say that, and give the URI without it.
  if (std::size_t bang = uri.rfind('!'); bang != std::string_view::npos && bang + 1 < uri.size()) {
    std::string_view limit = uri.substr(bang + 1);
    std::size_t digits = 0;
    while (digits < limit.size() && is_digit(limit[digits])) ++digits;
    bool unit = digits + 1 == limit.size() && std::string_view("kmgtKMGT").find(limit.back()) != std::string_view::npos;
    if (digits > 0 && (digits == limit.size() || unit))
      return fail("rua-invalid",
                  fmt::format("\"{}\" ends with \"!{}\", DMARC's report size limit (RFC 7489 "
                              "§6.4); TLS-RPT has no size limit and RFC 8460 §3 requires '!' in "
                              "a URI to be percent-encoded, so senders would report to an "
                              "address ending in \"!{}\"",
                              shown(uri), limit, limit),
                  fmt::format("remove \"!{}\": rua={}", limit, shown(uri.substr(0, bang))));
  }
  for (auto [c, code] : {std::pair{'!', "%21"}, std::pair{',', "%2C"}, std::pair{';', "%3B"}})
    if (uri.find(c) != std::string_view::npos)
      return fail("rua-invalid", fmt::format("\"{}\" contains '{}', which must be written {}", shown(uri), c, code),
                  fmt::format("percent-encode '{}' as {}", c, code));
  auto parsed = boost::urls::parse_uri(boost::core::string_view(uri.data(), uri.size()));
  if (!parsed)
    return fail("rua-invalid", fmt::format("\"{}\" is not a valid URI", shown(uri)),
                "write mailto:reports@example.com or https://reports.example.com/tlsrpt");
  std::string scheme = ascii_lower(std::string_view(parsed->scheme().data(), parsed->scheme().size()));
  if (scheme == "mailto") {
    std::string path = parsed->path();  // percent-decoded
    std::size_t at = path.rfind('@');
    if (at == std::string::npos || at == 0 || at + 1 >= path.size() ||
        path.find(',') != std::string::npos)
      return fail("rua-mailto-invalid",
                  fmt::format("\"{}\" does not name one email address", shown(uri)),
                  "write mailto:tlsrpt@example.com");
    std::string_view domain = std::string_view(path).substr(at + 1);
    if (check_domain_syntax(domain))
      return fail("rua-mailto-invalid",
                  fmt::format("\"{}\": \"{}\" is not a valid mail domain", shown(uri), shown(domain)),
                  "write mailto:tlsrpt@example.com");
    return std::nullopt;
  }
  if (scheme == "https") {
    if (!parsed->has_authority() || parsed->encoded_host().empty())
      return fail("rua-invalid", fmt::format("\"{}\" has no host", shown(uri)),
                  "write https://reports.example.com/tlsrpt");
    return std::nullopt;
  }
  if (scheme == "http")
    return fail("rua-http", fmt::format("\"{}\" uses http: reports must go over https", shown(uri)),
                "use https://");
  return fail("rua-scheme",
              fmt::format("\"{}\": the scheme \"{}\" is not supported; use mailto: or https:",
                          shown(uri), scheme),
              "write mailto:tlsrpt@example.com or an https:// URL");
}

}  // namespace mtasts
