// Configuration of mtasts-testd: a list of listeners, each one protocol (https or smtp) and one
// scripted behaviour. Parsing never throws; a bad file is reported with the listener it names.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mtasts::testd {

enum class Kind { https, smtp };

// How an HTTPS listener misbehaves (or behaves). See README.md for the exact bytes on the wire.
enum class HttpsBehaviour {
  ok,           // 200 policy at /.well-known/mta-sts.txt, 404 elsewhere
  not_found,    // "404"
  server_error, // "500"
  redirect,     // 301 to another host
  html,         // 200 text/html
  large,        // 200 with a 100 KiB body
  drip,         // headers, then one body byte per second
  reset,        // TLS ok, then RST on the request
  h2only,       // ALPN h2 only; HTTP/1.1 clients get no_application_protocol
  garbage,      // TLS ok, then non-HTTP bytes
  never_close,  // TCP accepted, TLS never answered
  huge,         // Content-Length: 1 GiB, streamed as fast as the client reads
  no_content_type,  // as ok, but no Content-Type header at all
  head_differs,     // as ok for GET; HEAD answers 405 (a client must not judge by HEAD)
  chunked,          // as ok, the body in chunks (Transfer-Encoding: chunked, no Content-Length)
  truncated,        // 200 with Content-Length 100 more than the body, which is sent, then close
};

enum class SmtpBehaviour {
  starttls,
  no_starttls,
  tls10_only,
  silent,
  garbage,
  starttls_refused,
  close_after_banner,
  starttls_lowercase,  // as starttls, EHLO keywords in lower case with "starttls" mid-list
  banner_421,          // "421" instead of a 220 banner, then close
  ehlo_rejected,       // an RFC 821 server: EHLO answered 502, HELO works, no STARTTLS
};

// Certificates minted per SNI name (a benchmark with thousands of hosts): a fresh ECDSA P-256 key
// and a leaf for exactly that name, signed by this CA and served with it as the chain; cached.
struct MintConfig {
  std::string ca_cert;     // PEM: the issuing CA (usually an intermediate); sent after the leaf
  std::string ca_key;      // its private key
  std::string suffix;      // only names ending in this get a certificate; empty: any valid name
  std::string names_file;  // optional: names (one a line) minted before the ready file
  int days = 90;           // validity of each leaf (it starts an hour in the past)
};

struct ListenerConfig {
  std::string name;
  Kind kind = Kind::https;
  std::string address = "127.0.0.1";  // literal IPv4 or IPv6 address
  std::uint16_t port = 0;             // 0: the kernel picks one
  std::string cert_file;              // PEM chain: leaf first, then intermediates
  std::string key_file;
  std::string hostname = "mx.example.test";  // SMTP banner/EHLO name
  HttpsBehaviour https = HttpsBehaviour::ok;
  SmtpBehaviour smtp = SmtpBehaviour::starttls;
  std::string body;                   // HTTPS response body (a default policy when absent)
  std::string content_type = "text/plain";
  std::chrono::seconds idle_timeout{300};  // every read and write waits at most this long
  // Set: the certificate is chosen by SNI (minted), `cert`/`key` are only the fallback for
  // clients without SNI or with a name outside `suffix`, and an https `body` may use the
  // placeholders {host} (the SNI name) and {domain} (it without a leading "mta-sts." label).
  std::optional<MintConfig> mint;

  // Whether the behaviour ever gets to a TLS handshake (and so needs cert and key).
  bool needs_tls() const;
};

struct Config {
  std::vector<ListenerConfig> listeners;
};

struct ConfigError {
  std::string message;
};

// Parses the JSON text of a config file. On failure returns nullopt and fills `error`.
std::optional<Config> parse_config(std::string_view json_text, ConfigError& error);

std::string_view to_string(HttpsBehaviour b);
std::string_view to_string(SmtpBehaviour b);

}  // namespace mtasts::testd
