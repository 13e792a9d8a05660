// TLS client side shared by the policy fetch and the SMTP probe: one context per trust store,
// and a verdict on the peer certificate that says *why* it is not acceptable (expired, not
// trusted, wrong name...), since diagnosing is the point of `check`.
//
// Verification is never skipped: the verify callback records every error OpenSSL reports and
// lets the handshake finish so the certificate can be described; callers then refuse to use a
// connection whose verdict is not acceptable() (the policy fetch sends no request on it).
#pragma once

#include <openssl/ssl.h>

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/verify_context.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mtasts::net {

struct CertInfo {
  std::string subject;
  std::string issuer;
  std::vector<std::string> names;  // subjectAltName DNS names
  std::int64_t not_before = 0;     // seconds since the epoch
  std::int64_t not_after = 0;
  std::string key;                 // "EC P-256", "RSA 2048"...
};

struct TlsVerdict {
  bool handshake = false;     // the TLS handshake completed
  std::string version;        // "TLSv1.3"
  std::string cipher;
  bool chain_trusted = false;  // chains to the trust store, every certificate in its validity period
  bool name_match = false;     // the leaf covers the host name (RFC 6125 rules, via OpenSSL)
  bool expired = false;
  bool not_yet_valid = false;
  bool self_signed = false;
  bool incomplete_chain = false;  // the leaf's issuer neither sent nor in the trust store
  // The chain was sent but ends at a CA the trust store does not hold (an unknown or private CA):
  // `untrusted_ca` names the issuer it ends at.
  bool unknown_ca = false;
  std::string untrusted_ca;
  std::string expired_intermediate;  // subject of a CA certificate in the chain that has expired
  std::string weak;                  // a key or signature digest senders refuse, in words
  bool no_san = false;  // the leaf has no subjectAltName DNS name (a CN is not enough, RFC 8461 §4.2)
  std::vector<std::string> errors;  // OpenSSL's words for each verification problem
  std::optional<CertInfo> leaf;
  bool acceptable() const { return handshake && chain_trusted && name_match; }
};

// Collects verification errors during a handshake (install with set_verify_callback).
struct VerifyRecorder {
  struct Problem {
    int error = 0;     // X509_V_ERR_*
    int depth = 0;     // 0 = the leaf
    std::string subject, issuer;  // of the certificate at that depth
  };
  std::vector<Problem> errors;  // in the order OpenSSL found them
  bool operator()(bool preverified, boost::asio::ssl::verify_context& ctx);
};

enum class TlsFloor { tls12, legacy };  // legacy: TLS 1.0+ at security level 0, to diagnose

// A client context: TLS 1.2+ (or legacy), trust from `ca_file` when given, else the system's.
std::unique_ptr<boost::asio::ssl::context> make_client_context(const std::string& ca_file,
                                                                TlsFloor floor,
                                                                std::string& error);

// Prepares `ssl` to talk to `host`: SNI and host name verification.
bool prepare_client(SSL* ssl, const std::string& host);

// The verdict after a completed handshake.
TlsVerdict judge(SSL* ssl, const std::string& host, const VerifyRecorder& recorder);

std::optional<CertInfo> describe(X509* cert);

}  // namespace mtasts::net
