// Policy ids (RFC 8461 §3.1: 1-32 ALPHA/DIGIT) derived from the policy content: the id changes
// whenever the content changes and is stable when it does not, so re-running `generate` or
// re-importing a domain never bumps an id for nothing, and a rollback to an earlier policy
// gets that policy's id back (senders that still cache it keep a correct copy).
#pragma once

#include <string>

#include "core/policy.h"

namespace mtasts {

inline constexpr std::size_t kPolicyIdLength = 20;  // 80 bits of SHA-256, lower-case hex

std::string policy_id(const Policy& policy);

// SHA-256 of `data`, lower-case hex (64 characters).
std::string sha256_hex(std::string_view data);

}  // namespace mtasts
