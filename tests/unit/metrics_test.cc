#include "core/metrics.h"

#include <gtest/gtest.h>

namespace mtasts {
namespace {

TEST(Metrics, RendersFamiliesOnceWithLabels) {
  Metrics m;
  auto& ok = m.counter("mtasts_requests_total", "Requests answered", {{"status", "200"}});
  auto& missing = m.counter("mtasts_requests_total", "Requests answered", {{"status", "404"}});
  auto& open = m.gauge("mtasts_connections", "Open connections");
  ok.inc();
  ok.inc(2);
  missing.inc();
  open.set(7);
  m.gauge_fn("mtasts_cache_entries", "Entries in the cache", [] { return 42.0; });
  EXPECT_EQ(&ok, &m.counter("mtasts_requests_total", "Requests answered", {{"status", "200"}}));
  EXPECT_EQ(m.render(),
            "# HELP mtasts_requests_total Requests answered\n"
            "# TYPE mtasts_requests_total counter\n"
            "mtasts_requests_total{status=\"200\"} 3\n"
            "mtasts_requests_total{status=\"404\"} 1\n"
            "# HELP mtasts_connections Open connections\n"
            "# TYPE mtasts_connections gauge\n"
            "mtasts_connections 7\n"
            "# HELP mtasts_cache_entries Entries in the cache\n"
            "# TYPE mtasts_cache_entries gauge\n"
            "mtasts_cache_entries 42\n");
}

TEST(Metrics, EscapesLabelValues) {
  Metrics m;
  m.counter("x_total", "help \\ with\nnewline", {{"reason", "a \"quoted\"\nvalue\\"}}).inc();
  EXPECT_EQ(m.render(),
            "# HELP x_total help \\\\ with\\nnewline\n# TYPE x_total counter\n"
            "x_total{reason=\"a \\\"quoted\\\"\\nvalue\\\\\"} 1\n");
}

}  // namespace
}  // namespace mtasts
