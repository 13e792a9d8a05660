// Changing a hosted domain, once for the CLI (`mtasts domain`) and the admin API: the edit is
// validated like `generate` validates its flags, applied over the current policy, and a domain is
// described the same way (JSON with every record to publish) by both.
#pragma once

#include <boost/json/object.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/policy.h"
#include "store/store.h"

namespace mtasts::store {

// Absent fields keep the current value (or the default when adding: testing, 86400, no rua).
struct DomainEdit {
  std::optional<std::string> mode;
  std::optional<std::uint32_t> max_age;
  std::optional<std::vector<std::string>> mx;
  std::optional<std::vector<std::string>> rua;
};

// The policy and rua after `edit`. Errors: mode-invalid, max-age-range, mx-invalid, mx-missing,
// rua-*.
struct Edited {
  Policy policy;
  std::vector<std::string> rua;
};
Result<Edited> apply_edit(const DomainEdit& edit, const std::optional<Domain>& current);

// Refuses to remove a domain whose policy senders may still hold (mode not none) unless forced.
std::optional<Error> check_remove(const Domain& d, bool force);

std::string sts_record_value(const Domain& d);
std::optional<std::string> tlsrpt_record_value(const Domain& d);

// {"domain","policy","policy_text","id","version","rua","records":[{name,type,value}],...}
boost::json::object domain_json(const Domain& d);

}  // namespace mtasts::store
