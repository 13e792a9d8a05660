#include <cstdint>
#include <string_view>

#include "core/domain.h"
#include "core/mx_pattern.h"
#include "fuzz_check.h"

// Input: PATTERN '\n' HOST.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::size_t nl = in.find('\n');
  std::string_view pattern = in.substr(0, nl);
  std::string_view host = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
  auto result = mtasts::mx_match(pattern, host);
  auto p = mtasts::parse_mx_pattern(pattern);
  if (p) {
    // A pattern always matches the host it names (or one label under it).
    std::string named = p->wildcard ? "x." + p->domain : p->domain;
    FUZZ_CHECK(mtasts::mx_matches(*p, named));
    FUZZ_CHECK(!mtasts::mx_matches(*p, "y.z." + p->domain));
    if (p->wildcard) FUZZ_CHECK(!mtasts::mx_matches(*p, p->domain));
  }
  if (result && *result) FUZZ_CHECK(p.ok());
  return 0;
}
