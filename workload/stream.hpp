// The hosts' request streams, as every driver issues them: the same random
// stream (seeded from the scenario's seed and the workload's index, drawn
// in a fixed order: write or read, then the track, then the next gap), so a
// real run and a simulated run of one scenario see the same sequence of
// addresses and arrival gaps.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <random>
#include <vector>

#include "config/scenario.hpp"
#include "config/trace.hpp"

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
  // Interval statistics and traces: the first arrival after `t` of the Poisson process
  // whose rate is each row's from its t_s to the next row's (Time::max()
  // when no row ahead offers any); a request at `at` is a write with that
  // row's share of writes, of that row's size.
  Time next_arrival_after(Time t);
  bool next_is_write(Time at);
  uint32_t block_bytes(Time at, bool write);
  // A trace: the records split in pieces, one per track they touch.
  uint64_t requests_split() const { return split_; }

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
  // trace
  struct Piece {
    Time at;
    bool write = true;
    TrackNo track = 0;
    uint32_t bytes = 0;
  };
  Time trace_next(Time start);
  uint32_t track_bytes_ = 0;
  std::unique_ptr<TraceReader> trace_;
  std::optional<Time> trace_base_;  // the workload's start: trace times count from it
  double loop_offset_s_ = 0, last_t_s_ = 0;
  uint64_t records_ = 0, split_ = 0;
  std::deque<Piece> pieces_;
  Piece current_;
};

}  // namespace mirrorsim
