// The judging half of `check`: observations in, findings with fixes out. Pure.
#include <algorithm>

#include "check/check.h"
#include "check/evaluate_mx.h"
#include "check/explain.h"
#include "core/domain.h"
#include "core/policy_id.h"
#include "core/text.h"
#include "core/txt_record.h"
#include "fmt/format.h"
#include "fmt/ranges.h"

namespace mtasts::check {

std::string_view to_string(Severity s) {
  switch (s) {
    case Severity::info: return "info";
    case Severity::warning: return "warning";
    case Severity::error: return "error";
  }
  return "info";
}

std::string_view status_text(Severity s) {
  return s == Severity::error ? "error" : s == Severity::warning ? "warning" : "ok";
}

namespace {

constexpr std::int64_t kExpiringSeconds = 21 * 86400;

class Evaluator {
 public:
  explicit Evaluator(const Observations& obs) : o_(obs) {
    r_.domain = obs.name.empty() ? obs.domain : obs.name;  // A-labels, lower case
    r_.observed = &obs;
  }
  Report run();

 private:
  void add(std::string code, Severity sev, std::string message, std::string fix) {
    r_.findings.push_back({std::move(code), sev, std::move(message), std::move(fix)});
  }
  void sts_record();
  void tlsrpt_record();
  void policy();
  void charset(std::string_view content_type, const std::string& url);
  void mx();
  void certificate_expiry(const net::TlsVerdict& tls, const std::string& what);
  // How much an MX problem matters: it breaks delivery only when the policy is enforced.
  Severity mx_severity() const {
    if (r_.policy && r_.policy->mode == Mode::enforce) return Severity::error;
    return Severity::warning;
  }
  std::string sts_name() const { return "_mta-sts." + o_.name; }

