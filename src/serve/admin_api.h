// The admin HTTP API of `mtasts serve`: the `mtasts domain` operations over HTTP with bearer
// tokens (`mtasts token add`), plus /metrics. Blocking (it calls the store): the server runs it
// on its store thread, never on an I/O thread. No Asio here: requests and answers are values.
//
//   GET    /api/v1/domains[?after=NAME&limit=N]    list (keyset paging, "next" when more)
//   POST   /api/v1/domains                         add: {"domain","mx":[...],"mode","max_age","rua":[...]}
//   GET    /api/v1/domains/NAME                    one domain, with every record to publish
//   PUT    /api/v1/domains/NAME                    desired state (absent fields: defaults)
//   PATCH  /api/v1/domains/NAME                    change only the fields given
//   DELETE /api/v1/domains/NAME[?force=true]       refuses unless mode none (409) or forced
//   GET    /api/v1/domains/NAME/history            every policy version served
//   GET    /api/v1/audit[?domain=NAME&limit=N]     who changed what, newest first
//   GET    /api/v1/reports/summary[?domain=NAME&since=WHEN]
//                                                  TLS-RPT summary, as `mtasts reports summary --json`
//   GET    /metrics                                Prometheus text
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/metrics.h"
#include "store/report_store.h"
#include "store/store.h"
#include "store/token_store.h"

namespace mtasts::serve {

struct ApiRequest {
  std::string method;
  std::string target;         // path and query
  std::string authorization;  // the Authorization header
  std::string content_type;
  std::string body;
  bool metrics_without_token = false;  // the loopback admin listener lets Prometheus scrape
};

struct ApiResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

class AdminApi {
 public:
  // `on_change` runs after every successful change so the server reloads at once.
  AdminApi(std::unique_ptr<store::Store> store, std::unique_ptr<store::TokenStore> tokens,
           Metrics& metrics, std::function<void()> on_change,
           std::unique_ptr<store::ReportStore> reports = nullptr);
  ApiResponse handle(const ApiRequest& request, std::int64_t now);

 private:
  ApiResponse route(const ApiRequest& request, const std::string& actor, std::int64_t now);

  std::unique_ptr<store::Store> store_;
  std::unique_ptr<store::TokenStore> tokens_;
  std::unique_ptr<store::ReportStore> reports_;
  Metrics& metrics_;
  std::function<void()> on_change_;
  Counter& unauthorized_;
  Counter& changes_;
};

}  // namespace mtasts::serve
