#include "net/dnssec_resolver.h"

#include <ldns/ldns.h>

#include <algorithm>
#include <utility>

#include "core/domain.h"

namespace mtasts::net {

Result<std::vector<std::string>> mx_hosts_of(const std::vector<std::string>& rdata) {
  std::vector<std::pair<std::uint16_t, std::string>> hosts;
  for (const auto& r : rdata) {
    if (r.size() < 3) return Error{"dns-malformed", 0, 0, "an MX record shorter than 3 octets", {}};
    const auto* wire = reinterpret_cast<const std::uint8_t*>(r.data());
    ldns_rdf* name = nullptr;
    std::size_t pos = 2;
    if (ldns_wire2dname(&name, wire, r.size(), &pos) != LDNS_STATUS_OK || pos != r.size()) {
      if (name) ldns_rdf_deep_free(name);
      return Error{"dns-malformed", 0, 0, "an MX record whose exchange is not a domain name", {}};
    }
    char* text = ldns_rdf2str(name);
    ldns_rdf_deep_free(name);
    std::string host = text ? ascii_lower(text) : "";
    free(text);
    if (!host.empty() && host.back() == '.') host.pop_back();
    hosts.emplace_back(static_cast<std::uint16_t>((wire[0] << 8) | wire[1]), std::move(host));
  }
  std::stable_sort(hosts.begin(), hosts.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> out;
  for (auto& h : hosts) out.push_back(std::move(h.second));
  return out;
}

std::string mx_rdata(std::uint16_t preference, std::string_view host) {
  std::string out;
  out += static_cast<char>(preference >> 8);
  out += static_cast<char>(preference & 0xff);
  ldns_rdf* name = ldns_dname_new_frm_str(std::string(host).c_str());
  if (name) {
    out.append(reinterpret_cast<const char*>(ldns_rdf_data(name)), ldns_rdf_size(name));
    ldns_rdf_deep_free(name);
  }
  return out;
}

}  // namespace mtasts::net
