// The TLS-RPT report store, once for every backend (store/report_store.h).
#include "store/report_store.h"

#include <algorithm>
#include <ctime>
#include <limits>

#include "core/domain.h"
#include "core/datetime.h"
#include "fmt/format.h"

namespace mtasts::store {

namespace {

// PostgreSQL TEXT holds no NUL byte; JSON strings may ("\u0000"). Replace it, keep the rest.
std::string text(std::string_view s) {
  if (s.find('\0') == std::string_view::npos) return std::string(s);
  std::string out;
  for (char c : s) {
    if (c == '\0') out += "\xEF\xBF\xBD";
    else out += c;
  }
  return out;
}

std::int64_t clamp_count(std::uint64_t n) {
  return n > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())
             ? std::numeric_limits<std::int64_t>::max()
             : static_cast<std::int64_t>(n);
}

std::uint64_t ucount(const std::optional<std::string>& s) {
  auto v = to_int(s);
  return v < 0 ? 0 : static_cast<std::uint64_t>(v);
}

// Policy domains are grouped on: lower case, no trailing dot, A-labels when valid.
std::string domain_key(std::string_view d) {
  auto n = normalize_domain(d);
  return n ? *n : text(ascii_lower(d));
}

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    auto n = (std::uint32_t(std::uint8_t(in[i])) << 16) | (std::uint32_t(std::uint8_t(in[i + 1])) << 8) |
             std::uint8_t(in[i + 2]);
    out += kB64[n >> 18];
    out += kB64[(n >> 12) & 63];
    out += kB64[(n >> 6) & 63];
    out += kB64[n & 63];
  }
  if (i < in.size()) {
    std::uint32_t n = std::uint32_t(std::uint8_t(in[i])) << 16;
    if (i + 1 < in.size()) n |= std::uint32_t(std::uint8_t(in[i + 1])) << 8;
    out += kB64[n >> 18];
    out += kB64[(n >> 12) & 63];
    out += i + 1 < in.size() ? kB64[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string unbase64(std::string_view in) {
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    const char* p = std::find(kB64, kB64 + 64, c);
    if (p == kB64 + 64) continue;  // '=' and anything else
    acc = (acc << 6) | static_cast<std::uint32_t>(p - kB64);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}


std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) out += '\n';
    out += text(v[i]);
  }
  return out;
}

class SqlReportStore final : public ReportStore {
 public:
  explicit SqlReportStore(std::unique_ptr<Connection> db) : db_(std::move(db)) {}

  Result<std::vector<StoredReport>> put(const std::vector<ReportToStore>& reports) override;
  Result<std::vector<DomainSummary>> summary(const std::string& domain, std::int64_t since) override;
  Result<std::uint64_t> count() override;
  Result<std::string> raw(const std::string& organization, const std::string& report_id) override;
  Result<std::uint64_t> delete_before(std::int64_t cutoff) override;

 private:
  Result<StoredReport> put_one(const ReportToStore& in);
  std::unique_ptr<Connection> db_;
};

Result<StoredReport> SqlReportStore::put_one(const ReportToStore& in) {
  const TlsRptReport& r = *in.report;
  const std::string org = text(r.organization_name), id = text(r.report_id);
  auto ins = db_->query(
      "INSERT INTO tlsrpt_reports (organization_name, report_id, start_time, end_time, "
      "contact_info, received, source, raw_gzip_base64) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
      "ON CONFLICT (organization_name, report_id) DO NOTHING RETURNING id",
      {org, id, r.start_epoch, r.end_epoch, text(r.contact_info), in.received, text(in.source),
       base64(in.gzipped)});
  if (!ins) return ins.error();
  if (ins->empty()) {
    auto old = db_->query(
        "SELECT id FROM tlsrpt_reports WHERE organization_name = $1 AND report_id = $2", {org, id});
    if (!old) return old.error();
    return StoredReport{false, old->empty() ? 0 : to_int(old->front()[0])};
  }
  const std::int64_t rid = to_int(ins->front()[0]);
  for (std::size_t p = 0; p < r.policies.size(); ++p) {
    const PolicyResult& pr = r.policies[p];
    auto q = db_->query(
        "INSERT INTO tlsrpt_policies (report, idx, policy_type, policy_domain, policy_string, "
        "mx_host, successful, failed) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        {rid, static_cast<std::int64_t>(p), std::string(to_string(pr.policy_type)),
         domain_key(pr.policy_domain), join(pr.policy_string), join(pr.mx_host),
         clamp_count(pr.total_successful_session_count), clamp_count(pr.total_failure_session_count)});
    if (!q) return q.error();
    for (std::size_t f = 0; f < pr.failure_details.size(); ++f) {
      const FailureDetails& fd = pr.failure_details[f];
      auto fq = db_->query(
          "INSERT INTO tlsrpt_failures (report, policy, idx, result_type, sending_mta_ip, "
          "receiving_mx_hostname, receiving_mx_helo, receiving_ip, failed, "
          "additional_information, failure_reason_code) "
          "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
          {rid, static_cast<std::int64_t>(p), static_cast<std::int64_t>(f), text(fd.result_type),
           text(fd.sending_mta_ip), text(ascii_lower(fd.receiving_mx_hostname)),
           text(fd.receiving_mx_helo), text(fd.receiving_ip), clamp_count(fd.failed_session_count),
           text(fd.additional_information), text(fd.failure_reason_code)});
      if (!fq) return fq.error();
    }
  }
  return StoredReport{true, rid};
}

