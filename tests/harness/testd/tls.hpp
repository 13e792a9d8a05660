// Server TLS contexts for testd listeners. Contexts are cached by (cert, key, profile) so that a
// benchmark config with thousands of listeners on one certificate loads it once.
#pragma once

#include <boost/asio/ssl/context.hpp>

#include <map>
#include <memory>
#include <string>
#include <tuple>

namespace mtasts::testd {

enum class TlsProfile {
  modern,      // TLS 1.2 and 1.3; ALPN selects http/1.1 when offered
  h2_only,     // TLS 1.2+, ALPN must include "h2": others get a no_application_protocol alert
  tls10_only,  // exactly TLS 1.0 at security level 0 (an obsolete MX that OpenSSL 3 must allow)
};

class TlsContexts {
 public:
  // The shared context, or nullptr with `error` filled when the files cannot be loaded.
  std::shared_ptr<boost::asio::ssl::context> get(const std::string& cert_file,
                                                 const std::string& key_file, TlsProfile profile,
                                                 std::string& error);

 private:
  std::map<std::tuple<std::string, std::string, TlsProfile>,
           std::shared_ptr<boost::asio::ssl::context>>
      cache_;
};

}  // namespace mtasts::testd
