#include "config.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <array>
#include <charconv>
#include <set>
#include <utility>

namespace mtasts::testd {
namespace {

namespace json = boost::json;

constexpr std::array<std::pair<std::string_view, HttpsBehaviour>, 16> kHttpsNames{{
    {"ok", HttpsBehaviour::ok},
    {"404", HttpsBehaviour::not_found},
    {"500", HttpsBehaviour::server_error},
    {"redirect", HttpsBehaviour::redirect},
    {"html", HttpsBehaviour::html},
    {"large", HttpsBehaviour::large},
    {"drip", HttpsBehaviour::drip},
    {"reset", HttpsBehaviour::reset},
    {"h2only", HttpsBehaviour::h2only},
    {"garbage", HttpsBehaviour::garbage},
    {"never-close", HttpsBehaviour::never_close},
    {"huge", HttpsBehaviour::huge},
    {"no-content-type", HttpsBehaviour::no_content_type},
    {"head-differs", HttpsBehaviour::head_differs},
    {"chunked", HttpsBehaviour::chunked},
    {"truncated", HttpsBehaviour::truncated},
}};

constexpr std::array<std::pair<std::string_view, SmtpBehaviour>, 10> kSmtpNames{{
    {"starttls", SmtpBehaviour::starttls},
    {"no-starttls", SmtpBehaviour::no_starttls},
    {"tls10-only", SmtpBehaviour::tls10_only},
    {"silent", SmtpBehaviour::silent},
    {"garbage", SmtpBehaviour::garbage},
    {"starttls-refused", SmtpBehaviour::starttls_refused},
    {"close-after-banner", SmtpBehaviour::close_after_banner},
    {"starttls-lowercase", SmtpBehaviour::starttls_lowercase},
    {"banner-421", SmtpBehaviour::banner_421},
    {"ehlo-rejected", SmtpBehaviour::ehlo_rejected},
}};

constexpr std::string_view kDefaultPolicy =
    "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.test\r\nmax_age: 86400\r\n";
constexpr std::string_view kDefaultHtml =
    "<!DOCTYPE html>\n<html><head><title>Welcome</title></head><body>Not a policy</body></html>\n";

// Reads an optional string member; false (with `error` set) if present but not a string.
bool get_string(const json::object& obj, std::string_view key, std::string& out,
                ConfigError& error, const std::string& where) {
  const json::value* v = obj.if_contains(key);
  if (v == nullptr) return true;
  if (!v->is_string()) {
    error.message = where + ": \"" + std::string(key) + "\" must be a string";
    return false;
  }
  out = std::string(v->get_string());
  return true;
}

// "127.0.0.1:0", "[::1]:8443". The host must be a literal address: testd never resolves names.
bool parse_listen(std::string_view text, ListenerConfig& l) {
  std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon + 1 >= text.size()) return false;
  std::string_view host = text.substr(0, colon);
  std::string_view port = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty()) return false;
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc{} || ptr != port.data() + port.size() || value > 65535) return false;
  l.address = std::string(host);
  l.port = static_cast<std::uint16_t>(value);
  return true;
}

// "mint": {"ca_cert": PEM, "ca_key": PEM, "suffix": ".bench.test", "names_file": F, "days": 90}
bool parse_mint(const json::value& v, ListenerConfig& l, ConfigError& error,
                const std::string& listener) {
  const std::string where = listener + ": \"mint\"";
  if (!v.is_object()) {
    error.message = where + " must be an object";
    return false;
  }
  const json::object& obj = v.get_object();
  for (const auto& member : obj) {
    std::string_view k = member.key();
    if (k != "ca_cert" && k != "ca_key" && k != "suffix" && k != "names_file" && k != "days") {
      error.message = where + ": unknown key \"" + std::string(k) + "\"";
      return false;
    }
  }
  MintConfig m;
  if (!get_string(obj, "ca_cert", m.ca_cert, error, where) ||
      !get_string(obj, "ca_key", m.ca_key, error, where) ||
      !get_string(obj, "suffix", m.suffix, error, where) ||
      !get_string(obj, "names_file", m.names_file, error, where))
    return false;
  if (m.ca_cert.empty() || m.ca_key.empty()) {
    error.message = where + ": \"ca_cert\" and \"ca_key\" are required";
    return false;
  }
  for (char& ch : m.suffix)
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
  if (const json::value* d = obj.if_contains("days")) {
    std::int64_t days = d->is_int64() ? d->get_int64() : -1;
    if (days < 1 || days > 3650) {
      error.message = where + ": \"days\" must be an integer in 1..3650";
      return false;
    }
    m.days = static_cast<int>(days);
  }
  bool tls_kind = l.kind == Kind::https ? l.https != HttpsBehaviour::never_close
                                        : l.smtp == SmtpBehaviour::starttls ||
                                              l.smtp == SmtpBehaviour::tls10_only ||
                                              l.smtp == SmtpBehaviour::starttls_lowercase;
  if (!tls_kind) {
    error.message = where + ": this behaviour never speaks TLS";
    return false;
  }
  l.mint = std::move(m);
  return true;
}

