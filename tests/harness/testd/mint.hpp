// Certificates minted per SNI name, for benchmarks with thousands of hosts behind one listener:
// for each name a fresh ECDSA P-256 key and a leaf (SAN = the name, serverAuth) signed by a CA
// from the config, served with that CA certificate as the chain. Minted on first use and cached
// for the life of the process (or all at start from a names file), so the handshake itself is
// all that the measured serving costs. Single-threaded like the rest of testd.
#pragma once

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

namespace mtasts::testd {

class CertMinter {
 public:
  // Loads the CA certificate and key; nullptr with `error` filled when they cannot be used.
  static std::shared_ptr<CertMinter> load(const std::string& ca_cert, const std::string& ca_key,
                                          int days, std::string& error);
  ~CertMinter();
  CertMinter(const CertMinter&) = delete;
  CertMinter& operator=(const CertMinter&) = delete;

  // Installs the leaf for `name` (lower case, a host name) on `ssl`, minting it the first time.
  // False if the name is not a plain host name or minting failed.
  bool use(SSL* ssl, std::string_view name);
  // Mints (if not cached yet) without a connection: for names known in advance.
  bool mint(std::string_view name, std::string& error);

  // Mints a leaf for `name` and writes it as PEM (the chain: leaf then CA) and its key, without
  // caching it: for filling a certificate directory with many names (bench/mint_certs).
  bool write(std::string_view name, const std::string& chain_path, const std::string& key_path,
             std::string& error);

  std::size_t minted() const { return cache_.size(); }

 private:
  struct Leaf {
    X509* cert = nullptr;
    EVP_PKEY* key = nullptr;
  };
  CertMinter() = default;
  const Leaf* get(std::string_view name, std::string& error);

  X509* ca_cert_ = nullptr;
  EVP_PKEY* ca_key_ = nullptr;
  STACK_OF(X509)* chain_ = nullptr;  // just the CA certificate
  int days_ = 90;
  std::unordered_map<std::string, Leaf> cache_;
};

// Whether `name` may be minted for: 1-253 octets of letters, digits, '-', '_' and dots,
// no empty label (so it cannot smuggle anything into the subjectAltName text).
bool mintable_name(std::string_view name);

}  // namespace mtasts::testd
