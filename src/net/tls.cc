#include "net/tls.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <ctime>

#include "fmt/format.h"

namespace asio = boost::asio;

namespace mtasts::net {

namespace {

std::string name_text(X509_NAME* name) {
  if (!name) return {};
  BIO* bio = BIO_new(BIO_s_mem());
  X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(len));
  BIO_free(bio);
  return out;
}

std::int64_t epoch(const ASN1_TIME* t) {
  if (!t) return 0;
  std::tm tm{};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return static_cast<std::int64_t>(timegm(&tm));
}

}  // namespace

bool VerifyRecorder::operator()(bool preverified, asio::ssl::verify_context& ctx) {
  if (!preverified) {
    X509_STORE_CTX* store = ctx.native_handle();
    Problem p;
    p.error = X509_STORE_CTX_get_error(store);
    p.depth = X509_STORE_CTX_get_error_depth(store);
    if (X509* cert = X509_STORE_CTX_get_current_cert(store)) {
      p.subject = name_text(X509_get_subject_name(cert));
      p.issuer = name_text(X509_get_issuer_name(cert));
    }
    errors.push_back(std::move(p));
  }
  return true;  // finish the handshake so the certificate can be described; judge() decides
}

std::unique_ptr<asio::ssl::context> make_client_context(const std::string& ca_file,
                                                        TlsFloor floor, std::string& error) {
  auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
  SSL_CTX* native = ctx->native_handle();
  if (floor == TlsFloor::tls12) {
    SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
    // Judge keys and signatures as senders on current systems do (Debian's and RHEL's OpenSSL
    // default): level 2 refuses RSA keys under 2048 bits and SHA-1 signatures, whatever the
    // local openssl.cnf says.
    if (SSL_CTX_get_security_level(native) < 2) SSL_CTX_set_security_level(native, 2);
  } else {
    SSL_CTX_set_security_level(native, 0);
    SSL_CTX_set_min_proto_version(native, TLS1_VERSION);
    SSL_CTX_set_cipher_list(native, "DEFAULT:@SECLEVEL=0");
  }
  boost::system::error_code ec;
  if (!ca_file.empty()) {
    ctx->load_verify_file(ca_file, ec);
    if (ec) {
      error = fmt::format("cannot load CA file {}: {}", ca_file, ec.message());
      return nullptr;
    }
  } else {
    ctx->set_default_verify_paths(ec);
    if (ec) {
      error = fmt::format("cannot load the system trust store: {}", ec.message());
      return nullptr;
    }
  }
  ctx->set_verify_mode(asio::ssl::verify_peer);
  return ctx;
}

// RFC 7817 §3 (which RFC 8461 follows for MX and policy hosts): "*" may only be the whole
// left-most label; OpenSSL also accepts "mx*.example.com" unless told not to.
constexpr unsigned kHostFlags = X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS;

bool prepare_client(SSL* ssl, const std::string& host) {
  if (SSL_set_tlsext_host_name(ssl, host.c_str()) != 1 || SSL_set1_host(ssl, host.c_str()) != 1) return false;
  SSL_set_hostflags(ssl, kHostFlags);
  return true;
}

std::optional<CertInfo> describe(X509* cert) {
  if (!cert) return std::nullopt;
  CertInfo info;
  info.subject = name_text(X509_get_subject_name(cert));
  info.issuer = name_text(X509_get_issuer_name(cert));
  info.not_before = epoch(X509_get0_notBefore(cert));
  info.not_after = epoch(X509_get0_notAfter(cert));
  if (auto* sans = static_cast<GENERAL_NAMES*>(
          X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr))) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans, i);
      if (gn->type != GEN_DNS) continue;
      const auto* s = gn->d.dNSName;
      info.names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                              static_cast<std::size_t>(ASN1_STRING_length(s)));
    }
    GENERAL_NAMES_free(sans);
  }
  if (EVP_PKEY* key = X509_get0_pubkey(cert)) {
    int bits = EVP_PKEY_get_bits(key);
    if (EVP_PKEY_is_a(key, "EC")) {
      char group[64] = {};
      std::size_t len = 0;
      EVP_PKEY_get_utf8_string_param(key, "group", group, sizeof group, &len);
      info.key = fmt::format("EC {}", group[0] ? group : "?");
    } else {
      info.key = fmt::format("{} {}", EVP_PKEY_get0_type_name(key) ? EVP_PKEY_get0_type_name(key) : "?", bits);
    }
  }
  return info;
}

