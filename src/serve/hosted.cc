#include "serve/hosted.h"

#include "core/domain.h"
#include "fmt/format.h"

namespace mtasts::serve {

std::string hosted_domain_of(std::string_view host) {
  // Strip a port (IPv6 literals never name a hosted domain, so a bracket means "not hosted").
  if (!host.empty() && host.front() == '[') return {};
  if (auto colon = host.rfind(':'); colon != std::string_view::npos) host = host.substr(0, colon);
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  constexpr std::string_view prefix = "mta-sts.";
  if (host.size() <= prefix.size() || host.size() > 253) return {};
  std::string lower = ascii_lower(host);
  if (!lower.starts_with(prefix)) return {};
  return lower.substr(prefix.size());
}

std::shared_ptr<const HostedPolicy> HostedSet::prepare(const store::Domain& d) {
  auto p = std::make_shared<HostedPolicy>();
  p->domain = d.name;
  p->id = d.policy_id;
  p->body = serialize_policy(d.policy);
  // RFC 8461 §3.3: text/plain; the ETag lets caches and monitors see a change cheaply.
  p->headers = fmt::format(
      "Content-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nETag: \"{}\"\r\n"
      "Cache-Control: max-age=300\r\n",
      p->body.size(), d.policy_id);
  return p;
}

std::shared_ptr<const HostedSet> HostedSet::build(const std::vector<store::Domain>& domains) {
  auto set = std::make_shared<HostedSet>();
  set->by_domain_.reserve(domains.size());
  for (const auto& d : domains) set->by_domain_[d.name] = prepare(d);
  return set;
}

std::shared_ptr<const HostedSet> HostedSet::update(const HostedSet& base,
                                                   const std::vector<store::Domain>& changed,
                                                   const std::vector<std::string>& removed) {
  auto set = std::make_shared<HostedSet>(base);  // copies pointers, not policies
  for (const auto& name : removed) set->by_domain_.erase(name);
  for (const auto& d : changed) set->by_domain_[d.name] = prepare(d);
  return set;
}

std::vector<std::string> HostedSet::domains() const {
  std::vector<std::string> out;
  out.reserve(by_domain_.size());
  for (const auto& [name, policy] : by_domain_) out.push_back(name);
  return out;
}

const HostedPolicy* HostedSet::find(std::string_view host) const {
  std::string domain = hosted_domain_of(host);
  if (domain.empty()) return nullptr;
  auto it = by_domain_.find(domain);
  return it == by_domain_.end() ? nullptr : it->second.get();
}

}  // namespace mtasts::serve
