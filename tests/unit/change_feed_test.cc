// The change feed's bookkeeping (store/change_feed.h); the store suite runs it on real backends.
#include <gtest/gtest.h>

#include "store/change_feed.h"

namespace mtasts::store {
namespace {

using Names = std::vector<std::string>;
using Ids = std::vector<std::int64_t>;

TEST(ChangeCursor, NamesEachChangedDomainOnce) {
  ChangeCursor c;
  auto names = c.advance({{1, "b.example"}, {2, ""}, {3, "a.example"}, {4, "b.example"}}, 100);
  EXPECT_EQ(names, (Names{"a.example", "b.example"}));
  EXPECT_EQ(c.mark(), 4);
  EXPECT_TRUE(c.gaps().empty());
  EXPECT_TRUE(c.advance({}, 101).empty());
  EXPECT_EQ(c.mark(), 4);
}

TEST(ChangeCursor, AnIdSkippedIsAskedForUntilItCommits) {
  ChangeCursor c;
  c.advance({{1, "a.example"}}, 100);
  // 2 and 3 are taken by transactions still open; 4 committed first.
  EXPECT_EQ(c.advance({{4, "d.example"}}, 101), (Names{"d.example"}));
  EXPECT_EQ(c.mark(), 4);
  EXPECT_EQ(c.gaps(), (Ids{2, 3}));
  // The store answers ids above the mark and the gaps: 3 committed now.
  EXPECT_EQ(c.advance({{3, "late.example"}}, 102), (Names{"late.example"}));
  EXPECT_EQ(c.gaps(), (Ids{2}));
  // An entry already seen, given again, names nothing.
  EXPECT_TRUE(c.advance({{1, "a.example"}, {3, "late.example"}}, 103).empty());
  EXPECT_EQ(c.take_dropped(), 0u);
}

TEST(ChangeCursor, GivesUpOnAGapAfterItsLifetime) {
  ChangeCursor c(ChangeCursor::Options{.gap_lifetime = 300, .max_gaps = 1000});
  c.advance({{1, "a.example"}, {3, "c.example"}}, 1000);
  EXPECT_EQ(c.gaps(), (Ids{2}));
  c.advance({}, 1300);
  EXPECT_EQ(c.gaps(), (Ids{2}));
  c.advance({}, 1301);
  EXPECT_TRUE(c.gaps().empty());
  EXPECT_EQ(c.take_dropped(), 1u);
  EXPECT_EQ(c.take_dropped(), 0u);
}

TEST(ChangeCursor, KeepsTheNewestGapsWithinItsCap) {
  ChangeCursor c(ChangeCursor::Options{.gap_lifetime = 300, .max_gaps = 3});
  c.advance({{1, "a.example"}, {6, "f.example"}}, 10);
  EXPECT_EQ(c.gaps(), (Ids{3, 4, 5}));
  EXPECT_EQ(c.take_dropped(), 1u);
  // A sequence moved on by a billion (setval by hand) costs no billion steps.
  c.advance({{1'000'000'007, "z.example"}}, 11);
  EXPECT_EQ(c.gaps(), (Ids{1'000'000'004, 1'000'000'005, 1'000'000'006}));
  EXPECT_EQ(c.mark(), 1'000'000'007);
  EXPECT_EQ(c.take_dropped(), 1'000'000'000u);  // three gaps given way, and the ids below
}

TEST(ChangeCursor, ResetTurnsTheMissingRecentIdsIntoGaps) {
  ChangeCursor c;
  // Start-up: newest id 10, entries (5, 10] read; 7 is not visible yet. An entry above the mark
  // (committed between the two reads) is left for the next poll.
  c.reset(10, 5, {{6, "f.example"}, {8, ""}, {9, "i.example"}, {10, "j.example"}, {11, "k.example"}}, 100);
  EXPECT_EQ(c.mark(), 10);
  EXPECT_EQ(c.gaps(), (Ids{7}));
  EXPECT_EQ(c.advance({{7, "g.example"}, {11, "k.example"}}, 101), (Names{"g.example", "k.example"}));
  EXPECT_TRUE(c.gaps().empty());
  ChangeCursor empty;
  empty.reset(0, 0, {}, 100);
  EXPECT_EQ(empty.mark(), 0);
  EXPECT_TRUE(empty.gaps().empty());
}

}  // namespace
}  // namespace mtasts::store
