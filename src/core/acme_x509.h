// The certificate half of ACME: the CSR sent at finalize (RFC 8555 §7.4), the self-signed
// TLS-ALPN-01 answer (RFC 8737 §3), and what the store needs to know about a downloaded chain.
// Sans-I/O: the caller passes the time.
#pragma once

#include <openssl/evp.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace mtasts::acme {

// DER PKCS#10 for `hosts` (the first is the subject CN, all are dNSName SANs), signed by `key`.
Result<std::string> make_csr(EVP_PKEY* key, const std::vector<std::string>& hosts);

// RFC 8737 §3: a certificate for `host` with the critical id-pe-acmeIdentifier extension
// (1.3.6.1.5.5.7.1.31) holding SHA-256 of the key authorization, on a fresh P-256 key.
struct AlpnCertificate {
  std::string certificate_pem;
  std::string private_key_pem;
};
Result<AlpnCertificate> make_alpn_certificate(const std::string& host,
                                              std::string_view key_authorization,
                                              std::int64_t now);

// The leaf of a PEM chain (leaf first, as RFC 8555 §7.4.2 sends it).
struct ChainInfo {
  std::int64_t not_before = 0;  // seconds since the epoch
  std::int64_t not_after = 0;
  std::string issuer;           // RFC 2253 text of the leaf's issuer
  std::vector<std::string> names;  // dNSName SANs of the leaf
  std::size_t certificates = 0;    // in the chain
};
// Errors: acme-chain-invalid (no certificate, garbage between, unparsable).
Result<ChainInfo> describe_chain(std::string_view pem);

// The acmeIdentifier extension value of a certificate (the 32-byte hash), or empty.
std::string acme_identifier(std::string_view certificate_pem);

}  // namespace mtasts::acme
