// Addresses from the command line and configuration files (net/endpoint.h): --dns-server,
// --listen-*, --connect-to. What parses prints back to text that parses to the same thing.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "net/endpoint.h"

namespace net = mtasts::net;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto hp = net::parse_host_port(text, 53)) {
    FUZZ_CHECK(!hp->host.empty());
    auto again = net::parse_host_port(net::to_string(*hp), 1);
    FUZZ_CHECK(again && again->host == hp->host && again->port == hp->port);
  } else {
    FUZZ_CHECK(hp.error().code == "endpoint-invalid" && !hp.error().message.empty());
  }
  if (auto rule = net::parse_connect_to(text)) {
    FUZZ_CHECK(!rule->target.host.empty());
    std::vector<net::ConnectTo> rules{*rule};
    auto mapped = net::map_connect(rules, rule->host.empty() ? "any.example" : rule->host,
                                   rule->port ? rule->port : 25);
    FUZZ_CHECK(mapped && mapped->host == rule->target.host && mapped->port == rule->target.port);
  }
  return 0;
}
