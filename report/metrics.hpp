// The metrics observer: every run metric and time-series column, computed
// once for every driver. Like the invariant observer it watches the pair
// from outside — each step of either controller with its input, its
// commands and `now` — and the driver adds only what the model cannot see:
// when a host issued each request, requests no controller answered, and the
// busy time of the disks it serves. The simulator and the real-device
// replay fill their RunResult through it alone, so both give the same
// fields and columns by construction.
#pragma once

#include <array>
#include <deque>
#include <climits>
#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "config/scenario.hpp"
#include "model/controller.hpp"
#include "model/id_window.hpp"
#include "model/invariants.hpp"
#include "report/result.hpp"

namespace mirrorsim {

class RunMetrics {
 public:
  // Model times of the run's second 0 (host I/O may start), of the end of
  // the warm-up and of the end of host I/O.
  struct Window {
    Time origin;
    Time warmup_end;
    Time duration_end;
  };
  static Window window_of(const Scenario& s, Time origin);

  RunMetrics(const Scenario& s, Window w, const Controller& a, const Controller& b, const Observer& invariants);
  RunMetrics(const RunMetrics&) = delete;
  RunMetrics& operator=(const RunMetrics&) = delete;
  // The controllers were replaced (rebuilt in place is fine: same objects).
  void rebind(const Controller& a, const Controller& b) { ctl_ = {&a, &b}; }

  // A host sent a request at `sent` (which decides whether it is in the
  // measured window) and the controller got it at `arrived` (its response
  // time counts from here: the hosts sit next to the controller).
  void host_issued(RequestId req, Time sent, Time arrived, TrackKey key, bool write, uint32_t bytes);
  // No controller answered it (sent to a dead one): the host sees it fail at `at`.
  void host_unanswered(RequestId req, Time at);
  // After every step of either controller, with the input it got and the
  // commands it returned; `now` is when those commands took effect.
  void after_step(Side side, Time now, const Input& in, std::span<const Command> out);
  // Disk `disk` of `side` was busy from `start` to `end` (the simulator's
  // FIFO servers) ...
  void disk_busy(Side side, uint32_t disk, Time start, Time end);
  // ... or, where only totals are known (the real devices), this much of
  // the measured window.
  void disk_busy_in_window(Side side, uint32_t disk, double busy_s);
  // A piece of work of `pool` at `side` arrived at `arrived`, waited behind
  // `queue_length` others, and held one processor from `start` to `end`
  // (the simulator's pools; the real devices: a step's CPU time, no wait).
  void processor_work(Side side, Pool pool, Time arrived, Time start, Time end, uint32_t queue_length);
  // Work that holds a processor of `pool` and is none of its operations
  // (processors_other_per_request_us): in its group's offered load and in
  // processors_other_busy_s, in no pool's own figures.
  void processor_other_work(Side side, Pool pool, Time arrived, Time start, Time end);
  // The processors serving `pool` at `side` are `processors` (the scenario's
  // plan unless a driver knows better: the real devices' one thread).
  void processors(Side side, Pool pool, uint32_t processors);
  // The bandwidth of each link from `now` on (a link-degrade).
  void link_bandwidth(Time now, double bytes_per_s);

  // The run ended at `end`: the last samples, and every metric into `r`
  // (the driver adds what is its own: engine, configuration, verdicts).
  void finish(Time end, RunResult& r);

  uint64_t host_writes() const { return host_writes_; }
  // Memory per track (the write-pending episode start), for resource estimates.
  static constexpr size_t bytes_per_track() { return sizeof(int64_t); }

 private:
  struct Request {
    Time issued;
    TrackKey key;
    uint32_t bytes = 0;
    bool write = true;
    bool measured = false;
    std::optional<Time> delayed_since;
  };
  struct Counted {  // a controller counter summed across restarts (a rebuilt controller counts from 0)
    uint64_t total = 0, last = 0;
    void see(uint64_t now) {
      total += now >= last ? now - last : now;
      last = now;
    }
  };

  const Controller& ctl(Side s) const { return *ctl_[index_of(s)]; }
  Side sampled_side() const;
  void advance(Time now);  // samples every boundary before `now`
  void sample(Time at);
  // `hit`: a read answered from the cache in the step that received it.
  void complete(RequestId req, bool acked, Time now, bool hit = false);
  void track_primary(Side side, Time now);
  double clipped_s(Time from, Time to) const;  // the part of [from, to) in the measured window
  double run_s(Time t) const { return (t - w_.origin).s(); }

