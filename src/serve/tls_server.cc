#include "serve/tls_server.h"

#include <openssl/err.h>

#include <cstring>

namespace mtasts::serve {

namespace {

constexpr std::string_view kAcmeAlpn = "acme-tls/1";

// Our own ex_data slot: Asio's ssl::context owns SSL_CTX app_data (its verify callback) and
// deletes whatever it finds there.
int hooks_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

TlsServerHooks* hooks_of(SSL* ssl) {
  return static_cast<TlsServerHooks*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), hooks_index()));
}

bool use(SSL* ssl, const LoadedCert& c) {
  return SSL_use_cert_and_key(ssl, c.leaf, c.key, c.chain, 1) == 1;
}

int on_servername(SSL* ssl, int* alert, void*) {
  TlsServerHooks* h = hooks_of(ssl);
  const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  std::string_view name = sni ? sni : "";
  auto cert = h->lookup(name);
  if (!cert) {
    // A pending TLS-ALPN-01 challenge for a name with no certificate yet: ALPN decides later.
    if (!name.empty() && h->challenges && h->challenges->alpn(std::string(name))) return SSL_TLSEXT_ERR_OK;
    if (h->on_refused) h->on_refused(name.empty() ? "no_sni" : "unknown_sni");
    *alert = SSL_AD_UNRECOGNIZED_NAME;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  // Switch to the certificate's own context (prepared once), else install the pair.
  if (cert->ctx ? SSL_set_SSL_CTX(ssl, cert->ctx) == nullptr : !use(ssl, *cert)) {
    ERR_clear_error();
    if (h->on_refused) h->on_refused("cert_error");
    *alert = SSL_AD_INTERNAL_ERROR;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  return SSL_TLSEXT_ERR_OK;
}

// ALPN list: length-prefixed names. Picks acme-tls/1 for a pending challenge (and swaps in the
// challenge certificate), else http/1.1 when offered, else no ALPN.
int on_alpn(SSL* ssl, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
            unsigned int inlen, void*) {
  bool acme = false, http11 = false;
  const unsigned char* acme_at = nullptr;
  const unsigned char* http_at = nullptr;
  for (unsigned int i = 0; i < inlen;) {
    unsigned int len = in[i];
    if (i + 1 + len > inlen) break;
    std::string_view proto(reinterpret_cast<const char*>(in + i + 1), len);
    if (proto == kAcmeAlpn) acme = true, acme_at = in + i + 1;
    if (proto == "http/1.1") http11 = true, http_at = in + i + 1;
    i += 1 + len;
  }
  if (acme) {
    TlsServerHooks* h = hooks_of(ssl);
    const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    auto challenge = sni && h->challenges ? h->challenges->alpn(sni) : nullptr;
    if (!challenge) return SSL_TLSEXT_ERR_ALERT_FATAL;  // RFC 8737 §3: no other protocol on it
    std::string error;
    auto cert = load_cert_pem(challenge->certificate_pem, challenge->private_key_pem, error);
    if (!cert || !use(ssl, *cert)) return SSL_TLSEXT_ERR_ALERT_FATAL;
    *out = acme_at;
    *outlen = static_cast<unsigned char>(kAcmeAlpn.size());
    return SSL_TLSEXT_ERR_OK;
  }
  if (http11) {
    *out = http_at;
    *outlen = 8;
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

}  // namespace

SSL_CTX* make_server_context(TlsServerHooks* hooks, std::string& error) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) {
    error = "SSL_CTX_new failed";
    return nullptr;
  }
  bool ok = SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1 &&
            // TLS 1.2: forward secrecy and AEAD only (TLS 1.3 suites are all AEAD).
            SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20") == 1 &&
            // TLS 1.3: AES-128-GCM first, as Mozilla's intermediate profile, BoringSSL and Go order
            // them. Its SHA-256 key schedule and transcript hash cost less than AES-256's SHA-384.
            SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384") == 1 &&
            SSL_CTX_set1_groups_list(ctx, "X25519:P-256:P-384") == 1;
  if (!ok) {
    error = "OpenSSL refused the TLS settings";
    SSL_CTX_free(ctx);
    return nullptr;
  }
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
  // Session tickets (stateless resumption) stay on; no server-side session cache to grow.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  // TLS 1.3: no ticket at the end of the handshake; TlsStream issues one with the first response
  // (SSL_new_session_ticket), in the same send. TLS 1.2 tickets are unaffected.
  SSL_CTX_set_num_tickets(ctx, 0);
  // The chain sent is exactly the one configured, never one built from a trust store.
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_NO_AUTO_CHAIN);
  SSL_CTX_set_ex_data(ctx, hooks_index(), hooks);
  SSL_CTX_set_tlsext_servername_callback(ctx, on_servername);
  SSL_CTX_set_alpn_select_cb(ctx, on_alpn, nullptr);
  return ctx;
}

}  // namespace mtasts::serve
