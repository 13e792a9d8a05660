// Reading a TLS-RPT report: JSON syntax, then every field against RFC 8460 §4.4, collecting
// all problems. Paths for messages ("report.policies[0].summary") are built only on error: the
// happy path allocates nothing but the model.
#include <boost/json.hpp>

#include "core/ip_address.h"
#include "core/report.h"
#include "fmt/format.h"

namespace json = boost::json;

namespace mtasts {

namespace {

std::string_view sv(json::string_view s) { return {s.data(), s.size()}; }

// A JSON path as a chain of stack frames: parent, then ".key" or "[index]".
struct Path {
  const Path* parent = nullptr;
  std::string_view key;
  std::size_t index = 0;
  bool is_index = false;

  Path operator/(std::string_view k) const { return Path{this, k, 0, false}; }
  Path operator[](std::size_t i) const { return Path{this, {}, i, true}; }
  std::string str() const {
    std::string out = parent ? parent->str() : std::string();
    if (is_index) return out + fmt::format("[{}]", index);
    if (!out.empty()) out += '.';
    return out + std::string(key);
  }
};

class ReportReader {
 public:
  ReportLint run(std::string_view text);

 private:
  void error(std::string code, const Path& at, std::string message, std::size_t col = 0) {
    if (out_.findings.errors.size() < kMaxErrors)
      out_.findings.errors.push_back({std::move(code), 0, col, at.str() + ": " + message, {}});
  }
  void warn(std::string code, const Path& at, std::string message) {
    if (out_.findings.warnings.size() < kMaxErrors)
      out_.findings.warnings.push_back({std::move(code), 0, 0, at.str() + ": " + message, {}});
  }
  const json::value* member(const json::object& o, std::string_view key, const Path& at,
                            bool required);
  bool string_field(const json::object& o, std::string_view key, const Path& at, bool required,
                    std::string& out);
  bool count_field(const json::object& o, std::string_view key, const Path& at,
                   std::uint64_t& out);
  void string_list(const json::object& o, std::string_view key, const Path& at,
                   std::vector<std::string>& out, bool lenient_string);
  bool datetime(const std::string& text, const Path& at, std::int64_t& epoch);
  void date_range(const json::object& o, const Path& at, TlsRptReport& r);
  void policy(const json::value& v, const Path& at, PolicyResult& out);
  void failure(const json::value& v, const Path& at, FailureDetails& out);

