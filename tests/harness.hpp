// Test harness: builds small mirrored pairs on model/world and drives them
// by script or by a seeded RNG that reorders deliveries and injects failures
// between any two events. A test tool, not a timing engine.
#pragma once

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "model/world.hpp"

namespace mirrorsim::test {

struct PairOptions {
  Mode mode = Mode::Sync;
  uint32_t volumes = 1;
  uint32_t tracks = 8;
  uint32_t cache_slots = 16;
  double write_pending_limit = 0.8;
  bool cache_nonvolatile = true;
  uint32_t links = 1;
  uint32_t round_trips = 1;
  uint32_t skew_tracks = 2;
  bool domino = false;
  uint32_t disks = 2;
  Mutant mutant = Mutant::None;
};

WorldConfig make_config(const PairOptions& o);

using Kind = WorldEvent::Kind;

// Applies the first internal event matching `pred`; false if none.
bool apply_first(World& w, const std::function<bool(const WorldEvent&)>& pred);
// Delivers every message queued for `to` (in link order), repeatedly, until none is left.
int deliver_all(World& w, Side to);
// Completes every in-flight disk I/O of `s`, oldest first, until none is left.
int complete_disks(World& w, Side s);
// Runs every internal event, oldest first, until nothing is left.
uint64_t drain(World& w, uint64_t max_events = 1'000'000);
// Messages queued on the link towards `to`.
size_t queued(const World& w, Side to);

struct RandomRunOptions {
  uint32_t writes = 12;
  uint32_t reads = 4;
  uint32_t failures = 3;  // failure or operator events injected
  bool allow_disaster = true;
  bool allow_disk_errors = true;
  uint64_t max_events = 5'000;
};

struct RandomRunResult {
  uint64_t seed = 0;
  uint64_t events = 0;
  uint64_t violations = 0;
  uint64_t quiesce_findings = 0;
  bool quiesced = false;
  size_t hung_requests = 0;
  uint64_t writes_acked = 0;
  uint64_t writes_lost = 0;
  std::vector<std::string> failures_injected;
  std::string report;  // the observer's violations, when there are any
  std::vector<RequestId> hung;
};

// One random schedule: host I/O, reordered deliveries and completions,
// failures in between; then quiesce and compare R2 with R1.
RandomRunResult random_run(const PairOptions& o, uint64_t seed, const RandomRunOptions& r = {});

}  // namespace mirrorsim::test