TlsVerdict judge(SSL* ssl, const std::string& host, const VerifyRecorder& recorder) {
  TlsVerdict v;
  v.handshake = true;
  v.version = SSL_get_version(ssl);
  if (const SSL_CIPHER* c = SSL_get_current_cipher(ssl)) v.cipher = SSL_CIPHER_get_name(c);
  X509* leaf = SSL_get0_peer_certificate(ssl);
  v.leaf = describe(leaf);
  // RFC 8461 §4.2: "The certificate MUST have a subject alternative name (SAN) with a DNS-ID";
  // OpenSSL would fall back to the subject CN when there is none (RFC 6125 §6.4.4's last
  // resort, gone in RFC 9525), so that fallback is turned off here.
  v.no_san = leaf && v.leaf && v.leaf->names.empty();
  v.name_match = leaf && X509_check_host(leaf, host.data(), host.size(),
                                         kHostFlags | X509_CHECK_FLAG_NEVER_CHECK_SUBJECT,
                                         nullptr) == 1;
  bool chain_error = false;
  for (const auto& p : recorder.errors) {
    const int e = p.error;
    switch (e) {
      case X509_V_ERR_HOSTNAME_MISMATCH:
        continue;  // reported through name_match
      case X509_V_ERR_CERT_HAS_EXPIRED:
        if (p.depth == 0) v.expired = true;
        else if (v.expired_intermediate.empty()) v.expired_intermediate = p.subject;
        break;
      case X509_V_ERR_CERT_NOT_YET_VALID: v.not_yet_valid = true; break;
      case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT: v.self_signed = true; break;
      case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:  // the server sent a root the store lacks
        v.unknown_ca = true;
        if (v.untrusted_ca.empty()) v.untrusted_ca = p.subject;
        break;
      case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
      case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
      case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        // At the leaf: its issuer was not sent (a missing intermediate, or a leaf straight from
        // an unknown CA). Higher up: the server sent its chain, which ends at an unknown CA.
        if (p.depth == 0) v.incomplete_chain = true;
        else v.unknown_ca = true;
        if (v.untrusted_ca.empty()) v.untrusted_ca = p.issuer;
        break;
      case X509_V_ERR_EE_KEY_TOO_SMALL:
      case X509_V_ERR_CA_KEY_TOO_SMALL:
        if (v.weak.empty())
          v.weak = fmt::format("the {} key{} is too weak (senders refuse RSA keys under 2048 bits)",
                               p.depth == 0 ? "certificate's" : "issuing CA's",
                               p.depth == 0 && v.leaf ? " (" + v.leaf->key + ")" : "");
        break;
      case X509_V_ERR_CA_MD_TOO_WEAK:
        if (v.weak.empty())
          v.weak = fmt::format("the {} is signed with a digest senders refuse (SHA-1 or MD5)",
                               p.depth == 0 ? "certificate" : "CA certificate " + p.subject);
        break;
      default: break;
    }
    chain_error = true;
    std::string text = X509_verify_cert_error_string(e);
    if (std::find(v.errors.begin(), v.errors.end(), text) == v.errors.end()) v.errors.push_back(text);
  }
  if (!leaf) {
    chain_error = true;
    v.errors.push_back("no certificate");
  }
  v.chain_trusted = !chain_error;
  return v;
}

}  // namespace mtasts::net
