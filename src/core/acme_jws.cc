#include "core/acme_jws.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include <boost/json.hpp>

namespace mtasts::acme {

namespace {

Error key_error(std::string message) { return Error{"acme-key-invalid", 0, 0, std::move(message), {}}; }

std::string bn_param(EVP_PKEY* key, const char* name) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) return {};
  std::string out(32, '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), 32);
  BN_free(bn);
  return out;
}

bool is_p256(EVP_PKEY* key) {
  if (!EVP_PKEY_is_a(key, "EC")) return false;
  char group[64] = {};
  std::size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len) != 1)
    return false;
  std::string_view g(group, len);
  return g == "prime256v1" || g == "P-256" || g == "secp256r1";
}

}  // namespace

std::string base64url(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) {
    if (c == '+') c = '-';
    else if (c == '/') c = '_';
  }
  return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::string in;
  in.reserve(text.size() + 3);
  for (char c : text) {
    if (c == '-') c = '+';
    else if (c == '_') c = '/';
    else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
      return std::nullopt;
    in.push_back(c);
  }
  std::size_t pad = (4 - in.size() % 4) % 4;
  in.append(pad, '=');
  std::string out(in.size() / 4 * 3 + 1, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  if (n < 0) return std::nullopt;
  out.resize(static_cast<std::size_t>(n) - pad);  // EVP_DecodeBlock counts the padding as zeros
  return out;
}

EvpKey generate_p256() { return EvpKey(EVP_EC_gen("P-256")); }

std::string private_key_pem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(len));
  BIO_free(bio);
  return out;
}

Result<EvpKey> load_p256_key(std::string_view pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EvpKey key(PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  if (!key) return key_error("the private key is not a PEM private key");
  if (!is_p256(key.get())) return key_error("the private key is not an ECDSA P-256 key");
  return key;
}

std::string jwk(EVP_PKEY* key) {
  return R"({"crv":"P-256","kty":"EC","x":")" + base64url(bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X)) +
         R"(","y":")" + base64url(bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y)) + R"("})";
}

std::string sha256(std::string_view bytes) {
  std::string out(SHA256_DIGEST_LENGTH, '\0');
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
         reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

std::string thumbprint(EVP_PKEY* key) { return base64url(sha256(jwk(key))); }

std::string key_authorization(std::string_view token, EVP_PKEY* key) {
  return std::string(token) + "." + thumbprint(key);
}

std::optional<std::string> ecdsa_der_to_raw(std::string_view der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  if (!sig) return std::nullopt;
  std::string out(64, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  bool ok = BN_bn2binpad(ECDSA_SIG_get0_r(sig), o, 32) == 32 &&
            BN_bn2binpad(ECDSA_SIG_get0_s(sig), o + 32, 32) == 32;
  ECDSA_SIG_free(sig);
  if (!ok) return std::nullopt;
  return out;
}

Result<std::string> sign_jws(EVP_PKEY* key, const JwsHeader& header, std::string_view payload) {
  boost::json::object prot;
  prot["alg"] = "ES256";
  prot["nonce"] = header.nonce;
  prot["url"] = header.url;
  if (header.kid.empty())
    prot["jwk"] = boost::json::parse(jwk(key));
  else
    prot["kid"] = header.kid;
  std::string protected64 = base64url(boost::json::serialize(prot));
  std::string payload64 = base64url(payload);  // "" for POST-as-GET
  std::string input = protected64 + "." + payload64;

  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::size_t len = 0;
  std::string der;
  bool ok = EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
            EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                           input.size()) == 1;
  if (ok) {
    der.resize(len);
    ok = EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(der.data()), &len,
                        reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
    der.resize(len);
  }
  EVP_MD_CTX_free(ctx);
  auto raw = ok ? ecdsa_der_to_raw(der) : std::nullopt;
  if (!raw) return key_error("signing the ACME request failed");
  boost::json::object jws;
  jws["protected"] = protected64;
  jws["payload"] = payload64;
  jws["signature"] = base64url(*raw);
  return boost::json::serialize(jws);
}

}  // namespace mtasts::acme