  const Observations& o_;
  Report r_;
  bool sts_present_ = false;
};

void Evaluator::sts_record() {
  const auto& a = o_.sts_txt;
  if (explain::dns_failed(a)) {
    add("dns-error", Severity::error,
        fmt::format("the DNS lookup of {} TXT failed ({}{}); senders cannot tell whether "
                    "there is a policy",
                    sts_name(), to_string(a.status), a.detail.empty() ? "" : ": " + a.detail),
        "make the domain's name servers answer for " + sts_name());
    return;
  }
  auto records = explain::records_of_kind(a, RecordKind::sts);
  if (!a.cname_chain.empty() && a.status == net::DnsStatus::ok)  // a dangling one: below
    add("sts-record-cname", Severity::info,
        fmt::format("{} is a CNAME to {}; senders follow it", sts_name(), a.cname_chain.back()),
        "");
  if (records.empty()) {
    std::string where;
    auto found = [](const std::optional<net::TxtAnswer>& t) {
      return t && !explain::records_of_kind(*t, RecordKind::sts).empty();
    };
    if (found(o_.underscore_sts_txt)) where = " It is published at _mta_sts." + o_.name + " (underscore instead of hyphen).";
    else if (found(o_.host_sts_txt)) where = " It is published at mta-sts." + o_.name + " (without the leading underscore).";
    else if (found(o_.apex_txt)) where = " A v=STSv1 record is published at the apex " + o_.name + " instead.";
    std::string others = explain::dangling_note(a, sts_name()) + explain::near_miss(a, RecordKind::sts);
    if (others.empty() && !a.records.empty())
      others = " The TXT records there do not start with \"v=STSv1\".";
    add("sts-record-missing", Severity::error,
        fmt::format("no MTA-STS record: {} has no TXT record starting with v=STSv1, so senders "
                    "do not use MTA-STS for {}.{}{}",
                    sts_name(), o_.name, where, others),
        a.status == net::DnsStatus::nxdomain && !a.cname_chain.empty()
            ? fmt::format("recreate {} TXT \"v=STSv1; id=...\" where the CNAME points (at your "
                          "provider), or replace the CNAME at {} with that TXT record",
                          a.cname_chain.back(), sts_name())
            : fmt::format("publish {} TXT \"v=STSv1; id=...\" (mtasts generate writes it)", sts_name()));
    return;
  }
  if (records.size() > 1) {
    add("sts-record-multiple", Severity::error,
        fmt::format("{} has {} TXT records starting with v=STSv1; RFC 8461 §3.1 says senders then "
                    "assume there is no policy",
                    sts_name(), records.size()),
        "keep exactly one v=STSv1 record and delete the others");
    return;
  }
  r_.sts_record = records.front();
  RecordLint lint = lint_sts_record(records.front());
  if (!lint.findings.valid()) {
    const Error& e = lint.findings.errors.front();
    add("sts-record-invalid", Severity::error,
        fmt::format("the record \"{}\" is invalid: {} (senders treat this as no policy)",
                    records.front(), e.message),
        e.fix.empty() ? "publish \"v=STSv1; id=<1-32 letters and digits>\"" : e.fix);
    return;
  }
  for (const auto& w : lint.findings.warnings) {
    // RFC 8461 §3.1: unknown fields "SHALL be ignored": an extension is valid, only noted.
    Severity sev = w.code == "unknown-field" ? Severity::info : Severity::warning;
    add("sts-record-warning", sev, fmt::format("{}: {}", sts_name(), w.message), w.fix);
  }
  for (const auto& f : lint.fields)
    if (f.name == "id") r_.policy_id = f.value;
  sts_present_ = true;
}

void Evaluator::tlsrpt_record() {
  const auto& a = o_.tlsrpt_txt;
  const std::string name = "_smtp._tls." + o_.name;
  if (explain::dns_failed(a)) {
    add("dns-error", Severity::warning,
        fmt::format("the DNS lookup of {} TXT failed ({})", name, to_string(a.status)),
        "make the domain's name servers answer for " + name);
    return;
  }
  auto records = explain::records_of_kind(a, RecordKind::tlsrpt);
  if (records.empty()) {
    std::string hint;
    if (o_.draft_tlsrpt_txt && !explain::records_of_kind(*o_.draft_tlsrpt_txt, RecordKind::tlsrpt).empty())
      hint = " A v=TLSRPTv1 record exists at _smtp-tlsrpt." + o_.name +
             ", the name from drafts of RFC 8460; senders only look at _smtp._tls.";
    hint += explain::dangling_note(a, name) + explain::near_miss(a, RecordKind::tlsrpt);
    add("tlsrpt-record-missing", Severity::warning,
        fmt::format("no TLS-RPT record at {}: senders cannot report failures to you, so you will "
                    "not know when mail fails or when enforcing is safe.{}",
                    name, hint),
        a.status == net::DnsStatus::nxdomain && !a.cname_chain.empty()
            ? fmt::format("recreate the record at {}, where the CNAME points, or replace the CNAME "
                          "with {} TXT \"v=TLSRPTv1; rua=mailto:tlsrpt@{}\"",
                          a.cname_chain.back(), name, o_.name)
            : fmt::format("publish {} TXT \"v=TLSRPTv1; rua=mailto:tlsrpt@{}\"", name, o_.name));
    return;
  }
  if (records.size() > 1) {
    add("tlsrpt-record-multiple", Severity::error,
        fmt::format("{} has {} v=TLSRPTv1 records; senders then send no reports", name,
                    records.size()),
        "merge them into one record (rua takes a comma-separated list)");
    return;
  }
  r_.tlsrpt_record = records.front();
  RecordLint lint = lint_tlsrpt_record(records.front());
  if (!lint.findings.valid()) {
    const Error& e = lint.findings.errors.front();
    add("tlsrpt-record-invalid", Severity::error,
        fmt::format("the TLS-RPT record \"{}\" is invalid: {}", records.front(), e.message),
        e.fix.empty() ? "publish \"v=TLSRPTv1; rua=mailto:tlsrpt@" + o_.name + "\"" : e.fix);
    return;
  }
  for (const auto& w : lint.findings.warnings) {
    // RFC 8460 §3: unknown fields are ignored ("SHALL be ignored"): an extension is valid and
    // only noted. Anything else (a trailing space, "RUA=") is outside the grammar: a warning.
    Severity sev = w.code == "unknown-field" ? Severity::info : Severity::warning;
    add("tlsrpt-record-warning", sev, fmt::format("{}: {}", name, w.message), w.fix);
  }
}

void Evaluator::certificate_expiry(const net::TlsVerdict& tls, const std::string& what) {
  if (!tls.leaf || !tls.chain_trusted) return;
  std::int64_t left = tls.leaf->not_after - o_.now;
  if (left >= 0 && left < kExpiringSeconds)
    add("certificate-expiring", Severity::warning,
        fmt::format("the certificate of {} expires in {}", what, explain::days(left)),
        "renew it now (automate renewal, e.g. certbot or mtasts serve's ACME client)");
}

void Evaluator::policy() {
  if (!o_.fetch) return;
  const net::PolicyFetch& f = *o_.fetch;
  const std::string url = "https://" + f.host + "/.well-known/mta-sts.txt";
  using O = net::PolicyFetch::Outcome;
  if (f.outcome == O::host_not_found) {
    if (sts_present_)
      add("sts-policy-host-missing", Severity::error,
          fmt::format("{} does not resolve, so senders cannot fetch the policy ({})", f.host,
                      f.detail),
          fmt::format("add an A/AAAA (or CNAME) record for {} pointing at your HTTPS server", f.host));
    return;
  }
  if (!sts_present_ && f.outcome != O::response) return;  // no record, no working host: nothing more to say
  switch (f.outcome) {
    case O::response: break;
    case O::cert_invalid: {
      // RFC 8461 §3.3: the certificate must be valid for mta-sts.<domain> itself, also when that
      // name is a CNAME to a provider's host.
      std::string why = !f.tls.chain_trusted ? explain::why_untrusted(f.tls)
                                             : fmt::format("it does not cover the name {}{}", f.host,
                                                           explain::names_note(f.tls, f.host));
      if (f.tls.chain_trusted == false && !f.tls.name_match)
        why += fmt::format(", and it does not cover the name {}{}", f.host,
                           explain::names_note(f.tls, f.host));
      add("sts-webpki-invalid", Severity::error,
          fmt::format("the certificate of {} is not valid: {}. Senders refuse to fetch the "
                      "policy (RFC 8461 §3.3)",
                      f.host, why),
          !f.tls.expired_intermediate.empty()
              ? fmt::format("install the CA's current intermediate certificate in the chain "
                            "file of {}",
                            f.host)
              : fmt::format("install a certificate for {} from a public CA, with {} and the "
                            "full chain (if {} is a CNAME to a provider, the provider must serve "
                            "a certificate naming {})",
                            f.host, "the name in its subjectAltName", f.host, f.host));
      return;
    }
    case O::tls_failed:
      if (f.tls_legacy_only)  // the cause; the fetch error below is what senders see
        add("tls-version-weak", Severity::error,
            fmt::format("{} only speaks {}; senders need TLS 1.2 or later", f.host, f.tls.version),
            "enable TLS 1.2 and 1.3 on the policy web server");
      [[fallthrough]];
    case O::dns_error:
    case O::connect_failed:
    case O::timeout:
    case O::http_error:
      add("sts-policy-fetch-error", Severity::error,
          fmt::format("fetching {} failed ({}): {}", url, net::to_string(f.outcome), f.detail),
          fmt::format("serve the policy over HTTPS on port 443 of {}", f.host));
      return;
    case O::body_too_large:
      add("sts-policy-too-large", Severity::error,
          fmt::format("{} is larger than 64 KiB; senders stop reading and reject it", url),
          "serve only the policy: version, mode, mx lines and max_age");
      return;
    case O::host_not_found: return;
  }
  certificate_expiry(f.tls, f.host);
  if (f.status >= 300 && f.status < 400) {
    add("sts-policy-redirect", Severity::error,
        fmt::format("{} answers {} with a redirect{}; senders must not follow redirects "
                    "(RFC 8461 §3.3)",
                    url, f.status, f.location.empty() ? "" : " to " + f.location),
        "serve the policy itself at that URL, with status 200 (no redirect to www or elsewhere)");
    return;
  }
  if (f.status == 404) {
    add("sts-policy-not-found", Severity::error,
        fmt::format("{} answers 404 Not Found", url),
        "put the policy file at /.well-known/mta-sts.txt on " + f.host);
    return;
  }
  if (f.status != 200) {
    add("sts-policy-fetch-error", Severity::error,
        fmt::format("{} answers HTTP {}; senders accept only 200", url, f.status),
        "make the server answer 200 with the policy");
    return;
  }
  std::string media = ascii_lower(trim_wsp(std::string_view(f.content_type).substr(0, f.content_type.find(';'))));
  if (media != "text/plain") {
    add("sts-policy-content-type", Severity::error,
        f.content_type.empty()
            ? fmt::format("{} is served with no Content-Type header; the policy must be served "
                          "as text/plain (RFC 8461 §3.2)",
                          url)
            : fmt::format("{} is served as \"{}\"; the policy must be text/plain (RFC 8461 §3.2)",
                          url, f.content_type),
        "serve the file with Content-Type: text/plain (nginx: default_type text/plain)");
    return;
  }
  charset(f.content_type, url);
  r_.policy_sha256 = sha256_hex(f.body);
  PolicyLint lint = lint_policy(f.body);
  std::vector<const Error*> errors;
  for (const auto& e : lint.findings.errors) {
    if (e.code == "max-age-range") {  // its own finding code, DESIGN.md
      add("max-age-long", Severity::error,
          fmt::format("policy line {}: {}; senders may reject the whole policy", e.line, e.message),
          e.fix);
      continue;
    }
    errors.push_back(&e);
  }
  if (!errors.empty()) {
    std::string details;
    for (std::size_t i = 0; i < errors.size() && i < 3; ++i) {
      const Error& e = *errors[i];
      details += fmt::format("{}{}{}", i ? "; " : "", e.line ? fmt::format("line {}: ", e.line) : "",
                             e.message);
    }
    add("sts-policy-invalid", Severity::error,
        fmt::format("the policy at {} is invalid, so senders ignore it: {}", url, details),
        errors.front()->fix);
  }
  for (const auto& w : lint.findings.warnings) {
    if (w.code == "max-age-short") continue;  // reported below with its own code
    // Inside RFC 8461 §3.2's grammar and harmless: noted, not warned about. Trailing WSP
    // (sts-policy-field *WSP), leading zeros (1*10DIGIT), an mx pattern twice, an mx pattern in
    // upper case (domain names compare case-insensitively, RFC 4343), and mx lines left in a
    // mode none policy (§8.3's way of removing MTA-STS).
    bool benign = w.code == "trailing-whitespace" || w.code == "max-age-leading-zero" ||
                  w.code == "mx-duplicate" || w.code == "mx-uppercase" ||
                  w.code == "mode-none-with-mx";
    add("sts-policy-warning", benign ? Severity::info : Severity::warning,
        fmt::format("policy{}: {}", w.line ? fmt::format(" line {}", w.line) : "", w.message), w.fix);
  }
  if (!lint.policy) return;
  r_.policy = lint.policy;
  const Policy& p = *lint.policy;
  if (p.mode == Mode::testing)
    add("mode-testing", Severity::info,
        "mode testing: senders report failures (TLS-RPT) but still deliver without TLS checks",
        "switch to mode enforce when the reports show no failures");
  if (p.mode == Mode::none)
    add("mode-none", Severity::info, "mode none: senders drop any cached policy for the domain",
        "this is the way to take MTA-STS down; publish testing or enforce to protect mail");
  // RFC 8461 §8.3: a mode none policy is how MTA-STS is removed; a short max_age suits it.
  if (p.max_age < kRecommendedMinMaxAge && p.mode != Mode::none)
    add("max-age-short", Severity::warning,
        fmt::format("max_age {} is under a day: senders refetch constantly and an attacker needs "
                    "to block the policy only briefly",
                    p.max_age),
        "use at least 86400 while testing and 1209600 or more when enforcing");
  if (o_.previous && r_.policy_id && o_.previous->id == *r_.policy_id &&
      o_.previous->policy_sha256 != r_.policy_sha256)
    add("policy-id-stale", Severity::error,
        fmt::format("the policy changed since the last check but the id is still \"{}\": senders "
                    "that cached the old policy keep using it until it expires",
                    *r_.policy_id),
        "publish a new id in " + sts_name() + " whenever the policy changes");
}

// RFC 8461 §3.2: "All parameters other than charset=utf-8 or charset=us-ascii are ignored."
// Senders built on HTTP libraries still decode the body by its charset (text() in most of them):
// a charset in which ASCII bytes do not mean ASCII (UTF-16, UTF-32, EBCDIC...) turns the policy
// into garbage for them, while senders that read bytes see it fine. A warning, naming it.
void Evaluator::charset(std::string_view content_type, const std::string& url) {
  std::string value;
  std::size_t semi = content_type.find(';');
  while (semi != std::string_view::npos) {
    std::string_view rest = content_type.substr(semi + 1);
    std::size_t next = rest.find(';');
    std::string_view param = trim_wsp(rest.substr(0, next));
    semi = next == std::string_view::npos ? next : semi + 1 + next;
    std::size_t eq = param.find('=');
    if (eq == std::string_view::npos || ascii_lower(trim_wsp(param.substr(0, eq))) != "charset")
      continue;
    std::string_view v = trim_wsp(param.substr(eq + 1));
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    value = ascii_lower(v);
    break;
  }
  if (value.empty()) return;
  // Charsets that are not ASCII-compatible: the policy's ASCII bytes mean other characters.
  bool wide = value.starts_with("utf-16") || value.starts_with("utf16") ||
              value.starts_with("utf-32") || value.starts_with("utf32") ||
              value.starts_with("ucs-2") || value.starts_with("ucs2") ||
              value.starts_with("ucs-4") || value.starts_with("iso-10646-ucs") ||
              value == "unicode" || value == "utf-7" || value.starts_with("ebcdic") ||
              value == "ibm037" || value == "ibm500" || value == "ibm1026" ||
              value == "cp037" || value == "cp500" || value == "cp1026";
  if (!wide) return;
  add("sts-policy-content-type", Severity::warning,
      fmt::format("{} is served as \"{}\": text/plain, but the charset {} is not ASCII-compatible. "
                  "The policy grammar is ASCII and RFC 8461 §3.2 gives meaning only to "
                  "charset=utf-8 or charset=us-ascii; senders that decode the body by its "
                  "charset read the policy as garbage and reject it",
                  url, content_type, value),
      "serve the file as \"Content-Type: text/plain\" or \"text/plain; charset=utf-8\" "
      "(nginx: charset utf-8; IIS: the .txt MIME type), saved as plain ASCII");
}

void Evaluator::mx() {
  const auto& a = o_.mx;
  if (explain::dns_failed(a)) {
    add("dns-error", Severity::error,
        fmt::format("the MX lookup of {} failed ({})", o_.name, to_string(a.status)),
        "make the domain's name servers answer");
    return;
  }
  if (a.records.empty()) {
    add("mx-missing", Severity::error,
        fmt::format("{} has no MX record; MTA-STS protects delivery to MX hosts", o_.name),
        "publish the domain's MX records");
    return;
  }
  if (a.records.size() == 1 && (a.records[0].host.empty() || a.records[0].host == ".")) {
    add("mx-null", Severity::info, fmt::format("{} has a null MX (RFC 7505): it receives no mail", o_.name), "");
    return;
  }
  std::vector<std::string> hosts;
  std::size_t null_records = 0;
  for (const auto& r : a.records) {  // one host at two preferences is one host
    if (r.host.empty() || r.host == ".") {
      ++null_records;
      continue;
    }
    auto h = normalize_domain(r.host);
    std::string host = h ? *h : ascii_lower(r.host);
    if (std::find(hosts.begin(), hosts.end(), host) == hosts.end()) hosts.push_back(std::move(host));
  }
  if (hosts.empty()) {  // only null MX records ("0 ." and "10 ."): still no mail
    add("mx-null", Severity::info, fmt::format("{} has a null MX (RFC 7505): it receives no mail", o_.name), "");
    return;
  }
  if (null_records)  // RFC 7505 §3: "MUST NOT advertise any other MX RR"
    add("mx-null", Severity::warning,
        fmt::format("{} has a null MX (\"0 .\", RFC 7505: the domain receives no mail) beside {} "
                    "other MX record{}; RFC 7505 §3 says a domain with a null MX must not have any "
                    "other, so senders disagree on whether it receives mail (most skip the null "
                    "MX and deliver to {})",
                    o_.name, hosts.size(), hosts.size() == 1 ? "" : "s", fmt::join(hosts, ", ")),
        "delete the \"MX 0 .\" record if the domain receives mail, or every other MX record if "
        "it does not");
  if (r_.policy && r_.policy->mode != Mode::none) {
    const Policy& p = *r_.policy;
    for (const auto& host : hosts) {
      if (p.matches(host)) continue;
      std::string hint;
      for (const auto& pat : p.mx)
        if (pat.wildcard && host.size() > pat.domain.size() &&
            host.ends_with("." + pat.domain))
          hint = fmt::format(" (\"*.{}\" covers exactly one label: it matches x.{} but not {})",
                             pat.domain, pat.domain, host);
        else if (pat.wildcard && host == pat.domain)  // RFC 8461 §4.1
          hint = fmt::format(" (\"*.{}\" does not match {} itself, only names one label below it)",
                             pat.domain, host);
      for (const auto& probe : o_.probes)  // RFC 8461 §4.1 matches the MX name, not an alias's target
        if (probe.host == host && !probe.cname_chain.empty() && p.matches(probe.cname_chain.back()))
          hint = fmt::format(" (the policy lists {}, the CNAME target of {}; senders match the MX "
                             "name itself)",
                             probe.cname_chain.back(), host);
      Severity sev = p.mode == Mode::enforce ? Severity::error : Severity::warning;
      std::string ip = explain::ip_literal_note(host, o_.name);
      std::string meant = explain::doubled_origin(host, o_.name);
      if (!meant.empty())
        hint += fmt::format(" (the MX record looks like {} written in the zone without the "
                            "trailing dot, so the zone appended {} again{})",
                            meant, o_.name, p.matches(meant) ? "; the policy lists " + meant : "");
      add("mx-not-in-policy", sev,
          fmt::format("the MX host {} is not matched by any mx line of the policy{}{}; {}", host,
                      hint, ip,
                      p.mode == Mode::enforce ? "senders refuse to deliver to it"
                                              : "in enforce mode senders would refuse it"),
          !ip.empty() ? std::string("point the MX record at the mail server's host name and list "
                                    "that name in the policy")
          : !meant.empty()
              ? fmt::format("end the name in the MX record with a dot (\"{}.\") so that it means {}",
                            meant, meant)
              : fmt::format("add \"mx: {}\" to the policy (and publish a new id)", host));
    }
    for (const auto& pat : p.mx) {
      bool used = std::any_of(hosts.begin(), hosts.end(),
                              [&](const std::string& h) { return mx_matches(pat, h); });
      if (!used)
        add("policy-mx-unused", Severity::warning,
            fmt::format("the policy pattern \"{}\" matches none of the MX hosts ({})", pat.text,
                        fmt::join(hosts, ", ")),
            "remove it, or check that the MX records are what you intended");
    }
  }
  MxJudging judging{mx_severity(), o_.now, o_.name};
  for (const auto& p : o_.probes)
    for (auto& f : judge_mx_host(p, judging)) r_.findings.push_back(std::move(f));
}

Report Evaluator::run() {
  if (o_.name.empty()) {
    add("domain-invalid", Severity::error,
        fmt::format("\"{}\" is not a valid domain name: {}", o_.domain, o_.name_error),
        "give a mail domain such as example.com");
  } else {
    sts_record();
    policy();
    mx();
    tlsrpt_record();
  }
  for (const auto& f : r_.findings) r_.status = std::max(r_.status, f.severity);
  return std::move(r_);
}

}  // namespace

Report evaluate(const Observations& obs) { return Evaluator(obs).run(); }

}  // namespace mtasts::check
