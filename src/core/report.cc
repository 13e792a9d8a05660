#include "core/report.h"

#include <boost/json.hpp>

#include <algorithm>
#include <array>

#include "core/text.h"
#include "fmt/format.h"

namespace json = boost::json;

namespace mtasts {

namespace {

constexpr std::array<std::string_view, 11> kResultTypes = {
    "starttls-not-supported", "certificate-host-mismatch", "certificate-expired",
    "certificate-not-trusted", "validation-failure",       "tlsa-invalid",
    "dnssec-invalid",          "dane-required",            "sts-policy-fetch-error",
    "sts-policy-invalid",      "sts-webpki-invalid"};

std::string_view sv(json::string_view s) { return {s.data(), s.size()}; }

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

class ReportReader {
 public:
  ReportLint run(std::string_view text);

 private:
  void error(std::string code, std::string path, std::string message, std::size_t col = 0) {
    if (out_.findings.errors.size() < kMaxErrors)
      out_.findings.errors.push_back(
          {std::move(code), 0, col, path.empty() ? message : path + ": " + message, {}});
  }
  void warn(std::string code, std::string path, std::string message) {
    if (out_.findings.warnings.size() < kMaxErrors)
      out_.findings.warnings.push_back({std::move(code), 0, 0, path + ": " + message, {}});
  }
  const json::value* member(const json::object& o, std::string_view key, const std::string& path,
                            bool required);
  bool string_field(const json::object& o, std::string_view key, const std::string& path,
                    bool required, std::string& out);
  bool count_field(const json::object& o, std::string_view key, const std::string& path,
                   std::uint64_t& out);
  bool string_list(const json::object& o, std::string_view key, const std::string& path,
                   std::vector<std::string>& out, bool lenient_string);
  void policy(const json::value& v, const std::string& path, PolicyResult& out);
  void failure(const json::value& v, const std::string& path, FailureDetails& out);

