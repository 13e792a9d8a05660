// Receiving reports, whatever the channel (files, LMTP, HTTPS POST): decode, check the policy
// domains are ours, store durably, count. The caller acknowledges a report (prints its line,
// answers 250 or 200) only after commit() returned: an acknowledged report is on disk.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/metrics.h"
#include "reports/decode.h"
#include "store/report_store.h"

namespace mtasts::reports {

enum class Outcome {
  stored,     // new, now on disk
  duplicate,  // the same (organization-name, report-id) was already stored: nothing written
  refused,    // valid, but for a domain nobody registered (domain-not-registered)
  invalid,    // bad input: the error names the problem
  failed,     // the store failed (I/O): nothing of the report was written; retry later
};
std::string_view to_string(Outcome o);

struct IngestResult {
  Outcome outcome = Outcome::invalid;
  Error error;  // refused, invalid, failed
  std::string organization, report_id, via;
  std::vector<std::string> domains;  // normalized policy domains, sorted, distinct
  std::uint64_t successful = 0, failed_sessions = 0;
  std::vector<Error> warnings;
};

// Whether reports for a domain (normalized) are accepted. Errors are store errors.
using DomainCheck = std::function<Result<bool>(const std::string& domain)>;

// Prometheus counters: mtasts_reports_received_total{outcome} and, for refused/invalid/failed,
// mtasts_reports_rejected_total{outcome,reason} with the error code as the reason.
class ReportMetrics {
 public:
  explicit ReportMetrics(Metrics& m);
  void count(const IngestResult& r);

 private:
  Metrics& m_;
  Counter* outcome_[5];
};

class Ingester {
 public:
  // `accepts` null: every domain is accepted (`--any-domain`).
  Ingester(store::ReportStore& store, DomainCheck accepts, ReportMetrics* metrics = nullptr)
      : store_(store), accepts_(std::move(accepts)), metrics_(metrics) {}

  struct Pending {
    IngestResult result;
    std::optional<DecodedReport> decoded;  // set while waiting for commit()
    std::string source;
  };
  // Decodes and checks; nothing is stored yet. A result other than `stored` is final.
  Pending prepare(std::string_view input, InputKind kind, std::string source, std::int64_t now);
  // Stores every pending report in one transaction and settles each result (stored,
  // duplicate, or failed for all when the transaction fails), then counts them.
  void commit(std::vector<Pending>& batch, std::int64_t now);
  // prepare + commit of one report.
  IngestResult ingest(std::string_view input, InputKind kind, std::string source, std::int64_t now);

 private:
  store::ReportStore& store_;
  DomainCheck accepts_;
  ReportMetrics* metrics_;
};

// Bulk ingestion with group commit in two stages: the caller reads and decodes (prepare) the
// next batch while the previous batch commits on a thread of its own, so decoding overlaps the
// store's writes and fsync waits. `settled` runs on the caller's thread, batch after batch in
// the order they were added, once the batch's transaction committed: only then may its reports
// be acknowledged (printed, answered). At most one batch commits while the next one fills.
//
// Threads: the Ingester's store is used only by the committing thread (one at a time, each
// commit ordered after the previous); prepare(), the DomainCheck and `settled` stay on the
// caller's thread. So the DomainCheck must not share the report store's connection.
class PipelinedCommit {
 public:
  // `first`: the index (in add() order) of the batch's first report.
  using Settled = std::function<void(std::vector<Ingester::Pending>& batch, std::size_t first)>;
  PipelinedCommit(Ingester& ingester, std::size_t batch_size, Settled settled);
  ~PipelinedCommit();  // finish()
  PipelinedCommit(const PipelinedCommit&) = delete;
  PipelinedCommit& operator=(const PipelinedCommit&) = delete;

  // Queues a prepared report; when the batch is full, waits for the previous one to settle and
  // starts committing this one.
  void add(Ingester::Pending p);
  // Commits what is queued and settles every batch; returns once all are settled.
  void finish();

 private:
  void start();
  void settle();

  Ingester& ingester_;
  std::size_t batch_size_;
  Settled settled_;
  std::vector<Ingester::Pending> filling_, committing_;
  std::size_t added_ = 0, committing_first_ = 0;
  std::thread worker_;
};

}  // namespace mtasts::reports
