// One HTTPS exchange with an ACME server: resolve (system resolver, or an IP literal as is),
// connect, TLS with the server's certificate and name verified against the trust store, one
// request, one response with a size limit, all within one deadline. No redirects (RFC 8555 uses
// none), no connection reuse: an ACME conversation is a dozen requests a day per certificate.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>

#include <chrono>
#include <string>

#include "core/error.h"

namespace mtasts::net {

struct AcmeHttpRequest {
  enum class Method { get, head, post };
  Method method = Method::get;
  std::string url;   // https:// only
  std::string body;  // POST: a JWS, application/jose+json
  std::string accept;
};

struct AcmeHttpResponse {
  int status = 0;
  std::string content_type;
  std::string location;
  std::string replay_nonce;
  std::string retry_after;
  std::string body;
};

// Errors (code: meaning): acme-url-invalid, acme-dns (the name does not resolve),
// acme-connect (refused, unreachable), acme-timeout (the deadline passed), acme-tls (no handshake,
// certificate not trusted or for another name), acme-response-too-large, acme-http (not HTTP,
// reset mid-way). Messages name the URL.
boost::asio::awaitable<Result<AcmeHttpResponse>> acme_https(boost::asio::ssl::context& tls,
                                                            const AcmeHttpRequest& request,
                                                            std::chrono::milliseconds timeout,
                                                            std::size_t body_limit);

}  // namespace mtasts::net
