// What `mtasts serve` answers for each hosted domain, prepared once per policy change: the exact
// bytes of the HTTP response for GET and HEAD of /.well-known/mta-sts.txt, found by host name.
// Immutable snapshots: a reload builds a new one and the workers swap to it between requests.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "store/store.h"

namespace mtasts::serve {

struct HostedPolicy {
  std::string domain;  // example.com
  std::string id;
  // "Content-Type: text/plain\r\nContent-Length: N\r\nETag: ...\r\n": the part after Date.
  std::string headers;
  std::string body;  // the policy text, CRLF line ends
};

class HostedSet {
 public:
  // Builds from every domain; domains in mode none are still served (RFC 8461 §8.3 removal).
  static std::shared_ptr<const HostedSet> build(const std::vector<store::Domain>& domains);
  // A copy of `base` with `changed` domains replaced and `removed` ones dropped.
  static std::shared_ptr<const HostedSet> update(const HostedSet& base,
                                                 const std::vector<store::Domain>& changed,
                                                 const std::vector<std::string>& removed);

  // `host` as sent in Host or SNI: "mta-sts.example.com" (any case, optional ":port" and
  // trailing dot). Only mta-sts.<domain> names are hosted.
  const HostedPolicy* find(std::string_view host) const;
  std::size_t size() const { return by_domain_.size(); }
  std::vector<std::string> domains() const;
  bool contains(const std::string& domain) const { return by_domain_.count(domain) != 0; }

  static std::shared_ptr<const HostedPolicy> prepare(const store::Domain& d);

 private:
  std::unordered_map<std::string, std::shared_ptr<const HostedPolicy>> by_domain_;
};

// "mta-sts.Example.COM.:443" -> "example.com"; empty when it is not an mta-sts.<domain> name.
std::string hosted_domain_of(std::string_view host);

}  // namespace mtasts::serve