Result<std::vector<StoredReport>> SqlReportStore::put(const std::vector<ReportToStore>& reports) {
  return transaction<std::vector<StoredReport>>(*db_, [&]() -> Result<std::vector<StoredReport>> {
    std::vector<StoredReport> out;
    out.reserve(reports.size());
    for (const auto& r : reports) {
      auto one = put_one(r);
      if (!one) return one.error();
      out.push_back(*one);
    }
    return out;
  });
}

Result<std::vector<DomainSummary>> SqlReportStore::summary(const std::string& domain,
                                                           std::int64_t since) {
  const std::string key = domain.empty() ? std::string() : domain_key(domain);
  std::map<std::string, DomainSummary> by_domain;
  auto get = [&](const std::optional<std::string>& d) -> DomainSummary& {
    DomainSummary& s = by_domain[d.value_or("")];
    s.domain = d.value_or("");
    return s;
  };
  // A report has one start day and one organization: counts per (domain, day, organization)
  // add up to the domain's without counting a report twice.
  auto groups = db_->query(
      "SELECT p.policy_domain, r.start_time / 86400, r.organization_name, SUM(p.successful), "
      "SUM(p.failed), COUNT(DISTINCT r.id), MIN(r.start_time), MAX(r.start_time) "
      "FROM tlsrpt_policies p JOIN tlsrpt_reports r ON r.id = p.report "
      "WHERE r.start_time >= $1 AND ($2 = '' OR p.policy_domain = $2) "
      "GROUP BY p.policy_domain, r.start_time / 86400, r.organization_name",
      {since, key});
  if (!groups) return groups.error();
  for (const Row& row : *groups) {
    DomainSummary& s = get(row[0]);
    SessionCounts c{ucount(row[3]), ucount(row[4]), ucount(row[5])};
    auto add = [&](SessionCounts& to) {
      to.successful += c.successful;
      to.failed += c.failed;
      to.reports += c.reports;
    };
    add(s.total);
    add(s.by_day[utc_date(to_int(row[1]) * 86400)]);
    add(s.by_organization[row[2].value_or("")]);
    std::int64_t first = to_int(row[6]), last = to_int(row[7]);
    if (s.total.reports == c.reports || first < s.first_day) s.first_day = first;
    s.last_day = std::max(s.last_day, last);
  }
  auto types = db_->query(
      "SELECT p.policy_domain, p.policy_type, SUM(p.successful), SUM(p.failed), "
      "COUNT(DISTINCT r.id) FROM tlsrpt_policies p JOIN tlsrpt_reports r ON r.id = p.report "
      "WHERE r.start_time >= $1 AND ($2 = '' OR p.policy_domain = $2) "
      "GROUP BY p.policy_domain, p.policy_type",
      {since, key});
  if (!types) return types.error();
  for (const Row& row : *types)
    get(row[0]).by_policy_type[row[1].value_or("")] = {ucount(row[2]), ucount(row[3]), ucount(row[4])};

  auto failures = db_->query(
      "SELECT p.policy_domain, f.result_type, f.receiving_mx_hostname, f.failure_reason_code, "
      "f.sending_mta_ip, SUM(f.failed) FROM tlsrpt_failures f "
      "JOIN tlsrpt_policies p ON p.report = f.report AND p.idx = f.policy "
      "JOIN tlsrpt_reports r ON r.id = f.report "
      "WHERE r.start_time >= $1 AND ($2 = '' OR p.policy_domain = $2) "
      "GROUP BY p.policy_domain, f.result_type, f.receiving_mx_hostname, f.failure_reason_code, "
      "f.sending_mta_ip",
      {since, key});
  if (!failures) return failures.error();
  struct Ip {
    std::string ip;
    std::uint64_t failed;
  };
  std::map<std::string, std::map<std::tuple<std::string, std::string, std::string>,
                                 std::pair<std::uint64_t, std::vector<Ip>>>>
      groups_by_domain;
  for (const Row& row : *failures) {
    DomainSummary& s = get(row[0]);
    std::uint64_t n = ucount(row[5]);
    s.by_result_type[row[1].value_or("")] += n;
    if (!row[2].value_or("").empty()) s.by_mx_host[*row[2]] += n;
    auto& g = groups_by_domain[s.domain][{row[1].value_or(""), row[2].value_or(""), row[3].value_or("")}];
    g.first += n;
    if (!row[4].value_or("").empty()) g.second.push_back({*row[4], n});
  }
  for (auto& [d, gs] : groups_by_domain) {
    DomainSummary& s = by_domain[d];
    for (auto& [k, v] : gs) {
      FailureGroup fg{std::get<0>(k), std::get<1>(k), std::get<2>(k), v.first, {}};
      std::sort(v.second.begin(), v.second.end(), [](const Ip& a, const Ip& b) {
        return a.failed != b.failed ? a.failed > b.failed : a.ip < b.ip;
      });
      for (std::size_t i = 0; i < v.second.size() && i < 10; ++i) fg.sending_mta_ips.push_back(v.second[i].ip);
      s.top_failures.push_back(std::move(fg));
    }
    std::sort(s.top_failures.begin(), s.top_failures.end(), [](const FailureGroup& a, const FailureGroup& b) {
      if (a.failed != b.failed) return a.failed > b.failed;
      return std::tie(a.result_type, a.receiving_mx_hostname, a.failure_reason_code) <
             std::tie(b.result_type, b.receiving_mx_hostname, b.failure_reason_code);
    });
    if (s.top_failures.size() > 10) s.top_failures.resize(10);
  }
  std::vector<DomainSummary> out;
  out.reserve(by_domain.size());
  for (auto& [d, s] : by_domain) out.push_back(std::move(s));
  return out;
}

