#include <cstdint>
#include <string>
#include <string_view>

#include "core/resolver_answer.h"
#include "core/socketmap.h"
#include "fuzz_check.h"

// A socketmap byte stream as a client sends it: every netstring in it, each request parsed and
// its key read as a domain, as the daemon does. Invariants: parsing consumes only what it
// returned, payloads fit the bound, and encoding a payload parses back to the same payload.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  while (!rest.empty()) {
    auto r = mtasts::parse_netstring(rest, mtasts::kMaxSocketmapRequest);
    if (r.status != mtasts::NetstringParse::Status::complete) {
      FUZZ_CHECK(r.status == mtasts::NetstringParse::Status::incomplete || !r.error.code.empty());
      break;
    }
    FUZZ_CHECK(r.consumed > 0 && r.consumed <= rest.size());
    FUZZ_CHECK(r.payload.size() <= mtasts::kMaxSocketmapRequest);
    const std::string encoded = mtasts::encode_netstring(r.payload);
    auto again = mtasts::parse_netstring(encoded, mtasts::kMaxSocketmapRequest);
    FUZZ_CHECK(again.status == mtasts::NetstringParse::Status::complete && again.payload == r.payload);
    if (auto req = mtasts::parse_socketmap_request(r.payload)) {
      FUZZ_CHECK(!req->name.empty());
      if (auto domain = mtasts::policy_domain_of_key(req->key)) {
        FUZZ_CHECK(!domain->empty() && domain->size() <= 253);
        FUZZ_CHECK(mtasts::temp_answer(*domain).size() <= 405);
      }
    }
    rest.remove_prefix(r.consumed);
  }
  return 0;
}
