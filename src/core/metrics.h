// Prometheus metrics for the daemons: counters and gauges registered once at start-up, bumped
// with relaxed atomics on the hot path, rendered in the text exposition format at /metrics.
//
//   Metrics m;
//   auto& requests = m.counter("mtasts_serve_requests_total", "HTTP requests answered", {{"status", "200"}});
//   requests.inc();
//   std::string text = m.render();
//
// Registration takes a lock and must not happen per request; the returned references stay valid
// for the life of the Metrics object.
#pragma once

#include <sched.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace mtasts {

// Striped by CPU: threads on different cores bump different cache lines, so a counter bumped on
// every request (the resolver's cached path, serve's requests) never bounces between cores.
class Counter {
 public:
  void inc(std::uint64_t n = 1) { slots_[slot()].value.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const {
    std::uint64_t sum = 0;
    for (const auto& s : slots_) sum += s.value.load(std::memory_order_relaxed);
    return sum;
  }

 private:
  static constexpr std::size_t kSlots = 8;
  // 64 bytes apart, so no two share a cache line (padding, not alignas: counters live in
  // containers and objects whose allocation does not honour over-alignment).
  struct Slot {
    std::atomic<std::uint64_t> value{0};
    char pad[64 - sizeof(std::atomic<std::uint64_t>)];
  };
  // The calling thread's CPU (glibc reads it from the rseq area: no system call).
  static std::size_t slot() {
    const int cpu = sched_getcpu();
    return cpu < 0 ? 0 : static_cast<std::size_t>(cpu) % kSlots;
  }
  std::array<Slot, kSlots> slots_;
};

class Gauge {
 public:
  void set(std::int64_t v) { value_.store(v, std::memory_order_relaxed); }
  void add(std::int64_t n) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> value_{0};
};

using Labels = std::vector<std::pair<std::string, std::string>>;

class Metrics {
 public:
  // The same name and labels return the same series. Names must match [a-zA-Z_:][a-zA-Z0-9_:]*.
  Counter& counter(const std::string& name, const std::string& help, const Labels& labels = {});
  Gauge& gauge(const std::string& name, const std::string& help, const Labels& labels = {});
  // A value computed when /metrics is read (cache sizes, open connections kept elsewhere).
  void gauge_fn(const std::string& name, const std::string& help, std::function<double()> read,
                const Labels& labels = {});

  std::string render() const;

 private:
  struct Series {
    std::string name, help, type;
    Labels labels;
    Counter* counter = nullptr;
    Gauge* gauge = nullptr;
    std::function<double()> read;
  };
  Series* find(const std::string& name, const Labels& labels);

  mutable std::mutex mu_;
  std::deque<Counter> counters_;  // deque: references stay valid as it grows
  std::deque<Gauge> gauges_;
  std::vector<Series> series_;
};

}  // namespace mtasts
