// The result of one run (simulated or on real devices): the metrics a
// storage engineer reads, in one shape for every driver, with the readable
// summary, the self-describing JSON and the time-series CSV made from it.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/types.hpp"
#include "report/histogram.hpp"

namespace mirrorsim {

struct OpStats {
  uint64_t completed = 0;  // acknowledged, within the measured window
  uint64_t rejected = 0;
  uint64_t bytes = 0;
  LatencyHistogram response;
  SampleReservoir samples;
};

struct VolumeResult {
  std::string name;
  Mode mode = Mode::Sync;
  OpStats writes;
  OpStats reads;
  uint64_t read_hits = 0;         // of reads.completed: answered from the cache at once (no disk read, no wait for a slot)
  uint64_t delayed_writes = 0;    // waited at the write-pending limit (delayed fast writes)
  double delayed_write_s = 0;     // total time they waited
};

struct LossResult {
  std::string cause;  // failover | volatile-cache | discard
  double at_s = 0;
  std::string acked_by;  // R1 | R2
  uint64_t writes = 0;
  uint64_t bytes = 0;
  uint64_t writes_acked_while_mirrored = 0;
  std::vector<uint64_t> writes_by_volume;
};

struct ResyncResult {
  double start_s = 0;                  // the session opened with invalid tracks owed
  std::optional<double> end_s;         // synchronized again
  uint64_t invalid_tracks_at_start = 0;
};

// One processor pool of one controller over the measured window.
struct ProcessorPoolResult {
  std::string controller;   // R1 | R2
  std::string pool;         // front_end | remote_adapter | back_end
  uint32_t processors = 0;  // of the pool that serves this work (shared: see `shared_with`)
  std::string shared_with;  // "" | the other kinds (and controller) served by the same processors
  uint64_t operations = 0;  // that started in the window
  double busy_s = 0;        // processor-seconds of this work in the window
  double utilisation_mean = 0;  // busy_s / (processors × window)
  double utilisation_max = 0;   // the busiest time-series interval
  double wait_mean_ms = 0;      // queued before a processor took it
  uint64_t queue_length_peak = 0;
  double offered_load = 0;  // demand arrived / (processors × window), every kind the processors serve
  bool saturated = false;   // offered_load ≥ 1: the queue grows without bound
};

// Async: a session drop (delta sets turned into invalid tracks).
struct SessionDropResult {
  double at_s = 0;
  std::string reason;  // cache-limit | link-limbo
  uint64_t tracks = 0;  // made invalid
};

// Async (mode = "async"): cycles, data exposure, delta sets, pacing.
// Data exposure (RPO) at t = t minus the time of the first host write R2's
// applied image lacks (0 when it lacks none): the age of R2's boundary,
// counted from the first write after it. Cycle statistics cover the
// switches in the measured window; exposure is sampled every time-series
// interval and at every apply (where it peaks).
struct AsyncResult {
  std::vector<std::string> consistency_groups;
  uint64_t cycles = 0;
  double cycle_time_mean_s = 0, cycle_time_p95_s = 0, cycle_time_max_s = 0;
  double rpo_mean_s = 0, rpo_p95_s = 0, rpo_max_s = 0;
  uint64_t delta_set_slots_peak = 0;
  double delta_set_slots_mean = 0;
  double delta_set_cache_fraction_peak = 0;  // of R1's cache slots
  uint64_t bytes_written = 0;      // by the hosts to async volumes, in the window
  uint64_t bytes_transmitted = 0;  // in cycles (CycleData), in the window
  double folding_ratio = 0;        // bytes_written / bytes_transmitted
  uint64_t writes_folded = 0;      // written again within their cycle
  uint64_t paced_writes = 0;
  double pacing_delay_mean_ms = 0, pacing_delay_max_ms = 0;
  uint64_t coordination_holds = 0;  // host writes held at a cycle switch
  double coordination_hold_mean_ms = 0;
  uint64_t tracks_spilled = 0;
  uint64_t spill_bytes_peak = 0;
  std::vector<SessionDropResult> drops;
  std::optional<double> rpo_at_failover_s;  // exposure when R2 took over
};

struct TimeSample {
  double t_s = 0;
  uint64_t remote_wp_tracks = 0;
  uint64_t local_wp_slots = 0;
  uint64_t invalid_remote_tracks = 0;
  uint64_t delayed_writes = 0;   // waiting at the write-pending limit at that instant
  uint64_t writes_at_risk = 0;   // acknowledged writes the secondary lacks (RPO)
  uint64_t bytes_at_risk = 0;
  double link_utilisation = 0;   // primary → secondary, over the interval
  double write_iops = 0;         // completions over the interval
  double write_response_mean_ms = 0;
  // Per controller and pool (R1 front_end, remote_adapter, back_end, then R2's), over the interval.
  std::array<double, 6> processor_utilisation{};
  std::string pair_state;
  // async (0 otherwise)
  double rpo_s = 0;               // data exposure at that instant
  double cycle_time_s = 0;        // the last cycle completed by then
  uint64_t delta_set_slots = 0;   // R1's, at that instant
  double pacing_delay_mean_ms = 0;  // of the writes paced in the interval
};

struct RunResult {
  std::string driver;  // "sim" | "real"
  std::string mirrorsim_version;
  std::string engine_version;      // SimGrid version, or the kernel for real runs
  std::vector<std::string> engine_config;  // e.g. network/model:CM02
  uint64_t seed = 0;
  std::string scenario_toml;       // resolved
  nlohmann::json scenario;         // the same, as JSON

