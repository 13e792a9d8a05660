#include <cstdint>
#include <string_view>

#include "core/policy.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  mtasts::PolicyLint lint = mtasts::lint_policy(body);
  FUZZ_CHECK(lint.findings.valid() == lint.policy.has_value());
  FUZZ_CHECK(lint.findings.errors.size() <= mtasts::kMaxFindings + 1);
  if (lint.policy) {
    // What we accept, we can write back, and what we write parses to the same policy.
    auto again = mtasts::parse_policy(mtasts::serialize_policy(*lint.policy));
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(*again == *lint.policy);
    FUZZ_CHECK(lint.policy->max_age <= mtasts::kMaxMaxAge);
  }
  return 0;
}
