// One MX host's probe, judged: per server session, and per address when the addresses disagree.
#include "check/evaluate_mx.h"

#include <algorithm>

#include "check/explain.h"
#include "fmt/format.h"
#include "fmt/ranges.h"

namespace mtasts::check {

namespace {

using MxOutcome = net::SmtpProbe::Outcome;

constexpr std::int64_t kMxExpiringSeconds = 21 * 86400;

std::string_view family_of(const std::string& address) {
  return address.find(':') == std::string::npos ? "A" : "AAAA";
}

// "AAAA", "A", or "A/AAAA" for a set of addresses.
std::string families_of(const std::vector<const net::SmtpProbe::Address*>& group) {
  bool v4 = false, v6 = false;
  for (const auto* a : group) (family_of(a->address) == "A" ? v4 : v6) = true;
  return v4 && v6 ? "A/AAAA" : v4 ? "A" : "AAAA";
}

std::string addresses_text(const std::vector<const net::SmtpProbe::Address*>& group) {
  std::vector<std::string> names;
  for (const auto* a : group) names.push_back(a->address);
  return fmt::format("{}", fmt::join(names, ", "));
}

bool address_unreachable(const net::SmtpProbe::Address& a) {
  return !a.connected && (a.outcome == MxOutcome::connect_failed || a.outcome == MxOutcome::timeout);
}

// What is wrong with a server, for a fix that names its address.
std::string problem_phrase(const Finding& f, const net::SmtpProbe::Address& a,
                           const std::string& host) {
  if (f.code == "starttls-not-supported")
    return a.outcome == MxOutcome::starttls_refused ? "refuses STARTTLS" : "does not offer STARTTLS";
  if (f.code == "certificate-expired") return "sends an expired certificate (or chain)";
  if (f.code == "certificate-not-trusted") return "sends a certificate that is not trusted";
  if (f.code == "certificate-host-mismatch") return "sends a certificate that does not cover " + host;
  if (f.code == "certificate-expiring") return "sends a certificate that expires soon";
  if (f.code == "tls-version-weak") return "only speaks TLS older than 1.2";
  if (f.code == "validation-failure") return "fails the TLS handshake";
  if (f.code == "mx-unreachable") return "does not accept connections on port 25";
  if (f.code == "smtp-protocol-error") return "does not speak SMTP properly";
  return "answers differently from the others";
}

std::string_view family_name(std::string_view fams) {
  return fams == "AAAA" ? "IPv6" : fams == "A" ? "IPv4" : "either family";
}

// Why a sender may see the problem and a test may not.
std::string why_different(const std::string& bad_families,
                          const std::vector<const net::SmtpProbe::Address*>& good) {
  const std::string good_families = families_of(good);
  if (good_families == bad_families)
    return "senders reach a different server depending on the address they pick";
  return fmt::format("senders that connect over {} reach a different server than those using {}",
                     family_name(bad_families), family_name(good_families));
}

using FindingSignature = std::vector<std::pair<std::string, Severity>>;

FindingSignature signature_of(const std::vector<Finding>& findings) {
  FindingSignature s;
  for (const auto& f : findings) s.emplace_back(f.code, f.severity);
  return s;
}

bool is_problem(const std::vector<Finding>& findings) {
  return std::any_of(findings.begin(), findings.end(),
                     [](const Finding& f) { return f.severity != Severity::info; });
}

// The host's addresses disagree: findings per group of addresses that answer alike, naming them.
void judge_mixed(const net::SmtpProbe& p, const std::vector<const net::SmtpProbe::Address*>& addrs,
                 const std::vector<std::vector<Finding>>& each, const MxJudging& j,
                 std::vector<Finding>& out) {
  std::vector<const net::SmtpProbe::Address*> good;
  bool any_connected = false;
  for (std::size_t i = 0; i < addrs.size(); ++i) {
    if (!is_problem(each[i])) good.push_back(addrs[i]);
    any_connected = any_connected || addrs[i]->connected;
  }
  std::vector<bool> done(addrs.size(), false);
  for (std::size_t i = 0; i < addrs.size(); ++i) {
    if (done[i] || !is_problem(each[i])) continue;
    std::vector<const net::SmtpProbe::Address*> group;
    for (std::size_t k = i; k < addrs.size(); ++k)
      if (!done[k] && signature_of(each[k]) == signature_of(each[i])) {
        group.push_back(addrs[k]);
        done[k] = true;
      }
    const net::SmtpProbe::Address& first = *group.front();
    const std::string fams = families_of(group);
    const std::string where = addresses_text(group);
    const std::string who = fmt::format("{} at {} ({})", p.host, where, fams);
    const bool plural = group.size() > 1;
    for (Finding f : judge_mx_session(first, p.host, who, j)) {
      if (f.severity == Severity::info) {
        out.push_back(std::move(f));
        continue;
      }
      if (address_unreachable(first) && any_connected && f.code == "mx-unreachable") {
        // A sender tries the host's next address (RFC 5321 §5.1): mail arrives, later.
        f.severity = Severity::warning;
        f.message += "; senders go on to the host's other address, so mail is delayed rather "
                     "than lost";
      }
      if (!good.empty()) {
        f.message += fmt::format(". {} ({} of the same host) {} fine{}", addresses_text(good),
                                 families_of(good), good.size() == 1 ? "is" : "are",
                                 address_unreachable(first) ? "" : ": " + why_different(fams, good));
        f.fix = fmt::format("{} at {} ({} of {}) {}: configure {} like {}, or remove the {} "
                            "record{} for {}",
                            plural ? "each server" : "the server", where, fams, p.host,
                            problem_phrase(f, first, p.host), plural ? "them" : "it",
                            good.front()->address, fams, plural ? "s" : "", where);
      } else {
        f.fix = fmt::format("{} at {} ({} of {}): {}", plural ? "each server" : "the server",
                            where, fams, p.host, f.fix);
      }
      out.push_back(std::move(f));
    }
  }
}

}  // namespace

std::vector<Finding> judge_mx_session(const net::SmtpProbe::Address& s, const std::string& host,
                                      const std::string& who, const MxJudging& j) {
  using O = MxOutcome;
  std::vector<Finding> out;
  auto add = [&](std::string code, Severity sev, std::string message, std::string fix) {
    out.push_back({std::move(code), sev, std::move(message), std::move(fix)});
  };
  const Severity sev = j.severity;
  switch (s.outcome) {
    case O::tls_ok: break;
    case O::no_address:
    case O::dns_error:
    case O::connect_failed:
    case O::timeout:
      add("mx-unreachable", Severity::error,
          fmt::format("the MX host {} cannot be reached on port 25 ({}): {}", who,
                      net::to_string(s.outcome), s.detail),
          "check that the mail server runs and port 25 is open to the internet");
      return out;
    case O::protocol_error:
      add("smtp-protocol-error", Severity::error,
          fmt::format("the MX host {} does not speak SMTP properly: {}", who, s.detail),
          "check the mail server on port 25");
      return out;
    case O::no_starttls:
    case O::starttls_refused:
      add("starttls-not-supported", sev,
          fmt::format("the MX host {} {}; {}", who,
                      s.outcome == O::no_starttls
                          ? "does not offer STARTTLS" +
                                (s.detail.starts_with("EHLO") ? " (" + s.detail + ")" : "")
                          : "offers STARTTLS but refuses it (" + s.detail + ")",
                      sev == Severity::error ? "with mode enforce senders refuse to deliver to it"
                                             : "mail to it can be read in transit"),
          "enable STARTTLS with a valid certificate for " + host);
      return out;
    case O::tls_failed:
      if (s.tls_legacy_only) {
        add("tls-version-weak", sev,
            fmt::format("the MX host {} only speaks {}; MTA-STS senders need TLS 1.2 or later",
                        who, s.tls.version),
            "enable TLS 1.2 and 1.3 on the mail server");
      } else {
        add("validation-failure", sev,
            fmt::format("the TLS handshake with the MX host {} failed: {}", who, s.detail),
            "check the mail server's TLS configuration and certificate");
      }
      return out;
  }
  const net::TlsVerdict& t = s.tls;
  std::string impact = sev == Severity::error ? "senders that enforce the policy refuse to deliver"
                                              : "with mode enforce senders would refuse to deliver";
  if (t.expired)
    add("certificate-expired", sev,
        fmt::format("the certificate of MX host {} has expired; {}", who, impact),
        "renew the certificate of " + host);
  else if (!t.expired_intermediate.empty())  // RFC 5280 §6.1.3: every certificate of the path
    add("certificate-expired", sev,
        fmt::format("the certificate of MX host {} is sent with an intermediate CA certificate "
                    "that has expired ({}); the chain does not verify; {}",
                    who, t.expired_intermediate, impact),
        "install the CA's current intermediate certificate in the chain file of " + host);
  else if (!t.chain_trusted)
    add("certificate-not-trusted", sev,
        fmt::format("the certificate of MX host {} is not trusted: {}; {}", who,
                    explain::why_untrusted(t), impact),
        "use a certificate from a public CA and send the full chain");
  if (!t.name_match)
    add("certificate-host-mismatch", sev,
        fmt::format("the certificate of MX host {} does not cover {}{}; {}", who,
                    who == host ? std::string("that name") : "the name " + host,
                    explain::names_note(t, host), impact),
        "get a certificate whose subjectAltName includes " + host);
  if (t.leaf && t.chain_trusted) {
    std::int64_t left = t.leaf->not_after - j.now;
    if (left >= 0 && left < kMxExpiringSeconds)
      add("certificate-expiring", Severity::warning,
          fmt::format("the certificate of MX host {} expires in {}", who, explain::days(left)),
          "renew it now (automate renewal, e.g. certbot or mtasts serve's ACME client)");
  }
  return out;
}

std::vector<Finding> judge_mx_host(const net::SmtpProbe& p, const MxJudging& j) {
  using O = MxOutcome;
  std::vector<Finding> out;
  auto add = [&](std::string code, Severity sev, std::string message, std::string fix) {
    out.push_back({std::move(code), sev, std::move(message), std::move(fix)});
  };
  if (!p.cname_chain.empty())  // RFC 2181 §10.3, RFC 5321 §5.1; senders are lenient
    add("mx-cname", Severity::warning,
        fmt::format("the MX host {} is a CNAME to {}; an MX must name a host with A/AAAA records, "
                    "not an alias (RFC 2181 §10.3). Most senders follow it, and MTA-STS still "
                    "checks the name {}: the policy's mx lines and the certificate must cover it",
                    p.host, p.cname_chain.back(), p.host),
        fmt::format("replace the CNAME with A/AAAA records for {}, or point the MX record at {} "
                    "and list that name in the policy",
                    p.host, p.cname_chain.back()));
  if (p.outcome == O::no_address || p.outcome == O::dns_error) {
    if (std::string ip = explain::ip_literal_note(p.host, j.domain); !ip.empty()) {
      add("mx-unreachable", Severity::error,
          fmt::format("the MX host {} does not resolve{}: {}", p.host, ip, p.detail),
          "give the mail server a host name with an A/AAAA record (e.g. mx1." + j.domain +
              "), point the MX record at that name and list it in the policy");
    } else if (std::string meant = explain::doubled_origin(p.host, j.domain); !meant.empty()) {
      add("mx-unreachable", Severity::error,
          fmt::format("the MX host {} does not resolve (it looks like {} written in the zone "
                      "without the trailing dot, so the zone appended {} again; RFC 1035 "
                      "§5.1): {}",
                      p.host, meant, j.domain, p.detail),
          fmt::format("end the name in the MX record with a dot: \"MX ... {}.\"", meant));
    } else if (p.outcome == O::no_address) {
      add("mx-unreachable", Severity::error,
          fmt::format("the MX host {} does not resolve: {}", p.host, p.detail),
          "fix the MX record or add an A/AAAA record for the host");
    } else {
      add("mx-unreachable", Severity::error,
          fmt::format("the MX host {} cannot be reached on port 25 ({}): {}", p.host,
                      net::to_string(p.outcome), p.detail),
          "check that the mail server runs and port 25 is open to the internet");
    }
    return out;
  }
  if (p.addresses.empty()) {  // no per-address results (observations built without them)
    net::SmtpProbe::Address a;
    a.address = p.address;
    a.outcome = p.outcome;
    a.detail = p.detail;
    a.tls_legacy_only = p.tls_legacy_only;
    a.tls = p.tls;
    auto f = judge_mx_session(a, p.host, p.host, j);
    out.insert(out.end(), f.begin(), f.end());
  } else {
    // Addresses this machine has no route to (an IPv6 address from an IPv4-only network) say
    // nothing about the servers: left out, and said, unless no address could be tried at all.
    std::vector<const net::SmtpProbe::Address*> addrs, no_route;
    for (const auto& a : p.addresses) (a.no_route ? no_route : addrs).push_back(&a);
    if (addrs.empty()) {
      addrs.swap(no_route);
      no_route.clear();
    }
    std::vector<std::vector<Finding>> each;
    for (const auto* a : addrs) each.push_back(judge_mx_session(*a, p.host, p.host, j));
    bool agree = std::all_of(each.begin(), each.end(), [&](const auto& f) {
      return signature_of(f) == signature_of(each.front());
    });
    if (agree) {  // one server as far as senders can tell: judged once, by the primary address
      std::size_t primary = 0;
      for (std::size_t i = 0; i < addrs.size(); ++i)
        if (addrs[i]->connected) {
          primary = i;
          break;
        }
      out.insert(out.end(), each[primary].begin(), each[primary].end());
    } else {
      judge_mixed(p, addrs, each, j, out);
    }
    if (!no_route.empty())
      add("mx-addresses-skipped", Severity::info,
          fmt::format("the MX host {} was not probed at {} ({}): this machine has no route to "
                      "{} ({}); senders that have one reach it there",
                      p.host, addresses_text(no_route), families_of(no_route),
                      families_of(no_route) == "AAAA" ? "IPv6 addresses" : "that address",
                      no_route.front()->detail),
          fmt::format("run the check from a network with {} to see those servers",
                      families_of(no_route) == "AAAA" ? "IPv6" : "a route to them"));
  }
  if (!p.skipped.empty())
    add("mx-addresses-skipped", Severity::info,
        fmt::format("the MX host {} has {} addresses; only {} were probed ({}), not {}", p.host,
                    p.addresses.size() + p.skipped.size(), p.addresses.size(),
                    [&] {
                      std::vector<std::string> v;
                      for (const auto& a : p.addresses) v.push_back(a.address);
                      return fmt::format("{}", fmt::join(v, ", "));
                    }(),
                    fmt::join(p.skipped, ", ")),
        "");
  return out;
}

}  // namespace mtasts::check
