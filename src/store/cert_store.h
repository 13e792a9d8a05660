// Certificates `mtasts serve` obtained by ACME, and the ACME accounts they were obtained with:
// one account per ACME directory URL, one certificate per host name (mta-sts.<domain>). Shared
// by every node on PostgreSQL, so a certificate issued by one is served by all.
//
// Holds private keys: callers never log what these records contain, only host names and dates.
// Blocking, like every store: call it from a thread pool, never on an I/O thread. Thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "store/sql.h"

namespace mtasts::store {

struct AcmeAccountRecord {
  std::string directory_url;
  std::string key_pem;  // secret
  std::string account_url;
  std::int64_t created = 0;
};

struct CertificateRecord {
  std::string host;
  std::string chain_pem;  // leaf first
  std::string key_pem;    // secret
  std::int64_t not_before = 0;
  std::int64_t not_after = 0;
  std::string issuer;
  std::int64_t updated = 0;
};

// A challenge answer one node published for the CA, so that every node answers it (the CA may
// ask any node behind the load balancer). kind "http-01": name is the token; "tls-alpn-01": name
// is the host, with the self-signed challenge certificate and its throwaway key.
struct ChallengeRecord {
  std::string kind;
  std::string name;
  std::string key_authorization;
  std::string certificate_pem;  // tls-alpn-01 only
  std::string private_key_pem;  // tls-alpn-01 only
  std::int64_t expires = 0;     // removed by then even if the publishing node died
};

class CertStore {
 public:
  // Opens (and migrates) the database at `location`: a SQLite path or a postgresql:// URL.
  static Result<std::unique_ptr<CertStore>> open(const std::string& location);
  explicit CertStore(std::unique_ptr<Connection> db);

  std::string backend() const;

  Result<std::optional<AcmeAccountRecord>> account(const std::string& directory_url);
  Result<bool> put_account(const AcmeAccountRecord& account);

  Result<std::optional<CertificateRecord>> certificate(const std::string& host);
  // Inserts or replaces the certificate for record.host.
  Result<bool> put_certificate(const CertificateRecord& record);
  Result<bool> remove_certificate(const std::string& host);
  // Host names whose certificate ends before `t`, soonest first (renewal candidates).
  Result<std::vector<std::string>> expiring_before(std::int64_t t);
  Result<std::vector<std::string>> hosts();
  // (host, updated) of the certificates stored after `t` (seconds), oldest change first: what a
  // node copies into its local certificate directory.
  Result<std::vector<std::pair<std::string, std::int64_t>>> updated_since(std::int64_t t);

  // Challenge answers shared between nodes.
  Result<bool> put_challenge(const ChallengeRecord& record);
  Result<bool> remove_challenge(const std::string& kind, const std::string& name);
  // Those not expired at `now` (the expired ones are deleted).
  Result<std::vector<ChallengeRecord>> challenges(std::int64_t now);

  // Issuance leases: one node at a time orders a certificate for a host. True when `node` holds
  // the lease for `host` until `until` (it was free, expired, or already this node's).
  Result<bool> take_lease(const std::string& host, const std::string& node, std::int64_t now,
                          std::int64_t until);
  Result<bool> release_lease(const std::string& host, const std::string& node);

 private:
  mutable std::mutex mu_;
  std::unique_ptr<Connection> db_;
};

}  // namespace mtasts::store
