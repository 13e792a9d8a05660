// Certificates obtained by ACME live in the store (shared by every node on PostgreSQL); each node
// copies the new ones into a local directory in lego layout (DIR/certificates/HOST.crt + .key),
// where the certificate index finds them like any operator-provided file and handshakes load
// them lazily. Blocking (store and files): the control thread calls it.
#pragma once

#include <cstdint>
#include <string>

#include "core/error.h"
#include "store/cert_store.h"

namespace mtasts::serve {

// Copies the certificates stored after `since` into `dir` (atomically: a temporary file, then
// rename; keys 0600) and advances `since`. Returns how many were copied. Errors: acme-files.
Result<std::size_t> copy_new_certificates(store::CertStore& store, const std::string& dir, std::int64_t& since);

}  // namespace mtasts::serve
