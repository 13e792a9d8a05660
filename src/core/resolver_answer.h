// What the resolver daemon answers Postfix (smtp_tls_policy_maps over socketmap), written to
// match postfix-mta-sts-resolver for the same situation so the daemons are interchangeable:
//
//   enforce (or testing with strict_testing)  "OK secure match=mx1.example.com:.example.com servername=hostname"
//   testing, none, no policy, unusable key    "NOTFOUND "
//   DNS failed and nothing valid cached       "TEMP ..." (the peer says NOTFOUND: mail would go out unprotected)
//
// Wildcard patterns "*.example.com" become Postfix's ".example.com" (one or more labels; RFC
// 8461's wildcard is exactly one, which the TLSRPT attributes below let Postfix 3.10 enforce).
#pragma once

#include <string>
#include <string_view>

#include "core/policy.h"

namespace mtasts {

// Per-zone settings (the socketmap map name picks the zone), as in postfix-mta-sts-resolver.
struct ZoneSettings {
  bool strict_testing = false;  // answer testing policies like enforce
  bool require_sni = true;      // append " servername=hostname"
  bool tlsrpt = false;          // append Postfix 3.10+ TLSRPT attributes (policy_type=sts ...)
};

// The answer when `policy` is in force for `domain` (normalized). `policy_text` is the body as
// served, for the policy_string attributes. Never longer than kMaxSocketmapReply: when the
// TLSRPT attributes would not fit they are left out.
std::string policy_answer(std::string_view domain, const Policy& policy, std::string_view policy_text,
                          const ZoneSettings& zone);

inline std::string not_found_answer() { return "NOTFOUND "; }

// "TEMP <reason>" with the reason cut to one printable line.
std::string temp_answer(std::string_view reason);

// The match= list: each pattern once, in policy order, "*." written as ".".
std::string match_list(const Policy& policy);

}  // namespace mtasts