  Window w_;
  double measured_s_ = 0;
  Time interval_;
  uint32_t links_ = 1;
  double link_bytes_per_s_ = 0;
  std::array<const Controller*, 2> ctl_;
  const Observer& invariants_;
  std::vector<VolumeResult> volumes_;
  std::vector<double> percentiles_;
  IdWindow<Request> requests_;
  uint64_t host_writes_ = 0;

  // primary cache occupancy (Little: mean WP slots = episodes/s × residence), in-sync time
  Time occupancy_last_;
  uint32_t occupancy_wp_slots_ = 0;
  double occupancy_slot_s_ = 0;
  bool in_sync_ = true;
  double in_sync_s_ = 0;
  // Per track (volume base + track): since when it holds write-pending
  // data at the primary, or kNotWritePending.
  static constexpr int64_t kNotWritePending = INT64_MIN;
  std::vector<uint64_t> volume_base_;
  std::vector<int64_t> wp_since_ns_;
  uint64_t wp_episodes_ = 0;
  double wp_residence_s_ = 0;

  uint64_t remote_wp_tracks_peak_ = 0, local_wp_slots_peak_ = 0, invalid_remote_tracks_peak_ = 0;
  uint64_t writes_at_risk_peak_ = 0, bytes_at_risk_peak_ = 0;
  std::array<PairState, 2> pair_state_seen_{PairState::Synchronized, PairState::Synchronized};
  std::vector<ResyncResult> resyncs_;
  std::array<double, 2> link_busy_s_{};  // per sending side, in the measured window
  std::array<std::vector<double>, 2> disk_busy_s_;
  std::array<Counted, 2> copies_sent_, disk_io_errors_;

  // processors: per controller and pool (k = 3·side + pool), per group
  struct PoolWork {
    uint64_t operations = 0;
    double busy_s = 0, wait_s = 0, interval_busy_max = 0;
    uint64_t queue_length_peak = 0;
    std::deque<std::pair<Time, Time>> spans;  // busy spans not yet sampled, by start
  };
  ProcessorPlan plan_;
  std::array<PoolWork, 6> pool_work_;
  std::vector<double> group_offered_s_;
  double other_busy_s_ = 0;
  double interval_busy_s(PoolWork& w, Time from, Time to);

  // async: per consistency group, the cycles R2 has not applied that hold
  // host writes (cycle, first write acknowledged in it), oldest first; the
  // capture cycle's first write; the last switch.
  struct AsyncGroupTrack {
    std::deque<std::pair<uint64_t, Time>> unapplied;
    std::optional<Time> open_first;
    std::optional<Time> last_switch;
    double last_cycle_s = 0;
  };
  bool async_ = false;
  uint32_t cache_slots_ = 0;
  std::vector<AsyncGroupTrack> async_groups_;
  std::vector<double> cycle_times_s_, rpo_samples_s_;
  double rpo_max_s_ = 0;
  uint64_t delta_slots_peak_ = 0, spill_bytes_peak_ = 0, delta_slots_sampled_ = 0, delta_samples_ = 0;
  uint64_t async_bytes_written_ = 0, async_bytes_sent_ = 0;
  uint64_t paced_ = 0, coordination_holds_ = 0, interval_paced_ = 0;
  double pacing_s_ = 0, pacing_max_s_ = 0, coordination_s_ = 0, interval_pacing_s_ = 0;
  std::array<Counted, 2> writes_folded_, tracks_spilled_;
  std::vector<SessionDropResult> drops_;
  std::optional<double> rpo_at_failover_s_;
  std::array<Role, 2> role_seen_{Role::Primary, Role::Secondary};
  void async_command(Side side, Time now, const Command& cmd);
  double exposure_s(Time now) const;
  bool in_window(Time t) const { return t >= w_.warmup_end && t < w_.duration_end; }

  // the interval being sampled
  Time next_sample_;
  uint64_t interval_writes_ = 0;
  double interval_write_response_ns_ = 0;
  std::array<double, 2> interval_link_busy_s_{};
  std::vector<TimeSample> samples_;
};

}  // namespace mirrorsim
