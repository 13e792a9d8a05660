#include <cstdint>
#include <string_view>

#include "core/report.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view json(reinterpret_cast<const char*>(data), size);
  mtasts::ReportLint lint = mtasts::lint_report(json);
  FUZZ_CHECK(lint.findings.valid() == lint.report.has_value());
  if (lint.report) {
    auto again = mtasts::parse_report(mtasts::serialize_report(*lint.report));
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(again->policies == lint.report->policies);
    FUZZ_CHECK(again->report_id == lint.report->report_id);
  }
  (void)mtasts::parse_rfc3339(json);
  return 0;
}
