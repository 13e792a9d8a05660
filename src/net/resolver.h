// DNS lookups the checker and the resolver daemon need, behind an interface: the c-ares
// implementation talks to real servers, fakes serve unit tests. Every lookup is bounded in time
// by the implementation (c-ares timeouts and tries), so callers never wait forever.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace mtasts::net {

using boost::asio::awaitable;

enum class DnsStatus {
  ok,        // answers present
  nodata,    // the name exists, no record of that type
  nxdomain,  // the name does not exist
  servfail,  // the server failed (or refused): a DNS problem, not "no policy"
  timeout,   // no answer in time
  error,     // anything else (malformed answer, bad name...)
};
std::string_view to_string(DnsStatus status);

struct DnsMeta {
  DnsStatus status = DnsStatus::error;
  std::vector<std::string> cname_chain;  // names followed to reach the answer
  std::string detail;                    // human text for errors
};

struct TxtAnswer : DnsMeta {
  std::vector<std::vector<std::string>> records;  // each record: its character-strings
};

struct MxRecord {
  std::uint16_t preference = 0;
  std::string host;  // without trailing dot, as in DNS (not lower-cased)
};
struct MxAnswer : DnsMeta {
  std::vector<MxRecord> records;
};

struct AddressAnswer : DnsMeta {
  std::vector<std::string> addresses;  // textual IPv4/IPv6, A then AAAA
};

class Resolver {
 public:
  virtual ~Resolver() = default;
  virtual awaitable<TxtAnswer> txt(std::string name) = 0;
  virtual awaitable<MxAnswer> mx(std::string name) = 0;
  virtual awaitable<AddressAnswer> addresses(std::string name) = 0;  // A and AAAA
};

}  // namespace mtasts::net
