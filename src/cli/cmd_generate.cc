// mtasts generate: the policy file, DNS records, web server snippets and a rollout plan.
#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "cli/commands.h"
#include "cli/output.h"
#include "core/policy_id.h"
#include "fmt/format.h"
#include "generate/generate.h"

namespace mtasts::cli {

namespace {

struct Options {
  GenerateRequest request;
  std::string mode = "testing";
  std::vector<std::string> servers;
  std::string out_dir;
  bool json = false;
};

// Writes via a temporary file and rename, so a reader never sees half a policy.
std::optional<std::string> write_file(const std::filesystem::path& path, const std::string& data) {
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) return fmt::format("cannot write {}: {}", tmp.string(), std::strerror(errno));
    f.write(data.data(), static_cast<std::streamsize>(data.size()));
    if (!f.flush()) return fmt::format("cannot write {}: {}", tmp.string(), std::strerror(errno));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return fmt::format("cannot rename {} to {}: {}", tmp.string(), path.string(), ec.message());
  return std::nullopt;
}

std::string describe(const PolicyDiff& d) {
  std::string out;
  if (d.mode)
    out += fmt::format("  mode: {} -> {}\n", to_string(d.mode->first), to_string(d.mode->second));
  if (d.max_age) out += fmt::format("  max_age: {} -> {}\n", d.max_age->first, d.max_age->second);
  for (const auto& m : d.added_mx) out += fmt::format("  + mx: {}\n", m);
  for (const auto& m : d.removed_mx) out += fmt::format("  - mx: {}\n", m);
  return out;
}

boost::json::value diff_json(const PolicyDiff& d) {
  boost::json::object o;
  if (d.mode) o["mode"] = {to_string(d.mode->first), to_string(d.mode->second)};
  if (d.max_age) o["max_age"] = {d.max_age->first, d.max_age->second};
  boost::json::array added, removed;
  for (const auto& m : d.added_mx) added.emplace_back(m);
  for (const auto& m : d.removed_mx) removed.emplace_back(m);
  o["added_mx"] = std::move(added);
  o["removed_mx"] = std::move(removed);
  return o;
}

int run(Options& opt) {
  if (auto m = parse_mode(opt.mode)) opt.request.mode = *m;
  if (!opt.servers.empty()) {
    opt.request.servers.clear();
    for (const auto& s : opt.servers) opt.request.servers.push_back(*parse_web_server(s));
  }
  auto generated = generate(opt.request);
  if (!generated && opt.json) {
    Findings findings;
    findings.errors.push_back(generated.error());
    auto doc = to_json(findings).as_object();
    doc["domain"] = opt.request.domain;
    print_json(doc);
    return kExitInvalid;
  }
  if (!generated) {
    const Error& e = generated.error();
    fmt::print(stderr, "mtasts generate: error [{}] {}\n", e.code, e.message);
    if (!e.fix.empty()) fmt::print(stderr, "    fix: {}\n", e.fix);
    return kExitInvalid;
  }
  const Generated& g = *generated;

  // A previous run in the same directory: show what changed.
  std::optional<Policy> previous;
  std::filesystem::path dir = opt.out_dir;
  if (!opt.out_dir.empty()) {
    std::error_code ec;
    if (std::filesystem::exists(dir / "mta-sts.txt", ec)) {
      auto text = read_input((dir / "mta-sts.txt").string(), kMaxPolicySize);
      if (!text) {
        fmt::print(stderr, "mtasts generate: {}\n", text.error().message);
        return kExitUsage;
      }
      if (auto p = parse_policy(*text)) previous = *p;
      else
        fmt::print(stderr, "mtasts generate: warning: the existing {} is not a valid policy ({}); "
                           "replacing it\n", (dir / "mta-sts.txt").string(), p.error().message);
    }
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      fmt::print(stderr, "mtasts generate: cannot create {}: {}\n", dir.string(), ec.message());
      return kExitUsage;
    }
    for (const auto& f : g.files) {
      if (auto err = write_file(dir / f.name, f.content)) {
        fmt::print(stderr, "mtasts generate: {}\n", *err);
        return kExitUsage;
      }
    }
  }
  std::optional<PolicyDiff> diff;
  if (previous) diff = diff_policies(*previous, g.policy);

