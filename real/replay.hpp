// The invariant observer for a real run. R1 and R2 live in separate
// processes, so no process sees both controllers; but each logs every input
// it stepped (state_file.hpp), and the model is deterministic. The replay
// rebuilds both controllers from those logs and runs the model's Observer
// over them, checking I1–I14 on exactly the steps the real controllers took.
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
#include "real/cpu.hpp"
#include "real/cycle_boundaries.hpp"
#include "real/state_file.hpp"
#include "report/metrics.hpp"
#include "report/result.hpp"

namespace mirrorsim::real {

// A host request the orchestrator answered itself as failed (no controller
// was there to take it, or the one it went to died with it): the metrics
// count it as the hosts saw it.
struct UnansweredRequest {
  RequestId req = 0;
  Time at;  // model time the orchestrator gave up on it (or issued it, if no controller ever had it)
  TrackKey key;
  bool write = true;
  uint32_t bytes = 0;
  // Sent to a controller that then went away: it may have stepped it (and
  // its replay answers it), or died first (then it is not counted at all).
  bool reached_controller = false;
};

struct ReplayWindow {
  Time workload_start;  // model time of the run's second 0
  Time warmup_end;      // model time: measurement starts
  Time duration_end;    // model time: host I/O ends
  double timeseries_interval_s = 0.1;
  size_t violation_trace_length = 48;
};

class LogReplay {
 public:
  LogReplay(const Scenario& s, const ReplayWindow& w);
  LogReplay(const LogReplay&) = delete;
  LogReplay& operator=(const LogReplay&) = delete;

  // `dead_at_end`: the side's last process was killed and not restarted.
  // `sent_at`: when the hosts sent each request (model time, by request id
  // − 1: ids count from 1), which decides the measured window; `unanswered`:
  // by time.
  void run(std::array<std::vector<LogRecord>, 2> logs, std::array<bool, 2> dead_at_end, std::vector<Time> sent_at = {},
           std::vector<UnansweredRequest> unanswered = {});

  Observer& observer() { return *observer_; }
  RunMetrics& metrics() { return *metrics_; }
  const Controller& controller(Side s) const { return *ctl_[index_of(s)]; }
  // Where the replay could not follow the logs: each is a finding of the run.
  const std::vector<std::string>& problems() const { return problems_; }
  uint64_t steps() const { return steps_; }
  Time last_time() const { return last_; }
  uint64_t restarts_checked() const { return restarts_checked_; }
  // The CPU each side spent per operation kind, from its steps' Executed
  // records (cpu.hpp), over the measured window.
  const CpuStats& cpu(Side s) const { return cpu_[index_of(s)]; }
  // Async: the cycles R1 took, for the boundary check (cycle_boundaries.hpp).
  const CycleHistory& cycles() const { return *cycles_; }

  // Every metric of the run (the metrics observer's, as the simulator's),
  // on the run's time axis (seconds from the start of host I/O).
  void fill(RunResult& r);

 private:
  // `effects_at`: when the step's commands took effect (its Executed record).
  void step(Side s, Time at, Time effects_at, const Input& in);
  void crash(Side s, Time at);

  const Scenario& sc_;
  ReplayWindow w_;
  std::array<std::unique_ptr<Controller>, 2> ctl_;
  std::unique_ptr<Observer> observer_;
  std::unique_ptr<RunMetrics> metrics_;
  std::unique_ptr<CycleHistory> cycles_;
  std::vector<std::string> problems_;
  std::array<CpuStats, 2> cpu_;
  uint64_t steps_ = 0;
  uint64_t restarts_checked_ = 0;
  Time last_;
  Commands out_;
};

}  // namespace mirrorsim::real
