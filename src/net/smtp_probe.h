// Probing an MX host the way a sending MTA does (RFC 3207): connect on port 25, read the banner,
// EHLO, STARTTLS if offered, TLS handshake with SNI = the MX host name, then judge the
// certificate against the trust store and that name (RFC 8461 §4.2). Bounded by a deadline.
#pragma once

#include <boost/asio/ssl/context.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "net/endpoint.h"
#include "net/resolver.h"
#include "net/tls.h"

namespace mtasts::net {

struct ProbeOptions {
  boost::asio::ssl::context* tls = nullptr;         // TLS 1.2+ with the trust store
  boost::asio::ssl::context* legacy_tls = nullptr;  // optional: diagnoses TLS < 1.2 servers
  std::vector<ConnectTo> connect_to;
  std::chrono::milliseconds timeout{15000};  // for the whole probe
  std::string ehlo_name = "mtasts.invalid";
  std::uint16_t port = 25;
};

struct SmtpProbe {
  enum class Outcome {
    tls_ok,            // STARTTLS and a handshake: see `tls` for the certificate verdict
    no_address,        // the MX name has no address
    dns_error,
    connect_failed,
    timeout,
    protocol_error,    // no 220 banner, garbage, closed early
    no_starttls,       // STARTTLS not offered in EHLO
    starttls_refused,  // offered, but the command failed
    tls_failed,        // handshake failed (tls_legacy_only: TLS < 1.2 would work)
  };
  Outcome outcome = Outcome::connect_failed;
  std::string host;
  std::vector<std::string> cname_chain;  // the MX name is an alias (RFC 2181 §10.3 forbids it)
  std::string address;
  std::string banner;
  std::vector<std::string> extensions;  // EHLO keywords
  std::string detail;
  bool tls_legacy_only = false;
  TlsVerdict tls;
};
std::string_view to_string(SmtpProbe::Outcome outcome);

awaitable<SmtpProbe> probe_smtp(Resolver& resolver, const ProbeOptions& options, std::string host);

}  // namespace mtasts::net
