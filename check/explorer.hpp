// The exhaustive explorer: every ordering of events of a bounded mirrored
// pair, on the real model (model::World), with no time.
//
// At each state every enabled event is a branch: host writes (and reads) to
// any track, disk completions in any order, deliveries at the head of any
// link (so links overtake each other), timer firings, reachability
// notifications, and failures within their bounds — link cut and restore,
// crash (in-flight disk writes landing or not) and restart of either
// controller, disk failure and repair, primary-site disaster and failover,
// operator suspend/resume and failback. The observer checks I1–I11 on every
// transition; every quiet state (nothing in flight) is also brought to rest
// on a copy and must end with R2 == R1, nothing owed and every host request
// answered.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "model/world.hpp"

namespace mirrorsim::check {

// How much the environment may do on one path. Restorations (link up,
// restart, disk repair, resume, failover after a disaster) are not counted:
// each is enabled while its failure lasts.
struct Bounds {
  uint32_t writes = 4;            // host writes issued, to any track of any volume
  uint32_t reads = 0;             // host reads issued
  // The defaults of the [check] table (config/scenario.hpp's CheckScenario).
  uint32_t link_failures = 1;     // cuts of every link at once
  uint32_t crashes = 1;           // controller crashes, either side
  uint32_t disk_failures = 0;     // disk failures, any disk of either side
  uint32_t disasters = 0;         // primary-site disasters (controller crash + link cut)
  uint32_t operator_actions = 0;  // suspend at the primary, or failback
  uint64_t max_states = 10'000'000;  // distinct states stored; the search stops there
  uint32_t max_depth = 10'000;       // events on one path; the search stops there

  // Sets every failure kind to n.
  void set_failures(uint32_t n) { link_failures = crashes = disk_failures = disasters = operator_actions = n; }
};

struct Options {
  WorldConfig world;  // trace_length and time_frozen are set by the explorer
  Bounds bounds;
  // Memory the searches may hold (the visited table, the states waiting on
  // the search's levels or stack, the spare states), by state_bytes() per
  // state; a search that would exceed it stops (Outcome::MemoryLimit).
  // 0: no limit (the command line and Python always set one).
  uint64_t memory_bytes_max = 0;
  // After a violation found by the depth-first pass, search again for a
  // shortest trace to one (the shallow pass's findings are shortest already).
  bool shortest_counterexample = true;
  // Called about once a second during long searches (on the searching thread).
  std::function<void(uint64_t states, uint64_t transitions, uint32_t depth, double seconds)> progress;
};

// What the explorer found wrong at the end of a trace.
struct Finding {
  enum class Kind : uint8_t {
    Invariant,    // the observer flagged the last event (I1–I11)
    EndState,     // brought to rest, the pair did not end with R2 == R1 and nothing owed
    HungRequest,  // brought to rest, a host request was never answered
    NoRest,       // bringing it to rest did not settle
  };
  Kind kind = Kind::Invariant;
  std::optional<Invariant> invariant;  // Kind::Invariant, or the first observer violation at rest
  std::string what;                    // one line per problem
};
std::string_view to_string(Finding::Kind);

// A trace from the initial state of `world`: the events in order, then, if
// `rest_at_end`, the pair brought to rest (World::quiesce) and judged.
struct Counterexample {
  WorldConfig world;
  Bounds bounds;  // recorded for the reader; replay does not need them
  std::vector<WorldEvent> events;
  bool rest_at_end = false;
  bool shortest = false;  // established by the shortest-trace search
};

struct Stats {
  uint64_t states = 0;       // distinct states reached (each expanded once)
  uint64_t transitions = 0;  // events applied
  uint64_t end_states = 0;   // quiet states brought to rest and judged
  uint32_t max_depth = 0;    // longest path the depth-first search followed
  double seconds = 0;
  uint64_t visited_bytes = 0;      // the table of state fingerprints
  uint64_t memory_bytes = 0;       // the most the search held: visited table and states (see Options::memory_bytes_max)
  double states_per_second() const { return seconds > 0 ? static_cast<double>(states) / seconds : 0; }
  double bytes_per_state() const { return states ? static_cast<double>(visited_bytes) / static_cast<double>(states) : 0; }
};

struct Result {
  enum class Outcome : uint8_t {
    Complete,        // every reachable state explored, nothing wrong
    Violation,       // a counterexample was found
    StateLimit,      // stopped at bounds.max_states
    DepthLimit,      // stopped at bounds.max_depth
    MemoryLimit,     // stopped at options.memory_bytes_max
  };
  Outcome outcome = Outcome::Complete;
  Stats stats;
  std::optional<Finding> finding;
  std::optional<Counterexample> counterexample;
  // The searches around the main one: the shallow search that runs first
  // (it alone, when it finds something) and the shortest-trace search after
  // a depth-first finding.
  Stats shallow_stats;
  Stats shortest_stats;
};
std::string_view to_string(Result::Outcome);

// A shallow search first (iterative deepening within 2 % of max_states
// transitions: shallow mistakes are found at once, with a shortest trace),
// then depth-first over every distinct state once (the deterministic state
// count), then, after a finding, the shortest trace to one.
Result explore(const Options& options);

// An upper bound of the memory one state of the search takes: both
// controllers (track tables, cache slots, disks' queues), the observer's
// per-track records, the disks' contents and what is in flight.
uint64_t state_bytes(const WorldConfig& world);

// Applies a counterexample's events to a fresh World and judges the result
// as the explorer did: the first finding, or none. Throws
// std::invalid_argument when an event cannot happen at its point in the
// trace (a hand-edited file, or one from a different model).
struct ReplayResult {
  std::optional<Finding> finding;
  uint64_t events_applied = 0;  // before the finding (all of them if none)
  // One entry per event applied: what the event was, then the controller
  // step it caused (input and commands), then any violation it raised.
  std::vector<std::string> narrative;
};
ReplayResult replay(const Counterexample& cx);

}  // namespace mirrorsim::check
