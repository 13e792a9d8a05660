#include "store/change_feed.h"

#include <algorithm>
#include <utility>

namespace mtasts::store {

std::vector<std::int64_t> ChangeCursor::gaps() const {
  std::vector<std::int64_t> out;
  out.reserve(gaps_.size());
  for (const auto& [id, since] : gaps_) out.push_back(id);
  return out;
}

// Ids in (from, to] absent from `seen` (sorted by id) become gaps: at most max_gaps of them, the
// newest, which is where an open transaction's id would be. A sequence moved on by millions
// (setval by hand) costs no million steps: the ids below those are counted as given up.
void ChangeCursor::note_missing(std::int64_t from, std::int64_t to, const std::vector<Change>& seen,
                                std::int64_t now) {
  auto by_id = [](const Change& c, std::int64_t id) { return c.id < id; };
  auto lo = std::lower_bound(seen.begin(), seen.end(), from + 1, by_id);
  auto it = std::lower_bound(lo, seen.end(), to + 1, by_id);  // walks down from here
  std::int64_t id = to;
  std::size_t added = 0;
  for (; id > from && added < o_.max_gaps; --id) {
    while (it != lo && std::prev(it)->id > id) --it;
    if (it != lo && std::prev(it)->id == id) continue;
    gaps_.emplace(id, now);
    ++added;
  }
  if (id > from) {  // (from, id] not looked at
    auto seen_below = static_cast<std::int64_t>(std::lower_bound(lo, it, id + 1, by_id) - lo);
    dropped_ += static_cast<std::size_t>(id - from - seen_below);
  }
  while (gaps_.size() > o_.max_gaps) {  // the oldest give way
    gaps_.erase(gaps_.begin());
    ++dropped_;
  }
}

void ChangeCursor::expire(std::int64_t now) {
  std::erase_if(gaps_, [&](const auto& g) {
    if (now - g.second <= o_.gap_lifetime) return false;
    ++dropped_;
    return true;
  });
}

void ChangeCursor::reset(std::int64_t mark, std::int64_t from, const std::vector<Change>& recent,
                         std::int64_t now) {
  gaps_.clear();
  mark_ = mark;
  std::vector<Change> seen;
  for (const auto& c : recent)
    if (c.id > from && c.id <= mark) seen.push_back(c);
  std::sort(seen.begin(), seen.end(), [](const Change& a, const Change& b) { return a.id < b.id; });
  note_missing(std::max<std::int64_t>(from, 0), mark, seen, now);
}

std::vector<std::string> ChangeCursor::advance(const std::vector<Change>& entries, std::int64_t now) {
  std::vector<Change> seen = entries;
  std::sort(seen.begin(), seen.end(), [](const Change& a, const Change& b) { return a.id < b.id; });
  std::vector<std::string> domains;
  std::int64_t top = mark_;
  for (const auto& c : seen) {
    bool fresh = c.id > mark_;
    if (!fresh && gaps_.erase(c.id) == 0) continue;  // seen before: asked again by no one
    if (!c.domain.empty()) domains.push_back(c.domain);
    top = std::max(top, c.id);
  }
  note_missing(mark_, top, seen, now);
  mark_ = top;
  expire(now);
  std::sort(domains.begin(), domains.end());
  domains.erase(std::unique(domains.begin(), domains.end()), domains.end());
  return domains;
}

Result<bool> DomainFeed::start(std::int64_t now, std::int64_t window) {
  auto mark = store_.last_change();
  if (!mark) return mark.error();
  std::int64_t from = std::max<std::int64_t>(*mark - window, 0);
  auto recent = store_.changes(from, {});
  if (!recent) return recent.error();
  cursor_.reset(*mark, from, *recent, now);
  return true;
}

Result<DomainFeed::Batch> DomainFeed::poll(std::int64_t now, std::size_t backlog) {
  auto entries = store_.changes(cursor_.mark(), cursor_.gaps());
  if (!entries) return entries.error();
  Batch b;
  b.domains = cursor_.advance(*entries, now);
  b.full = b.domains.size() > backlog;
  return b;
}

}  // namespace mtasts::store
