// The resolver's in-memory hot set: the recently used domains' cache entries (positive, or
// "no policy" for a grace period, with the DANE answer until its TTL ends), bounded in count,
// shared by the I/O threads. The store holds
// everything; this only saves the store round trip and DNS within the grace period.
#pragma once

#include <algorithm>
#include <cstdint>
#include <iterator>
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
  // `capacity` entries in all. From kMinPerShard * kShards entries on, they are spread over
  // kShards independently locked shards (a domain's shard is fixed by its hash), so the I/O
  // threads rarely wait on one another; a smaller set is one shard with exact bounds.
  explicit HotSet(std::size_t capacity)
      : count_(capacity >= kMinPerShard * kShards ? kShards : 1), shards_(new Shard[count_]) {
    for (std::size_t i = 0; i < count_; ++i) shards_[i].capacity = std::max<std::size_t>(1, capacity / count_);
  }

  struct Hit {
    std::shared_ptr<const CachedPolicy> policy;  // null: "no policy" was seen at `checked`
    std::int64_t checked = 0;
    DaneAnswer dane = DaneAnswer::none;  // the DANE probe's answer (none when not probed)
    std::int64_t until = std::numeric_limits<std::int64_t>::max();  // the DANE answer's TTL ends
  };

  // The entry when it can answer alone at `now` (within the grace, not expired).
  std::optional<Hit> fresh(std::string_view domain, std::int64_t now, std::int64_t grace) {
    Shard& s = shard(domain);
    std::lock_guard lock(s.mu);
    Node* n = s.fresh(domain, now, grace);
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
    Shard& s = shard(domain);
    Hit hit;
    {
      std::lock_guard lock(s.mu);
      Node* n = s.fresh(domain, now, grace);
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
    std::lock_guard lock(s.mu);
    auto it = s.map.find(domain);
    if (it == s.map.end() || it->second->hit.policy != hit.policy || it->second->hit.checked != hit.checked ||
        it->second->hit.dane != hit.dane)
      return true;  // replaced meanwhile
    for (const auto& r : it->second->replies)
      if (r.first == zone) return true;
    it->second->replies.emplace_back(zone, out);
    return true;
  }

  void put(const std::string& domain, Hit hit) {
    Shard& s = shard(domain);
    std::lock_guard lock(s.mu);
    if (auto it = s.map.find(domain); it != s.map.end()) {
      it->second->hit = std::move(hit);
      it->second->replies.clear();
      it->second->used = true;
      return;
    }
    s.order.push_front(Node{domain, std::move(hit), {}, false});
    s.map.emplace(domain, s.order.begin());
    s.evict();
  }

  void erase(const std::string& domain) {
    Shard& s = shard(domain);
    std::lock_guard lock(s.mu);
    if (auto it = s.map.find(domain); it != s.map.end()) {
      s.order.erase(it->second);
      s.map.erase(it);
    }
  }

  void clear() {
    for (std::size_t i = 0; i < count_; ++i) {
      std::lock_guard lock(shards_[i].mu);
      shards_[i].map.clear();
      shards_[i].order.clear();
    }
  }

  std::size_t size() const {
    std::size_t n = 0;
    for (std::size_t i = 0; i < count_; ++i) {
      std::lock_guard lock(shards_[i].mu);
      n += shards_[i].map.size();
    }
    return n;
  }

 private:
  static constexpr std::size_t kMaxMemoReply = 1024;
  static constexpr std::size_t kShards = 16;
  static constexpr std::size_t kMinPerShard = 64;
  struct Node {
    std::string domain;
    Hit hit;
    std::vector<std::pair<const void*, std::string>> replies;  // per zone, see reply()
    bool used;  // looked up since it last passed the eviction hand (second chance)
  };
  using Order = std::list<Node>;
  // Lookups by string_view: the daemon looks up the request's bytes without a string.
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  // Eviction is second chance (CLOCK): a hit only sets `used`, so the cached path writes one
  // byte instead of relinking list nodes; the oldest entry not used since it was last passed
  // over is dropped.
  struct Shard {
    mutable std::mutex mu;
    std::size_t capacity = 1;
    Order order;  // newest first
    std::unordered_map<std::string, Order::iterator, Hash, std::equal_to<>> map;

    Node* fresh(std::string_view domain, std::int64_t now, std::int64_t grace) {
      auto it = map.find(domain);
      if (it == map.end()) return nullptr;
      Node& n = *it->second;
      const Hit& h = n.hit;
      if (now < h.checked || now - h.checked >= grace || now >= h.until || (h.policy && !h.policy->valid_at(now)))
        return nullptr;
      n.used = true;
      return &n;
    }

    void evict() {
      while (map.size() > capacity) {
        Node& oldest = order.back();
        if (oldest.used) {
          oldest.used = false;
          order.splice(order.begin(), order, std::prev(order.end()));
          continue;
        }
        map.erase(oldest.domain);
        order.pop_back();
      }
    }
  };

  Shard& shard(std::string_view domain) {
    // The top bits: the shard's map uses the low ones of the same hash for its buckets.
    return shards_[count_ == 1 ? 0 : (Hash{}(domain) >> 56) % count_];
  }

  std::size_t count_;
  std::unique_ptr<Shard[]> shards_;
};

}  // namespace mtasts::resolve