  // When the run ended (drained, or given up), in seconds since its start on
  // its own clock: simulated seconds (sim), elapsed seconds (real).
  double ended_s = 0;
  double measured_s = 0;           // the window statistics cover: duration − warm-up
  std::vector<double> percentiles;
  std::vector<VolumeResult> volumes;

  // Primary cache occupancy over the measured window: the time-average of
  // slots holding WP data, and the slots' write-pending episodes (from the
  // moment a track gets a WP indicator until it has none).
  double wp_slots_mean = 0;
  double in_sync_fraction = 0;  // of the measured window with no remote-WP and no invalid-remote track
  double wp_episodes_per_s = 0;
  double wp_residence_mean_ms = 0;

  uint64_t remote_wp_tracks_peak = 0;
  uint64_t local_wp_slots_peak = 0;
  uint64_t invalid_remote_tracks_peak = 0;
  uint64_t writes_at_risk_peak = 0;
  uint64_t bytes_at_risk_peak = 0;
  double link_utilisation_R1_to_R2_mean = 0;  // mean over the measured window and all links
  double link_utilisation_R2_to_R1_mean = 0;
  double disk_utilisation_R1_mean = 0, disk_utilisation_R1_max = 0;
  double disk_utilisation_R2_mean = 0, disk_utilisation_R2_max = 0;
  std::vector<ProcessorPoolResult> processor_pools;  // R1's three, then R2's
  // Processor-seconds in the window of work none of the pools' operations
  // (processors_other_per_request_us): the sim's; 0 in a real run, whose
  // machine's other CPU is the real driver's to report.
  double processors_other_busy_s = 0;
  uint64_t copies_sent = 0;
  uint64_t disk_io_errors = 0;
  std::vector<ResyncResult> resyncs;
  std::vector<LossResult> losses;
  std::optional<AsyncResult> async;

  uint64_t invariant_violations = 0;
  std::string violation_report;  // the observer's, with the traces that led there
  bool quiesced_at_end = false;  // the pair drained: R2 == R1 was checked (I9)
  std::string end_state;         // why not, when it did not
  bool drain_failed = false;     // it should have drained and did not: fails the run

  uint64_t engine_activities = 0;  // SimGrid activities started (sim)
  uint64_t host_writes = 0;        // all host writes issued (not only measured ones)
  uint64_t trace_requests_split = 0;  // trace records that touched several tracks (each became one request a track)
  std::vector<TimeSample> timeseries;
  // The Chrome trace-event JSON of the first traced writes, when the run was
  // traced (SimOptions::trace_writes); the driver's caller writes it to a file.
  std::string trace_json;

  uint64_t writes_lost() const;
};

// The time series' processor columns: "front_end_utilisation_R1", ...
inline constexpr size_t kProcessorColumns = 6;
std::string processor_column(size_t i);

nlohmann::json to_json(const RunResult& r);
// JSON text of any document the project writes: bytes that are not UTF-8
// (a file name, say) are replaced by U+FFFD, where dump() would throw.
std::string json_text(const nlohmann::json& j, int indent = 2);
// Every summary metric as (column, value), in a fixed order: the columns of
// a sweep's CSV and of the Python bindings' DataFrames. Per-volume metrics
// are prefixed by the volume's name ("db.write_response_p99_ms").
std::vector<std::pair<std::string, double>> summary_metrics(const RunResult& r);
// The readable summary printed by `mirrorsim run`.
std::string summary_text(const RunResult& r);
// One row per sample; the header names the columns.
std::string timeseries_csv(const RunResult& r);

}  // namespace mirrorsim
