// The invariant observer for a real run. R1 and R2 live in separate
// processes, so no process sees both controllers; but each logs every input
// it stepped (state_file.hpp), and the model is deterministic. The replay
// rebuilds both controllers from those logs and runs the model's Observer
// over them, checking I1–I11 on exactly the steps the real controllers took.
//
// The two logs are merged in causal order: by timestamp (one machine, one
// monotonic clock), except that a side never receives a message before the
// peer's replica has sent it (messages are matched by content, in order;
// unmatched ones were lost with their connection). A process that died (a
// SIGKILL, a power loss) becomes a Crash step just after the last step it
// logged — it did nothing after that, and the peer noticed only later; its
// restart is checked against the replay: the durable state it recovered
// must hash to the replica's, or the state file lost or invented something.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "config/scenario.hpp"
#include "model/controller.hpp"
#include "model/invariants.hpp"
#include "real/state_file.hpp"
#include "report/result.hpp"

namespace mirrorsim::real {

struct ReplayWindow {
  Time workload_start;  // model time of the run's second 0
  Time warmup_end;      // model time: measurement starts
  Time duration_end;    // model time: host I/O ends
  double timeseries_interval_s = 0.1;
  size_t violation_trace_length = 48;
};

class Replay {
 public:
  Replay(const Scenario& s, const ReplayWindow& w);
  Replay(const Replay&) = delete;
  Replay& operator=(const Replay&) = delete;

  // `dead_at_end`: the side's last process was killed and not restarted.
  void run(std::array<std::vector<LogRecord>, 2> logs, std::array<bool, 2> dead_at_end);

  Observer& observer() { return *observer_; }
  const Controller& controller(Side s) const { return *ctl_[index_of(s)]; }
  // Where the replay could not follow the logs: each is a finding of the run.
  const std::vector<std::string>& problems() const { return problems_; }
  uint64_t steps() const { return steps_; }
  Time last_time() const { return last_; }
  uint64_t restarts_checked() const { return restarts_checked_; }

  // Peaks, resyncs, cache occupancy, time series, losses and counters, on
  // the run's time axis (seconds from the start of host I/O).
  void fill(RunResult& r) const;

 private:
  void step(Side s, Time at, const Input& in);
  void crash(Side s, Time at);
  void after_step(Side s, Time at);
  void sample_until(Time t);
  double run_s(Time t) const { return (t - w_.workload_start).s(); }

  const Scenario& sc_;
  ReplayWindow w_;
  std::array<std::unique_ptr<Controller>, 2> ctl_;
  std::unique_ptr<Observer> observer_;
  std::array<ControllerCounters, 2> counters_before_restart_{};
  std::vector<std::string> problems_;
  uint64_t steps_ = 0;
  uint64_t restarts_checked_ = 0;
  Time last_;
  Commands out_;

  // metrics, as the simulator computes them
  uint64_t peak_remote_wp_ = 0, peak_local_wp_ = 0, peak_invalid_remote_ = 0, peak_at_risk_ = 0, peak_bytes_at_risk_ = 0;
  std::vector<ResyncResult> resyncs_;
  std::array<PairState, 2> pair_state_seen_{PairState::Synchronized, PairState::Synchronized};
  Time occupancy_last_;
  uint32_t occupancy_wp_slots_ = 0;
  double occupancy_slot_s_ = 0;
  std::unordered_map<uint64_t, Time> wp_since_;
  uint64_t wp_episodes_ = 0;
  double wp_residence_s_ = 0;
  std::vector<TimeSample> samples_;
  Time next_sample_;
};

}  // namespace mirrorsim::real
