// The invariant observer bites: deliberately broken controllers are caught.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include "tests/harness.hpp"

using namespace mirrorsim;
using namespace mirrorsim::test;

namespace {
const TrackKey T0{0, 0};

bool caught(const World& w, Invariant which) {
  for (const auto& v : w.observer().violations())
    if (v.which == which) return true;
  return false;
}
}  // namespace

TEST_CASE("the observer catches a remote WP reset on send instead of on acknowledgement") {
  World w(make_config({.mode = Mode::SemiSync, .mutant = Mutant::RemoteWpResetOnSend}));
  w.write(T0);
  CHECK(caught(w, Invariant::I2));
  const auto& v = w.observer().violations().front();
  CHECK_FALSE(v.trace.empty());  // reported with the events that led there
  CHECK(v.trace.back().find("HostWrite") != std::string::npos);
}

TEST_CASE("the observer catches a local WP reset when the destage starts") {
  World w(make_config({.mode = Mode::SemiSync, .mutant = Mutant::LocalWpResetOnDestageStart}));
  w.write(T0);
  CHECK(caught(w, Invariant::I1));
}

TEST_CASE("the observer catches a sync host acknowledgement before the secondary's acknowledgement") {
  World w(make_config({.mode = Mode::Sync, .mutant = Mutant::SyncAckBeforeRemoteAck}));
  w.write(T0);
  CHECK(caught(w, Invariant::I4));
}

TEST_CASE("the observer catches a secondary that applies an older version over a newer one") {
  World w(make_config({.mode = Mode::AdaptiveCopyWp, .links = 2, .skew_tracks = 4, .mutant = Mutant::SecondaryAppliesOlder}));
  w.write(T0);
  w.write(T0);
  REQUIRE(apply_first(w, [](const WorldEvent& e) { return e.kind == Kind::Deliver && e.side == Side::B && e.index == 1; }));
  REQUIRE(apply_first(w, [](const WorldEvent& e) { return e.kind == Kind::Deliver && e.side == Side::B && e.index == 0; }));
  CHECK(caught(w, Invariant::I11));
}

TEST_CASE("the observer catches eviction of a slot holding write-pending data") {
  World w(make_config({.mode = Mode::AdaptiveCopyWp, .cache_slots = 1, .write_pending_limit = 1.0, .skew_tracks = 4,
                       .mutant = Mutant::EvictWpSlot}));
  w.write(TrackKey{0, 0});  // neither destaged nor copied yet
  w.write(TrackKey{0, 1});  // takes its slot
  CHECK(caught(w, Invariant::I3));
}

TEST_CASE("the observer catches a resync that skips the invalid tracks") {
  World w(make_config({.mode = Mode::Sync, .mutant = Mutant::ResyncSkipsInvalidTracks}));
  w.apply({Kind::LinkDown});
  w.write(T0);
  REQUIRE(apply_first(w, [](const WorldEvent& e) { return e.kind == Kind::Notify && e.side == Side::A; }));
  w.apply({Kind::LinkUp});
  drain(w);
  CHECK(caught(w, Invariant::I8));
}

TEST_CASE("the observer catches semi-sync with two outstanding writes per volume") {
  World w(make_config({.mode = Mode::SemiSync, .mutant = Mutant::SemiSyncTwoOutstanding}));
  w.write(TrackKey{0, 0});
  w.write(TrackKey{0, 1});
  CHECK(caught(w, Invariant::I5));
}

TEST_CASE("every mutant is caught by seeded random runs as well") {
  for (Mutant m : all_mutants()) {
    PairOptions o{.tracks = 4, .cache_slots = 3, .write_pending_limit = 1.0, .links = 2, .skew_tracks = 1, .mutant = m};
    const bool async = m == Mutant::AsyncAppliesPartialCycle || m == Mutant::AsyncSwitchBeforeTransmitAcked ||
                       m == Mutant::AsyncFoldKeepsOlder || m == Mutant::AsyncGroupSplitBoundary;
    o.mode = m == Mutant::SemiSyncTwoOutstanding ? Mode::SemiSync
             : m == Mutant::SyncAckBeforeRemoteAck ? Mode::Sync
             : async                                ? Mode::Async
                                                    : Mode::AdaptiveCopyWp;
    if (async) {
      o.volumes = 2;  // one consistency group of two volumes
      o.cache_slots = 8;
    }
    uint64_t caught_seeds = 0;
    for (uint64_t seed = 1; seed <= 200; ++seed) {
      const auto r = random_run(o, seed);
      if (r.violations > 0 || r.quiesce_findings > 0) ++caught_seeds;
    }
    INFO(fmt::format("mutant {}: caught in {} of 200 seeds", to_string(m), caught_seeds));
    CHECK(caught_seeds > 0);
  }
}
