// The DANE probe of one domain (I/O only; the decision is core/dane.h's): its MX RRset through a
// validating resolver, then A, AAAA and `_25._tcp.<host>` TLSA of each MX host, all concurrently.
#pragma once

#include <string>

#include "core/dane.h"
#include "net/dnssec_resolver.h"

namespace mtasts::resolve {

struct DaneProbe {
  DaneObservation observation;
  DaneDecision decision;
};

net::awaitable<DaneProbe> probe_dane(net::DnssecResolver& resolver, std::string domain);

}  // namespace mtasts::resolve
