#include "serve/cert_index.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <filesystem>

#include "core/domain.h"
#include "fmt/format.h"

namespace mtasts::serve {

namespace fs = std::filesystem;

namespace {

std::string openssl_error() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (!e) return "no details from OpenSSL";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

std::string identity_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {};
  return fmt::format("{}:{}:{}.{}", st.st_ino, st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}

struct BioFile {
  BIO* bio;
  explicit BioFile(const std::string& path) : bio(BIO_new_file(path.c_str(), "r")) {}
  ~BioFile() { BIO_free(bio); }
};

// Reads the leaf's names and expiry. Bounded: certificate files over 1 MiB are refused.
bool describe_file(CertFile& f, std::string& error) {
  std::error_code ec;
  auto size = fs::file_size(f.cert_path, ec);
  if (ec || size > (1u << 20)) {
    error = ec ? ec.message() : "larger than 1 MiB";
    return false;
  }
  BioFile in(f.cert_path);
  if (!in.bio) {
    error = "cannot open: " + openssl_error();
    return false;
  }
  X509* leaf = PEM_read_bio_X509(in.bio, nullptr, nullptr, nullptr);
  if (!leaf) {
    error = "no PEM certificate: " + openssl_error();
    return false;
  }
  auto* sans = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(leaf, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(sans, i);
    if (n->type != GEN_DNS) continue;
    const auto* s = n->d.dNSName;
    f.names.push_back(ascii_lower(std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                                   static_cast<std::size_t>(ASN1_STRING_length(s)))));
  }
  GENERAL_NAMES_free(sans);
  struct tm t {};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(leaf), &t) == 1) f.not_after = timegm(&t);
  X509_free(leaf);
  if (f.names.empty()) {
    error = "the certificate has no DNS names (subjectAltName)";
    return false;
  }
  return true;
}

// The (certificate, key) pairs of the supported layouts under `dir`.
std::vector<std::pair<std::string, std::string>> candidates(const std::string& dir) {
  std::vector<std::pair<std::string, std::string>> out;
  auto flat = [&](const fs::path& d) {  // NAME.crt + NAME.key
    std::error_code ec;
    for (fs::directory_iterator it(d, ec), end; !ec && it != end; it.increment(ec)) {
      const fs::path& p = it->path();
      std::string name = p.filename().string();
      if (p.extension() != ".crt" || name.ends_with(".issuer.crt")) continue;
      fs::path key = p;
      key.replace_extension(".key");
      if (fs::exists(key, ec)) out.emplace_back(p.string(), key.string());
    }
  };
  auto certbot = [&](const fs::path& d) {  // NAME/fullchain.pem + NAME/privkey.pem
    std::error_code ec;
    for (fs::directory_iterator it(d, ec), end; !ec && it != end; it.increment(ec)) {
      if (!it->is_directory(ec)) continue;
      fs::path chain = it->path() / "fullchain.pem", key = it->path() / "privkey.pem";
      if (fs::exists(chain, ec) && fs::exists(key, ec)) out.emplace_back(chain.string(), key.string());
    }
  };
  flat(dir);
  flat(fs::path(dir) / "certificates");
  certbot(dir);
  certbot(fs::path(dir) / "live");
  return out;
}

}  // namespace

std::shared_ptr<const CertIndex> CertIndex::scan(const std::vector<std::string>& dirs, const CertIndex* previous,
                                                 std::vector<ScanProblem>& problems) {
  auto index = std::make_shared<CertIndex>();
  std::vector<std::pair<std::string, std::string>> all;
  for (const auto& dir : dirs) {
    auto some = candidates(dir);
    all.insert(all.end(), some.begin(), some.end());
  }
  for (auto& [cert, key] : all) {
    std::string identity = identity_of(cert) + "/" + identity_of(key);
    std::shared_ptr<const CertFile> file;
    if (previous) {
      auto it = previous->files_.find(cert);
      if (it != previous->files_.end() && it->second->identity == identity) file = it->second;
    }
    if (!file) {
      auto f = std::make_shared<CertFile>();
      f->cert_path = cert;
      f->key_path = key;
      f->identity = identity;
      std::string error;
      if (!describe_file(*f, error)) {
        problems.push_back({cert, error});
        continue;
      }
      file = std::move(f);
    }
    index->files_[cert] = file;
    for (const auto& name : file->names) {
      auto& slot = index->by_name_[name];
      if (!slot || slot->not_after < file->not_after) slot = file;
    }
  }
  return index;
}