  static constexpr std::size_t kMaxErrors = 50;
  ReportLint out_;
};

const json::value* ReportReader::member(const json::object& o, std::string_view key,
                                        const std::string& path, bool required) {
  auto it = o.find(json::string_view(key.data(), key.size()));
  if (it == o.end()) {
    if (required) error("field-missing", path, fmt::format("\"{}\" is missing", key));
    return nullptr;
  }
  return &it->value();
}

bool ReportReader::string_field(const json::object& o, std::string_view key,
                                const std::string& path, bool required, std::string& out) {
  const json::value* v = member(o, key, path, required);
  if (!v) return !required;
  if (!v->is_string()) {
    error("field-type", path + "." + std::string(key), "must be a string");
    return false;
  }
  out = sv(v->get_string());
  return true;
}

bool ReportReader::count_field(const json::object& o, std::string_view key,
                               const std::string& path, std::uint64_t& out) {
  const json::value* v = member(o, key, path, true);
  if (!v) return false;
  std::string where = path + "." + std::string(key);
  if (v->is_uint64()) {
    out = v->get_uint64();
  } else if (v->is_int64()) {
    if (v->get_int64() < 0) {
      error("count-invalid", where, fmt::format("{} is negative", v->get_int64()));
      return false;
    }
    out = static_cast<std::uint64_t>(v->get_int64());
  } else {
    error("field-type", where,
          fmt::format("must be a whole number, not {}", v->is_string() ? "a string"
                                                        : v->is_double() ? "a decimal number"
                                                                         : "this type"));
    return false;
  }
  return true;
}

bool ReportReader::string_list(const json::object& o, std::string_view key,
                               const std::string& path, std::vector<std::string>& out,
                               bool lenient_string) {
  const json::value* v = member(o, key, path, false);
  if (!v) return true;
  std::string where = path + "." + std::string(key);
  if (v->is_string() && lenient_string) {
    warn("mx-host-string", where, "is a string; RFC 8460 §4.4 says an array of strings");
    out.emplace_back(sv(v->get_string()));
    return true;
  }
  if (!v->is_array()) {
    error("field-type", where, "must be an array of strings");
    return false;
  }
  for (const auto& item : v->get_array()) {
    if (!item.is_string()) {
      error("field-type", where, "must contain only strings");
      return false;
    }
    out.emplace_back(sv(item.get_string()));
  }
  return true;
}

void ReportReader::failure(const json::value& v, const std::string& path, FailureDetails& out) {
  if (!v.is_object()) {
    error("field-type", path, "must be an object");
    return;
  }
  const auto& o = v.get_object();
  if (string_field(o, "result-type", path, true, out.result_type)) {
    out.type = parse_result_type(out.result_type);
    if (out.type == ResultType::unknown)
      warn("result-type-unknown", path + ".result-type",
           fmt::format("\"{}\" is not a result type of RFC 8460 §4.3", out.result_type));
  }
  count_field(o, "failed-session-count", path, out.failed_session_count);
  string_field(o, "sending-mta-ip", path, false, out.sending_mta_ip);
  string_field(o, "receiving-mx-hostname", path, false, out.receiving_mx_hostname);
  string_field(o, "receiving-mx-helo", path, false, out.receiving_mx_helo);
  string_field(o, "receiving-ip", path, false, out.receiving_ip);
  string_field(o, "additional-information", path, false, out.additional_information);
  string_field(o, "failure-reason-code", path, false, out.failure_reason_code);
  // Google sends "sending-mta-ip": "" when it has no address: the same as absent.
  if (!out.sending_mta_ip.empty() && !is_ip_address(out.sending_mta_ip))
    warn("ip-invalid", path + ".sending-mta-ip",
         fmt::format("\"{}\" is not an IP address", out.sending_mta_ip));
  if (!out.receiving_ip.empty() && !is_ip_address(out.receiving_ip))
    warn("ip-invalid", path + ".receiving-ip",
         fmt::format("\"{}\" is not an IP address", out.receiving_ip));
}

void ReportReader::policy(const json::value& v, const std::string& path, PolicyResult& out) {
  if (!v.is_object()) {
    error("field-type", path, "must be an object");
    return;
  }
  const auto& o = v.get_object();
  if (const json::value* p = member(o, "policy", path, true)) {
    std::string ppath = path + ".policy";
    if (!p->is_object()) {
      error("field-type", ppath, "must be an object");
    } else {
      const auto& po = p->get_object();
      std::string type;
      if (string_field(po, "policy-type", ppath, true, type)) {
        if (auto t = parse_policy_type(type)) out.policy_type = *t;
        else
          error("policy-type-invalid", ppath + ".policy-type",
                fmt::format("\"{}\" is not sts, tlsa or no-policy-found", type));
      }
      string_list(po, "policy-string", ppath, out.policy_string, false);
      // Postfix's tlsrpt-reporter (0.5) leaves policy-domain out of no-policy-found entries.
      bool lenient = out.policy_type == PolicyType::no_policy_found && !po.contains("policy-domain");
      if (lenient)
        warn("policy-domain-missing", ppath, "\"policy-domain\" is missing (RFC 8460 §4.4 requires it)");
      else
        string_field(po, "policy-domain", ppath, true, out.policy_domain);
      string_list(po, "mx-host", ppath, out.mx_host, true);
    }
  }
  if (const json::value* s = member(o, "summary", path, true)) {
    std::string spath = path + ".summary";
    if (!s->is_object()) {
      error("field-type", spath, "must be an object");
    } else {
      count_field(s->get_object(), "total-successful-session-count", spath,
                  out.total_successful_session_count);
      count_field(s->get_object(), "total-failure-session-count", spath,
                  out.total_failure_session_count);
    }
  }
  if (const json::value* f = member(o, "failure-details", path, false)) {
    std::string fpath = path + ".failure-details";
    if (!f->is_array()) {
      error("field-type", fpath, "must be an array");
      return;
    }
    const auto& arr = f->get_array();
    out.failure_details.resize(arr.size());
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i < arr.size(); ++i) {
      failure(arr[i], fmt::format("{}[{}]", fpath, i), out.failure_details[i]);
      sum += out.failure_details[i].failed_session_count;
    }
    if (sum > out.total_failure_session_count)
      warn("summary-mismatch", fpath,
           fmt::format("failed-session-count adds up to {}, more than "
                       "total-failure-session-count {}",
                       sum, out.total_failure_session_count));
  }
}

ReportLint ReportReader::run(std::string_view text) {
  if (text.size() > kMaxReportJsonSize) {
    error("report-too-large", "",
          fmt::format("the report is {} bytes; the limit is {}", text.size(), kMaxReportJsonSize));
    return std::move(out_);
  }
  unsigned char buffer[8192];
  json::monotonic_resource mr(buffer, sizeof buffer);
  json::parse_options opt;
  opt.max_depth = 16;
  json::stream_parser parser(json::storage_ptr(), opt);
  parser.reset(&mr);
  boost::system::error_code ec;
  std::size_t used = parser.write(text.data(), text.size(), ec);
  if (!ec) parser.finish(ec);
  if (ec) {
    error("json-syntax", "",
          fmt::format("not valid JSON at byte {}: {}", used + 1, ec.message()), used + 1);
    return std::move(out_);
  }
  json::value root = parser.release();
  if (!root.is_object()) {
    error("not-object", "", "the report must be a JSON object");
    return std::move(out_);
  }
  const auto& o = root.get_object();
  TlsRptReport r;
  string_field(o, "organization-name", "report", true, r.organization_name);
  if (const json::value* d = member(o, "date-range", "report", true)) {
    if (!d->is_object()) {
      error("field-type", "report.date-range", "must be an object");
    } else {
      bool s = string_field(d->get_object(), "start-datetime", "report.date-range", true,
                            r.start_datetime);
      bool e = string_field(d->get_object(), "end-datetime", "report.date-range", true,
                            r.end_datetime);
      // Microsoft sent date-times without a time zone in early 2023: read them as UTC, say so.
      auto read = [&](const std::string& text, const char* path, std::int64_t& epoch) {
        auto t = parse_rfc3339(text);
        if (!t) {
          auto utc = parse_rfc3339(text + "Z");
          if (utc && text.find_first_of("Zz+", 19) == std::string::npos &&
              text.find('-', 19) == std::string::npos) {
            warn("datetime-no-timezone", path, "has no time zone; read as UTC");
            epoch = *utc;
            return true;
          }
          error("datetime-invalid", path, t.error().message);
          return false;
        }
        epoch = *t;
        return true;
      };
      bool both = s && e;
      if (s && !read(r.start_datetime, "report.date-range.start-datetime", r.start_epoch)) both = false;
      if (e && !read(r.end_datetime, "report.date-range.end-datetime", r.end_epoch)) both = false;
      if (both && r.end_epoch < r.start_epoch)
        error("date-range-order", "report.date-range", "end-datetime is before start-datetime");
    }
  }
  // Required by RFC 8460 §4.4, but some small senders send null or nothing: keep the report.
  if (const json::value* c = member(o, "contact-info", "report", false); c && !c->is_null()) {
    string_field(o, "contact-info", "report", true, r.contact_info);
  } else {
    warn("contact-info-missing", "report.contact-info",
         c ? "is null (RFC 8460 §4.4 requires a string)" : "is missing (RFC 8460 §4.4 requires it)");
  }
  string_field(o, "report-id", "report", true, r.report_id);
  if (const json::value* p = member(o, "policies", "report", true)) {
    if (!p->is_array()) {
      error("field-type", "report.policies", "must be an array");
    } else {
      const auto& arr = p->get_array();
      if (arr.empty()) warn("policies-empty", "report.policies", "the report covers no policy");
      r.policies.resize(arr.size());
      for (std::size_t i = 0; i < arr.size(); ++i)
        policy(arr[i], fmt::format("report.policies[{}]", i), r.policies[i]);
    }
  }
  if (out_.findings.valid()) out_.report = std::move(r);
  return std::move(out_);
}

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

std::string_view to_string(PolicyType type) {
  switch (type) {
    case PolicyType::sts: return "sts";
    case PolicyType::tlsa: return "tlsa";
    case PolicyType::no_policy_found: return "no-policy-found";
  }
  return "no-policy-found";
}

std::optional<PolicyType> parse_policy_type(std::string_view text) {
  if (text == "sts") return PolicyType::sts;
  if (text == "tlsa") return PolicyType::tlsa;
  if (text == "no-policy-found") return PolicyType::no_policy_found;
  return std::nullopt;
}

std::string_view to_string(ResultType type) {
  auto i = static_cast<std::size_t>(type);
  return i < kResultTypes.size() ? kResultTypes[i] : "unknown";
}

ResultType parse_result_type(std::string_view text) {
  for (std::size_t i = 0; i < kResultTypes.size(); ++i)
    if (kResultTypes[i] == text) return static_cast<ResultType>(i);
  return ResultType::unknown;
}

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

ReportLint lint_report(std::string_view json) { return ReportReader{}.run(json); }

Result<TlsRptReport> parse_report(std::string_view json) {
  ReportLint lint = lint_report(json);
  if (!lint.findings.valid()) return lint.findings.errors.front();
  return std::move(*lint.report);
}

std::string serialize_report(const TlsRptReport& r) {
  json::object root;
  root["organization-name"] = r.organization_name;
  root["date-range"] = {{"start-datetime", r.start_datetime}, {"end-datetime", r.end_datetime}};
  root["contact-info"] = r.contact_info;
  root["report-id"] = r.report_id;
  json::array policies;
  for (const auto& p : r.policies) {
    json::object policy;
    policy["policy-type"] = to_string(p.policy_type);
    if (!p.policy_string.empty()) {
      json::array a;
      for (const auto& s : p.policy_string) a.emplace_back(s);
      policy["policy-string"] = std::move(a);
    }
    policy["policy-domain"] = p.policy_domain;
    if (!p.mx_host.empty()) {
      json::array a;
      for (const auto& s : p.mx_host) a.emplace_back(s);
      policy["mx-host"] = std::move(a);
    }
    json::object entry;
    entry["policy"] = std::move(policy);
    entry["summary"] = {{"total-successful-session-count", p.total_successful_session_count},
                        {"total-failure-session-count", p.total_failure_session_count}};
    if (!p.failure_details.empty()) {
      json::array details;
      for (const auto& f : p.failure_details) {
        json::object d;
        d["result-type"] = f.result_type;
        auto opt = [&](const char* key, const std::string& v) {
          if (!v.empty()) d[key] = v;
        };
        opt("sending-mta-ip", f.sending_mta_ip);
        opt("receiving-mx-hostname", f.receiving_mx_hostname);
        opt("receiving-mx-helo", f.receiving_mx_helo);
        opt("receiving-ip", f.receiving_ip);
        d["failed-session-count"] = f.failed_session_count;
        opt("additional-information", f.additional_information);
        opt("failure-reason-code", f.failure_reason_code);
        details.emplace_back(std::move(d));
      }
      entry["failure-details"] = std::move(details);
    }
    policies.emplace_back(std::move(entry));
  }
  root["policies"] = std::move(policies);
  return json::serialize(root);
}

}  // namespace mtasts
