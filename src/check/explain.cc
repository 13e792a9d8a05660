// The explanations `check`'s findings carry: what a DNS answer, a certificate or an MX name
// shows, as text for a message. Pure.
#include "check/explain.h"

#include "core/domain.h"
#include "core/ip_address.h"
#include "core/text.h"
#include "core/txt_record.h"
#include "fmt/format.h"
#include "fmt/ranges.h"

namespace mtasts::check::explain {

std::vector<std::string> records_of_kind(const net::TxtAnswer& a, RecordKind kind) {
  std::vector<std::string> out;
  for (const auto& strings : a.records) {
    std::string joined = join_txt_strings(strings);
    if (starts_record_of_kind(joined, kind)) out.push_back(std::move(joined));
  }
  return out;
}

// A TXT record at the right name that was meant as a record of `kind` but is not one to senders
// (RFC 8461 §3.1, RFC 8460 §3: records not beginning with the exact version are discarded):
// " It is ignored: ..." naming the record and why, or "" when there is none.
std::string near_miss(const net::TxtAnswer& a, RecordKind kind) {
  const std::string tag = ascii_lower(kind == RecordKind::sts ? "v=STSv1" : "v=TLSRPTv1");
  for (const auto& strings : a.records) {
    std::string joined = join_txt_strings(strings);
    std::size_t at = ascii_lower(joined).find(tag);
    if (at == std::string::npos || starts_record_of_kind(joined, kind)) continue;
    std::string why;
    if (at > 0 && trim_wsp(std::string_view(joined).substr(0, at)).empty())
      why = "nothing may come before the version, not even spaces";
    else if (at > 0)
      why = "the version must be the first field of the record";
    else if (joined.compare(0, tag.size(), kind == RecordKind::sts ? "v=STSv1" : "v=TLSRPTv1") != 0)
      why = "the version is case-sensitive";
    else
      why = "the version must be followed by ';'";
    std::string_view shown = std::string_view(joined).substr(0, 80);
    return fmt::format(" The record \"{}{}\" is ignored by senders: it must start with \"{}\" ({}).",
                       shown, joined.size() > shown.size() ? "..." : "",
                       kind == RecordKind::sts ? "v=STSv1;" : "v=TLSRPTv1;", why);
  }
  return "";
}

// " NAME is a CNAME to TARGET, which ..." when the lookup followed an alias to nothing (the
// provider's record deleted, a typo in the target), or "" otherwise.
std::string dangling_note(const net::DnsMeta& a, const std::string& name) {
  if (a.cname_chain.empty()) return "";
  if (a.status == net::DnsStatus::nxdomain)
    return fmt::format(" {} is a CNAME to {}, which does not exist (NXDOMAIN): the alias dangles.",
                       name, a.cname_chain.back());
  if (a.status == net::DnsStatus::nodata)
    return fmt::format(" {} is a CNAME to {}, which has no TXT record.", name,
                       a.cname_chain.back());
  return "";
}

bool dns_failed(const net::DnsMeta& a) {
  return a.status == net::DnsStatus::servfail || a.status == net::DnsStatus::timeout ||
         a.status == net::DnsStatus::error;
}

// What a certificate names, for a message: " (it names a, b)" plus, when a wildcard was meant to
// cover the host, why it does not (RFC 6125 §6.4.3: "*" stands for exactly one leftmost label).
std::string names_note(const net::TlsVerdict& tls, const std::string& host) {
  if (!tls.leaf) return " (the server sent no certificate)";
  if (tls.leaf->names.empty())  // RFC 8461 §4.2; OpenSSL-based senders fall back to the CN
    return fmt::format(" (it has no subjectAltName DNS names{}: a name only in the subject CN "
                       "does not count for MTA-STS (RFC 8461 §4.2 requires a subjectAltName; "
                       "some senders still accept the CN, others refuse)",
                       tls.leaf->subject.empty() ? "" : ", only the subject " + tls.leaf->subject);
  // A certificate may carry hundreds of names: the first ten tell the story.
  const auto& names = tls.leaf->names;
  std::vector<std::string_view> shown(names.begin(), names.begin() + std::min<std::size_t>(names.size(), 10));
  std::string note = fmt::format(" (it names {}{})", fmt::join(shown, ", "),
                                 names.size() > shown.size() ? fmt::format(" and {} more", names.size() - shown.size()) : "");
  for (const auto& n : tls.leaf->names) {
    if (!n.starts_with("*.")) continue;
    std::string base = ascii_lower(std::string_view(n).substr(2));
    if (host.size() > base.size() + 1 && host.ends_with("." + base))
      return note + fmt::format("; \"{}\" covers exactly one label, like x.{}, not {}", n, base, host);
    if (host == base)
      return note + fmt::format("; \"{}\" covers names below {}, not {} itself", n, base, host);
  }
  return note;
}

// An MX record must name a host (RFC 1035 §3.3.9 "a <domain-name> which specifies a host",
// RFC 5321 §5.1), yet admins write the server's address: " (...)" explaining it, or "".
std::string ip_literal_note(const std::string& host, const std::string& domain) {
  if (is_ip_address(host))
    return fmt::format(" ({} is an IP address, but an MX record must name a host (RFC 1035 "
                       "§3.3.9, RFC 5321 §5.1): senders look it up as a DNS name and find nothing; "
                       "MTA-STS also needs a name for the policy's mx lines and the certificate)",
                       host);
  if (host.size() > domain.size() + 1 && host.ends_with("." + domain)) {
    std::string_view front = std::string_view(host).substr(0, host.size() - domain.size() - 1);
    if (is_ip_address(front))
      return fmt::format(" (it looks like the address {} written in the zone without a trailing "
                         "dot, so the zone appended {}; an MX record must name a host anyway "
                         "(RFC 1035 §3.3.9))",
                         front, domain);
  }
  return "";
}

// RFC 1035 §5.1: in a zone file a name without a trailing dot is relative to the origin, so
// "MX 10 mx1.example.com" in example.com's zone is mx1.example.com.example.com. The name meant
// (mx1.example.com), or "" when the host is not the domain appended to a name under it.
std::string doubled_origin(const std::string& host, const std::string& domain) {
  const std::string tail = "." + domain;
  if (!host.ends_with(tail)) return "";
  std::string front = host.substr(0, host.size() - tail.size());
  return front == domain || front.ends_with(tail) ? front : "";
}

std::string days(std::int64_t seconds) {
  std::int64_t d = seconds / 86400;
  return fmt::format("{} day{}", d, d == 1 ? "" : "s");
}

std::string why_untrusted(const net::TlsVerdict& tls) {
  if (tls.expired) return "the certificate has expired";
  if (tls.not_yet_valid) return "the certificate is not valid yet";
  if (!tls.expired_intermediate.empty())
    return fmt::format("the intermediate CA certificate it is sent with ({}) has expired, although "
                       "the certificate itself is within its dates",
                       tls.expired_intermediate);
  if (!tls.weak.empty()) return tls.weak;
  if (tls.self_signed) return "the certificate is self-signed (or its CA is not a public one)";
  if (tls.unknown_ca)
    return fmt::format("it is issued by a CA senders do not trust: the chain the server sends "
                       "ends at {}, which is not a trusted root CA (a private or unknown CA)",
                       tls.untrusted_ca.empty() ? "a CA" : tls.untrusted_ca);
  if (tls.incomplete_chain)
    return fmt::format("its issuer ({}) is neither sent by the server nor a trusted root: the chain "
                       "is incomplete (the intermediate certificate is missing) or the CA is not "
                       "trusted",
                       tls.untrusted_ca.empty() ? "unknown" : tls.untrusted_ca);
  if (!tls.errors.empty()) return tls.errors.front();
  return "the certificate is not trusted";
}

}  // namespace mtasts::check::explain
