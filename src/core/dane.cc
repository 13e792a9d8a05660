#include "core/dane.h"

#include <algorithm>

#include "core/tlsa.h"
#include "fmt/format.h"

namespace mtasts {

std::string_view to_string(Dnssec state) {
  switch (state) {
    case Dnssec::secure: return "secure";
    case Dnssec::insecure: return "insecure";
    case Dnssec::bogus: return "bogus";
    case Dnssec::failed: return "failed";
  }
  return "failed";
}

std::string_view to_string(DaneAnswer answer) {
  switch (answer) {
    case DaneAnswer::none: return "none";
    case DaneAnswer::dane: return "dane";
    case DaneAnswer::dane_only: return "dane-only";
    case DaneAnswer::temp: return "temp";
  }
  return "none";
}

SecureRrset merge_addresses(const SecureRrset& a, const SecureRrset& aaaa) {
  for (auto state : {Dnssec::bogus, Dnssec::failed})
    for (const auto* r : {&a, &aaaa})
      if (r->security == state) return *r;
  SecureRrset out;
  out.security = Dnssec::insecure;
  out.ttl = std::min(a.ttl, aaaa.ttl);
  for (const auto* r : {&a, &aaaa})
    if (r->security == Dnssec::secure && r->exists) {
      out.security = Dnssec::secure;
      out.exists = true;
    }
  if (out.security == Dnssec::insecure && a.security == Dnssec::secure && aaaa.security == Dnssec::secure)
    out.security = Dnssec::secure;  // both families provably absent
  return out;
}

std::vector<std::string> dane_hosts_to_probe(const SecureRrset& mx, const std::vector<std::string>& mx_hosts) {
  std::vector<std::string> out;
  if (mx.security != Dnssec::secure || !mx.exists) return out;
  for (const auto& h : mx_hosts) {
    if (h.empty() || std::find(out.begin(), out.end(), h) != out.end()) continue;
    if (out.size() == kMaxDaneHosts) break;
    out.push_back(h);
  }
  return out;
}

namespace {

DaneDecision temp(std::string reason, std::string result_type = {}) {
  DaneDecision d;
  d.answer = DaneAnswer::temp;
  d.reason = std::move(reason);
  d.result_type = std::move(result_type);
  return d;
}

std::string failure(std::string_view what, const SecureRrset& r) {
  return fmt::format("{} {}{}{}", what, r.security == Dnssec::bogus ? "is DNSSEC-bogus" : "lookup failed",
                     r.detail.empty() ? "" : ": ", r.detail);
}

}  // namespace

DaneDecision decide_dane(const DaneObservation& o) {
  DaneDecision d;
  const SecureRrset& mx = o.mx;
  // RFC 7672 §2.1.1: a bogus or failed answer is no proof that TLSA records are absent.
  if (mx.security == Dnssec::bogus) return temp(failure("the MX RRset", mx), "dnssec-invalid");
  if (mx.security == Dnssec::failed) return temp(failure("the MX", mx));
  d.ttl = mx.ttl;
  if (mx.security == Dnssec::insecure) {
    d.reason = "the MX records are not DNSSEC-signed (insecure): no DANE";
    return d;
  }
  if (!mx.exists) {
    d.reason = "no MX records: DANE is not probed for the implicit MX";
    return d;
  }
  const auto probed = dane_hosts_to_probe(mx, o.mx_hosts);
  if (probed.empty()) {
    d.reason = "null MX: the domain accepts no mail";
    return d;
  }
  std::size_t counted = 0, dane_only = 0, dane = 0;
  for (const auto& name : probed) {
    auto it = std::find_if(o.hosts.begin(), o.hosts.end(), [&](const auto& h) { return h.host == name; });
    DaneHostVerdict v;
    v.host = name;
    if (it == o.hosts.end()) {
      v.why = "not probed";
      ++counted;
      d.hosts.push_back(std::move(v));
      continue;
    }
    const auto& h = *it;
    if (h.address.security == Dnssec::bogus)
      return temp(failure(fmt::format("{}'s address", name), h.address), "dnssec-invalid");
    if (h.address.security == Dnssec::failed) return temp(failure(fmt::format("{}'s address", name), h.address));
    if (h.tlsa.security == Dnssec::bogus)
      return temp(failure(fmt::format("_25._tcp.{} TLSA", name), h.tlsa), "dnssec-invalid");
    if (h.tlsa.security == Dnssec::failed) return temp(failure(fmt::format("_25._tcp.{} TLSA", name), h.tlsa));
    d.ttl = std::min({d.ttl, h.address.ttl, h.tlsa.ttl});
    if (h.address.security == Dnssec::secure && !h.address.exists) {
      v.why = "no address records: Postfix cannot use this host";
      d.hosts.push_back(std::move(v));
      continue;
    }
    ++counted;
    if (h.address.security != Dnssec::secure) {
      // RFC 7672 §2.2.2: TLSA records of a host with insecure addresses are not used.
      v.why = "its address records are insecure";
    } else if (h.tlsa.security != Dnssec::secure) {
      v.why = "its TLSA records are insecure";
    } else if (!h.tlsa.exists) {
      v.why = "no TLSA records";
    } else {
      std::string first_problem;
      for (const auto& rdata : h.tlsa.rdata) {
        auto t = parse_tlsa_rdata(rdata);
        std::optional<Error> bad = t ? tlsa_unusable(*t) : std::optional<Error>(t.error());
        if (bad) {
          ++v.unusable;
          if (first_problem.empty()) first_problem = bad->message;
        } else {
          ++v.usable;
        }
      }
      if (v.usable) {
        v.answer = DaneAnswer::dane_only;
        v.why = fmt::format("{} usable TLSA record(s)", v.usable);
        ++dane_only;
      } else {
        // RFC 7672 §2.2: TLSA records present but none usable: TLS is still mandatory.
        v.answer = DaneAnswer::dane;
        v.why = fmt::format("TLSA records, none usable ({})", first_problem.empty() ? "empty RRset" : first_problem);
        ++dane;
      }
    }
    d.hosts.push_back(std::move(v));
  }
  // Hosts beyond kMaxDaneHosts are not known to have TLSA records: as hosts without them.
  std::vector<std::string> unique;
  for (const auto& h : o.mx_hosts)
    if (!h.empty() && std::find(unique.begin(), unique.end(), h) == unique.end()) unique.push_back(h);
  if (unique.size() > probed.size()) {
    counted += unique.size() - probed.size();
    DaneHostVerdict v;
    v.host = fmt::format("{} more MX host(s)", unique.size() - probed.size());
    v.why = fmt::format("not probed (at most {})", kMaxDaneHosts);
    d.hosts.push_back(std::move(v));
  }
  if (counted == 0) {
    d.reason = "no MX host has address records";
    return d;
  }
  if (dane_only == counted) {
    d.answer = DaneAnswer::dane_only;
    d.reason = fmt::format("every MX host ({}) has secure, usable TLSA records", counted);
  } else if (dane_only + dane > 0) {
    d.answer = DaneAnswer::dane;
    if (dane_only == 0) d.result_type = "tlsa-invalid";
    d.reason = fmt::format("{} of {} MX hosts have secure TLSA records ({} usable): opportunistic DANE",
                           dane_only + dane, counted, dane_only);
  } else {
    d.reason = "the MX records are secure, but no MX host has secure TLSA records";
  }
  return d;
}

}  // namespace mtasts
