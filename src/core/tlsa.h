// TLSA records (RFC 6698) for SMTP (RFC 7672): the RDATA fields read from the wire bytes a DNS
// library returned (the library parses the message; only the TLSA fields are read here), and
// whether a record is usable for authenticating an SMTP server.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"

namespace mtasts {

struct Tlsa {
  std::uint8_t usage = 0;          // 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE
  std::uint8_t selector = 0;       // 0 full certificate, 1 SubjectPublicKeyInfo
  std::uint8_t matching_type = 0;  // 0 exact, 1 SHA2-256, 2 SHA2-512
  std::string data;                // the certificate association data (raw bytes)
};

// One TLSA RDATA (RFC 6698 §2.1: usage, selector, matching type, then the data to the end).
// Errors: tlsa-truncated (fewer than the 3 fixed octets; column = bytes present + 1),
// tlsa-data-empty (no certificate association data).
Result<Tlsa> parse_tlsa_rdata(std::string_view rdata);

// Why a parsed record cannot authenticate an SMTP server, or nothing when it can.
// RFC 7672 §3.1: PKIX usages 0 and 1 are unusable for SMTP (tlsa-usage-unusable); unknown
// usages, selectors and matching types are unusable (tlsa-*-unknown); a digest of the wrong
// length is unusable (tlsa-digest-length: SHA2-256 is 32 octets, SHA2-512 64).
std::optional<Error> tlsa_unusable(const Tlsa& tlsa);

// "3 1 1 9f86d0..." (presentation form, data in hex), for logs and `mtasts query`.
std::string to_string(const Tlsa& tlsa);

}  // namespace mtasts
