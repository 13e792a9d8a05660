// Certificates for `mtasts serve`, found in a directory in the layouts certbot and lego write,
// indexed by the names they cover, loaded lazily and kept in a bounded LRU cache, so memory stays
// flat however many domains are hosted.
//
// Layouts (DIR is --cert-dir):
//   certbot  DIR/live/NAME/fullchain.pem + privkey.pem   (also DIR/NAME/fullchain.pem + privkey.pem)
//   lego     DIR/certificates/NAME.crt + NAME.key         (also DIR/NAME.crt + NAME.key;
//            NAME.issuer.crt is skipped)
// A scan reads only files whose identity (inode, size, mtime) changed since the last scan and
// indexes each certificate by its subjectAltName DNS names (wildcards as "*.example.com"). When
// several certificates cover one name the one that expires last wins.
#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace mtasts::serve {

struct CertFile {
  std::string cert_path;
  std::string key_path;
  std::string identity;  // inode:size:mtime of both files; a change means reload
  std::vector<std::string> names;
  std::int64_t not_after = 0;
};

struct ScanProblem {
  std::string path;
  std::string message;
};

class CertIndex {
 public:
  // Scans `dirs` (the operator's --cert-dir and serve's own ACME directory), reusing what
  // `previous` already parsed for unchanged files.
  static std::shared_ptr<const CertIndex> scan(const std::vector<std::string>& dirs, const CertIndex* previous,
                                               std::vector<ScanProblem>& problems);
  // Exact name first, then the wildcard one label up.
  std::shared_ptr<const CertFile> find(std::string_view host) const;
  std::size_t files() const { return files_.size(); }

 private:
  std::unordered_map<std::string, std::shared_ptr<const CertFile>> files_;   // by cert path
  std::unordered_map<std::string, std::shared_ptr<const CertFile>> by_name_;
};

// A certificate and key ready to hand to a handshake; `ctx` (when the cache was given a context
// factory) is a server SSL_CTX holding them, so a handshake switches to it (SSL_set_SSL_CTX, as
// nginx does per server block) instead of installing and re-validating the key every time.
struct LoadedCert {
  X509* leaf = nullptr;
  EVP_PKEY* key = nullptr;
  STACK_OF(X509)* chain = nullptr;
  SSL_CTX* ctx = nullptr;
  ~LoadedCert();
};

// Loads PEM certificate chain + key; empty with `error` set when unreadable, corrupt or mismatched.
std::shared_ptr<LoadedCert> load_cert(const CertFile& file, std::string& error);
std::shared_ptr<LoadedCert> load_cert_pem(const std::string& chain_pem, const std::string& key_pem,
                                                std::string& error);

// Thread-safe LRU of loaded certificates keyed by CertFile identity.
class CertCache {
 public:
  explicit CertCache(std::size_t capacity) : capacity_(capacity ? capacity : 1) {}
  // Makes the per-certificate SSL_CTX (see LoadedCert); set before the first get().
  void set_context_factory(std::function<SSL_CTX*()> make) { make_ctx_ = std::move(make); }
  // Null when the files cannot be loaded (`error` says why; the caller logs once and counts).
  std::shared_ptr<const LoadedCert> get(const CertFile& file, std::string& error);
  std::size_t size() const;
  std::uint64_t loads() const;

 private:
  using Lru = std::list<std::pair<std::string, std::shared_ptr<const LoadedCert>>>;
  mutable std::mutex mu_;
  std::size_t capacity_;
  Lru lru_;
  std::unordered_map<std::string, Lru::iterator> index_;
  std::uint64_t loads_ = 0;
  std::function<SSL_CTX*()> make_ctx_;
};

}  // namespace mtasts::serve
