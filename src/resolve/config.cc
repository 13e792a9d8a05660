#include "resolve/config.h"

#include <toml++/toml.h>

#include "fmt/format.h"

namespace mtasts::resolve {

namespace {

Error bad(const toml::node* node, std::string message) {
  std::size_t line = node ? node->source().begin.line : 0;
  return Error{"config-invalid", line, 0, std::move(message), "see docs/config.md"};
}

std::optional<Error> read_zone(const toml::table& t, std::string_view where, Zone& z) {
  for (auto&& [key, node] : t) {
    std::string_view k = key.str();
    if (k == "dane") {
      auto v = node.value_exact<bool>();
      if (!v) return bad(&node, fmt::format("{}.dane must be true or false", where));
      z.dane = *v;
    } else if (k == "strict_testing" || k == "require_sni" || k == "tlsrpt") {
      auto v = node.value<bool>();
      if (!v) return bad(&node, fmt::format("{}.{} must be true or false", where, k));
      (k == "strict_testing" ? z.answer.strict_testing : k == "require_sni" ? z.answer.require_sni : z.answer.tlsrpt) = *v;
    } else if (k == "timeout") {
      auto v = node.value<double>();
      if (!v || *v <= 0 || *v > 300) return bad(&node, fmt::format("{}.timeout must be 0..300 seconds", where));
      z.timeout = std::chrono::milliseconds(static_cast<long>(*v * 1000));
    } else {
      return bad(&node, fmt::format("unknown key {}.{}", where, k));
    }
  }
  return std::nullopt;
}

}  // namespace

Result<Config> load_config(const std::string& path) {
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return Error{"config-invalid", e.source().begin.line, e.source().begin.column,
                 fmt::format("{}: {}", path, e.description()), "fix the TOML syntax"};
  }
  const toml::table* t = &root;
  if (auto* r = root["resolver"].as_table()) t = r;
  Config c;
  auto integer = [&](const toml::node& n, std::string_view k, std::int64_t lo, std::int64_t hi,
                     auto& out) -> std::optional<Error> {
    auto v = n.value<std::int64_t>();
    if (!v || *v < lo || *v > hi) return bad(&n, fmt::format("{} must be an integer in {}..{}", k, lo, hi));
    out = static_cast<std::remove_reference_t<decltype(out)>>(*v);
    return std::nullopt;
  };
  for (auto&& [key, node] : *t) {
    std::string_view k = key.str();
    std::optional<Error> e;
    if (k == "listen") {
      if (auto s = node.value<std::string>()) c.listen = {*s};
      else if (auto* a = node.as_array()) {
        for (auto&& item : *a) {
          auto v = item.value<std::string>();
          if (!v) return bad(&item, "listen must be a string or a list of strings");
          c.listen.push_back(*v);
        }
      } else return bad(&node, "listen must be a string or a list of strings");
    } else if (k == "db" || k == "dns_server" || k == "ca_file" || k == "metrics_listen" ||
               k == "dane_trust_anchor") {
      auto v = node.value<std::string>();
      if (!v) return bad(&node, fmt::format("{} must be a string", k));
      (k == "db" ? c.db : k == "dns_server" ? c.dns_server : k == "ca_file" ? c.ca_file
       : k == "metrics_listen" ? c.metrics_listen : c.dane_trust_anchor) = *v;
    } else if (k == "dane") {
      auto v = node.value_exact<bool>();
      if (!v) return bad(&node, "dane must be true or false");
      c.dane = *v;
    } else if (k == "socket_mode") {
      auto v = node.value<std::string>();
      if (!v || v->empty() || v->size() > 4 || v->find_first_not_of("01234567") != std::string::npos)
        return bad(&node, "socket_mode must be an octal string such as \"0666\"");
      c.socket_mode = std::stoi(*v, nullptr, 8);
    } else if (k == "threads") {
      e = integer(node, k, 0, 256, c.threads);
    } else if (k == "cache_size") {
      e = integer(node, k, 1, 100'000'000, c.cache_size);
    } else if (k == "cache_grace") {
      e = integer(node, k, 0, 86400, c.tuning.grace);
    } else if (k == "idle_timeout") {
      std::int64_t s = 0;
      e = integer(node, k, 1, 3600, s);
      c.idle_timeout = std::chrono::seconds(s);
    } else if (k == "max_connections") {
      e = integer(node, k, 1, 1'000'000, c.max_connections);
    } else if (k == "io") {
      auto v = node.value<std::string>();
      if (v == "auto") c.io = ConnectionIo::automatic;
      else if (v == "io_uring") c.io = ConnectionIo::io_uring;
      else if (v == "threads") c.io = ConnectionIo::threads;
      else return bad(&node, "io must be \"auto\", \"io_uring\" or \"threads\"");
    } else if (k == "connection_threads") {
      e = integer(node, k, 0, 100'000, c.connection_threads);
    } else if (k == "proactive_refresh") {
      auto* p = node.as_table();
      if (!p) return bad(&node, "proactive_refresh must be a table");
      for (auto&& [pk, pn] : *p) {
        std::string_view n = pk.str();
        if (n == "enabled") {
          auto v = pn.value<bool>();
          if (!v) return bad(&pn, "proactive_refresh.enabled must be true or false");
          c.refresh = *v;
        } else if (n == "interval") {
          e = integer(pn, "proactive_refresh.interval", 60, 31557600, c.tuning.refresh_interval);
        } else if (n == "check_every") {
          std::int64_t v = 0;
          e = integer(pn, "proactive_refresh.check_every", 1, 3600, v);
          c.refresh_every = std::chrono::seconds(v);
        } else if (n == "concurrency") {
          e = integer(pn, "proactive_refresh.concurrency", 1, 10000, c.refresh_concurrency);
        } else {
          return bad(&pn, fmt::format("unknown key proactive_refresh.{}", n));
        }
        if (e) return *e;
      }
    } else if (k == "default_zone") {
      auto* z = node.as_table();
      if (!z) return bad(&node, "default_zone must be a table");
      e = read_zone(*z, "default_zone", c.default_zone);
    } else if (k == "zones") {
      auto* zs = node.as_table();
      if (!zs) return bad(&node, "zones must be a table of tables");
      for (auto&& [name, zn] : *zs) {
        auto* z = zn.as_table();
        if (!z) return bad(&zn, fmt::format("zones.{} must be a table", name.str()));
        Zone zone;  // as in postfix-mta-sts-resolver: zones start from the defaults, not default_zone
        if (auto err = read_zone(*z, fmt::format("zones.{}", name.str()), zone)) return *err;
        c.zones.emplace(std::string(name.str()), zone);
      }
    } else {
      return bad(&node, fmt::format("unknown key {}", k));
    }
    if (e) return *e;
  }
  c.resolve_dane();
  return c;
}

}  // namespace mtasts::resolve
