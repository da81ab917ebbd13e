// Seeded random runs: for every mode, at least 1,000 seeds with random
// link failures, crashes, disk errors, operator actions and reorderings,
// each ending with zero invariant violations and R2 == R1 after quiesce.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include "tests/harness.hpp"

using namespace mirrorsim;
using namespace mirrorsim::test;

namespace {

struct Tally {
  uint64_t seeds = 0, violations = 0, findings = 0, unsettled = 0, hung = 0, events = 0, acked = 0, lost = 0;
};

Tally run_seeds(const char* label, const PairOptions& o, uint64_t first_seed, uint64_t seeds,
                const RandomRunOptions& r = {}) {
  Tally t;
  for (uint64_t s = first_seed; s < first_seed + seeds; ++s) {
    const RandomRunResult res = random_run(o, s, r);
    ++t.seeds;
    t.violations += res.violations;
    t.findings += res.quiesce_findings;
    t.unsettled += res.quiesced ? 0 : 1;
    t.hung += res.hung_requests;
    t.events += res.events;
    t.acked += res.writes_acked;
    t.lost += res.writes_lost;
    if (res.violations || res.quiesce_findings || !res.quiesced || res.hung_requests) {
      std::string injected;
      for (const auto& f : res.failures_injected) injected += "\n  " + f;
      FAIL_CHECK(fmt::format("{}: seed {} — {} violations, {} quiesce findings, quiesced {}, {} hung requests; "
                             "failures injected:{}\n{}",
                             label, s, res.violations, res.quiesce_findings, res.quiesced, res.hung_requests, injected,
                             res.report));
      break;
    }
  }
  // The count this suite promises, printed where the test run shows it.
  fmt::print("seeded random runs [{}]: {} seeds, {} events, {} writes acknowledged, {} lost at failures, "
             "{} invariant violations, {} quiesce findings\n",
             label, t.seeds, t.events, t.acked, t.lost, t.violations, t.findings);
  return t;
}

void expect_clean(const Tally& t, uint64_t seeds) {
  CHECK(t.seeds == seeds);
  CHECK(t.violations == 0);
  CHECK(t.findings == 0);
  CHECK(t.unsettled == 0);
  CHECK(t.hung == 0);
  CHECK(t.acked > 0);
}

}  // namespace

TEST_CASE("seeded random runs: sync mode keeps every invariant over 1000 seeds") {
  expect_clean(run_seeds("sync", {.mode = Mode::Sync, .tracks = 4, .cache_slots = 6}, 1, 1000), 1000);
}

TEST_CASE("seeded random runs: sync mode with two round trips and two links over 1000 seeds") {
  expect_clean(run_seeds("sync 2-rtt 2-links", {.mode = Mode::Sync, .tracks = 4, .cache_slots = 6, .links = 2, .round_trips = 2},
                         10'001, 1000),
               1000);
}

TEST_CASE("seeded random runs: semi-sync mode keeps every invariant over 1000 seeds") {
  expect_clean(run_seeds("semi-sync", {.mode = Mode::SemiSync, .volumes = 2, .tracks = 3, .cache_slots = 6, .links = 2},
                         20'001, 1000),
               1000);
}

TEST_CASE("seeded random runs: adaptive-copy-wp mode keeps every invariant over 1000 seeds") {
  expect_clean(run_seeds("adaptive-copy-wp",
                         {.mode = Mode::AdaptiveCopyWp, .tracks = 5, .cache_slots = 6, .links = 2, .skew_tracks = 2},
                         30'001, 1000),
               1000);
}

TEST_CASE("seeded random runs: adaptive-copy-disk mode keeps every invariant over 1000 seeds") {
  expect_clean(run_seeds("adaptive-copy-disk", {.mode = Mode::AdaptiveCopyDisk, .tracks = 5, .cache_slots = 4}, 40'001, 1000),
               1000);
}

TEST_CASE("seeded random runs: async mode, a consistency group of two volumes, keeps every invariant over 10000 seeds") {
  // A small cache: the delta sets cross their limit (drops and resyncs) on
  // many paths, beside link cuts, crashes, disasters and operator actions.
  expect_clean(run_seeds("async", {.mode = Mode::Async, .volumes = 2, .tracks = 3, .cache_slots = 4, .links = 2}, 45'001, 10'000),
               10'000);
  expect_clean(run_seeds("async volatile", {.mode = Mode::Async, .volumes = 2, .tracks = 3, .cache_slots = 8,
                                            .cache_nonvolatile = false, .links = 2},
                         146'001, 10'000),
               10'000);
}

TEST_CASE("seeded random runs: volatile caches and domino over 1000 seeds per mode") {
  for (Mode m : {Mode::Sync, Mode::SemiSync, Mode::AdaptiveCopyWp, Mode::AdaptiveCopyDisk}) {
    const auto label = fmt::format("{} volatile domino", to_string(m));
    expect_clean(run_seeds(label.c_str(),
                           {.mode = m, .tracks = 4, .cache_slots = 5, .cache_nonvolatile = false, .links = 2, .domino = true},
                           50'001 + 1000 * static_cast<uint64_t>(m), 1000),
                 1000);
  }
}

TEST_CASE("seeded random runs: a tight write-pending limit under many failures") {
  RandomRunOptions r;
  r.writes = 20;
  r.failures = 6;
  expect_clean(run_seeds("tight-cache", {.mode = Mode::Sync, .volumes = 2, .tracks = 4, .cache_slots = 3, .write_pending_limit = 0.67},
                         90'001, 1000, r),
               1000);
}
