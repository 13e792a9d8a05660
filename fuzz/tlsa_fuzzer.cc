#include <cstdint>
#include <string>
#include <string_view>

#include "core/dane.h"
#include "core/tlsa.h"
#include "fuzz_check.h"

// One TLSA RDATA as a validating resolver returns it: parsed, judged for SMTP, printed, and
// decided on as the only MX host's TLSA RRset. Invariants: a parse keeps every byte, errors carry
// a code and a place, and a secure RRset of one record is DANE (dane-only when usable).
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto t = mtasts::parse_tlsa_rdata(bytes);
  if (!t) {
    FUZZ_CHECK(!t.error().code.empty() && t.error().column >= 1 && t.error().column <= 4);
    FUZZ_CHECK(size <= 3);
  } else {
    FUZZ_CHECK(size >= 4 && t->data.size() == size - 3);
    FUZZ_CHECK(t->usage == data[0] && t->selector == data[1] && t->matching_type == data[2]);
    auto bad = mtasts::tlsa_unusable(*t);
    FUZZ_CHECK(!bad || (!bad->code.empty() && !bad->message.empty()));
    FUZZ_CHECK(!mtasts::to_string(*t).empty());
  }
  mtasts::DaneObservation o;
  o.mx.security = mtasts::Dnssec::secure;
  o.mx.exists = true;
  o.mx_hosts = {"mx.example"};
  mtasts::DaneHostObservation h;
  h.host = "mx.example";
  h.address.security = mtasts::Dnssec::secure;
  h.address.exists = true;
  h.tlsa.security = mtasts::Dnssec::secure;
  h.tlsa.exists = true;
  h.tlsa.rdata = {std::string(bytes)};
  o.hosts = {h};
  auto d = mtasts::decide_dane(o);
  const bool usable = t && !mtasts::tlsa_unusable(*t);
  FUZZ_CHECK(d.answer == (usable ? mtasts::DaneAnswer::dane_only : mtasts::DaneAnswer::dane));
  return 0;
}
