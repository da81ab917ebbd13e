// The explorer bites: every deliberately broken protocol variant is caught
// with a counterexample, and the counterexample replays — from its file —
// through the same model to the same violation.
#include <catch2/catch.hpp>

#include <filesystem>

#include <fmt/format.h>

#include "check/counterexample.hpp"
#include "check/explorer.hpp"
#include "tests/harness.hpp"

using namespace mirrorsim;
using namespace mirrorsim::test;

namespace {

// The mode in which a mutant's mistake shows: the semi-sync and sync
// mistakes need their mode, the others show in any mode that copies.
Mode mode_for(Mutant m) {
  switch (m) {
    case Mutant::SemiSyncTwoOutstanding: return Mode::SemiSync;
    case Mutant::SyncAckBeforeRemoteAck: return Mode::Sync;
    case Mutant::AsyncAppliesPartialCycle:
    case Mutant::AsyncSwitchBeforeTransmitAcked:
    case Mutant::AsyncFoldKeepsOlder:
    case Mutant::AsyncGroupSplitBoundary: return Mode::Async;
    default: return Mode::AdaptiveCopyWp;
  }
}

// The bound (4 writes over 2 tracks, one failure of each kind),
// with two links so that copies can overtake each other. Evictions need
// more tracks than cache slots: one slot for the mutant that evicts.
check::Options mutant_options(Mutant m) {
  check::Options o;
  const uint32_t slots = m == Mutant::EvictWpSlot ? 1 : 2;
  // Async: a consistency group of two volumes of two tracks.
  const bool async = mode_for(m) == Mode::Async;
  o.world = make_config({.mode = mode_for(m), .volumes = async ? 2u : 1u, .tracks = 2, .cache_slots = async ? 4u : slots,
                         .write_pending_limit = 1.0, .links = 2, .skew_tracks = 1, .mutant = m});
  o.bounds.writes = 4;
  o.bounds.set_failures(1);
  return o;
}

}  // namespace

TEST_CASE("every mutant is caught with a shortest counterexample that replays to the same violation") {
  const auto dir = std::filesystem::temp_directory_path() / "mirrorsim-check-tests";
  std::filesystem::create_directories(dir);
  for (Mutant m : all_mutants()) {
    INFO("mutant " << to_string(m));
    const check::Result r = check::explore(mutant_options(m));
    REQUIRE(r.outcome == check::Result::Outcome::Violation);
    REQUIRE(r.finding);
    REQUIRE(r.counterexample);
    CHECK(r.counterexample->shortest);
    fmt::print("mutant {:<32} caught: {} after {} events ({} states searched, shortest search {} states)\n",
               to_string(m), r.finding->invariant ? describe(*r.finding->invariant) : to_string(r.finding->kind),
               r.counterexample->events.size(), r.stats.states, r.shortest_stats.states);

    // Through the file, as a test or `mirrorsim check --replay` would.
    const auto path = (dir / fmt::format("{}.json", to_string(m))).string();
    check::save_counterexample(*r.counterexample, path);
    const check::Counterexample loaded = check::load_counterexample(path);
    CHECK(loaded.events.size() == r.counterexample->events.size());
    CHECK(loaded.world.side_a.mutant == m);

    const check::ReplayResult replayed = check::replay(loaded);
    REQUIRE(replayed.finding);
    CHECK(replayed.finding->kind == r.finding->kind);
    CHECK(replayed.finding->invariant == r.finding->invariant);
    CHECK(replayed.finding->what == r.finding->what);
    CHECK(replayed.events_applied == loaded.events.size());
  }
}

TEST_CASE("without the mutant the same trace raises nothing") {
  // The counterexample proves the mutant wrong, not the protocol: the
  // correct controllers go through the same events cleanly (as far as
  // those events can still happen). A trace the correct protocol cannot
  // follow proves nothing either way, so most must replay whole.
  uint32_t replayed_clean = 0, skipped = 0;
  for (Mutant m : all_mutants()) {
    INFO("mutant " << to_string(m));
    const check::Result r = check::explore(mutant_options(m));
    REQUIRE(r.counterexample);
    check::Counterexample fixed = *r.counterexample;
    fixed.world.side_a.mutant = fixed.world.side_b.mutant = Mutant::None;
    try {
      const check::ReplayResult replayed = check::replay(fixed);
      CHECK_FALSE(replayed.finding);
      CHECK(replayed.events_applied == fixed.events.size());
      ++replayed_clean;
    } catch (const std::invalid_argument&) {
      // The correct protocol took a different turn and an event of the
      // trace is no longer possible: nothing to compare.
      ++skipped;
    }
  }
  fmt::print("without the mutant: {} traces replayed cleanly, {} could not be followed\n", replayed_clean, skipped);
  CHECK(replayed_clean >= skipped);
  CHECK(replayed_clean > 0);
}

TEST_CASE("a remote WP reset on send is caught at the first host write") {
  const check::Result r = check::explore(mutant_options(Mutant::RemoteWpResetOnSend));
  REQUIRE(r.counterexample);
  REQUIRE(r.counterexample->events.size() == 1);
  CHECK(r.counterexample->events.front().kind == WorldEvent::Kind::HostWrite);
  CHECK(r.finding->invariant == Invariant::I2);
}

TEST_CASE("a replayed trace with an impossible event is refused, not applied") {
  check::Counterexample cx;
  cx.world = make_config({.mode = Mode::Sync, .tracks = 2});
  cx.events.push_back({WorldEvent::Kind::Deliver, Side::B, 0, {}, false});  // nothing was sent
  CHECK_THROWS_AS(check::replay(cx), std::invalid_argument);
}
