// Asynchronous replication in cycles, step by step on the closed pair
// (World): write folding counted exactly, and a disaster in each phase of a
// cycle — capture, transmit, apply — leaving R2 at a boundary of the
// consistency group, with exactly the writes after it lost.
#include <catch2/catch.hpp>

#include <map>
#include <random>
#include <set>

#include "tests/harness.hpp"

using namespace mirrorsim;
using namespace mirrorsim::test;

namespace {

// A consistency group of two volumes of `tracks` tracks; no coordination
// hold and no pacing, so that only the cycle timer fires.
WorldConfig group_of_two(uint32_t tracks) {
  WorldConfig cfg = make_config({.mode = Mode::Async, .volumes = 2, .tracks = tracks, .cache_slots = 64,
                                 .write_pending_limit = 1.0});
  for (ControllerConfig* c : {&cfg.side_a, &cfg.side_b}) {
    c->async.coordination_max = Time{};
    c->async.pacing_delay_max = Time{};
  }
  return cfg;
}

uint32_t track_bytes(const World& w) { return w.controller(Side::A).config().track_bytes; }

// Fires R1's timer until its cycle switches (the cycle timer is its only one here).
void switch_cycle(World& w) {
  const uint64_t before = w.controller(Side::A).counters().cycle_switches;
  for (int i = 0; i < 4 && w.controller(Side::A).counters().cycle_switches == before; ++i)
    REQUIRE(apply_first(w, [](const WorldEvent& e) { return e.kind == Kind::FireTimer && e.side == Side::A; }));
  REQUIRE(w.controller(Side::A).counters().cycle_switches == before + 1);
}

// Every version R1 holds now: the image of the boundary a switch makes.
std::map<TrackKey, Version> image_of(const Controller& c) {
  std::map<TrackKey, Version> image;
  for (VolumeId v = 0; v < c.tracks().volume_count(); ++v)
    for (TrackNo t = 0; t < c.tracks().tracks(v); ++t) image[{v, t}] = c.content_version({v, t});
  return image;
}

}  // namespace

TEST_CASE("async folding: the bytes a cycle transmits are exactly its distinct tracks, whatever was written") {
  World w(group_of_two(8));
  std::mt19937_64 rng(11);
  // A hot spot: 9 writes in 10 go to 3 tracks of each volume.
  std::uniform_int_distribution<uint32_t> hot(0, 2), cold(0, 7), pick(0, 9), vol(0, 1);
  uint64_t distinct_total = 0, writes_total = 0;
  for (int cycle = 0; cycle < 5; ++cycle) {
    std::set<TrackKey> distinct;
    const int writes = 10 + 7 * cycle;
    for (int i = 0; i < writes; ++i) {
      const TrackKey k{static_cast<VolumeId>(vol(rng)), pick(rng) < 9 ? hot(rng) : cold(rng)};
      w.write(k, track_bytes(w));  // whole tracks: a folded track is sent once, whole
      distinct.insert(k);
      ++writes_total;
    }
    const uint64_t sent_before = w.controller(Side::A).counters().cycle_tracks_sent;
    const uint64_t bytes_before = w.controller(Side::A).counters().cycle_bytes_sent;
    switch_cycle(w);
    drain(w);
    CHECK(w.controller(Side::A).counters().cycle_tracks_sent - sent_before == distinct.size());
    CHECK(w.controller(Side::A).counters().cycle_bytes_sent - bytes_before == distinct.size() * track_bytes(w));
    CHECK(w.controller(Side::B).applied_cycle(0) == w.controller(Side::A).capture_cycle(0) - 1);
    distinct_total += distinct.size();
  }
  CHECK(w.controller(Side::A).counters().writes_folded == writes_total - distinct_total);
  CHECK(w.observer().violation_count() == 0);
  CHECK(w.quiesce());
  CHECK(w.check_quiesced() == 0);
}

TEST_CASE("async disaster in the capture, transmit and apply phases: R2 at a boundary of the group, the writes after "
          "it lost, no more") {
  enum class Phase { Capture, Transmit, Apply };
  for (const Phase phase : {Phase::Capture, Phase::Transmit, Phase::Apply}) {
    INFO("phase " << static_cast<int>(phase));
    World w(group_of_two(2));
    // Cycle 1: both volumes written, switched, transmitted and applied.
    for (TrackKey k : {TrackKey{0, 0}, TrackKey{1, 0}, TrackKey{0, 1}}) w.write(k);
    switch_cycle(w);
    drain(w);
    const std::map<TrackKey, Version> boundary1 = image_of(w.controller(Side::A));
    REQUIRE(image_of(w.controller(Side::B)) == boundary1);

    // Cycle 2: dependent writes on both volumes.
    for (TrackKey k : {TrackKey{0, 0}, TrackKey{1, 1}, TrackKey{1, 0}}) w.write(k);
    uint64_t after_boundary = 3;  // acknowledged writes R2's boundary does not hold
    std::map<TrackKey, Version> expected = boundary1;
    if (phase != Phase::Capture) {
      const std::map<TrackKey, Version> boundary2 = image_of(w.controller(Side::A));
      switch_cycle(w);
      if (phase == Phase::Transmit) {
        // One track of the set reaches R2, the rest is still on the link.
        REQUIRE(apply_first(w, [](const WorldEvent& e) { return e.kind == Kind::Deliver && e.side == Side::B; }));
        CHECK(w.controller(Side::B).receive_sets(0) == 1);
      } else {
        // Everything reaches R2, which applies the set; its answer is still on the link.
        deliver_all(w, Side::B);
        REQUIRE(w.controller(Side::B).applied_cycle(0) == w.controller(Side::A).capture_cycle(0) - 1);
        expected = boundary2;
        after_boundary = 0;
      }
      // Writes of the next capture cycle: lost in every phase.
      w.write(TrackKey{1, 1});
      w.write(TrackKey{0, 1});
      after_boundary += 2;
    }
    w.apply({Kind::Disaster});
    w.apply({Kind::Failover, Side::B});
    // R2 holds the boundary, the same one for both volumes.
    CHECK(image_of(w.controller(Side::B)) == expected);
    REQUIRE_FALSE(w.observer().losses().empty());
    const LossEvent& loss = w.observer().losses().back();
    CHECK(loss.cause == LossEvent::Cause::Failover);
    CHECK(loss.writes == after_boundary);
    CHECK(w.observer().violation_count() == 0);
  }
}
