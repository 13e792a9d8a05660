// Whether a domain can move from mode testing to enforce, in plain words, from its aggregated
// TLS-RPT reports. The rules are in docs/reports.md; sans-I/O.
#pragma once

#include <string>
#include <string_view>

#include "store/report_store.h"

namespace mtasts::reports {

struct Verdict {
  std::string code;  // no-data | unsafe | review | too-early | safe
  std::string text;  // one or two sentences for the domain owner
};

inline constexpr std::size_t kDaysBeforeEnforce = 7;  // distinct days with reports
inline constexpr double kReviewFailureRate = 0.001;   // up to 0.1% failed: look, then decide

Verdict verdict(const store::DomainSummary& s);

// What to do about one RFC 8460 result type of `domain`'s reports, in one line.
std::string fix_for(std::string_view result_type, std::string_view domain);

}  // namespace mtasts::reports
