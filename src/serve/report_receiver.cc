#include "serve/report_receiver.h"

#include <boost/asio/async_result.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <condition_variable>
#include <ctime>
#include <functional>
#include <mutex>
#include <vector>

namespace mtasts::serve {

namespace asio = boost::asio;

struct ReportReceiver::Impl {
  static constexpr std::size_t kMaxBatch = 512;
  // Group commit: after a batch commits, its senders get their answers and most send their next
  // report at once. Waiting up to this long for as many reports as the last batch had keeps the
  // batches large (without it they alternate: one report that arrived first, then all the
  // others), so a transaction (one fsync, and each touched index page written once) carries
  // more reports. Under light load the wait ends at the first report or after this.
  static constexpr auto kGather = std::chrono::microseconds(1500);

  Impl(std::unique_ptr<store::ReportStore> s, Metrics& m, reports::DomainCheck accepts)
      : store(std::move(s)),
        metrics(m),
        ingester(*store, std::move(accepts), &metrics),
        commits(m.counter("mtasts_reports_commits_total",
                          "transactions that stored reports POSTed over HTTPS (each holds a batch)")) {}

  struct Item {
    reports::Ingester::Pending* pending;
    std::function<void()> done;  // resumes the waiting request on its own executor
  };

  // Queues `p` for the next batch; `handler` runs (on its executor) once `p` is settled.
  template <typename Token>
  auto commit(reports::Ingester::Pending& p, Token&& token) {
    return asio::async_initiate<Token, void()>(
        [this, &p](auto handler) {
          auto work = asio::make_work_guard(asio::get_associated_executor(handler));
          auto h = std::make_shared<decltype(handler)>(std::move(handler));
          auto resume = [h, work]() mutable {
            asio::post(work.get_executor(), [h] { (*h)(); });
            work.reset();
          };
          bool start = false;
          {
            std::lock_guard lock(mu);
            queue.push_back({&p, std::move(resume)});
            start = !draining;
            draining = true;
          }
          if (start) asio::post(pool, [this] { drain(); });
          else arrived.notify_one();
        },
        token);
  }

  // On the store thread: commit whatever is queued, batch after batch, until the queue is empty.
  void drain() {
    std::size_t last = 0;  // reports in the batch committed before
    for (;;) {
      std::vector<Item> batch;
      {
        std::unique_lock lock(mu);
        const std::size_t want = std::min(last, kMaxBatch);
        if (queue.size() < want)
          arrived.wait_for(lock, kGather, [&] { return queue.size() >= want; });
        if (queue.empty()) {
          draining = false;
          return;
        }
        std::size_t n = std::min(queue.size(), kMaxBatch);
        last = n;
        batch.assign(std::make_move_iterator(queue.begin()), std::make_move_iterator(queue.begin() + n));
        queue.erase(queue.begin(), queue.begin() + n);
      }
      std::vector<reports::Ingester::Pending> pending;
      pending.reserve(batch.size());
      for (auto& item : batch) pending.push_back(std::move(*item.pending));
      ingester.commit(pending, std::time(nullptr));
      commits.inc();
      for (std::size_t i = 0; i < batch.size(); ++i) {
        *batch[i].pending = std::move(pending[i]);
        batch[i].done();
      }
    }
  }

  std::unique_ptr<store::ReportStore> store;
  reports::ReportMetrics metrics;
  reports::Ingester ingester;
  Counter& commits;
  std::mutex mu;
  std::condition_variable arrived;  // a report was queued while draining
  std::vector<Item> queue;
  bool draining = false;
  asio::thread_pool pool{1};  // declared last: joined first, before what it uses goes
};

ReportReceiver::ReportReceiver(std::unique_ptr<store::ReportStore> store, Metrics& metrics,
                               reports::DomainCheck accepts)
    : impl_(std::make_unique<Impl>(std::move(store), metrics, std::move(accepts))) {}

ReportReceiver::~ReportReceiver() { impl_->pool.join(); }

asio::awaitable<reports::HttpAnswer> ReportReceiver::receive(std::string content_type, std::string body) {
  reports::HttpAnswer refusal;
  auto kind = reports::post_kind(content_type, body.size(), refusal);
  if (!kind) {
    std::vector<reports::Ingester::Pending> counted(1);
    counted[0].result = refusal.result;
    impl_->ingester.commit(counted, std::time(nullptr));  // nothing to store: counts it
    co_return refusal;
  }
  std::vector<reports::Ingester::Pending> one;
  one.push_back(impl_->ingester.prepare(body, *kind, "https", std::time(nullptr)));
  if (one[0].decoded) co_await impl_->commit(one[0], asio::use_awaitable);
  else impl_->ingester.commit(one, std::time(nullptr));  // settled already: counts it
  co_return reports::answer_for(std::move(one[0].result));
}

}  // namespace mtasts::serve
