// The explanations `check`'s findings carry (src/check/evaluate.cc): what a DNS answer, a
// certificate or an MX name shows, as text for a finding's message. Pure.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "check/check.h"
#include "core/txt_record.h"

namespace mtasts::check::explain {

// The TXT records of `a` (strings joined) that begin as a record of `kind`.
std::vector<std::string> records_of_kind(const net::TxtAnswer& a, RecordKind kind);

// A TXT record at the right name meant as a record of `kind` but not one to senders (RFC 8461
// §3.1, RFC 8460 §3): " It is ignored: ..." naming it and why, or "".
std::string near_miss(const net::TxtAnswer& a, RecordKind kind);

// " NAME is a CNAME to TARGET, which ..." when the lookup followed an alias to nothing, or "".
std::string dangling_note(const net::DnsMeta& a, const std::string& name);

// SERVFAIL, timeout or another DNS error (not NXDOMAIN or NODATA).
bool dns_failed(const net::DnsMeta& a);

// What a certificate names: " (it names a, b)" and, when a wildcard was meant to cover `host`,
// why it does not (RFC 6125 §6.4.3).
std::string names_note(const net::TlsVerdict& tls, const std::string& host);

// " (...)" when an MX host is an IP address (or one with the domain appended), or "".
std::string ip_literal_note(const std::string& host, const std::string& domain);

// The name meant when `host` is a name under `domain` with `domain` appended again (a zone
// file name without its trailing dot, RFC 1035 §5.1), or "".
std::string doubled_origin(const std::string& host, const std::string& domain);

// "3 days".
std::string days(std::int64_t seconds);

// Why a certificate chain is not trusted, for a message.
std::string why_untrusted(const net::TlsVerdict& tls);

}  // namespace mtasts::check::explain
