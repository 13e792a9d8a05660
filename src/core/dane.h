// DANE precedence for the resolver (RFC 8461 §2: MTA-STS must not override DANE; RFC 7672: SMTP
// with DANE) as pure functions of what a validating resolver answered: no DNS here. The caller
// looks up the domain's MX RRset, then for each MX host (at most kMaxDaneHosts, in preference
// order) its A, AAAA and `_25._tcp.<host>` TLSA RRsets, and asks decide_dane() what Postfix gets:
//
//   every usable MX host has a secure, usable TLSA RRset    -> dane-only (mandatory DANE)
//   some have secure TLSA RRsets, or only unusable records  -> dane (Postfix: DANE where it can)
//   the MX RRset is insecure, or no host has secure TLSA    -> none (the MTA-STS answer applies)
//   anything bogus, or a lookup failed, on that path        -> temp (never a silent downgrade)
//
// The rules follow postfix-tlspol's, so operators get the same answers from either daemon.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mtasts {

// The DNSSEC state of one answer (RFC 4035 §4.3), or that no answer came.
enum class Dnssec {
  secure,    // validated from a trust anchor
  insecure,  // provably unsigned (or outside every trust anchor)
  bogus,     // validation failed: forged, stripped or broken signatures
  failed,    // no usable answer: SERVFAIL, refused, timeout
};
std::string_view to_string(Dnssec state);

// One RRset lookup through the validating resolver.
struct SecureRrset {
  Dnssec security = Dnssec::failed;
  bool exists = false;     // records present (false: NXDOMAIN or no data of that type)
  std::uint32_t ttl = 0;   // of the records (or of the negative answer)
  std::string detail;      // why bogus, what failed
  std::vector<std::string> rdata;  // each record's RDATA as wire bytes
};

// A and AAAA of one host as one answer: bogus or failed when either is; secure when one of them
// has secure records; else insecure. (Postfix looks both up; one bogus family defers the host.)
SecureRrset merge_addresses(const SecureRrset& a, const SecureRrset& aaaa);

constexpr std::size_t kMaxDaneHosts = 10;

struct DaneHostObservation {
  std::string host;      // normalized MX host name
  SecureRrset address;   // merge_addresses(A, AAAA)
  SecureRrset tlsa;      // _25._tcp.<host> TLSA
};

struct DaneObservation {
  SecureRrset mx;
  std::vector<std::string> mx_hosts;        // normalized, preference order; "" is a null MX (".")
  std::vector<DaneHostObservation> hosts;   // the probed ones: dane_hosts_to_probe(mx, mx_hosts)
};

// The hosts whose address and TLSA records decide, in order: none unless the MX RRset is secure.
std::vector<std::string> dane_hosts_to_probe(const SecureRrset& mx, const std::vector<std::string>& mx_hosts);

enum class DaneAnswer { none, dane, dane_only, temp };
std::string_view to_string(DaneAnswer answer);

struct DaneHostVerdict {
  std::string host;
  DaneAnswer answer = DaneAnswer::none;  // dane_only: usable TLSA; dane: only unusable; none
  std::size_t usable = 0, unusable = 0;  // TLSA records
  std::string why;
};

struct DaneDecision {
  DaneAnswer answer = DaneAnswer::none;
  std::string reason;        // one line, for logs, TEMP replies and `mtasts query`
  std::string result_type;   // RFC 8460 when DNSSEC failed (dnssec-invalid) or TLSA unusable (tlsa-invalid)
  std::uint32_t ttl = 0;     // seconds this decision may be reused (the smallest TTL it rests on)
  std::vector<DaneHostVerdict> hosts;
};

DaneDecision decide_dane(const DaneObservation& observation);

// The socketmap reply for a DANE decision (dane or dane_only): what postfix-tlspol answers.
inline std::string dane_answer(DaneAnswer answer) {
  return answer == DaneAnswer::dane_only ? "OK dane-only" : "OK dane";
}

}  // namespace mtasts
