// The domains that changed, read from the store's audit log without missing a late commit.
//
// Audit ids are handed out when a transaction inserts its row, not when it commits. On
// PostgreSQL, a writer holding id 41 can commit after another writer's 42 is already visible; a
// reader that only asks for "ids above the highest I have seen" would skip 41 for ever, and a
// node would serve the old policy of that domain until restarted. So the cursor remembers every
// id it has not seen below its mark (a gap: a transaction still open, one rolled back, a
// sequence that jumped) and asks for those again on each poll, until they show up or are older
// than `gap_lifetime` (a change is one short transaction; none stays open for minutes).
// SQLite serializes writers, so there its gaps are only rolled-back ids, which expire.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/error.h"
#include "store/store.h"

namespace mtasts::store {

// Pure bookkeeping: which ids have been seen. Time is given by the caller (seconds).
class ChangeCursor {
 public:
  struct Options {
    std::int64_t gap_lifetime = 300;  // seconds a missing id is asked for again
    // The oldest are dropped beyond this (and counted); never more than Store::changes takes.
    std::size_t max_gaps = kMaxChangeIdsAgain;
  };
  ChangeCursor() = default;
  explicit ChangeCursor(Options o) : o_(o) { o_.max_gaps = std::min(o_.max_gaps, kMaxChangeIdsAgain); }

  std::int64_t mark() const { return mark_; }
  // The ids to ask for again, oldest first.
  std::vector<std::int64_t> gaps() const;
  // Ids given up on since the last call (expired or over max_gaps): a change they carried, if
  // any committed after all, is not seen. Callers count these.
  std::size_t take_dropped() { return std::exchange(dropped_, 0); }

  // Positions the cursor at `mark`. `recent` are the entries in (`from`, mark] (as Store::changes
  // gives them); the ids missing there become gaps. With from == mark, none.
  void reset(std::int64_t mark, std::int64_t from, const std::vector<Change>& recent, std::int64_t now);

  // Applies entries read with Store::changes(mark(), gaps()): moves the mark to the highest id,
  // records the ids skipped on the way, closes the gaps that appeared, drops expired ones.
  // Returns the domains those entries name, sorted and unique.
  std::vector<std::string> advance(const std::vector<Change>& entries, std::int64_t now);

 private:
  void note_missing(std::int64_t from, std::int64_t to, const std::vector<Change>& seen, std::int64_t now);
  void expire(std::int64_t now);

  Options o_;
  std::int64_t mark_ = 0;
  std::map<std::int64_t, std::int64_t> gaps_;  // id -> when first missed
  std::size_t dropped_ = 0;
};

// The cursor on a Store: what a server that keeps domains in memory polls.
class DomainFeed {
 public:
  explicit DomainFeed(Store& store, ChangeCursor::Options o = {}) : store_(store), cursor_(o) {}

  // Before listing every domain (start-up, or a full reload): positions the feed at the newest
  // change; entries in the last `window` ids that are not visible yet become gaps, so a commit
  // in flight during the listing is still seen by the next poll.
  Result<bool> start(std::int64_t now, std::int64_t window = 1000);

  struct Batch {
    std::vector<std::string> domains;  // changed (or removed) since the last poll
    bool full = false;                 // over `backlog` domains: list every domain instead
  };
  Result<Batch> poll(std::int64_t now, std::size_t backlog = 5000);

  const ChangeCursor& cursor() const { return cursor_; }
  std::size_t take_dropped() { return cursor_.take_dropped(); }

 private:
  Store& store_;
  ChangeCursor cursor_;
};

}  // namespace mtasts::store
