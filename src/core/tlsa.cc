#include "core/tlsa.h"

#include <openssl/crypto.h>

#include <algorithm>

#include "core/domain.h"
#include "fmt/format.h"

namespace mtasts {

Result<Tlsa> parse_tlsa_rdata(std::string_view rdata) {
  if (rdata.size() < 3)
    return Error{"tlsa-truncated", 0, rdata.size() + 1,
                 fmt::format("a TLSA record has {} octet(s); usage, selector and matching type need 3",
                             rdata.size()),
                 "publish the record as usage selector matching-type data, e.g. 3 1 1 <sha256>"};
  if (rdata.size() == 3)
    return Error{"tlsa-data-empty", 0, 4, "the TLSA record has no certificate association data",
                 "publish the digest or the certificate after the three numbers"};
  Tlsa t;
  t.usage = static_cast<std::uint8_t>(rdata[0]);
  t.selector = static_cast<std::uint8_t>(rdata[1]);
  t.matching_type = static_cast<std::uint8_t>(rdata[2]);
  t.data.assign(rdata.substr(3));
  return t;
}

std::optional<Error> tlsa_unusable(const Tlsa& t) {
  auto bad = [&](std::string code, std::size_t column, std::string message) {
    return Error{std::move(code), 0, column, std::move(message),
                 "publish DANE-EE (3 1 1 <sha256 of the key>) or DANE-TA records (RFC 7672 §3.1)"};
  };
  if (t.usage == 0 || t.usage == 1)
    return bad("tlsa-usage-unusable", 1,
               fmt::format("usage {} (PKIX-{}) is unusable for SMTP (RFC 7672 §3.1)", t.usage,
                           t.usage == 0 ? "TA" : "EE"));
  if (t.usage > 3) return bad("tlsa-usage-unknown", 1, fmt::format("unknown usage {}", t.usage));
  if (t.selector > 1) return bad("tlsa-selector-unknown", 2, fmt::format("unknown selector {}", t.selector));
  switch (t.matching_type) {
    case 0:
      break;  // the full certificate or key: any non-empty data (the parser checked)
    case 1:
    case 2: {
      const std::size_t want = t.matching_type == 1 ? 32 : 64;
      if (t.data.size() != want)
        return bad("tlsa-digest-length", 4,
                   fmt::format("a SHA2-{} digest has {} octets, this one {}",
                               t.matching_type == 1 ? 256 : 512, want, t.data.size()));
      break;
    }
    default:
      return bad("tlsa-matching-unknown", 3, fmt::format("unknown matching type {}", t.matching_type));
  }
  return std::nullopt;
}

std::string to_string(const Tlsa& t) {
  std::string out = fmt::format("{} {} {} ", t.usage, t.selector, t.matching_type);
  const std::size_t shown = std::min<std::size_t>(t.data.size(), 64);
  char hex[2 * 64 + 1];
  std::size_t len = 0;
  if (OPENSSL_buf2hexstr_ex(hex, sizeof hex, &len, reinterpret_cast<const unsigned char*>(t.data.data()),
                            shown, '\0') == 1)
    out += ascii_lower(std::string_view(hex, len ? len - 1 : 0));
  if (shown < t.data.size()) out += fmt::format("...({} octets)", t.data.size());
  return out;
}

}  // namespace mtasts
