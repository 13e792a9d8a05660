// Probing an MX host the way a sending MTA does (RFC 3207): connect on port 25, read the banner,
// EHLO, STARTTLS if offered, TLS handshake with SNI = the MX host name, then judge the
// certificate against the trust store and that name (RFC 8461 §4.2). Bounded by a deadline.
//
// Every address of the host (A and AAAA, at most ProbeOptions::max_addresses) is probed, all at
// once within the one deadline: a host whose IPv6 address reaches another server than its IPv4
// one fails only for senders with IPv6, and the owner's IPv4-only test would never see it.
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
  std::size_t max_addresses = 4;  // per host; the rest are listed as skipped
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
  // What one address of the host answered: one server's session.
  struct Address {
    std::string address;  // as in DNS (or a name --connect-to rule's target)
    Outcome outcome = Outcome::connect_failed;
    bool connected = false;  // the TCP connection succeeded (a timeout later is the server's)
    // The connect failed on this side: no route to the address's family from here (an
    // IPv4-only checker and an AAAA address). Says nothing about the server.
    bool no_route = false;
    std::string banner;
    std::vector<std::string> extensions;
    std::string detail;
    bool tls_legacy_only = false;
    TlsVerdict tls;
  };
  // The host as a sender sees it, the fields below `addresses`: the first address (in DNS order,
  // A then AAAA) that accepted a connection, else the first one; a DNS failure has no addresses.
  Outcome outcome = Outcome::connect_failed;
  std::string host;
  std::vector<std::string> cname_chain;  // the MX name is an alias (RFC 2181 §10.3 forbids it)
  std::string address;
  std::string banner;
  std::vector<std::string> extensions;  // EHLO keywords
  std::string detail;
  bool tls_legacy_only = false;
  TlsVerdict tls;
  std::vector<Address> addresses;  // every address probed, in DNS order
  std::vector<std::string> skipped;  // addresses over max_addresses, not probed
  void take_primary(const Address& a);  // copies a's result into the fields above
};
std::string_view to_string(SmtpProbe::Outcome outcome);

awaitable<SmtpProbe> probe_smtp(Resolver& resolver, const ProbeOptions& options, std::string host);

}  // namespace mtasts::net
