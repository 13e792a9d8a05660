// `mtasts check`: what a sender would find when mailing a domain, as findings with fixes.
//
// Two steps, so the judgement is testable without a network: observe() asks DNS, fetches the
// policy and probes every MX (coroutines, deadlines); evaluate() turns those observations into
// findings and is a pure function.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/policy.h"
#include "net/policy_fetch.h"
#include "net/resolver.h"
#include "net/smtp_probe.h"

namespace mtasts::check {

enum class Severity { info, warning, error };
std::string_view to_string(Severity s);

struct Finding {
  std::string code;  // DESIGN.md finding codes; RFC 8460 result types where one fits
  Severity severity = Severity::info;
  std::string message;
  std::string fix;
};

// What an earlier run saw (from --state): used to spot a policy changed without a new id.
struct Previous {
  std::string id;
  std::string policy_sha256;
};

struct Observations {
  std::string domain;  // as given
  std::string name;    // normalized (A-labels, lower case); empty when the name is invalid
  std::string name_error;
  net::TxtAnswer sts_txt;     // _mta-sts.<domain>
  net::TxtAnswer tlsrpt_txt;  // _smtp._tls.<domain>
  net::MxAnswer mx;
  // Looked up only to explain a missing record: where admins put it by mistake.
  std::optional<net::TxtAnswer> apex_txt, underscore_sts_txt, host_sts_txt, draft_tlsrpt_txt;
  std::optional<net::PolicyFetch> fetch;
  std::vector<net::SmtpProbe> probes;  // one per MX host, in MX preference order
  std::int64_t now = 0;                // seconds since the epoch
  std::optional<Previous> previous;
};

struct Report {
  std::string domain;
  Severity status = Severity::info;  // the worst finding; info means ok
  std::vector<Finding> findings;
  std::optional<std::string> sts_record;
  std::optional<std::string> tlsrpt_record;
  std::optional<std::string> policy_id;   // the id in the _mta-sts record
  std::optional<Policy> policy;
  std::string policy_sha256;              // of the fetched body, when there was one
  const Observations* observed = nullptr;  // for output of MX details
};
std::string_view status_text(Severity s);  // "ok" | "warning" | "error"

Report evaluate(const Observations& obs);

struct Options {
  net::FetchOptions fetch;
  net::ProbeOptions probe;
  std::size_t max_mx = 10;  // probe at most this many MX hosts
};

// Everything observe() needs from the network; timeouts are inside fetch/probe options and the
// resolver.
net::awaitable<Observations> observe(net::Resolver& resolver, const Options& options,
                                     std::string domain, std::int64_t now);

}  // namespace mtasts::check
