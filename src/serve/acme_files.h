// Certificates obtained by ACME live in the store (shared by every node on PostgreSQL); each node
// copies the new ones into a local directory in lego layout (DIR/certificates/HOST.crt + .key),
// where the certificate index finds them like any operator-provided file and handshakes load
// them lazily. Blocking (store and files): the control thread calls it.
#pragma once

#include <cstdint>
#include <set>
#include <string>

#include "core/error.h"
#include "store/cert_store.h"

namespace mtasts::serve {

// How far copy_new_certificates got. `updated` has one-second resolution, so two certificates
// stored in the same second (one copied before the other was stored) are told apart by host.
struct CopyMark {
  std::int64_t since = 0;              // the newest `updated` copied
  std::set<std::string> at_since;      // the hosts copied with exactly that `updated`
};

// Copies the certificates stored since `mark` into `dir` (atomically: a temporary file, then
// rename; keys 0600) and advances `mark`. Returns how many were copied. Errors: acme-files.
Result<std::size_t> copy_new_certificates(store::CertStore& store, const std::string& dir, CopyMark& mark);

}  // namespace mtasts::serve
