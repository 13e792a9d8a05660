// The pure parts of the ACME client: base64url, JWK and thumbprint, ES256 JWS, key authorization,
// the CSR, the TLS-ALPN-01 certificate and chain descriptions. Expected values come from outside
// this code: RFC 4648's vectors, and a thumbprint computed with the openssl command line.
#include <gtest/gtest.h>
#include <openssl/ecdsa.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <boost/json.hpp>

#include "core/acme_jws.h"
#include "core/acme_x509.h"

namespace mtasts::acme {
namespace {

// A key made for this test only (openssl ecparam -name prime256v1 -genkey | openssl pkcs8 -topk8).
constexpr const char* kKeyPem = R"(-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg6Lx4cyX+lZoiB3lZ
7I40QpfE189xjVHkLorxLe9ZZTKhRANCAASozDPF05M2wkE33jR7jyv0df3P9IGq
D+SDARqxtQdedGxTtwwB6c5n2a1n/O5IbN5hr5oEMqe+NTnE1aEv6W5g
-----END PRIVATE KEY-----
)";
// From `openssl ec -pubout -outform DER | tail -c 64`, base64url'd, and its SHA-256.
constexpr const char* kJwk =
    R"({"crv":"P-256","kty":"EC","x":"qMwzxdOTNsJBN940e48r9HX9z_SBqg_kgwEasbUHXnQ","y":"bFO3DAHpzmfZrWf87khs3mGvmgQyp741OcTVoS_pbmA"})";
constexpr const char* kThumbprint = "v3kVTMhyFbDjpcdgIrNfoTW15KrUVtLi8YCcuZ_CcLE";

EvpKey fixed_key() {
  auto k = load_p256_key(kKeyPem);
  EXPECT_TRUE(k) << k.error().message;
  return std::move(k).value();
}

TEST(AcmeBase64url, Rfc4648Vectors) {
  EXPECT_EQ(base64url(""), "");
  EXPECT_EQ(base64url("f"), "Zg");
  EXPECT_EQ(base64url("fo"), "Zm8");
  EXPECT_EQ(base64url("foo"), "Zm9v");
  EXPECT_EQ(base64url("foob"), "Zm9vYg");
  EXPECT_EQ(base64url("fooba"), "Zm9vYmE");
  EXPECT_EQ(base64url("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64url(std::string("\xfb\xff\xfe", 3)), "-__-");  // the two swapped characters
}

TEST(AcmeBase64url, DecodeRoundTripAndRejects) {
  for (std::string s : {"", "f", "fo", "foo", "foob", "\xfb\xff\xfe\x00\x01"})
    EXPECT_EQ(base64url_decode(base64url(s)), s);
  EXPECT_FALSE(base64url_decode("Zm9v="));   // padding is not base64url
  EXPECT_FALSE(base64url_decode("Zm+v"));    // standard alphabet
  EXPECT_FALSE(base64url_decode("Z"));       // impossible length
}

TEST(AcmeKey, JwkAndThumbprintMatchOpenssl) {
  EvpKey key = fixed_key();
  EXPECT_EQ(jwk(key.get()), kJwk);
  EXPECT_EQ(thumbprint(key.get()), kThumbprint);
  EXPECT_EQ(key_authorization("tok-EN_1", key.get()), std::string("tok-EN_1.") + kThumbprint);
}

TEST(AcmeKey, PemRoundTripAndRejects) {
  EvpKey key = generate_p256();
  auto again = load_p256_key(private_key_pem(key.get()));
  ASSERT_TRUE(again);
  EXPECT_EQ(jwk(again->get()), jwk(key.get()));
  EXPECT_FALSE(load_p256_key("not a key"));
  EvpKey p384(EVP_EC_gen("P-384"));
  auto wrong = load_p256_key(private_key_pem(p384.get()));
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, "acme-key-invalid");
}

// Verifies an ES256 JWS the way a server does: r||s back to DER, EVP_DigestVerify.
bool verifies(EVP_PKEY* key, const std::string& protected64, const std::string& payload64,
              const std::string& signature64) {
  auto raw = base64url_decode(signature64);
  if (!raw || raw->size() != 64) return false;
  ECDSA_SIG* sig = ECDSA_SIG_new();
  ECDSA_SIG_set0(sig, BN_bin2bn(reinterpret_cast<const unsigned char*>(raw->data()), 32, nullptr),
                 BN_bin2bn(reinterpret_cast<const unsigned char*>(raw->data()) + 32, 32, nullptr));
  unsigned char* der = nullptr;
  int len = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  std::string input = protected64 + "." + payload64;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
            EVP_DigestVerify(ctx, der, static_cast<std::size_t>(len),
                             reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
  EVP_MD_CTX_free(ctx);
  OPENSSL_free(der);
  return ok;
}

TEST(AcmeJws, NewAccountCarriesJwkAndVerifies) {
  EvpKey key = fixed_key();
  auto jws = sign_jws(key.get(), {"nonce-1", "https://ca.test/new-acct", ""}, R"({"termsOfServiceAgreed":true})");
  ASSERT_TRUE(jws);
  auto o = boost::json::parse(*jws).as_object();
  std::string p64(o["protected"].as_string()), pl64(o["payload"].as_string()), s64(o["signature"].as_string());
  auto header = boost::json::parse(*base64url_decode(p64)).as_object();
  EXPECT_EQ(header["alg"], "ES256");
  EXPECT_EQ(header["nonce"], "nonce-1");
  EXPECT_EQ(header["url"], "https://ca.test/new-acct");
  EXPECT_FALSE(header.contains("kid"));
  EXPECT_EQ(boost::json::serialize(header["jwk"]), boost::json::serialize(boost::json::parse(kJwk)));
  EXPECT_EQ(*base64url_decode(pl64), R"({"termsOfServiceAgreed":true})");
  EXPECT_TRUE(verifies(key.get(), p64, pl64, s64));
  EXPECT_FALSE(verifies(key.get(), p64, base64url("{}"), s64));  // the signature covers the payload
}

TEST(AcmeJws, PostAsGetUsesKidAndEmptyPayload) {
  EvpKey key = fixed_key();
  auto jws = sign_jws(key.get(), {"n2", "https://ca.test/order/1", "https://ca.test/acct/7"}, "");
  ASSERT_TRUE(jws);
  auto o = boost::json::parse(*jws).as_object();
  EXPECT_EQ(o["payload"], "");  // RFC 8555 §6.3
  auto header = boost::json::parse(*base64url_decode(std::string(o["protected"].as_string()))).as_object();
  EXPECT_EQ(header["kid"], "https://ca.test/acct/7");
  EXPECT_FALSE(header.contains("jwk"));
  EXPECT_TRUE(verifies(key.get(), std::string(o["protected"].as_string()), "",
                       std::string(o["signature"].as_string())));
}

TEST(AcmeJws, DerToRawRejectsGarbage) {
  EXPECT_FALSE(ecdsa_der_to_raw(""));
  EXPECT_FALSE(ecdsa_der_to_raw("\x30\x02\x01"));
}

TEST(AcmeCsr, NamesEveryHostAndIsSigned) {
  EvpKey key = generate_p256();
  auto der = make_csr(key.get(), {"mta-sts.example.com", "mta-sts.example.org"});
  ASSERT_TRUE(der);
  const auto* p = reinterpret_cast<const unsigned char*>(der->data());
  X509_REQ* req = d2i_X509_REQ(nullptr, &p, static_cast<long>(der->size()));
  ASSERT_NE(req, nullptr);
  EXPECT_EQ(X509_REQ_verify(req, key.get()), 1);
  STACK_OF(X509_EXTENSION)* exts = X509_REQ_get_extensions(req);
  auto* sans = static_cast<GENERAL_NAMES*>(X509V3_get_d2i(exts, NID_subject_alt_name, nullptr, nullptr));
  ASSERT_NE(sans, nullptr);
  ASSERT_EQ(sk_GENERAL_NAME_num(sans), 2);
  auto name = [&](int i) {
    const ASN1_STRING* s = sk_GENERAL_NAME_value(sans, i)->d.dNSName;
    return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)), ASN1_STRING_length(s));
  };
  EXPECT_EQ(name(0), "mta-sts.example.com");
  EXPECT_EQ(name(1), "mta-sts.example.org");
  GENERAL_NAMES_free(sans);
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  X509_REQ_free(req);
  EXPECT_FALSE(make_csr(key.get(), {}));
}

