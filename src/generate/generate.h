// `mtasts generate`: everything a domain needs to publish MTA-STS and TLS-RPT, as file contents.
// Pure: the CLI reads the previous output and writes the files.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/policy.h"

namespace mtasts {

enum class WebServer { nginx, apache, caddy };
std::string_view to_string(WebServer server);
std::optional<WebServer> parse_web_server(std::string_view text);

struct GenerateRequest {
  std::string domain;
  std::vector<std::string> mx;
  Mode mode = Mode::testing;
  std::uint32_t max_age = 86400;
  std::vector<std::string> rua;
  std::vector<WebServer> servers = {WebServer::nginx, WebServer::apache, WebServer::caddy};
  std::string web_root;   // default: /var/www/mta-sts/<domain>
  std::string cert_file;  // default: certbot's /etc/letsencrypt/live/mta-sts.<domain>/fullchain.pem
  std::string key_file;
  std::uint32_t ttl = 3600;
};

struct GeneratedFile {
  std::string name;
  std::string content;
};

// What changed between the previously published policy and the new one.
struct PolicyDiff {
  std::optional<std::pair<Mode, Mode>> mode;
  std::optional<std::pair<std::uint32_t, std::uint32_t>> max_age;
  std::vector<std::string> added_mx;
  std::vector<std::string> removed_mx;
  bool changed() const { return mode || max_age || !added_mx.empty() || !removed_mx.empty(); }
};
PolicyDiff diff_policies(const Policy& before, const Policy& after);

struct Generated {
  std::string domain;  // normalized (A-labels, lower case)
  Policy policy;
  std::string policy_text;
  std::string id;
  std::string sts_record;                   // value of the _mta-sts TXT record
  std::optional<std::string> tlsrpt_record;  // value of the _smtp._tls TXT record
  std::vector<Error> warnings;
  std::vector<GeneratedFile> files;  // mta-sts.txt, dns.zone, nginx.conf..., ROLLOUT.md
};

// Validates the request (domain, mx patterns, rua URIs, max_age, mode) and builds every file.
// Errors: domain-invalid, mx-invalid, mx-missing, rua-*, max-age-range.
Result<Generated> generate(const GenerateRequest& request);

// Pieces used by generate(), exposed for tests.
std::string zone_snippet(const Generated& g, std::uint32_t ttl);
std::string web_server_snippet(WebServer server, const GenerateRequest& request,
                               const std::string& domain);
std::string rollout_plan(const GenerateRequest& request, const Generated& g);
// A TXT value as zone-file character-strings, split under 255 octets each.
std::string zone_txt_strings(std::string_view value);

}  // namespace mtasts
