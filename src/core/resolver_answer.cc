#include "core/resolver_answer.h"

#include <algorithm>

#include "core/socketmap.h"

namespace mtasts {

std::string match_list(const Policy& policy) {
  std::vector<std::string> seen;
  std::string out;
  for (const auto& p : policy.mx) {
    std::string m = p.wildcard ? "." + p.domain : p.domain;
    if (std::find(seen.begin(), seen.end(), m) != seen.end()) continue;
    out += (out.empty() ? "" : ":") + m;
    seen.push_back(std::move(m));
  }
  return out;
}

namespace {

// Postfix 3.10 (TLSRPT_README, "MTA-STS support via smtp_tls_policy_maps"): the policy's
// domain, each mx pattern, and each policy line; a value with spaces goes in "{ name = value }".
std::string tlsrpt_attributes(std::string_view domain, const Policy& policy,
                              std::string_view policy_text) {
  std::string out = " policy_type=sts policy_domain=";
  out += domain;
  for (const auto& p : policy.mx) out += " mx_host_pattern=" + p.canonical();
  std::string_view rest = policy_text;
  while (!rest.empty()) {
    auto nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
      line.remove_suffix(1);
    if (line.empty()) continue;
    bool plain = true;
    for (char c : line) {
      unsigned char u = static_cast<unsigned char>(c);
      if (u < 0x21 || u > 0x7e || c == '{' || c == '}') plain = false;
    }
    if (plain) {
      out += " policy_string=";
      out += line;
    } else {
      std::string cleaned;
      for (char c : line) {
        unsigned char u = static_cast<unsigned char>(c);
        cleaned += (u < 0x20 || u == 0x7f || c == '{' || c == '}') ? '?' : c;
      }
      out += " { policy_string = " + cleaned + " }";
    }
  }
  return out;
}

}  // namespace

std::string policy_answer(std::string_view domain, const Policy& policy, std::string_view policy_text,
                          const ZoneSettings& zone) {
  if (policy.mode == Mode::none || (policy.mode == Mode::testing && !zone.strict_testing) ||
      policy.mx.empty())
    return not_found_answer();
  std::string out = "OK secure match=" + match_list(policy);
  if (zone.require_sni) out += " servername=hostname";
  if (zone.tlsrpt) {
    std::string extra = tlsrpt_attributes(domain, policy, policy_text);
    if (out.size() + extra.size() <= kMaxSocketmapReply) out += extra;
  }
  if (out.size() > kMaxSocketmapReply) return temp_answer("the policy's mx list is too long for a socketmap reply");
  return out;
}

std::string temp_answer(std::string_view reason) {
  std::string out = "TEMP ";
  for (char c : reason.substr(0, 400)) {
    unsigned char u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? ' ' : c;
  }
  return out;
}

}  // namespace mtasts
