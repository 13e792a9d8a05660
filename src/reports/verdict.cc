#include "reports/verdict.h"

#include "fmt/format.h"

namespace mtasts::reports {

namespace {

std::string percent(std::uint64_t part, std::uint64_t whole) {
  return whole ? fmt::format("{:.2f}%", 100.0 * static_cast<double>(part) / static_cast<double>(whole))
               : "0%";
}

// "certificate-expired at mx1.example.com (from 192.0.2.1, 192.0.2.2)"
std::string describe(const store::FailureGroup& f) {
  std::string s = f.result_type;
  if (!f.receiving_mx_hostname.empty()) s += " at " + f.receiving_mx_hostname;
  if (!f.failure_reason_code.empty()) s += fmt::format(" (\"{}\")", f.failure_reason_code);
  return s;
}

}  // namespace

namespace {

std::string_view fix_text(std::string_view t) {
  if (t == "starttls-not-supported") return "enable STARTTLS on that MX host";
  if (t == "certificate-expired") return "renew the MX host's certificate";
  if (t == "certificate-host-mismatch")
    return "give the MX host a certificate that names it exactly as in the MX record";
  if (t == "certificate-not-trusted")
    return "use a certificate from a public CA and send the full chain";
  if (t == "validation-failure") return "check the MX host's certificate chain and name";
  if (t == "sts-policy-fetch-error")
    return "make the policy reachable over HTTPS at mta-sts.<domain>/.well-known/mta-sts.txt "
           "(`mtasts check`)";
  if (t == "sts-policy-invalid") return "fix the policy file (`mtasts policy lint`)";
  if (t == "sts-webpki-invalid") return "fix the certificate of the mta-sts.<domain> host";
  if (t == "tlsa-invalid" || t == "dnssec-invalid" || t == "dane-required")
    return "fix the DANE TLSA records or the DNSSEC chain of the MX hosts";
  return "see the sender's additional-information for this failure";
}

}  // namespace

std::string fix_for(std::string_view t, std::string_view domain) {
  std::string s(fix_text(t));
  if (auto at = s.find("<domain>"); at != std::string::npos) s.replace(at, 8, domain);
  return s;
}

Verdict verdict(const store::DomainSummary& s) {
  const std::uint64_t total = s.total.successful + s.total.failed;
  const std::size_t days = s.by_day.size();
  std::string no_policy;
  if (auto it = s.by_policy_type.find("no-policy-found"); it != s.by_policy_type.end()) {
    std::uint64_t n = it->second.successful + it->second.failed;
    if (n)
      no_policy = fmt::format(
          " {} sessions found no MTA-STS policy: check the _mta-sts record and the policy host "
          "(`mtasts check {}`).",
          n, s.domain);
  }
  if (total == 0)
    return {"no-data",
            fmt::format("No sessions reported for {} yet: keep mode testing until the large "
                        "senders have reported for {} days.{}",
                        s.domain, kDaysBeforeEnforce, no_policy)};
  if (s.total.failed > 0) {
    const store::FailureGroup* top = s.top_failures.empty() ? nullptr : &s.top_failures.front();
    std::string what = top ? fmt::format(", most of them {} ({} sessions)", describe(*top), top->failed) : "";
    std::string fix = top ? fmt::format(" Fix first: {}.", fix_for(top->result_type, s.domain)) : "";
    double rate = static_cast<double>(s.total.failed) / static_cast<double>(total);
    if (rate > kReviewFailureRate)
      return {"unsafe",
              fmt::format("Not safe to enforce: {} of {} sessions ({}) failed{}. In mode enforce "
                          "senders would not deliver that mail.{}{}",
                          s.total.failed, total, percent(s.total.failed, total), what, fix, no_policy)};
    return {"review",
            fmt::format("Almost: {} of {} sessions ({}) failed{}. Look at these before "
                        "enforcing; in mode enforce that mail would not be delivered.{}{}",
                        s.total.failed, total, percent(s.total.failed, total), what, fix, no_policy)};
  }
  if (days < kDaysBeforeEnforce)
    return {"too-early",
            fmt::format("No failures in {} sessions, but reports cover only {} day{}: wait for {} "
                        "days of reports before enforcing.{}",
                        total, days, days == 1 ? "" : "s", kDaysBeforeEnforce, no_policy)};
  return {"safe",
          fmt::format("Safe to enforce: {} sessions from {} sender{} over {} days, none failed. "
                      "Switch with `mtasts domain set {} --mode enforce`.{}",
                      total, s.by_organization.size(), s.by_organization.size() == 1 ? "" : "s",
                      days, s.domain, no_policy)};
}

}  // namespace mtasts::reports