std::shared_ptr<const CertFile> CertIndex::find(std::string_view host) const {
  std::string name = ascii_lower(host);
  if (!name.empty() && name.back() == '.') name.pop_back();
  if (auto it = by_name_.find(name); it != by_name_.end()) return it->second;
  if (auto dot = name.find('.'); dot != std::string::npos) {
    if (auto it = by_name_.find("*" + name.substr(dot)); it != by_name_.end()) return it->second;
  }
  return nullptr;
}

LoadedCert::~LoadedCert() {
  SSL_CTX_free(ctx);
  X509_free(leaf);
  EVP_PKEY_free(key);
  sk_X509_pop_free(chain, X509_free);
}

namespace {

std::shared_ptr<LoadedCert> load_from(BIO* chain_in, BIO* key_in, std::string& error) {
  auto c = std::make_shared<LoadedCert>();
  c->leaf = PEM_read_bio_X509(chain_in, nullptr, nullptr, nullptr);
  if (!c->leaf) {
    error = "no certificate: " + openssl_error();
    return nullptr;
  }
  c->chain = sk_X509_new_null();
  while (X509* more = PEM_read_bio_X509(chain_in, nullptr, nullptr, nullptr)) sk_X509_push(c->chain, more);
  ERR_clear_error();  // the loop ends on "no start line"
  c->key = PEM_read_bio_PrivateKey(key_in, nullptr, nullptr, nullptr);
  if (!c->key) {
    error = "no private key: " + openssl_error();
    return nullptr;
  }
  if (X509_check_private_key(c->leaf, c->key) != 1) {
    error = "the private key does not belong to the certificate";
    ERR_clear_error();
    return nullptr;
  }
  return c;
}

}  // namespace

std::shared_ptr<LoadedCert> load_cert(const CertFile& file, std::string& error) {
  BioFile chain(file.cert_path), key(file.key_path);
  if (!chain.bio || !key.bio) {
    error = "cannot open: " + openssl_error();
    return nullptr;
  }
  return load_from(chain.bio, key.bio, error);
}

std::shared_ptr<LoadedCert> load_cert_pem(const std::string& chain_pem, const std::string& key_pem,
                                                std::string& error) {
  BIO* chain = BIO_new_mem_buf(chain_pem.data(), static_cast<int>(chain_pem.size()));
  BIO* key = BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size()));
  auto c = load_from(chain, key, error);
  BIO_free(chain);
  BIO_free(key);
  return c;
}

std::shared_ptr<const LoadedCert> CertCache::get(const CertFile& file, std::string& error) {
  const std::string key = file.cert_path + "|" + file.identity;
  {
    std::lock_guard lock(mu_);
    if (auto it = index_.find(key); it != index_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);
      return it->second->second;
    }
  }
  auto loaded = load_cert(file, error);  // outside the lock: file I/O and parsing
  if (!loaded) return nullptr;
  if (make_ctx_) {
    SSL_CTX* ctx = make_ctx_();
    if (!ctx || SSL_CTX_use_cert_and_key(ctx, loaded->leaf, loaded->key, loaded->chain, 1) != 1) {
      SSL_CTX_free(ctx);
      ERR_clear_error();
      error = "OpenSSL refused the certificate and key for a server context";
      return nullptr;
    }
    loaded->ctx = ctx;
  }
  std::lock_guard lock(mu_);
  ++loads_;
  if (auto it = index_.find(key); it != index_.end()) return it->second->second;  // raced
  lru_.emplace_front(key, loaded);
  index_[key] = lru_.begin();
  while (lru_.size() > capacity_) {
    index_.erase(lru_.back().first);
    lru_.pop_back();
  }
  return loaded;
}

std::size_t CertCache::size() const {
  std::lock_guard lock(mu_);
  return lru_.size();
}

std::uint64_t CertCache::loads() const {
  std::lock_guard lock(mu_);
  return loads_;
}

}  // namespace mtasts::serve
