// mtasts policy lint | record lint | mx-match
#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include "cli/commands.h"
#include "cli/output.h"
#include "core/domain.h"
#include "core/mx_pattern.h"
#include "core/txt_record.h"
#include "fmt/format.h"

namespace mtasts::cli {

namespace {

int policy_lint(const std::string& path, bool json) {
  // Read well past the RFC limit so "too large" gives the real size; past 64 MiB the size
  // shown is a lower bound, and nothing more is read.
  auto body = read_input(path, std::size_t{64} << 20);
  if (!body) {
    fmt::print(stderr, "mtasts: {}\n", body.error().message);
    return kExitUsage;
  }
  PolicyLint lint = lint_policy(*body);
  const std::string where = path == "-" ? "<stdin>" : path;
  if (json) {
    auto doc = to_json(lint.findings).as_object();
    if (lint.policy) doc["policy"] = to_json(*lint.policy);
    print_json(doc);
  } else {
    Style style = stdout_style();
    print_findings(lint.findings, where, style);
    if (lint.policy) {
      const Policy& p = *lint.policy;
      fmt::print("{}: {} mode {}, {} mx pattern{}, max_age {}{}\n", where, style.green("valid:"),
                 to_string(p.mode), p.mx.size(), p.mx.size() == 1 ? "" : "s", p.max_age,
                 lint.findings.warnings.empty()
                     ? ""
                     : fmt::format(" ({} warning{})", lint.findings.warnings.size(),
                                   lint.findings.warnings.size() == 1 ? "" : "s"));
    } else {
      fmt::print("{}: {} {} error{}, {} warning{}\n", where, style.red("invalid:"),
                 lint.findings.errors.size(), lint.findings.errors.size() == 1 ? "" : "s",
                 lint.findings.warnings.size(), lint.findings.warnings.size() == 1 ? "" : "s");
    }
  }
  return lint.findings.valid() ? kExitOk : kExitInvalid;
}

int record_lint(const std::vector<std::string>& parts, const std::string& kind_flag, bool json) {
  // Several arguments are the character-strings of one record (joined, RFC 8461 §3.1); a single
  // argument may also be in zone-file form: "v=STSv1; " "id=123".
  std::string record;
  for (const auto& part : parts) {
    auto text = parse_txt_presentation(part);
    if (!text) {  // the record itself is malformed: an input error, reported like the others
      Findings findings;
      findings.errors.push_back(text.error());
      if (json) {
        auto doc = to_json(findings).as_object();
        doc["kind"] = kind_flag.empty() ? "sts" : kind_flag;
        doc["fields"] = boost::json::object();
        print_json(doc);
      } else {
        print_findings(findings, "TXT", stdout_style());
      }
      return kExitInvalid;
    }
    record += *text;
  }
  RecordKind kind = RecordKind::sts;
  if (kind_flag == "tlsrpt") kind = RecordKind::tlsrpt;
  else if (kind_flag.empty() && starts_record_of_kind(record, RecordKind::tlsrpt))
    kind = RecordKind::tlsrpt;
  RecordLint lint = lint_record(record, kind);
  if (json) {
    auto doc = to_json(lint.findings).as_object();
    doc["kind"] = to_string(kind);
    boost::json::object fields;
    if (lint.findings.valid())
      for (const auto& f : lint.fields)
        if (!fields.contains(f.name)) fields[f.name] = f.value;
    doc["fields"] = std::move(fields);
    print_json(doc);
  } else {
    Style style = stdout_style();
    std::string where = kind == RecordKind::sts ? "_mta-sts" : "_smtp._tls";
    print_findings(lint.findings, where, style);
    if (lint.findings.valid()) {
      std::string summary;
      for (const auto& f : lint.fields)
        summary += fmt::format("{}{}={}", summary.empty() ? "" : " ", f.name, f.value);
      fmt::print("{}: {} {}\n", where, style.green("valid:"), summary);
    } else {
      fmt::print("{}: {} {} error{}; senders {}\n", where, style.red("invalid:"),
                 lint.findings.errors.size(), lint.findings.errors.size() == 1 ? "" : "s",
                 kind == RecordKind::sts ? "treat the domain as having no MTA-STS policy"
                                         : "cannot send TLS reports");
    }
  }
  return lint.findings.valid() ? kExitOk : kExitInvalid;
}

int mx_match_command(const std::string& pattern, const std::string& host, bool json) {
  auto result = mx_match(pattern, host);
  if (json) {
    boost::json::object doc{{"pattern", pattern}, {"host", host}};
    if (result) {
      doc["match"] = *result;
    } else {
      doc["match"] = false;
      doc["error"] = to_json(result.error());
    }
    print_json(doc);
  } else if (!result) {
    const Error& e = result.error();
    fmt::print("{} [{}] {}: {}\n", stdout_style().red("error"), e.code,
               e.code == "pattern-invalid" ? pattern : host, e.message);
    if (!e.fix.empty()) fmt::print("    fix: {}\n", e.fix);
  } else if (*result) {
    fmt::print("match: {} matches {}\n", host, pattern);
  } else {
    std::string why;
    auto p = parse_mx_pattern(pattern);
    auto h = normalize_domain(host);
    if (p && h && p->wildcard) {
      if (*h == p->domain)
        why = fmt::format(": \"*.{}\" needs one more label in front; add \"mx: {}\" too",
                          p->domain, p->domain);
      else if (h->ends_with("." + p->domain))
        why = ": a wildcard covers exactly one leftmost label, not several (RFC 8461 §4.1)";
    }
    fmt::print("no match: {} does not match {}{}\n", host, pattern, why);
  }
  return result && *result ? kExitOk : kExitInvalid;
}

}  // namespace

void register_lint_commands(CLI::App& app, int& exit_code) {
  auto* policy = app.add_subcommand("policy", "MTA-STS policy files");
  policy->require_subcommand(1);
  auto* plint = policy->add_subcommand("lint", "lint a policy file (RFC 8461 §3.2)");
  static std::string policy_path;
  static bool policy_json = false;
  plint->add_option("FILE", policy_path, "policy file, or - for stdin")->required();
  plint->add_flag("--json", policy_json, "print one JSON document");
  plint->callback([&] { exit_code = policy_lint(policy_path, policy_json); });

  auto* record = app.add_subcommand("record", "DNS TXT records");
  record->require_subcommand(1);
  auto* rlint = record->add_subcommand(
      "lint", "lint one _mta-sts or _smtp._tls TXT record value (several arguments are joined)");
  static std::vector<std::string> record_parts;
  static std::string record_kind;
  static bool record_json = false;
  rlint->add_option("TXT", record_parts, "record value, or its character-strings")->required();
  rlint->add_option("--kind", record_kind, "sts or tlsrpt (default: from the v= tag)")
      ->check(CLI::IsMember({"sts", "tlsrpt"}));
  rlint->add_flag("--json", record_json, "print one JSON document");
  rlint->callback([&] { exit_code = record_lint(record_parts, record_kind, record_json); });

  auto* mx = app.add_subcommand("mx-match", "does an mx pattern match a host (RFC 8461 §4.1)");
  static std::string mx_pattern, mx_host;
  static bool mx_json = false;
  mx->add_option("PATTERN", mx_pattern, "mx pattern, e.g. *.mx.example.com")->required();
  mx->add_option("HOST", mx_host, "MX host name")->required();
  mx->add_flag("--json", mx_json, "print one JSON document");
  mx->callback([&] { exit_code = mx_match_command(mx_pattern, mx_host, mx_json); });
}

}  // namespace mtasts::cli
