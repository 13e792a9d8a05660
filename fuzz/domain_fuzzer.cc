#include <cstdint>
#include <string_view>

#include "core/domain.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view name(reinterpret_cast<const char*>(data), size);
  auto n = mtasts::normalize_domain(name);
  if (n) {
    // Normal form is a fixed point and passes the syntax check.
    FUZZ_CHECK(!mtasts::check_domain_syntax(*n));
    auto again = mtasts::normalize_domain(*n);
    FUZZ_CHECK(again.ok() && *again == *n);
  }
  return 0;
}
