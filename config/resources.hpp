// What a scenario needs before it runs: memory, by consumer, and events per
// simulated second. A run the machine cannot hold is refused with its
// biggest consumers named, instead of ending in std::bad_alloc after minutes
// (or being killed); one whose clock could not advance is refused too.
//
// The estimate is computed from the scenario alone (config/ makes no OS
// call); the limit comes from the caller (`--memory-max-mib`, Python's
// `memory_max_mib=`), whose default is kMemoryShareDefault of the machine's
// physical memory. It is meant to be roughly right — within a factor of two
// of the resident memory of a run, for runs large enough to matter (tested
// against measured RSS in tests/cli) — and errs high.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/scenario.hpp"

namespace mirrorsim {

enum class Driver : uint8_t {
  Simulator,  // mirrorsim run / sweep: both controllers, the observer and SimGrid in one process
  Real,       // mirrorsim real: the largest of its processes (a controller with its cache data, or the orchestrator)
};

struct MemoryUse {
  std::string what;  // the consumer and the keys that size it
  uint64_t bytes = 0;
};

struct ResourceEstimate {
  std::vector<MemoryUse> memory;  // largest first
  uint64_t memory_bytes = 0;      // their sum
  double requests_in_flight = 0;  // closed: queue depths; Poisson: rate × a plausible residence
  // An upper bound: every closed workload at its shortest cycle, every
  // request costing kEventsPerRequest events. Infinite when a closed
  // workload's requests take no simulated time at all.
  double events_per_simulated_s = 0;
};

// The default memory limit, as a share of physical memory: the rest is the
// system's, the page cache's and other programs'.
inline constexpr double kMemoryShareDefault = 0.5;
// More events than this per simulated second and the nanosecond clock can no
// longer separate them (and a simulated second costs many minutes).
inline constexpr double kEventsPerSimulatedSecondMax = 1e9;

ResourceEstimate estimate_resources(const Scenario& s, Driver driver = Driver::Simulator);

struct ResourceLimits {
  uint64_t memory_bytes_max = 0;  // per process
  unsigned concurrent = 1;        // processes at once: a sweep's jobs
  std::string memory_flag = "--memory-max-mib";  // how the user raises the limit, for the message
};

// A scenario refused for what it would need; a ScenarioError (exit 2,
// Python's ScenarioError) naming the scenario.
class ResourceError : public ScenarioError {
 public:
  using ScenarioError::ScenarioError;
};

// Throws ResourceError when the estimate × concurrent exceeds the memory
// limit (naming the biggest consumers and their keys), or the events per
// simulated second exceed kEventsPerSimulatedSecondMax.
void check_resources(const Scenario& s, const ResourceLimits& limits, Driver driver = Driver::Simulator);

// A sweep's grid times its repeats, at most: each run is a point in memory
// before the first one starts (three parameters of 10,000 values would be
// 10^12 of them).
inline constexpr double kSweepRunsMax = 1e6;
// Throws ResourceError naming `where` when the grid of `params` × repeat
// exceeds kSweepRunsMax runs.
void check_sweep_size(const std::vector<SweepParam>& params, uint32_t repeat, const std::string& where);

// Every point of a sweep (each its overrides of `base`), limits.concurrent
// at once: the first point that check_resources refuses is refused, named.
// Points whose overrides the loader refuses are left to fail on their own.
void check_sweep_resources(const Scenario& base, const std::vector<std::vector<Override>>& points,
                           const ResourceLimits& limits);

// "1.5 GiB", "820 MiB", "12 KiB".
std::string size_text(uint64_t bytes);

}  // namespace mirrorsim
