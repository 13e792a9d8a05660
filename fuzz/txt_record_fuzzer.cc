#include <cstdint>
#include <string>
#include <string_view>

#include "core/txt_record.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  for (auto kind : {mtasts::RecordKind::sts, mtasts::RecordKind::tlsrpt}) {
    auto lint = mtasts::lint_record(text, kind);
    if (lint.findings.valid()) FUZZ_CHECK(!lint.fields.empty() && lint.fields[0].name == "v");
  }
  if (auto sts = mtasts::parse_sts_record(text)) {
    FUZZ_CHECK(!sts->id.empty() && sts->id.size() <= 32);
    std::string out = mtasts::serialize_sts_record(*sts);  // may grow by a ';' and spaces
    if (out.size() <= mtasts::kMaxTxtRecordSize) FUZZ_CHECK(mtasts::parse_sts_record(out).ok());
  }
  if (auto rpt = mtasts::parse_tlsrpt_record(text)) {
    FUZZ_CHECK(!rpt->rua.empty());
    std::string out = mtasts::serialize_tlsrpt_record(*rpt);
    if (out.size() <= mtasts::kMaxTxtRecordSize) {
      auto again = mtasts::parse_tlsrpt_record(out);
      FUZZ_CHECK(again.ok() && again->rua == rpt->rua);
    }
  }
  (void)mtasts::parse_txt_presentation(text);
  return 0;
}
