// The lines of `mtasts domain import` and `export`: JSON Lines
// {"domain","mode","max_age","mx":[...],"rua":[...]} or CSV with the header
// domain,mode,max_age,mx,rua (mx and rua space-separated, no quotes). An import line is the
// desired state: missing fields take the defaults (testing, 86400, no mx, no rua). What export
// writes, import reads back to the same domain.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "store/domain_edit.h"
#include "store/store.h"

namespace mtasts::store {

struct ImportLine {
  std::size_t line = 0;
  std::string domain, mode = "testing";
  std::uint32_t max_age = 86400;
  std::vector<std::string> mx, rua;
  // Every field given: the edit apply_edit validates (mode, mx patterns, rua URIs).
  DomainEdit edit() const { return DomainEdit{mode, max_age, mx, rua}; }
};

inline constexpr std::string_view kImportCsvHeader = "domain,mode,max_age,mx,rua";

// One line (without its end of line). Errors: import-invalid, with `line` set.
Result<ImportLine> parse_import_line(std::string_view text, std::size_t line, bool csv);

// One line for export (without its end of line); JSON lines also carry id and version.
std::string export_line(const Domain& d, bool csv);

}  // namespace mtasts::store
