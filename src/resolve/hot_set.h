// The resolver's in-memory hot set: the most recently used domains' cache entries (positive, or
// "no policy" for a grace period, with the DANE answer until its TTL ends), bounded in count,
// shared by the I/O threads. The store holds
// everything; this only saves the store round trip and DNS within the grace period.
#pragma once

#include <cstdint>
#include <limits>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/dane.h"
#include "core/sts_cache.h"

namespace mtasts::resolve {

class HotSet {
 public:
  explicit HotSet(std::size_t capacity) : capacity_(capacity ? capacity : 1) {}

  struct Hit {
    std::shared_ptr<const CachedPolicy> policy;  // null: "no policy" was seen at `checked`
    std::int64_t checked = 0;
    DaneAnswer dane = DaneAnswer::none;  // the DANE probe's answer (none when not probed)
    std::int64_t until = std::numeric_limits<std::int64_t>::max();  // the DANE answer's TTL ends
  };

  // The entry when it can answer alone at `now` (within the grace, not expired).
  std::optional<Hit> fresh(std::string_view domain, std::int64_t now, std::int64_t grace) {
    std::lock_guard lock(mu_);
    Node* n = fresh_locked(domain, now, grace);
    if (!n) return std::nullopt;
    return n->hit;
  }

  // The reply for a fresh entry, formatted once per entry and `zone` (any key naming the
  // formatting: the daemon passes its Zone) by `format(const Hit&)` and copied into `out`, so a
  // cached lookup allocates nothing. Replies over kMaxMemoReply are formatted every time (they
  // would hold the policy text again in memory). False when there is no fresh entry.
  template <typename Format>
  bool reply(std::string_view domain, std::int64_t now, std::int64_t grace, const void* zone,
             const Format& format, std::string& out) {
    Hit hit;
    {
      std::lock_guard lock(mu_);
      Node* n = fresh_locked(domain, now, grace);
      if (!n) return false;
      for (const auto& [z, text] : n->replies)
        if (z == zone) {
          out.assign(text);
          return true;
        }
      hit = n->hit;
    }
    out = format(hit);  // outside the lock: a TLSRPT reply can be long
    if (out.size() > kMaxMemoReply) return true;
    std::lock_guard lock(mu_);
    auto it = map_.find(domain);
    if (it == map_.end() || it->second->hit.policy != hit.policy || it->second->hit.checked != hit.checked ||
        it->second->hit.dane != hit.dane)
      return true;  // replaced meanwhile
    for (const auto& r : it->second->replies)
      if (r.first == zone) return true;
    it->second->replies.emplace_back(zone, out);
    return true;
  }

  void put(const std::string& domain, Hit hit) {
    std::lock_guard lock(mu_);
    if (auto it = map_.find(domain); it != map_.end()) {
      it->second->hit = std::move(hit);
      it->second->replies.clear();
      lru_.splice(lru_.begin(), lru_, it->second);
      return;
    }
    lru_.push_front(Node{domain, std::move(hit), {}});
    map_.emplace(domain, lru_.begin());
    while (map_.size() > capacity_) {
      map_.erase(lru_.back().domain);
      lru_.pop_back();
    }
  }

  void erase(const std::string& domain) {
    std::lock_guard lock(mu_);
    if (auto it = map_.find(domain); it != map_.end()) {
      lru_.erase(it->second);
      map_.erase(it);
    }
  }

  void clear() {
    std::lock_guard lock(mu_);
    map_.clear();
    lru_.clear();
  }

  std::size_t size() const {
    std::lock_guard lock(mu_);
    return map_.size();
  }

 private:
  static constexpr std::size_t kMaxMemoReply = 1024;
  struct Node {
    std::string domain;
    Hit hit;
    std::vector<std::pair<const void*, std::string>> replies;  // per zone, see reply()
  };
  using Lru = std::list<Node>;
  // Lookups by string_view: the daemon looks up the request's bytes without a string.
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  Node* fresh_locked(std::string_view domain, std::int64_t now, std::int64_t grace) {
    auto it = map_.find(domain);
    if (it == map_.end()) return nullptr;
    const Hit& h = it->second->hit;
    if (now < h.checked || now - h.checked >= grace || now >= h.until || (h.policy && !h.policy->valid_at(now)))
      return nullptr;
    lru_.splice(lru_.begin(), lru_, it->second);
    return &*it->second;
  }

  std::size_t capacity_;
  mutable std::mutex mu_;
  Lru lru_;
  std::unordered_map<std::string, Lru::iterator, Hash, std::equal_to<>> map_;
};

}  // namespace mtasts::resolve
