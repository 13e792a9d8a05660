// Judging what one MX host's probe saw (src/check/evaluate.cc calls it per host). Pure.
//
// A host whose addresses all answer alike is judged once, as a single server, exactly as when
// hosts had one address. When they differ (the AAAA address reaches a server without STARTTLS,
// or with another certificate, or nothing), each differing address gets its own findings, with
// the usual codes, naming the address and the addresses that work.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "check/check.h"

namespace mtasts::check {

struct MxJudging {
  Severity severity = Severity::warning;  // of STARTTLS/certificate problems: error in enforce
  std::int64_t now = 0;
  std::string domain;  // the mail domain, normalized
};

std::vector<Finding> judge_mx_host(const net::SmtpProbe& p, const MxJudging& j);

// The findings for one server's session; `who` names it in messages: the host, or the host and
// the address ("mx1.example.com at 2001:db8::25 (AAAA)").
std::vector<Finding> judge_mx_session(const net::SmtpProbe::Address& s, const std::string& host,
                                      const std::string& who, const MxJudging& j);

}  // namespace mtasts::check