  static constexpr std::size_t kMaxErrors = 50;
  ReportLint out_;
};

const json::value* ReportReader::member(const json::object& o, std::string_view key,
                                        const Path& at, bool required) {
  auto it = o.find(json::string_view(key.data(), key.size()));
  if (it == o.end()) {
    if (required) error("field-missing", at, fmt::format("\"{}\" is missing", key));
    return nullptr;
  }
  return &it->value();
}

bool ReportReader::string_field(const json::object& o, std::string_view key, const Path& at,
                                bool required, std::string& out) {
  const json::value* v = member(o, key, at, required);
  if (!v) return !required;
  if (!v->is_string()) {
    error("field-type", at / key, "must be a string");
    return false;
  }
  out = sv(v->get_string());
  return true;
}

bool ReportReader::count_field(const json::object& o, std::string_view key, const Path& at,
                               std::uint64_t& out) {
  const json::value* v = member(o, key, at, true);
  if (!v) return false;
  if (v->is_uint64()) {
    out = v->get_uint64();
  } else if (v->is_int64()) {
    if (v->get_int64() < 0) {
      error("count-invalid", at / key, fmt::format("{} is negative", v->get_int64()));
      return false;
    }
    out = static_cast<std::uint64_t>(v->get_int64());
  } else {
    error("field-type", at / key,
          fmt::format("must be a whole number, not {}", v->is_string() ? "a string"
                                                        : v->is_double() ? "a decimal number"
                                                                         : "this type"));
    return false;
  }
  return true;
}

void ReportReader::string_list(const json::object& o, std::string_view key, const Path& at,
                               std::vector<std::string>& out, bool lenient_string) {
  const json::value* v = member(o, key, at, false);
  if (!v) return;
  if (v->is_string() && lenient_string) {
    warn("mx-host-string", at / key, "is a string; RFC 8460 §4.4 says an array of strings");
    out.emplace_back(sv(v->get_string()));
    return;
  }
  if (!v->is_array()) {
    error("field-type", at / key, "must be an array of strings");
    return;
  }
  out.reserve(v->get_array().size());
  for (const auto& item : v->get_array()) {
    if (!item.is_string()) {
      error("field-type", at / key, "must contain only strings");
      return;
    }
    out.emplace_back(sv(item.get_string()));
  }
}

// Microsoft sent date-times without a time zone in early 2023: read them as UTC, say so.
bool ReportReader::datetime(const std::string& text, const Path& at, std::int64_t& epoch) {
  auto t = parse_rfc3339(text);
  if (t) {
    epoch = *t;
    return true;
  }
  auto utc = parse_rfc3339(text + "Z");
  if (utc && text.find_first_of("Zz+", 19) == std::string::npos &&
      text.find('-', 19) == std::string::npos) {
    warn("datetime-no-timezone", at, "has no time zone; read as UTC");
    epoch = *utc;
    return true;
  }
  error("datetime-invalid", at, t.error().message);
  return false;
}

void ReportReader::date_range(const json::object& o, const Path& at, TlsRptReport& r) {
  const json::value* d = member(o, "date-range", at, true);
  if (!d) return;
  Path here = at / "date-range";
  if (!d->is_object()) {
    error("field-type", here, "must be an object");
    return;
  }
  const auto& dr = d->get_object();
  bool s = string_field(dr, "start-datetime", here, true, r.start_datetime);
  bool e = string_field(dr, "end-datetime", here, true, r.end_datetime);
  if (s) s = datetime(r.start_datetime, here / "start-datetime", r.start_epoch);
  if (e) e = datetime(r.end_datetime, here / "end-datetime", r.end_epoch);
  if (s && e && r.end_epoch < r.start_epoch)
    error("date-range-order", here, "end-datetime is before start-datetime");
}

void ReportReader::failure(const json::value& v, const Path& at, FailureDetails& out) {
  if (!v.is_object()) {
    error("field-type", at, "must be an object");
    return;
  }
  const auto& o = v.get_object();
  if (string_field(o, "result-type", at, true, out.result_type)) {
    out.type = parse_result_type(out.result_type);
    if (out.type == ResultType::unknown)
      warn("result-type-unknown", at / "result-type",
           fmt::format("\"{}\" is not a result type of RFC 8460 §4.3", out.result_type));
  }
  count_field(o, "failed-session-count", at, out.failed_session_count);
  string_field(o, "sending-mta-ip", at, false, out.sending_mta_ip);
  string_field(o, "receiving-mx-hostname", at, false, out.receiving_mx_hostname);
  string_field(o, "receiving-mx-helo", at, false, out.receiving_mx_helo);
  string_field(o, "receiving-ip", at, false, out.receiving_ip);
  string_field(o, "additional-information", at, false, out.additional_information);
  string_field(o, "failure-reason-code", at, false, out.failure_reason_code);
  // Google sends "sending-mta-ip": "" when it has no address: the same as absent.
  if (!out.sending_mta_ip.empty() && !is_ip_address(out.sending_mta_ip))
    warn("ip-invalid", at / "sending-mta-ip",
         fmt::format("\"{}\" is not an IP address", out.sending_mta_ip));
  if (!out.receiving_ip.empty() && !is_ip_address(out.receiving_ip))
    warn("ip-invalid", at / "receiving-ip",
         fmt::format("\"{}\" is not an IP address", out.receiving_ip));
}

void ReportReader::policy(const json::value& v, const Path& at, PolicyResult& out) {
  if (!v.is_object()) {
    error("field-type", at, "must be an object");
    return;
  }
  const auto& o = v.get_object();
  if (const json::value* p = member(o, "policy", at, true)) {
    Path here = at / "policy";
    if (!p->is_object()) {
      error("field-type", here, "must be an object");
    } else {
      const auto& po = p->get_object();
      std::string type;
      if (string_field(po, "policy-type", here, true, type)) {
        if (auto t = parse_policy_type(type)) out.policy_type = *t;
        else
          error("policy-type-invalid", here / "policy-type",
                fmt::format("\"{}\" is not sts, tlsa or no-policy-found", type));
      }
      string_list(po, "policy-string", here, out.policy_string, false);
      // Postfix's tlsrpt-reporter (0.5) leaves policy-domain out of no-policy-found entries.
      if (out.policy_type == PolicyType::no_policy_found && !po.contains("policy-domain"))
        warn("policy-domain-missing", here,
             "\"policy-domain\" is missing (RFC 8460 §4.4 requires it)");
      else
        string_field(po, "policy-domain", here, true, out.policy_domain);
      string_list(po, "mx-host", here, out.mx_host, true);
    }
  }
  if (const json::value* s = member(o, "summary", at, true)) {
    Path here = at / "summary";
    if (!s->is_object()) {
      error("field-type", here, "must be an object");
    } else {
      count_field(s->get_object(), "total-successful-session-count", here,
                  out.total_successful_session_count);
      count_field(s->get_object(), "total-failure-session-count", here,
                  out.total_failure_session_count);
    }
  }
  if (const json::value* f = member(o, "failure-details", at, false)) {
    Path here = at / "failure-details";
    if (!f->is_array()) {
      error("field-type", here, "must be an array");
      return;
    }
    const auto& arr = f->get_array();
    out.failure_details.resize(arr.size());
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i < arr.size(); ++i) {
      failure(arr[i], here[i], out.failure_details[i]);
      sum += out.failure_details[i].failed_session_count;
    }
    if (sum > out.total_failure_session_count)
      warn("summary-mismatch", here,
           fmt::format("failed-session-count adds up to {}, more than "
                       "total-failure-session-count {}",
                       sum, out.total_failure_session_count));
  }
}

ReportLint ReportReader::run(std::string_view text) {
  const Path root_path{nullptr, "report"};
  if (text.size() > kMaxReportJsonSize) {
    error("report-too-large", root_path,
          fmt::format("{} bytes; the limit is {}", text.size(), kMaxReportJsonSize));
    return std::move(out_);
  }
  unsigned char buffer[16384];
  json::monotonic_resource mr(buffer, sizeof buffer);
  json::parse_options opt;
  opt.max_depth = 16;
  json::stream_parser parser(json::storage_ptr(), opt);
  parser.reset(&mr);
  boost::system::error_code ec;
  std::size_t used = parser.write(text.data(), text.size(), ec);
  if (!ec) parser.finish(ec);
  if (ec) {
    error("json-syntax", root_path,
          fmt::format("not valid JSON at byte {}: {}", used + 1, ec.message()), used + 1);
    return std::move(out_);
  }
  json::value root = parser.release();
  if (!root.is_object()) {
    error("not-object", root_path, "the report must be a JSON object");
    return std::move(out_);
  }
  const auto& o = root.get_object();
  TlsRptReport r;
  string_field(o, "organization-name", root_path, true, r.organization_name);
  date_range(o, root_path, r);
  // Required by RFC 8460 §4.4, but some small senders send null or nothing: keep the report.
  if (const json::value* c = member(o, "contact-info", root_path, false); c && !c->is_null())
    string_field(o, "contact-info", root_path, true, r.contact_info);
  else
    warn("contact-info-missing", root_path / "contact-info",
         c ? "is null (RFC 8460 §4.4 requires a string)" : "is missing (RFC 8460 §4.4 requires it)");
  string_field(o, "report-id", root_path, true, r.report_id);
  if (const json::value* p = member(o, "policies", root_path, true)) {
    Path here = root_path / "policies";
    if (!p->is_array()) {
      error("field-type", here, "must be an array");
    } else {
      const auto& arr = p->get_array();
      if (arr.empty()) warn("policies-empty", here, "the report covers no policy");
      r.policies.resize(arr.size());
      for (std::size_t i = 0; i < arr.size(); ++i) policy(arr[i], here[i], r.policies[i]);
    }
  }
  if (out_.findings.valid()) out_.report = std::move(r);
  return std::move(out_);
}

}  // namespace

ReportLint lint_report(std::string_view json) { return ReportReader{}.run(json); }

Result<TlsRptReport> parse_report(std::string_view json) {
  ReportLint lint = lint_report(json);
  return value_or_first_error(lint.findings, std::move(lint.report));
}

}  // namespace mtasts