TEST(AcmeAlpn, CertificateCarriesCriticalAcmeIdentifier) {
  const std::string keyauth = "token.thumb";
  auto cert = make_alpn_certificate("mta-sts.example.com", keyauth, 1'800'000'000);
  ASSERT_TRUE(cert) << cert.error().message;
  EXPECT_EQ(acme_identifier(cert->certificate_pem), sha256(keyauth));
  BIO* bio = BIO_new_mem_buf(cert->certificate_pem.data(), static_cast<int>(cert->certificate_pem.size()));
  X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ASSERT_NE(x, nullptr);
  ASN1_OBJECT* oid = OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1);
  int at = X509_get_ext_by_OBJ(x, oid, -1);
  ASSERT_GE(at, 0);
  EXPECT_EQ(X509_EXTENSION_get_critical(X509_get_ext(x, at)), 1);  // RFC 8737 §3
  ASN1_OBJECT_free(oid);
  EXPECT_EQ(X509_check_host(x, "mta-sts.example.com", 0, 0, nullptr), 1);
  auto key = load_p256_key(cert->private_key_pem);
  ASSERT_TRUE(key);
  EXPECT_EQ(X509_check_private_key(x, key->get()), 1);
  X509_free(x);
  auto info = describe_chain(cert->certificate_pem);
  ASSERT_TRUE(info);
  EXPECT_LE(info->not_before, 1'800'000'000);
  EXPECT_GT(info->not_after, 1'800'000'000);
  EXPECT_EQ(info->names, std::vector<std::string>{"mta-sts.example.com"});
  EXPECT_EQ(info->issuer, "CN=mta-sts.example.com");
  EXPECT_EQ(info->certificates, 1u);
}

TEST(AcmeChain, DescribesTheLeafAndCounts) {
  auto a = make_alpn_certificate("a.example", "x", 1'800'000'000);
  auto b = make_alpn_certificate("b.example", "y", 1'800'000'000);
  ASSERT_TRUE(a && b);
  auto info = describe_chain(a->certificate_pem + b->certificate_pem);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->certificates, 2u);
  EXPECT_EQ(info->names, std::vector<std::string>{"a.example"});
  auto none = describe_chain("<html>oops</html>");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, "acme-chain-invalid");
  EXPECT_EQ(acme_identifier("garbage"), "");
}

}  // namespace
}  // namespace mtasts::acme
