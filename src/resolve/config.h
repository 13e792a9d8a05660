// `mtasts resolver` settings: a TOML file (docs/config.md, [resolver] table) with the zones of
// postfix-mta-sts-resolver, then command-line flags on top.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/resolver_answer.h"
#include "core/sts_cache.h"

namespace mtasts::resolve {

struct Zone {
  ZoneSettings answer;
  std::chrono::milliseconds timeout{4000};  // DNS plus policy fetch, per lookup
  std::optional<bool> dane;                 // this zone's `dane`; unset: the global one
  bool use_dane = false;                    // the effective setting (resolve_dane)
};

// How socketmap connections are served (docs/resolver.md, "Connections").
enum class ConnectionIo {
  automatic,  // io_uring when the kernel allows it, else threads
  io_uring,   // io_uring or refuse to start
  threads,    // a thread per connection (up to connection_threads), then the I/O threads
};

struct Config {
  std::vector<std::string> listen;  // "127.0.0.1:8461", "[::1]:8461", "unix:/path"
  int socket_mode = 0666;           // unix sockets: Postfix's smtp runs as another user
  std::string db = "mtasts-resolver.db";
  std::string dns_server;
  std::string ca_file;
  std::vector<std::string> connect_to;
  std::string metrics_listen;
  unsigned threads = 0;  // I/O threads; 0 = one per core
  std::size_t cache_size = 10000;  // hot set: entries kept in memory
  std::chrono::seconds idle_timeout{10};
  std::size_t max_connections = 10000;
  ConnectionIo io = ConnectionIo::automatic;
  // With io = threads: connections served by a thread each (blocking reads and writes, as Postfix's clients); the
  // ones beyond share the I/O threads. 0: all on the I/O threads.
  std::size_t connection_threads = 256;
  CacheTuning tuning;
  bool refresh = true;               // proactive refresh in the background
  std::chrono::seconds refresh_every{60};  // how often the store is asked what is due
  std::size_t refresh_concurrency = 20;
  // DANE precedence (docs/resolver.md): off unless asked for, since Postfix then needs
  // smtp_dns_support_level = dnssec and a validating resolver of its own.
  bool dane = false;
  std::string dane_trust_anchor = "/usr/share/dns/root.key";  // Debian's dns-root-data
  Zone default_zone;
  std::map<std::string, Zone, std::less<>> zones;

  // After the file and the flags: each zone's use_dane from its own `dane` or the global one.
  void resolve_dane() {
    default_zone.use_dane = default_zone.dane.value_or(dane);
    for (auto& [name, z] : zones) z.use_dane = z.dane.value_or(dane);
  }
  bool any_dane() const {
    if (default_zone.use_dane) return true;
    for (const auto& [name, z] : zones)
      if (z.use_dane) return true;
    return false;
  }

  const Zone& zone(std::string_view name) const {
    auto it = zones.find(name);
    return it == zones.end() ? default_zone : it->second;
  }
};

// Reads `path` (the [resolver] table, or the top level when there is none). Errors:
// config-invalid with the key and line.
Result<Config> load_config(const std::string& path);

}  // namespace mtasts::resolve
