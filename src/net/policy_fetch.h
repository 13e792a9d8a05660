// Fetching https://mta-sts.<domain>/.well-known/mta-sts.txt exactly as an RFC 8461 §3.3 sender
// does: HTTPS with SNI, the certificate and name checked against the trust store, no redirects
// followed, at most 64 KiB of body, everything within a deadline. The verdict on status, media
// type and content is the caller's; this reports what happened.
#pragma once

#include <boost/asio/ssl/context.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "net/endpoint.h"
#include "net/resolver.h"
#include "net/tls.h"

namespace mtasts::net {

struct FetchOptions {
  boost::asio::ssl::context* tls = nullptr;         // TLS 1.2+ with the trust store
  boost::asio::ssl::context* legacy_tls = nullptr;  // optional: diagnoses TLS < 1.2 servers
  std::vector<ConnectTo> connect_to;
  std::chrono::milliseconds timeout{10000};  // for the whole fetch
  std::size_t body_limit = 64 * 1024;
};

struct PolicyFetch {
  enum class Outcome {
    response,        // an HTTP response arrived (any status; see `status`)
    host_not_found,  // mta-sts.<domain> has no address
    dns_error,       // the lookup itself failed
    connect_failed,
    timeout,
    tls_failed,        // no handshake (detail says why); tls_legacy_only when only < 1.2 works
    cert_invalid,      // handshake done, certificate not acceptable: no request was sent
    body_too_large,    // more than body_limit bytes
    http_error,        // not HTTP/1.x, garbage, reset mid-way
  };
  Outcome outcome = Outcome::connect_failed;
  std::string host;     // mta-sts.<domain>
  std::string address;  // connected to
  std::string detail;
  bool tls_legacy_only = false;
  TlsVerdict tls;
  int status = 0;
  std::string content_type;
  std::string location;
  std::string body;
};
std::string_view to_string(PolicyFetch::Outcome outcome);

awaitable<PolicyFetch> fetch_policy(Resolver& resolver, const FetchOptions& options,
                                    std::string domain);

}  // namespace mtasts::net
