#include "mint.hpp"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <utility>

#include "tls.hpp"

namespace mtasts::testd {
namespace {

bool add_ext(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str());
  if (ext == nullptr) return false;
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

}  // namespace

bool mintable_name(std::string_view name) {
  if (name.empty() || name.size() > 253 || name.front() == '.' || name.back() == '.') return false;
  char prev = '.';
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    if (!ok || (c == '.' && prev == '.')) return false;
    prev = c;
  }
  return true;
}

std::shared_ptr<CertMinter> CertMinter::load(const std::string& ca_cert, const std::string& ca_key,
                                             int days, std::string& error) {
  std::shared_ptr<CertMinter> m(new CertMinter());
  m->days_ = days;
  ERR_clear_error();
  if (FILE* f = std::fopen(ca_cert.c_str(), "r")) {
    m->ca_cert_ = PEM_read_X509(f, nullptr, nullptr, nullptr);
    std::fclose(f);
  }
  if (m->ca_cert_ == nullptr) {
    error = "cannot load mint CA certificate " + ca_cert + ": " + openssl_errors();
    return nullptr;
  }
  if (FILE* f = std::fopen(ca_key.c_str(), "r")) {
    m->ca_key_ = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
    std::fclose(f);
  }
  if (m->ca_key_ == nullptr || X509_check_private_key(m->ca_cert_, m->ca_key_) != 1) {
    error = "cannot load mint CA key " + ca_key + " (or it does not match " + ca_cert +
            "): " + openssl_errors();
    return nullptr;
  }
  m->chain_ = sk_X509_new_null();
  X509_up_ref(m->ca_cert_);
  sk_X509_push(m->chain_, m->ca_cert_);
  return m;
}

CertMinter::~CertMinter() {
  for (auto& [name, leaf] : cache_) {
    X509_free(leaf.cert);
    EVP_PKEY_free(leaf.key);
  }
  sk_X509_pop_free(chain_, X509_free);
  X509_free(ca_cert_);
  EVP_PKEY_free(ca_key_);
}

const CertMinter::Leaf* CertMinter::get(std::string_view name, std::string& error) {
  std::string key(name);
  if (auto it = cache_.find(key); it != cache_.end()) return &it->second;
  if (!mintable_name(name)) {
    error = "not a host name";
    return nullptr;
  }
  ERR_clear_error();
  Leaf leaf;
  leaf.key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  X509_NAME* subject = X509_NAME_new();
  BIGNUM* serial = BN_new();
  unsigned char random[16];
  bool ok = leaf.key != nullptr && cert != nullptr && subject != nullptr && serial != nullptr &&
            RAND_bytes(random, sizeof random) == 1;
  if (ok) {
    random[0] = static_cast<unsigned char>((random[0] & 0x7f) | 0x01);  // positive, 16 octets
    ok = BN_bin2bn(random, sizeof random, serial) != nullptr &&
         BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert)) != nullptr &&
         X509_set_version(cert, X509_VERSION_3) == 1 &&
         X509_set_issuer_name(cert, X509_get_subject_name(ca_cert_)) == 1 &&
         X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                                    reinterpret_cast<const unsigned char*>(key.c_str()), -1, -1,
                                    0) == 1 &&
         X509_set_subject_name(cert, subject) == 1 &&
         X509_gmtime_adj(X509_getm_notBefore(cert), -3600) != nullptr &&
         X509_time_adj_ex(X509_getm_notAfter(cert), days_, 0, nullptr) != nullptr &&
         X509_set_pubkey(cert, leaf.key) == 1;
  }
  if (ok) {
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, ca_cert_, cert, nullptr, nullptr, 0);
    ok = add_ext(cert, &ctx, NID_basic_constraints, "critical,CA:FALSE") &&
         add_ext(cert, &ctx, NID_key_usage, "critical,digitalSignature") &&
         add_ext(cert, &ctx, NID_ext_key_usage, "serverAuth") &&
         add_ext(cert, &ctx, NID_subject_alt_name, "DNS:" + key) &&
         add_ext(cert, &ctx, NID_subject_key_identifier, "hash") &&
         add_ext(cert, &ctx, NID_authority_key_identifier, "keyid:always") &&
         X509_sign(cert, ca_key_, EVP_sha256()) > 0;
  }
  BN_free(serial);
  X509_NAME_free(subject);
  if (!ok) {
    error = "cannot mint a certificate for " + key + ": " + openssl_errors();
    X509_free(cert);
    EVP_PKEY_free(leaf.key);
    return nullptr;
  }
  // Compute the extension cache (flags, key usage, SHA-1 of the certificate) now rather than
  // in the first handshake that installs the leaf: minting is not what a benchmark measures.
  X509_check_purpose(cert, -1, 0);
  leaf.cert = cert;
  return &cache_.emplace(std::move(key), leaf).first->second;
}

bool CertMinter::mint(std::string_view name, std::string& error) {
  return get(name, error) != nullptr;
}

bool CertMinter::write(std::string_view name, const std::string& chain_path, const std::string& key_path,
                       std::string& error) {
  const Leaf* leaf = get(name, error);
  if (leaf == nullptr) return false;
  bool ok = false;
  if (FILE* f = std::fopen(chain_path.c_str(), "w")) {
    ok = PEM_write_X509(f, leaf->cert) == 1 && PEM_write_X509(f, ca_cert_) == 1;
    ok = std::fclose(f) == 0 && ok;
  }
  if (ok) {
    ok = false;
    if (FILE* f = std::fopen(key_path.c_str(), "w")) {
      ok = PEM_write_PrivateKey(f, leaf->key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
      ok = std::fclose(f) == 0 && ok;
    }
  }
  if (!ok) error = "cannot write " + chain_path + " or " + key_path;
  auto it = cache_.find(std::string(name));
  X509_free(it->second.cert);
  EVP_PKEY_free(it->second.key);
  cache_.erase(it);
  return ok;
}

bool CertMinter::use(SSL* ssl, std::string_view name) {
  std::string error;
  const Leaf* leaf = get(name, error);
  if (leaf == nullptr) return false;
  return SSL_use_cert_and_key(ssl, leaf->cert, leaf->key, chain_, 1) == 1;
}

}  // namespace mtasts::testd
