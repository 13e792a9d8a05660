#include "tls.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/tls1.h>

#include <string_view>

namespace mtasts::testd {

std::string openssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

namespace {

namespace ssl = boost::asio::ssl;

// Finds `proto` in an ALPN protocol-name list (RFC 7301 §3.1: each name is length-prefixed).
// Returns a pointer to the name inside `list`, or nullptr.
const unsigned char* find_alpn(const unsigned char* list, unsigned len, std::string_view proto) {
  unsigned i = 0;
  while (i < len) {
    unsigned n = list[i];
    if (n == 0 || i + 1 + n > len) return nullptr;  // malformed: stop, never read past the end
    if (std::string_view(reinterpret_cast<const char*>(list + i + 1), n) == proto)
      return list + i + 1;
    i += 1 + n;
  }
  return nullptr;
}

// The protocol an ALPN select callback agrees to, passed as its `arg`.
constexpr const char* kHttp11 = "http/1.1";
constexpr const char* kH2 = "h2";

int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned inlen, void* arg) {
  std::string_view want(static_cast<const char*>(arg));
  const unsigned char* found = find_alpn(in, inlen, want);
  if (found == nullptr) {
    // http/1.1 servers carry on without ALPN; the h2-only server refuses (RFC 7301 §3.2).
    return want == kH2 ? SSL_TLSEXT_ERR_ALERT_FATAL : SSL_TLSEXT_ERR_NOACK;
  }
  *out = found;
  *outlen = static_cast<unsigned char>(want.size());
  return SSL_TLSEXT_ERR_OK;
}

// The ALPN select callback only runs when the client sends ALPN at all; a client that sends none
// must be refused too, so the h2-only profile also inspects the ClientHello.
int require_h2(SSL* s, int* alert, void*) {
  const unsigned char* ext = nullptr;
  size_t len = 0;
  if (SSL_client_hello_get0_ext(s, TLSEXT_TYPE_application_layer_protocol_negotiation, &ext,
                                &len) == 1 &&
      len >= 2) {
    unsigned list_len = (unsigned{ext[0]} << 8) | ext[1];
    if (list_len + 2 <= len && find_alpn(ext + 2, list_len, kH2) != nullptr)
      return SSL_CLIENT_HELLO_SUCCESS;
  }
  *alert = SSL_AD_NO_APPLICATION_PROTOCOL;
  return SSL_CLIENT_HELLO_ERROR;
}

// SSL_CTX_set_cert_cb: runs once the ClientHello is parsed, before the certificate and the
// signature algorithm are chosen, so the minted leaf for the SNI name can be installed here.
int mint_cert_cb(SSL* s, void* arg) {
  const auto* b = static_cast<const TlsContexts::MintBinding*>(arg);
  if (const char* sni = SSL_get_servername(s, TLSEXT_NAMETYPE_host_name)) {
    std::string name(sni);
    for (char& c : name)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    bool in_scope = name.size() >= b->suffix.size() &&
                    name.compare(name.size() - b->suffix.size(), b->suffix.size(), b->suffix) == 0;
    if (in_scope && b->minter->use(s, name)) return 1;
  }
  return b->has_fallback ? 1 : 0;  // 0: the handshake fails (internal_error alert)
}

}  // namespace

std::shared_ptr<CertMinter> TlsContexts::minter(const MintConfig& mint, std::string& error) {
  auto key = std::make_tuple(mint.ca_cert, mint.ca_key, mint.days);
  if (auto it = minters_.find(key); it != minters_.end()) return it->second;
  auto m = CertMinter::load(mint.ca_cert, mint.ca_key, mint.days, error);
  if (m) minters_.emplace(std::move(key), m);
  return m;
}

std::shared_ptr<ssl::context> TlsContexts::get(const std::string& cert_file,
                                               const std::string& key_file, TlsProfile profile,
                                               std::string& error, const MintConfig* mint) {
  std::string mint_key;
  if (mint != nullptr)
    mint_key = mint->ca_cert + '\n' + mint->ca_key + '\n' + mint->suffix + '\n' +
               std::to_string(mint->days);
  auto key = std::make_tuple(cert_file, key_file, profile, mint_key);
  if (auto it = cache_.find(key); it != cache_.end()) return it->second;

  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = ctx->native_handle();
  ERR_clear_error();
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // Thousands of mostly idle connections in a benchmark: free OpenSSL's record buffers between
  // reads and writes.
  SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS);

  // A test server serves whatever certificate it is given (an RSA 1024 key, a SHA-1 signature):
  // judging it is the client's business, so the server side runs at security level 0.
  SSL_CTX_set_security_level(native, 0);
  bool ok = true;
  switch (profile) {
    case TlsProfile::modern:
      ok = SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) == 1;
      SSL_CTX_set_alpn_select_cb(native, select_alpn, const_cast<char*>(kHttp11));
      break;
    case TlsProfile::h2_only:
      ok = SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) == 1;
      SSL_CTX_set_client_hello_cb(native, require_h2, nullptr);
      SSL_CTX_set_alpn_select_cb(native, select_alpn, const_cast<char*>(kH2));
      break;
    case TlsProfile::tls10_only:
      // OpenSSL 3 refuses TLS 1.0 (SHA-1 signatures) above security level 0.
      SSL_CTX_set_security_level(native, 0);
      ok = SSL_CTX_set_min_proto_version(native, TLS1_VERSION) == 1 &&
           SSL_CTX_set_max_proto_version(native, TLS1_VERSION) == 1 &&
           SSL_CTX_set_cipher_list(native, "DEFAULT:@SECLEVEL=0") == 1;
      break;
  }
  if (!ok) {
    error = "cannot configure TLS: " + openssl_errors();
    return nullptr;
  }
  if (mint != nullptr) {
    auto binding = std::make_unique<MintBinding>();
    binding->minter = minter(*mint, error);
    if (!binding->minter) return nullptr;
    binding->suffix = mint->suffix;
    binding->has_fallback = !cert_file.empty();
    SSL_CTX_set_cert_cb(native, mint_cert_cb, binding.get());
    bindings_.push_back(std::move(binding));
    if (cert_file.empty()) {
      cache_.emplace(std::move(key), ctx);
      return ctx;
    }
  }
  if (SSL_CTX_use_certificate_chain_file(native, cert_file.c_str()) != 1) {
    error = "cannot load certificate chain " + cert_file + ": " + openssl_errors();
    return nullptr;
  }
  if (SSL_CTX_use_PrivateKey_file(native, key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(native) != 1) {
    error = "cannot load private key " + key_file + ": " + openssl_errors();
    return nullptr;
  }
  cache_.emplace(std::move(key), ctx);
  return ctx;
}

}  // namespace mtasts::testd