bool parse_listener(const json::value& v, std::size_t index, ListenerConfig& l,
                    ConfigError& error) {
  std::string where = "listeners[" + std::to_string(index) + "]";
  if (!v.is_object()) {
    error.message = where + ": must be an object";
    return false;
  }
  const json::object& obj = v.get_object();
  std::string name, kind, listen = "127.0.0.1:0", behaviour;
  if (!get_string(obj, "name", name, error, where)) return false;
  if (name.empty()) {
    error.message = where + ": \"name\" is required";
    return false;
  }
  l.name = name;
  where += " (" + name + ")";
  if (!get_string(obj, "kind", kind, error, where) ||
      !get_string(obj, "listen", listen, error, where) ||
      !get_string(obj, "behaviour", behaviour, error, where) ||
      !get_string(obj, "cert", l.cert_file, error, where) ||
      !get_string(obj, "key", l.key_file, error, where) ||
      !get_string(obj, "hostname", l.hostname, error, where) ||
      !get_string(obj, "content_type", l.content_type, error, where))
    return false;

  if (!parse_listen(listen, l)) {
    error.message = where + ": bad \"listen\" \"" + listen + "\" (want ADDRESS:PORT)";
    return false;
  }

  bool found = false;
  if (kind == "https") {
    l.kind = Kind::https;
    if (behaviour.empty()) behaviour = "ok";
    for (auto& [n, b] : kHttpsNames)
      if (n == behaviour) l.https = b, found = true;
  } else if (kind == "smtp") {
    l.kind = Kind::smtp;
    if (behaviour.empty()) behaviour = "starttls";
    for (auto& [n, b] : kSmtpNames)
      if (n == behaviour) l.smtp = b, found = true;
  } else {
    error.message = where + ": \"kind\" must be \"https\" or \"smtp\"";
    return false;
  }
  if (!found) {
    error.message = where + ": unknown " + kind + " behaviour \"" + behaviour + "\"";
    return false;
  }

  if (const json::value* body = obj.if_contains("body")) {
    if (!body->is_string()) {
      error.message = where + ": \"body\" must be a string";
      return false;
    }
    l.body = std::string(body->get_string());
  } else {
    l.body = std::string(l.kind == Kind::https && l.https == HttpsBehaviour::html ? kDefaultHtml
                                                                                 : kDefaultPolicy);
  }
  if (l.kind == Kind::https && l.https == HttpsBehaviour::html) l.content_type = "text/html";

  if (const json::value* t = obj.if_contains("idle_timeout_s")) {
    // Boost.JSON stores small non-negative integers as int64; anything else is out of range.
    std::int64_t seconds = t->is_int64() ? t->get_int64() : -1;
    if (seconds < 1 || seconds > 86400) {
      error.message = where + ": \"idle_timeout_s\" must be an integer in 1..86400";
      return false;
    }
    l.idle_timeout = std::chrono::seconds(seconds);
  }

  if (const json::value* m = obj.if_contains("mint")) {
    if (!parse_mint(*m, l, error, where)) return false;
  }

  if (l.needs_tls() && !l.mint && (l.cert_file.empty() || l.key_file.empty())) {
    error.message =
        where + ": behaviour \"" + behaviour + "\" needs \"cert\" and \"key\" (or \"mint\")";
    return false;
  }
  if (l.mint && l.cert_file.empty() != l.key_file.empty()) {
    error.message =
        where + ": give both \"cert\" and \"key\" (the fallback of \"mint\"), or neither";
    return false;
  }
  return true;
}

}  // namespace

bool ListenerConfig::needs_tls() const {
  if (kind == Kind::https) return https != HttpsBehaviour::never_close;
  return smtp == SmtpBehaviour::starttls || smtp == SmtpBehaviour::tls10_only ||
         smtp == SmtpBehaviour::starttls_lowercase;
}

std::optional<Config> parse_config(std::string_view json_text, ConfigError& error) {
  boost::system::error_code ec;
  json::value root = json::parse(json_text, ec);
  if (ec) {
    error.message = "not valid JSON: " + ec.message();
    return std::nullopt;
  }
  const json::array* list = nullptr;
  if (root.is_object())
    if (const json::value* l = root.get_object().if_contains("listeners"))
      list = l->if_array();
  if (list == nullptr) {
    error.message = "the top level must be an object with a \"listeners\" array";
    return std::nullopt;
  }
  Config config;
  std::set<std::string> names;
  config.listeners.reserve(list->size());
  for (std::size_t i = 0; i < list->size(); ++i) {
    ListenerConfig l;
    if (!parse_listener((*list)[i], i, l, error)) return std::nullopt;
    if (!names.insert(l.name).second) {
      error.message = "listeners[" + std::to_string(i) + "]: duplicate name \"" + l.name + "\"";
      return std::nullopt;
    }
    config.listeners.push_back(std::move(l));
  }
  return config;
}

std::string_view to_string(HttpsBehaviour b) {
  for (auto& [n, v] : kHttpsNames)
    if (v == b) return n;
  return "?";
}

std::string_view to_string(SmtpBehaviour b) {
  for (auto& [n, v] : kSmtpNames)
    if (v == b) return n;
  return "?";
}

}  // namespace mtasts::testd
