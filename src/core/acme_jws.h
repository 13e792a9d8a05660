// The signing half of ACME (RFC 8555 §6.2): an ECDSA P-256 account key, its JWK (RFC 7517) and
// thumbprint (RFC 7638), flattened JWS objects signed with ES256 (RFC 7518 §3.4), and key
// authorizations (RFC 8555 §8.1). Sans-I/O: bytes in, bytes out; OpenSSL does the arithmetic.
//
// Private keys leave this file only as PEM for the store; never log them.
#pragma once

#include <openssl/evp.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"

namespace mtasts::acme {

struct EvpKeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using EvpKey = std::unique_ptr<EVP_PKEY, EvpKeyDeleter>;

// RFC 4648 §5 without padding, as JOSE uses it. base64url_decode rejects anything else.
std::string base64url(std::string_view bytes);
std::optional<std::string> base64url_decode(std::string_view text);

// A fresh ECDSA P-256 key (account keys and certificate keys alike).
EvpKey generate_p256();
// PKCS#8 PEM. Errors: acme-key-invalid (not PEM, not a P-256 key).
std::string private_key_pem(EVP_PKEY* key);
Result<EvpKey> load_p256_key(std::string_view pem);

// {"crv":"P-256","kty":"EC","x":"...","y":"..."}: the members in lexicographic order with no
// white space, which is also the exact input of the RFC 7638 thumbprint.
std::string jwk(EVP_PKEY* key);
// base64url(SHA-256(jwk)).
std::string thumbprint(EVP_PKEY* key);
// RFC 8555 §8.1: token "." thumbprint.
std::string key_authorization(std::string_view token, EVP_PKEY* key);

// The protected header identifies the key either by value (newAccount; `kid` empty) or by the
// account URL (every other request). `payload` is the JSON text, or empty for POST-as-GET
// (RFC 8555 §6.3). Returns the flattened JSON serialization.
struct JwsHeader {
  std::string nonce;
  std::string url;
  std::string kid;  // empty: embed the JWK instead
};
Result<std::string> sign_jws(EVP_PKEY* key, const JwsHeader& header, std::string_view payload);

// An ES256 signature is r || s, 32 bytes each (RFC 7518 §3.4), not OpenSSL's DER.
std::optional<std::string> ecdsa_der_to_raw(std::string_view der);

std::string sha256(std::string_view bytes);  // raw 32 bytes

}  // namespace mtasts::acme
