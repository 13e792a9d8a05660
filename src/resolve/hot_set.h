// The resolver's in-memory hot set: the most recently used domains' cache entries (positive, or
// "no policy" for a grace period), bounded in count, shared by the I/O threads. The store holds
// everything; this only saves the store round trip and DNS within the grace period.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "core/sts_cache.h"

namespace mtasts::resolve {

class HotSet {
 public:
  explicit HotSet(std::size_t capacity) : capacity_(capacity ? capacity : 1) {}

  struct Hit {
    std::shared_ptr<const CachedPolicy> policy;  // null: "no policy" was seen at `checked`
    std::int64_t checked = 0;
  };

  // The entry when it can answer alone at `now` (within the grace, not expired).
  std::optional<Hit> fresh(const std::string& domain, std::int64_t now, std::int64_t grace) {
    std::lock_guard lock(mu_);
    auto it = map_.find(domain);
    if (it == map_.end()) return std::nullopt;
    const Hit& h = it->second->second;
    if (now < h.checked || now - h.checked >= grace || (h.policy && !h.policy->valid_at(now)))
      return std::nullopt;
    lru_.splice(lru_.begin(), lru_, it->second);
    return h;
  }

  void put(const std::string& domain, Hit hit) {
    std::lock_guard lock(mu_);
    if (auto it = map_.find(domain); it != map_.end()) {
      it->second->second = std::move(hit);
      lru_.splice(lru_.begin(), lru_, it->second);
      return;
    }
    lru_.emplace_front(domain, std::move(hit));
    map_.emplace(domain, lru_.begin());
    while (map_.size() > capacity_) {
      map_.erase(lru_.back().first);
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
  using Lru = std::list<std::pair<std::string, Hit>>;
  std::size_t capacity_;
  mutable std::mutex mu_;
  Lru lru_;
  std::unordered_map<std::string, Lru::iterator> map_;
};

}  // namespace mtasts::resolve
