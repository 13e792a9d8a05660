// TLS-RPT reports POSTed to `mtasts serve` (RFC 8460 §5.4). The worker that read the request
// decodes it (gzip, JSON: CPU, no store); reports that need storing join a queue that one store
// thread commits in batches, one transaction each (group commit: many reports per fsync); the
// request is answered only after its report's transaction committed.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <memory>
#include <string>

#include "core/metrics.h"
#include "reports/http_post.h"
#include "reports/ingest.h"
#include "store/report_store.h"

namespace mtasts::serve {

class ReportReceiver {
 public:
  // `accepts` decides which policy domains are ours (serve: the hosted snapshot).
  ReportReceiver(std::unique_ptr<store::ReportStore> store, Metrics& metrics, reports::DomainCheck accepts);
  ~ReportReceiver();

  boost::asio::awaitable<reports::HttpAnswer> receive(std::string content_type, std::string body);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace mtasts::serve
