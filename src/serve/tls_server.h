// The server side of TLS for `mtasts serve`: TLS 1.2 and 1.3 only, ECDHE with AEAD ciphers,
// session tickets, and the certificate chosen per handshake from the SNI name (lazy, cached).
// A handshake for an unknown name, or without SNI, ends with an unrecognized_name alert unless
// a default certificate is configured. A handshake that offers only ALPN "acme-tls/1" for a name
// with a pending TLS-ALPN-01 challenge gets the challenge certificate (RFC 8737).
#pragma once

#include <openssl/ssl.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "serve/cert_index.h"
#include "serve/challenges.h"

namespace mtasts::serve {

// Answers "which certificate for this name?"; null when none (the handshake is refused).
using CertLookup = std::function<std::shared_ptr<const LoadedCert>(std::string_view sni)>;

struct TlsServerHooks {
  CertLookup lookup;
  const Challenges* challenges = nullptr;
  std::function<void(std::string_view reason)> on_refused;  // unknown_sni, no_sni, cert_error
};

// A new SSL_CTX (owned by the caller) wired to `hooks`, which must outlive it.
// Null with `error` set when OpenSSL refuses the settings.
SSL_CTX* make_server_context(TlsServerHooks* hooks, std::string& error);

}  // namespace mtasts::serve
