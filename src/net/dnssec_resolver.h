// Lookups whose DNSSEC state matters (DANE: MX, A, AAAA, TLSA), behind an interface: the
// libunbound implementation (net/unbound_resolver.h) validates from trust anchors, fakes serve
// unit tests. Every lookup is bounded in time by the implementation.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/dane.h"
#include "core/error.h"

namespace mtasts::net {

using boost::asio::awaitable;

namespace rrtype {
constexpr std::uint16_t a = 1, mx = 15, aaaa = 28, tlsa = 52;
}

class DnssecResolver {
 public:
  virtual ~DnssecResolver() = default;
  // The RRset of `type` at `name`, with its DNSSEC state. Never throws: failures are
  // Dnssec::failed with a detail.
  virtual awaitable<SecureRrset> lookup(std::string name, std::uint16_t type) = 0;
};

// The exchange host names of MX RDATA (wire format, as a resolver returns them), normalized (lower
// case, no trailing dot; the root "." is ""), in preference order. Errors: dns-malformed.
Result<std::vector<std::string>> mx_hosts_of(const std::vector<std::string>& rdata);

// MX RDATA in wire format, for fakes and tests.
std::string mx_rdata(std::uint16_t preference, std::string_view host);

}  // namespace mtasts::net
