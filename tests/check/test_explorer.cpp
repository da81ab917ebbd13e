// Exhaustive exploration of small pairs: every mode keeps every invariant
// in every reachable state, the search is deterministic, and a bound too
// large stops cleanly at --max-states.
//
// The bounds are the issue's, one failure kind at a time: 4 writes over 2
// tracks with one link cut, one crash, one disk error or one operator action
// (1.6 to 5.8 million states a mode); a disaster with failover at 3 writes
// (2.4 to 3.9 million; 4 writes with a disaster exceed 10^7 states).
// All five failure kinds on one path multiply into more than 10^7 states
// even at 2 writes (bench/README.md has the figures).
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include "check/counterexample.hpp"
#include "check/explorer.hpp"
#include "tests/harness.hpp"

using namespace mirrorsim;
using namespace mirrorsim::test;

namespace {

const Mode kModes[] = {Mode::Sync, Mode::SemiSync, Mode::AdaptiveCopyWp, Mode::AdaptiveCopyDisk};

check::Options pair(Mode mode, uint32_t writes) {
  check::Options o;
  o.world = make_config({.mode = mode, .tracks = 2, .cache_slots = 2, .write_pending_limit = 1.0, .skew_tracks = 1});
  o.bounds.writes = writes;
  o.bounds.set_failures(0);
  return o;
}

void expect_clean(const check::Options& o, const std::string& label) {
  const check::Result r = check::explore(o);
  fmt::print("check [{}]: {} states, {} transitions, {} end states, depth {}, {:.0f} states/s\n", label, r.stats.states,
             r.stats.transitions, r.stats.end_states, r.stats.max_depth, r.stats.states_per_second());
  INFO(label);
  if (r.finding) {
    const check::ReplayResult replayed = check::replay(*r.counterexample);
    std::string trace;
    for (const auto& line : replayed.narrative) trace += line + "\n";
    FAIL(fmt::format("{}: {}\n{}", check::to_string(r.finding->kind), r.finding->what, trace));
  }
  CHECK(r.outcome == check::Result::Outcome::Complete);
  CHECK(r.stats.end_states > 0);
}

struct FailureKind {
  const char* name;
  uint32_t check::Bounds::*bound;
};
const FailureKind kFailureKinds[] = {
    {"one link cut", &check::Bounds::link_failures},
    {"one crash", &check::Bounds::crashes},
    {"one disk error", &check::Bounds::disk_failures},
    {"one operator action", &check::Bounds::operator_actions},
};

void expect_clean_with_each_failure(Mode mode) {
  for (const FailureKind& f : kFailureKinds) {
    check::Options o = pair(mode, 4);
    o.bounds.*f.bound = 1;
    expect_clean(o, fmt::format("{}, 4 writes, {}", to_string(mode), f.name));
  }
}

}  // namespace

TEST_CASE("every mode: every ordering of 4 writes over 2 tracks keeps every invariant") {
  for (Mode m : kModes) expect_clean(pair(m, 4), fmt::format("{}, 4 writes", to_string(m)));
}

TEST_CASE("sync mode: every ordering of 4 writes with one failure of each kind keeps every invariant") {
  expect_clean_with_each_failure(Mode::Sync);
}

TEST_CASE("semi-sync mode: every ordering of 4 writes with one failure of each kind keeps every invariant") {
  expect_clean_with_each_failure(Mode::SemiSync);
}

TEST_CASE("adaptive-copy-wp mode: every ordering of 4 writes with one failure of each kind keeps every invariant") {
  expect_clean_with_each_failure(Mode::AdaptiveCopyWp);
}

TEST_CASE("adaptive-copy-disk mode: every ordering of 4 writes with one failure of each kind keeps every invariant") {
  expect_clean_with_each_failure(Mode::AdaptiveCopyDisk);
}

namespace {

void expect_disaster_within_bound(Mode mode) {
  check::Options o = pair(mode, 3);
  o.bounds.disasters = 1;
  expect_clean(o, fmt::format("{}, 3 writes, one disaster", to_string(mode)));
}

}  // namespace

TEST_CASE("sync mode: a disaster with failover loses no acknowledged write, in every ordering of 3 writes") {
  expect_disaster_within_bound(Mode::Sync);
}

TEST_CASE("semi-sync mode: a disaster with failover loses at most one acknowledged write per volume, in every ordering "
          "of 3 writes") {
  expect_disaster_within_bound(Mode::SemiSync);
}

TEST_CASE("adaptive-copy-wp mode: a disaster with failover keeps every invariant, in every ordering of 3 writes") {
  expect_disaster_within_bound(Mode::AdaptiveCopyWp);
}

TEST_CASE("adaptive-copy-disk mode: a disaster with failover keeps every invariant, in every ordering of 3 writes") {
  expect_disaster_within_bound(Mode::AdaptiveCopyDisk);
}

