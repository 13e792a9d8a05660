#include "reports/ingest.h"

#include <algorithm>
#include <ctime>

#include "core/domain.h"
#include "fmt/format.h"
#include "fmt/ranges.h"

namespace mtasts::reports {

std::string_view to_string(Outcome o) {
  switch (o) {
    case Outcome::stored: return "stored";
    case Outcome::duplicate: return "duplicate";
    case Outcome::refused: return "refused";
    case Outcome::invalid: return "invalid";
    case Outcome::failed: return "failed";
  }
  return "invalid";
}

ReportMetrics::ReportMetrics(Metrics& m) : m_(m) {
  for (Outcome o : {Outcome::stored, Outcome::duplicate, Outcome::refused, Outcome::invalid,
                    Outcome::failed})
    outcome_[static_cast<int>(o)] =
        &m.counter("mtasts_reports_received_total", "TLS-RPT reports received, by outcome",
                   {{"outcome", std::string(to_string(o))}});
}

void ReportMetrics::count(const IngestResult& r) {
  outcome_[static_cast<int>(r.outcome)]->inc();
  if (r.outcome == Outcome::refused || r.outcome == Outcome::invalid || r.outcome == Outcome::failed)
    // Rare by nature, so registering (a lock) here is fine; the code set is small and stable.
    m_.counter("mtasts_reports_rejected_total", "TLS-RPT reports not stored, by reason",
               {{"outcome", std::string(to_string(r.outcome))}, {"reason", r.error.code}})
        .inc();
}

Ingester::Pending Ingester::prepare(std::string_view input, InputKind kind, std::string source,
                                    std::int64_t now) {
  Pending p;
  p.source = std::move(source);
  auto d = decode_report(input, kind, now);
  if (!d) {
    p.result.outcome = Outcome::invalid;
    p.result.error = d.error();
    return p;
  }
  IngestResult& r = p.result;
  r.organization = d->report.organization_name;
  r.report_id = d->report.report_id;
  r.via = d->via;
  r.warnings = d->warnings;
  for (const auto& pol : d->report.policies) {
    r.successful += pol.total_successful_session_count;
    r.failed_sessions += pol.total_failure_session_count;
    if (pol.policy_domain.empty()) continue;
    auto n = normalize_domain(pol.policy_domain);
    r.domains.push_back(n ? *n : ascii_lower(pol.policy_domain));
  }
  std::sort(r.domains.begin(), r.domains.end());
  r.domains.erase(std::unique(r.domains.begin(), r.domains.end()), r.domains.end());
  if (accepts_) {
    if (r.domains.empty()) {
      r.outcome = Outcome::refused;
      r.error = {"domain-not-registered", 0, 0, "the report names no policy domain", {}};
      return p;
    }
    for (const auto& domain : r.domains) {
      auto ok = accepts_(domain);
      if (!ok) {
        r.outcome = Outcome::failed;
        r.error = ok.error();
        return p;
      }
      if (!*ok) {
        r.outcome = Outcome::refused;
        r.error = {"domain-not-registered", 0, 0,
                   fmt::format("the report is for {}, which is not a registered domain", domain),
                   fmt::format("`mtasts domain add {}`, or accept every domain (--any-domain)", domain)};
        return p;
      }
    }
  }
  r.outcome = Outcome::stored;  // once committed
  p.decoded = std::move(d).value();
  return p;
}

void Ingester::commit(std::vector<Pending>& batch, std::int64_t now) {
  std::vector<store::ReportToStore> rows;
  std::vector<Pending*> waiting;
  for (auto& p : batch) {
    if (!p.decoded) continue;
    rows.push_back({&p.decoded->report, p.decoded->gzipped, p.source, now});
    waiting.push_back(&p);
  }
  if (!rows.empty()) {
    auto stored = store_.put(rows);
    for (std::size_t i = 0; i < waiting.size(); ++i) {
      IngestResult& r = waiting[i]->result;
      if (!stored) {
        r.outcome = Outcome::failed;
        r.error = stored.error();
      } else {
        r.outcome = (*stored)[i].stored ? Outcome::stored : Outcome::duplicate;
      }
      waiting[i]->decoded.reset();
    }
  }
  if (metrics_)
    for (const auto& p : batch) metrics_->count(p.result);
}

IngestResult Ingester::ingest(std::string_view input, InputKind kind, std::string source,
                              std::int64_t now) {
  std::vector<Pending> one;
  one.push_back(prepare(input, kind, std::move(source), now));
  commit(one, now);
  return std::move(one.front().result);
}

PipelinedCommit::PipelinedCommit(Ingester& ingester, std::size_t batch_size, Settled settled)
    : ingester_(ingester), batch_size_(std::max<std::size_t>(batch_size, 1)), settled_(std::move(settled)) {
  filling_.reserve(batch_size_);
}

PipelinedCommit::~PipelinedCommit() { finish(); }

void PipelinedCommit::add(Ingester::Pending p) {
  filling_.push_back(std::move(p));
  ++added_;
  if (filling_.size() >= batch_size_) start();
}

void PipelinedCommit::finish() {
  if (!filling_.empty()) start();
  settle();
}

// Waits for the batch in flight, acknowledges it, and hands it the batch just filled.
void PipelinedCommit::start() {
  settle();
  committing_.swap(filling_);
  committing_first_ = added_ - committing_.size();
  filling_.clear();
  filling_.reserve(batch_size_);
  // The time is taken when the batch starts committing, as the one-stage loop does.
  worker_ = std::thread([this, now = static_cast<std::int64_t>(std::time(nullptr))] {
    ingester_.commit(committing_, now);
  });
}

void PipelinedCommit::settle() {
  if (!worker_.joinable()) return;
  worker_.join();
  settled_(committing_, committing_first_);
  committing_.clear();
}

}  // namespace mtasts::reports
