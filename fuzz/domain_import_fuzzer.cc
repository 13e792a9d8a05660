// The lines of `mtasts domain import` (store/domain_import.h), JSON Lines and CSV, as a provider
// feeds thousands of them: an error with the line number, or a line whose validated edit exports
// and imports back to the same policy.
#include <cstdint>
#include <string>
#include <string_view>

#include "core/domain.h"
#include "fuzz_check.h"
#include "store/domain_import.h"

namespace store = mtasts::store;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  for (bool csv : {false, true}) {
    auto b = store::parse_import_line(text, 7, csv);
    if (!b) {
      FUZZ_CHECK(b.error().code == "import-invalid" && b.error().line == 7 && !b.error().message.empty());
      continue;
    }
    FUZZ_CHECK(b->line == 7 && b->max_age <= mtasts::kMaxMaxAge);
    auto edited = store::apply_edit(b->edit(), std::nullopt);
    if (!edited) {
      FUZZ_CHECK(!edited.error().code.empty() && !edited.error().message.empty());
      continue;
    }
    store::Domain d;
    auto name = mtasts::normalize_domain(b->domain);
    d.name = name ? *name : "example.com";
    d.policy = edited->policy;
    d.rua = edited->rua;
    for (bool out_csv : {false, true}) {
      std::string line = store::export_line(d, out_csv);
      auto again = store::parse_import_line(line, 1, out_csv);
      FUZZ_CHECK(again.ok() && again->domain == d.name);
      auto same = store::apply_edit(again->edit(), std::nullopt);
      FUZZ_CHECK(same.ok() && same->policy == d.policy && same->rua == d.rua);
    }
  }
  return 0;
}