TEST_CASE("a volatile cache and two links keep every invariant through a crash") {
  check::Options o = pair(Mode::Sync, 2);
  o.world.side_a.cache_nonvolatile = o.world.side_b.cache_nonvolatile = false;
  o.world.links = 2;
  o.bounds.crashes = 1;
  expect_clean(o, "sync, volatile cache, 2 links, 2 writes, one crash");
}

TEST_CASE("the state count is the same from run to run") {
  check::Options o = pair(Mode::Sync, 3);
  o.bounds.link_failures = 1;
  const check::Result first = check::explore(o);
  const check::Result second = check::explore(o);
  REQUIRE(first.outcome == check::Result::Outcome::Complete);
  CHECK(first.stats.states == second.stats.states);
  CHECK(first.stats.transitions == second.stats.transitions);
  CHECK(first.stats.end_states == second.stats.end_states);
  CHECK(first.stats.max_depth == second.stats.max_depth);
}

TEST_CASE("a bound too large stops at max-states with its statistics, not out of memory") {
  check::Options o = pair(Mode::Sync, 4);
  o.bounds.set_failures(1);
  o.bounds.max_states = 20'000;
  const check::Result r = check::explore(o);
  CHECK(r.outcome == check::Result::Outcome::StateLimit);
  CHECK(r.stats.states == o.bounds.max_states);
  CHECK_FALSE(r.finding);
  CHECK(r.stats.visited_bytes < 1'000'000);
  CHECK(check::to_json(r)["outcome"] == "state-limit");
}

TEST_CASE("a path longer than max-depth stops the search with its own outcome") {
  check::Options o = pair(Mode::Sync, 4);
  o.bounds.max_depth = 5;
  CHECK(check::explore(o).outcome == check::Result::Outcome::DepthLimit);
}

TEST_CASE("a finding at rest replays to the same end-state verdict") {
  // Resync that forgets the invalid tracks leaves R2 behind R1 for good:
  // the pair brought to rest does not end with R2 == R1.
  check::Options o = pair(Mode::Sync, 2);
  o.world.side_a.mutant = o.world.side_b.mutant = Mutant::ResyncSkipsInvalidTracks;
  o.bounds.link_failures = 1;
  const check::Result r = check::explore(o);
  REQUIRE(r.finding);
  REQUIRE(r.counterexample);
  CHECK(r.counterexample->rest_at_end);
  CHECK(r.finding->kind == check::Finding::Kind::EndState);
  const check::ReplayResult replayed = check::replay(check::counterexample_from_json(check::to_json(*r.counterexample)));
  REQUIRE(replayed.finding);
  CHECK(replayed.finding->kind == r.finding->kind);
  CHECK(replayed.finding->what == r.finding->what);
}

TEST_CASE("a counterexample file of another format is refused with a reason") {
  CHECK_THROWS_AS(check::counterexample_from_json(nlohmann::json{{"format", "something-else"}}), check::TraceError);
  nlohmann::json j = check::to_json(check::Counterexample{make_config({.mode = Mode::Sync}), {}, {}, false, false});
  j["events"] = nlohmann::json::array({{{"kind", "teleport"}}});
  CHECK_THROWS_AS(check::counterexample_from_json(j), check::TraceError);
}

namespace {

// Async: one consistency group of two volumes of one track each, so that
// every ordering puts dependent writes on both sides of a cycle boundary.
check::Options async_pair(uint32_t writes) {
  check::Options o;
  o.world = make_config({.mode = Mode::Async, .volumes = 2, .tracks = 1, .cache_slots = 4, .write_pending_limit = 1.0});
  o.bounds.writes = writes;
  o.bounds.set_failures(0);
  return o;
}

}  // namespace

TEST_CASE("async mode: a consistency group of 2 volumes keeps every invariant in every ordering of 4 writes, and of 3 "
          "writes with one failure of each kind") {
  expect_clean(async_pair(4), "async, 2 volumes in a group, 4 writes");
  for (const FailureKind& f : kFailureKinds) {
    check::Options o = async_pair(3);
    o.bounds.*f.bound = 1;
    expect_clean(o, fmt::format("async, 2 volumes in a group, 3 writes, {}", f.name));
  }
}

TEST_CASE("async mode: two transmit sets may wait for R2, and every ordering of 3 writes with one link cut keeps every "
          "invariant") {
  check::Options o = async_pair(3);
  for (ControllerConfig* c : {&o.world.side_a, &o.world.side_b}) c->async.transmit_sets_max = 2;
  o.bounds.link_failures = 1;
  expect_clean(o, "async, 2 transmit sets, 3 writes, one link cut");
}

TEST_CASE("async mode: a disaster with failover leaves R2 at a cycle boundary of the group, in every ordering of 2 "
          "writes") {
  check::Options o = async_pair(2);
  o.bounds.disasters = 1;
  expect_clean(o, "async, 2 volumes in a group, 2 writes, one disaster");
}
