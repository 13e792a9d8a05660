// ACME challenge answers that `mtasts serve` publishes while an order is pending (RFC 8555 §8.3
// HTTP-01, RFC 8737 TLS-ALPN-01). The ACME client puts them here; the HTTP listener on port 80 and
// the TLS listener (ALPN "acme-tls/1") read them. Thread-safe; entries are removed when the
// challenge is done. Besides this node's own answers it holds those every node published in the
// shared store (replace_shared(), at each reload tick): the CA may ask any node.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace mtasts::serve {

// A self-signed certificate carrying the acmeIdentifier extension (RFC 8737 §3), PEM.
struct AlpnCertificate {
  std::string certificate_pem;
  std::string private_key_pem;
};

class Challenges {
 public:
  // HTTP-01: GET /.well-known/acme-challenge/<token> answers `key_authorization`.
  void put_http01(const std::string& token, const std::string& key_authorization) {
    std::lock_guard lock(mu_);
    http01_[token] = key_authorization;
  }
  void remove_http01(const std::string& token) {
    std::lock_guard lock(mu_);
    http01_.erase(token);
  }
  std::optional<std::string> http01(const std::string& token) const {
    std::lock_guard lock(mu_);
    auto it = http01_.find(token);
    if (it != http01_.end()) return it->second;
    it = shared_http01_.find(token);
    if (it != shared_http01_.end()) return it->second;
    return std::nullopt;
  }

  // TLS-ALPN-01: a handshake for `host` offering only "acme-tls/1" gets this certificate.
  void put_alpn(const std::string& host, AlpnCertificate cert) {
    std::lock_guard lock(mu_);
    alpn_[host] = std::make_shared<const AlpnCertificate>(std::move(cert));
  }
  void remove_alpn(const std::string& host) {
    std::lock_guard lock(mu_);
    alpn_.erase(host);
  }
  std::shared_ptr<const AlpnCertificate> alpn(const std::string& host) const {
    std::lock_guard lock(mu_);
    auto it = alpn_.find(host);
    if (it != alpn_.end()) return it->second;
    it = shared_alpn_.find(host);
    return it == shared_alpn_.end() ? nullptr : it->second;
  }

  // The answers of every node, as read from the shared store (replaces the previous set).
  void replace_shared(std::map<std::string, std::string> http01,
                      std::map<std::string, std::shared_ptr<const AlpnCertificate>> alpn) {
    std::lock_guard lock(mu_);
    shared_http01_ = std::move(http01);
    shared_alpn_ = std::move(alpn);
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::string> http01_;
  std::map<std::string, std::shared_ptr<const AlpnCertificate>> alpn_;
  std::map<std::string, std::string> shared_http01_;
  std::map<std::string, std::shared_ptr<const AlpnCertificate>> shared_alpn_;
};

}  // namespace mtasts::serve