Result<std::uint64_t> SqlReportStore::count() {
  auto r = db_->query("SELECT COUNT(*) FROM tlsrpt_reports", {});
  if (!r) return r.error();
  return ucount(r->front()[0]);
}

Result<std::string> SqlReportStore::raw(const std::string& organization, const std::string& report_id) {
  auto r = db_->query(
      "SELECT raw_gzip_base64 FROM tlsrpt_reports WHERE organization_name = $1 AND report_id = $2",
      {text(organization), text(report_id)});
  if (!r) return r.error();
  if (r->empty())
    return store_error("not-found", fmt::format("no report {} from {}", report_id, organization));
  return unbase64(r->front()[0].value_or(""));
}

Result<std::uint64_t> SqlReportStore::delete_before(std::int64_t cutoff) {
  return transaction<std::uint64_t>(*db_, [&]() -> Result<std::uint64_t> {
    auto r = db_->query("DELETE FROM tlsrpt_reports WHERE end_time < $1 RETURNING id", {cutoff});
    if (!r) return r.error();
    return static_cast<std::uint64_t>(r->size());
  });
}

}  // namespace

std::unique_ptr<ReportStore> make_report_store(std::unique_ptr<Connection> db) {
  return std::make_unique<SqlReportStore>(std::move(db));
}

Result<std::unique_ptr<ReportStore>> open_report_store(const std::string& location) {
  auto c = open_connection(location);
  if (!c) return c.error();
  return make_report_store(std::move(c).value());
}

}  // namespace mtasts::store
