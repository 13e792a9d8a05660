#include "core/domain.h"

#include <idn2.h>

#include <cstdlib>

#include "fmt/format.h"

namespace mtasts {
namespace {

bool is_let_dig(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

Error domain_error(std::size_t column, std::string message) {
  return Error{"domain-invalid", 0, column, std::move(message), {}};
}

}  // namespace

bool is_ascii(std::string_view s) {
  for (unsigned char c : s)
    if (c >= 0x80) return false;
  return true;
}

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

bool has_ascii_upper(std::string_view s) {
  for (char c : s)
    if (c >= 'A' && c <= 'Z') return true;
  return false;
}

std::optional<Error> check_domain_syntax(std::string_view name) {
  if (name.empty()) return domain_error(1, "the name is empty");
  if (name.size() > kMaxDomainLength)
    return domain_error(kMaxDomainLength + 1,
                        fmt::format("the name is {} octets long; the limit is {}", name.size(),
                                    kMaxDomainLength));
  std::size_t label_start = 0;
  for (std::size_t i = 0; i <= name.size(); ++i) {
    if (i < name.size() && name[i] != '.') {
      char c = name[i];
      if (!is_let_dig(c) && c != '-') {
        if (static_cast<unsigned char>(c) >= 0x80)
          return domain_error(i + 1, "non-ASCII character: use the A-label (xn--...) form");
        return domain_error(i + 1, fmt::format("character '{}' is not allowed in a host name "
                                               "(letters, digits and '-' only)",
                                               c == '\0' ? std::string("\\0") : std::string(1, c)));
      }
      continue;
    }
    std::size_t len = i - label_start;
    if (len == 0) return domain_error(i + 1, "empty label (two dots in a row, or a leading dot)");
    if (len > kMaxLabelLength)
      return domain_error(label_start + 1, fmt::format("label is {} octets long; the limit is {}",
                                                       len, kMaxLabelLength));
    if (name[label_start] == '-') return domain_error(label_start + 1, "label starts with '-'");
    if (name[i - 1] == '-') return domain_error(i, "label ends with '-'");
    label_start = i + 1;
  }
  return std::nullopt;
}

Result<std::string> normalize_domain(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.size() > 4 * kMaxDomainLength)  // bound the work before IDNA sees it
    return domain_error(1, fmt::format("the name is {} octets long; the limit is {}", name.size(),
                                       kMaxDomainLength));
  std::string out;
  if (is_ascii(name)) {
    out = ascii_lower(name);
  } else {
    std::string input(name);  // libidn2 wants a NUL-terminated string
    if (input.find('\0') != std::string::npos) return domain_error(1, "NUL byte in the name");
    char* ascii = nullptr;
    int rc = idn2_to_ascii_8z(input.c_str(), &ascii, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
    if (rc != IDN2_OK) {
      return domain_error(1, fmt::format("not a valid internationalized name: {}",
                                         idn2_strerror(rc)));
    }
    out = ascii_lower(ascii);
    idn2_free(ascii);
  }
  if (auto err = check_domain_syntax(out)) return *err;
  return out;
}

}  // namespace mtasts
