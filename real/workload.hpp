// Host workloads as the simulator issues them: the same random streams
// (seeded from the scenario's seed and the workload's index, drawn in the
// same order), so a real run and a simulated run of one scenario see the
// same sequence of addresses and arrival gaps.
#pragma once

#include <random>
#include <vector>

#include "config/scenario.hpp"

namespace mirrorsim::real {

class WorkloadStream {
 public:
  WorkloadStream(const Scenario& s, uint32_t index);
  const WorkloadScenario& config() const { return *cfg_; }
  // Poisson: the gap to the next arrival.
  Time next_gap();
  // The next request: a write or a read of one track.
  bool next_is_write();
  TrackNo next_track();

 private:
  const WorkloadScenario* cfg_;
  TrackNo tracks_;
  std::mt19937_64 rng_;
  std::vector<double> zipf_cdf_;
  TrackNo next_sequential_ = 0;
};

}  // namespace mirrorsim::real