  const std::string sts_name = "_mta-sts." + g.domain;
  const std::string tlsrpt_name = "_smtp._tls." + g.domain;
  if (opt.json) {
    boost::json::object doc;
    doc["domain"] = g.domain;
    doc["id"] = g.id;
    doc["policy"] = to_json(g.policy);
    doc["policy_text"] = g.policy_text;
    boost::json::array records;
    records.push_back({{"name", sts_name}, {"type", "TXT"}, {"value", g.sts_record}});
    if (g.tlsrpt_record)
      records.push_back({{"name", tlsrpt_name}, {"type", "TXT"}, {"value", *g.tlsrpt_record}});
    doc["records"] = std::move(records);
    boost::json::object files;
    for (const auto& f : g.files) files[f.name] = f.content;
    doc["files"] = std::move(files);
    boost::json::array warnings;
    for (const auto& w : g.warnings) warnings.push_back(to_json(w));
    doc["warnings"] = std::move(warnings);
    if (!opt.out_dir.empty()) doc["out_dir"] = dir.string();
    if (previous) {
      doc["previous_id"] = policy_id(*previous);
      doc["changed"] = diff->changed();
      doc["changes"] = diff_json(*diff);
    }
    print_json(doc);
    return kExitOk;
  }

  Style style = stdout_style();
  for (const auto& w : g.warnings)
    fmt::print("{} [{}] {}\n    fix: {}\n", style.yellow("warning"), w.code, w.message, w.fix);
  if (previous) {
    if (diff->changed())
      fmt::print("{} the policy changed, so the id changes: {} -> {}\n{}\n",
                 style.bold("Changed:"), policy_id(*previous), g.id, describe(*diff));
    else
      fmt::print("{} the policy is the same as in {}; the id stays {}\n\n",
                 style.bold("Unchanged:"), dir.string(), g.id);
  }
  fmt::print("{}\n{}\n", style.bold("Policy (serve at https://mta-sts." + g.domain +
                                     "/.well-known/mta-sts.txt):"),
             g.policy_text);
  fmt::print("{}\n", style.bold("DNS records:"));
  fmt::print("  {}.  TXT  \"{}\"\n", sts_name, g.sts_record);
  if (g.tlsrpt_record) fmt::print("  {}.  TXT  \"{}\"\n", tlsrpt_name, *g.tlsrpt_record);
  fmt::print("  mta-sts.{}.  A/AAAA/CNAME  -> your HTTPS server (certificate for that name)\n",
             g.domain);
  if (opt.out_dir.empty()) {
    fmt::print("\nAdd --out DIR to write mta-sts.txt, dns.zone, the web server snippets and "
               "ROLLOUT.md.\n");
  } else {
    fmt::print("\nWrote to {}:", dir.string());
    for (const auto& f : g.files) fmt::print(" {}", f.name);
    fmt::print("\nNext: upload mta-sts.txt, then publish dns.zone; ROLLOUT.md has the steps.\n");
  }
  return kExitOk;
}

}  // namespace

void register_generate_command(CLI::App& app, int& exit_code) {
  static Options opt;
  auto* cmd = app.add_subcommand(
      "generate", "write the policy, DNS records, web server snippets and a rollout plan");
  cmd->add_option("--domain", opt.request.domain, "mail domain, e.g. example.com")->required();
  cmd->add_option("--mx", opt.request.mx, "MX host or *.pattern (repeat for each MX)");
  cmd->add_option("--mode", opt.mode, "testing (default), enforce or none")
      ->check(CLI::IsMember({"testing", "enforce", "none"}));
  cmd->add_option("--max-age", opt.request.max_age, "policy lifetime in seconds (default 86400)")
      ->check(CLI::Range(0u, kMaxMaxAge));
  cmd->add_option("--rua", opt.request.rua,
                  "TLS-RPT destination: mailto:addr or https://url (repeatable)");
  cmd->add_option("--server", opt.servers, "web server snippet: nginx, apache, caddy (default all)")
      ->check(CLI::IsMember({"nginx", "apache", "caddy"}));
  cmd->add_option("--out", opt.out_dir, "write the files into this directory");
  cmd->add_option("--web-root", opt.request.web_root,
                  "directory served as the policy host's root (default /var/www/mta-sts/DOMAIN)");
  cmd->add_option("--tls-cert", opt.request.cert_file,
                  "certificate chain file for mta-sts.DOMAIN (default: certbot's path)");
  cmd->add_option("--tls-key", opt.request.key_file, "private key file for mta-sts.DOMAIN");
  cmd->add_option("--ttl", opt.request.ttl, "TTL of the DNS records (default 3600)");
  cmd->add_flag("--json", opt.json, "print one JSON document");
  cmd->callback([&] { exit_code = run(opt); });
}

}  // namespace mtasts::cli
