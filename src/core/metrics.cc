#include "core/metrics.h"

#include <map>

#include "fmt/format.h"

namespace mtasts {

namespace {

// Label values escape backslash, double quote and newline; help text backslash and newline.
std::string escape(const std::string& s, bool quotes) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == '"' && quotes) out += "\\\"";
    else out += c;
  }
  return out;
}

std::string label_text(const Labels& labels) {
  if (labels.empty()) return {};
  std::string out = "{";
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (i) out += ',';
    out += fmt::format("{}=\"{}\"", labels[i].first, escape(labels[i].second, true));
  }
  return out + "}";
}

}  // namespace

Metrics::Series* Metrics::find(const std::string& name, const Labels& labels) {
  for (auto& s : series_)
    if (s.name == name && s.labels == labels) return &s;
  return nullptr;
}

Counter& Metrics::counter(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mu_);
  if (Series* s = find(name, labels); s && s->counter) return *s->counter;
  Counter& c = counters_.emplace_back();
  series_.push_back({name, help, "counter", labels, &c, nullptr, {}});
  return c;
}

Gauge& Metrics::gauge(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mu_);
  if (Series* s = find(name, labels); s && s->gauge) return *s->gauge;
  Gauge& g = gauges_.emplace_back();
  series_.push_back({name, help, "gauge", labels, nullptr, &g, {}});
  return g;
}

void Metrics::gauge_fn(const std::string& name, const std::string& help, std::function<double()> read,
                       const Labels& labels) {
  std::lock_guard lock(mu_);
  if (Series* s = find(name, labels)) {
    s->read = std::move(read);
    return;
  }
  series_.push_back({name, help, "gauge", labels, nullptr, nullptr, std::move(read)});
}

std::string Metrics::render() const {
  std::lock_guard lock(mu_);
  // Group series by name (HELP and TYPE once per family), families in registration order.
  std::vector<std::string> order;
  std::map<std::string, std::vector<const Series*>> families;
  for (const auto& s : series_) {
    auto [it, inserted] = families.try_emplace(s.name);
    if (inserted) order.push_back(s.name);
    it->second.push_back(&s);
  }
  std::string out;
  for (const auto& name : order) {
    const auto& family = families[name];
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, escape(family.front()->help, false), name,
                       family.front()->type);
    for (const Series* s : family) {
      out += name + label_text(s->labels) + ' ';
      if (s->counter) out += std::to_string(s->counter->value());
      else if (s->gauge) out += std::to_string(s->gauge->value());
      else out += fmt::format("{}", s->read ? s->read() : 0.0);
      out += '\n';
    }
  }
  return out;
}

}  // namespace mtasts
