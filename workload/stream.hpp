// The hosts' request streams, as every driver issues them: the same random
// stream (seeded from the scenario's seed and the workload's index, drawn
// in a fixed order: write or read, then the track, then the next gap), so a
// real run and a simulated run of one scenario see the same sequence of
// addresses and arrival gaps.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "config/scenario.hpp"

namespace mirrorsim {

class WorkloadStream {
 public:
  WorkloadStream(const Scenario& s, uint32_t index);
  const WorkloadScenario& config() const { return *cfg_; }
  // Poisson: the gap to the next arrival.
  Time next_gap();
  // The next request: a write or a read, then its track.
  bool next_is_write();
  TrackNo next_track();
  // Interval statistics: the first arrival after `t` of the Poisson process
  // whose rate is each row's from its t_s to the next row's (Time::max()
  // when no row ahead offers any); a request at `at` is a write with that
  // row's share of writes, of that row's size.
  Time next_arrival_after(Time t);
  bool next_is_write(Time at);
  uint32_t block_bytes(Time at, bool write);

 private:
  const WorkloadScenario* cfg_;
  TrackNo tracks_;
  std::mt19937_64 rng_;
  // Zipf: Vose's alias table. Column k keeps its own track with
  // probability keep_[k], else gives alias_[k].
  std::vector<double> keep_;
  std::vector<TrackNo> alias_;
  TrackNo next_sequential_ = 0;
  size_t row_ = 0;  // intervals: the row of the latest arrival (arrivals do not go back in time)
  const WorkloadInterval* row_at(double t_s);
};

}  // namespace mirrorsim
