#include "core/acme_x509.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <memory>

#include "core/acme_jws.h"

namespace mtasts::acme {

namespace {

constexpr const char* kAcmeIdentifierOid = "1.3.6.1.5.5.7.1.31";

template <typename T, void (*F)(T*)>
struct Free {
  void operator()(T* p) const { F(p); }
};
using X509Ptr = std::unique_ptr<X509, Free<X509, X509_free>>;
using ReqPtr = std::unique_ptr<X509_REQ, Free<X509_REQ, X509_REQ_free>>;
using BioPtr = std::unique_ptr<BIO, Free<BIO, BIO_free_all>>;
using NamesPtr = std::unique_ptr<GENERAL_NAMES, Free<GENERAL_NAMES, GENERAL_NAMES_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Free<X509_EXTENSION, X509_EXTENSION_free>>;
using ObjPtr = std::unique_ptr<ASN1_OBJECT, Free<ASN1_OBJECT, ASN1_OBJECT_free>>;
using OctetPtr = std::unique_ptr<ASN1_OCTET_STRING, Free<ASN1_OCTET_STRING, ASN1_OCTET_STRING_free>>;

Error x509_error(std::string code, std::string message) {
  return Error{std::move(code), 0, 0, std::move(message), {}};
}

NamesPtr dns_names(const std::vector<std::string>& hosts) {
  NamesPtr names(sk_GENERAL_NAME_new_null());
  for (const auto& h : hosts) {
    GENERAL_NAME* gn = GENERAL_NAME_new();
    ASN1_IA5STRING* s = ASN1_IA5STRING_new();
    ASN1_STRING_set(s, h.data(), static_cast<int>(h.size()));
    GENERAL_NAME_set0_value(gn, GEN_DNS, s);
    sk_GENERAL_NAME_push(names.get(), gn);
  }
  return names;
}

std::int64_t epoch(const ASN1_TIME* t) {
  std::tm tm{};
  if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return static_cast<std::int64_t>(timegm(&tm));
}

std::string pem_of(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

X509Ptr read_pem(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

}  // namespace

Result<std::string> make_csr(EVP_PKEY* key, const std::vector<std::string>& hosts) {
  if (hosts.empty()) return x509_error("acme-csr", "a certificate request needs at least one name");
  ReqPtr req(X509_REQ_new());
  X509_REQ_set_version(req.get(), 0);
  X509_NAME* subject = X509_REQ_get_subject_name(req.get());
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(hosts.front().c_str()), -1, -1, 0);
  X509_REQ_set_pubkey(req.get(), key);
  STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
  NamesPtr names = dns_names(hosts);
  X509_EXTENSION* san = X509V3_EXT_i2d(NID_subject_alt_name, 0, names.get());
  sk_X509_EXTENSION_push(exts, san);
  X509_REQ_add_extensions(req.get(), exts);
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  if (X509_REQ_sign(req.get(), key, EVP_sha256()) <= 0)
    return x509_error("acme-csr", "signing the certificate request failed");
  unsigned char* der = nullptr;
  int len = i2d_X509_REQ(req.get(), &der);
  if (len <= 0) return x509_error("acme-csr", "encoding the certificate request failed");
  std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  return out;
}

Result<AlpnCertificate> make_alpn_certificate(const std::string& host,
                                              std::string_view key_authorization,
                                              std::int64_t now) {
  EvpKey key = generate_p256();
  X509Ptr cert(X509_new());
  if (!key || !cert) return x509_error("acme-alpn-cert", "out of memory");
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  time_t at = static_cast<time_t>(now);
  X509_time_adj_ex(X509_getm_notBefore(cert.get()), 0, -3600, &at);
  X509_time_adj_ex(X509_getm_notAfter(cert.get()), 7, 0, &at);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(host.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509_set_pubkey(cert.get(), key.get());
  NamesPtr names = dns_names({host});
  X509_add1_ext_i2d(cert.get(), NID_subject_alt_name, names.get(), 0, 0);

  // extnValue = DER(OCTET STRING (SIZE (32))) of SHA-256(key authorization), critical.
  std::string hash = sha256(key_authorization);
  std::string inner = std::string("\x04\x20", 2) + hash;
  OctetPtr value(ASN1_OCTET_STRING_new());
  ASN1_OCTET_STRING_set(value.get(), reinterpret_cast<const unsigned char*>(inner.data()),
                        static_cast<int>(inner.size()));
  ObjPtr oid(OBJ_txt2obj(kAcmeIdentifierOid, 1));
  ExtPtr ext(X509_EXTENSION_create_by_OBJ(nullptr, oid.get(), 1, value.get()));
  if (!ext || X509_add_ext(cert.get(), ext.get(), -1) != 1)
    return x509_error("acme-alpn-cert", "adding the acmeIdentifier extension failed");
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0)
    return x509_error("acme-alpn-cert", "signing the TLS-ALPN-01 certificate failed");
  return AlpnCertificate{pem_of(cert.get()), private_key_pem(key.get())};
}

Result<ChainInfo> describe_chain(std::string_view pem) {
  ChainInfo info;
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr leaf;
  while (X509* c = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    ++info.certificates;
    if (!leaf) leaf.reset(c);
    else X509_free(c);
  }
  if (!leaf) return x509_error("acme-chain-invalid", "the certificate chain holds no PEM certificate");
  info.not_before = epoch(X509_get0_notBefore(leaf.get()));
  info.not_after = epoch(X509_get0_notAfter(leaf.get()));
  {
    BioPtr out(BIO_new(BIO_s_mem()));
    X509_NAME_print_ex(out.get(), X509_get_issuer_name(leaf.get()), 0, XN_FLAG_RFC2253);
    char* data = nullptr;
    long len = BIO_get_mem_data(out.get(), &data);
    info.issuer.assign(data, static_cast<std::size_t>(len));
  }
  NamesPtr sans(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(leaf.get(), NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans.get()); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans.get(), i);
    if (gn->type != GEN_DNS) continue;
    info.names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(gn->d.dNSName)),
                            static_cast<std::size_t>(ASN1_STRING_length(gn->d.dNSName)));
  }
  return info;
}

std::string acme_identifier(std::string_view certificate_pem) {
  X509Ptr cert = read_pem(certificate_pem);
  if (!cert) return {};
  ObjPtr oid(OBJ_txt2obj(kAcmeIdentifierOid, 1));
  int at = X509_get_ext_by_OBJ(cert.get(), oid.get(), -1);
  if (at < 0) return {};
  ASN1_OCTET_STRING* data = X509_EXTENSION_get_data(X509_get_ext(cert.get(), at));
  std::string_view v(reinterpret_cast<const char*>(ASN1_STRING_get0_data(data)),
                     static_cast<std::size_t>(ASN1_STRING_length(data)));
  if (v.size() != 34 || v[0] != '\x04' || v[1] != '\x20') return {};
  return std::string(v.substr(2));
}

}  // namespace mtasts::acme
