// Server TLS contexts for testd listeners. Contexts are cached by (cert, key, profile, mint) so
// that a benchmark config with thousands of listeners on one certificate loads it once.
#pragma once

#include "config.hpp"
#include "mint.hpp"

#include <boost/asio/ssl/context.hpp>

#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

namespace mtasts::testd {

// OpenSSL's error queue as one line (emptied), for startup error messages.
std::string openssl_errors();

enum class TlsProfile {
  modern,      // TLS 1.2 and 1.3; ALPN selects http/1.1 when offered
  h2_only,     // TLS 1.2+, ALPN must include "h2": others get a no_application_protocol alert
  tls10_only,  // exactly TLS 1.0 at security level 0 (an obsolete MX that OpenSSL 3 must allow)
};

class TlsContexts {
 public:
  // The shared context, or nullptr with `error` filled when the files cannot be loaded.
  // With `mint`, the certificate is picked by SNI from the minter of that CA (cert_file and
  // key_file, either may be empty, are only the fallback).
  std::shared_ptr<boost::asio::ssl::context> get(const std::string& cert_file,
                                                 const std::string& key_file, TlsProfile profile,
                                                 std::string& error,
                                                 const MintConfig* mint = nullptr);

  // The minter for a CA (one per CA and validity, shared by every listener using it).
  std::shared_ptr<CertMinter> minter(const MintConfig& mint, std::string& error);

  // What a minting context's certificate callback needs.
  struct MintBinding {
    std::shared_ptr<CertMinter> minter;
    std::string suffix;
    bool has_fallback = false;
  };

 private:
  std::map<std::tuple<std::string, std::string, TlsProfile, std::string>,
           std::shared_ptr<boost::asio::ssl::context>>
      cache_;
  std::map<std::tuple<std::string, std::string, int>, std::shared_ptr<CertMinter>> minters_;
  std::vector<std::unique_ptr<MintBinding>> bindings_;  // alive as long as the contexts
};

}  // namespace mtasts::testd
