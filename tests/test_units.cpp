// Building blocks: versions, the track table bitmap, the cache LRU.
#include <catch2/catch.hpp>

#include "model/cache.hpp"
#include "model/config.hpp"
#include "model/track_table.hpp"

using namespace mirrorsim;

TEST_CASE("versions order by primary generation first, then sequence") {
  CHECK(make_version(2, 1) > make_version(1, 4000000000u));
  CHECK(version_generation(make_version(7, 3)) == 7);
  CHECK(version_sequence(make_version(7, 3)) == 3);
}

TEST_CASE("the track table finds invalid-remote tracks in order from a cursor, wrapping once") {
  TrackTable t({100, 10});
  CHECK_FALSE(t.next_invalid_remote({0, 0}).has_value());
  t.set_invalid_remote({0, 70}, true);
  t.set_invalid_remote({1, 3}, true);
  t.set_invalid_remote({0, 5}, true);
  CHECK(t.invalid_remote_count() == 3);
  CHECK(t.next_invalid_remote({0, 0}) == TrackKey{0, 5});
  CHECK(t.next_invalid_remote({0, 6}) == TrackKey{0, 70});
  CHECK(t.next_invalid_remote({0, 71}) == TrackKey{1, 3});
  CHECK(t.next_invalid_remote({1, 4}) == TrackKey{0, 5});  // wrapped
  CHECK_FALSE(t.set_invalid_remote({0, 5}, true));          // already set: no change
  CHECK(t.set_invalid_remote({0, 5}, false));
  CHECK(t.invalid_remote_count(0) == 1);
  std::vector<TrackKey> all;
  t.for_each_invalid_remote([&](TrackKey k) { all.push_back(k); });
  CHECK(all == std::vector<TrackKey>{{0, 70}, {1, 3}});
}

TEST_CASE("the cache reuses free slots first, then the least recently used clean slot") {
  Cache c(2);
  TrackKey ev;
  bool did = false;
  const int32_t a = c.allocate({0, 1}, &ev, &did);
  const int32_t b = c.allocate({0, 2}, &ev, &did);
  CHECK_FALSE(did);
  CHECK(c.allocate({0, 3}, &ev, &did) == -1);  // both pinned
  c.set_clean(b, true);
  c.set_clean(a, true);
  const int32_t x = c.allocate({0, 3}, &ev, &did);
  CHECK(did);
  CHECK(x == b);
  CHECK(ev == TrackKey{0, 2});
  CHECK(c.clean_count() == 1);
}

TEST_CASE("the write-pending limit is a whole number of slots, at least one") {
  ControllerConfig c;
  c.cache_slots = 10;
  c.write_pending_limit = 0.8;
  CHECK(c.write_pending_slots_max() == 8);
  c.write_pending_limit = 0.01;
  CHECK(c.write_pending_slots_max() == 1);
  c.write_pending_limit = 1.0;
  CHECK(c.write_pending_slots_max() == 10);
}

TEST_CASE("mutants and modes round-trip through their names") {
  for (Mutant m : all_mutants()) {
    Mutant back = Mutant::None;
    REQUIRE(parse_mutant(to_string(m), back));
    CHECK(back == m);
  }
  Mode mode;
  CHECK(parse_mode("adaptive-copy-wp", mode));
  CHECK(mode == Mode::AdaptiveCopyWp);
  CHECK(parse_mode("async", mode));
  CHECK(mode == Mode::Async);
  CHECK_FALSE(parse_mode("asynchronous", mode));
}
