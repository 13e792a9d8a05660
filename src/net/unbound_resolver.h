// DnssecResolver on libunbound: a validating resolver in the process, driven by an Asio
// io_context (results arrive on ub_fd, watched with a posix descriptor; ub_process runs on the
// context's thread). Every lookup has a deadline, after which it is cancelled and reported failed.
// One instance per io_context thread; libunbound caches answers by their TTLs, in bounded memory.
#pragma once

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "net/dnssec_resolver.h"

namespace mtasts::net {

struct DnssecOptions {
  // "IP:PORT" or "IP" of a recursive resolver to forward to (tests: the loopback knotd; DNSSEC is
  // still validated here). Empty: the nameservers of /etc/resolv.conf, as Postfix uses.
  std::string server;
  // DS or DNSKEY records in zone-file format (Debian's dns-root-data ships the root's).
  std::string trust_anchor_file = "/usr/share/dns/root.key";
  std::chrono::milliseconds timeout{3000};
};

// Before a daemon relies on DANE: the DNSKEY RRset of each trust anchor's zone, looked up through
// the configured upstream, must validate as secure for at least one anchor; each anchor that does
// not gets a line in `warnings`. An upstream that strips DNSSEC data, or anchors that match no
// key, would otherwise make every DANE probe bogus and every lookup TEMP: then false, with the
// reason in `error`. Synchronous, within about twice `options.timeout`.
bool check_trust_anchors(const DnssecOptions& options, std::vector<std::string>& warnings, std::string& error);

// The owner names of the DS and DNSKEY records in a trust anchor file ("." for the root).
std::vector<std::string> trust_anchor_owners(const std::string& path);

class UnboundResolver final : public DnssecResolver {
 public:
  // Fails (with the reason) when libunbound refuses the settings or the trust anchor file has
  // no DS or DNSKEY record.
  static std::unique_ptr<UnboundResolver> create(boost::asio::io_context& io, const DnssecOptions& options,
                                                 std::string& error);
  ~UnboundResolver() override;
  UnboundResolver(const UnboundResolver&) = delete;
  UnboundResolver& operator=(const UnboundResolver&) = delete;

  awaitable<SecureRrset> lookup(std::string name, std::uint16_t type) override;

  struct Impl;

 private:
  explicit UnboundResolver(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mtasts::net
