// Measures this machine's disk, loopback link, processors and controller
// CPU in the terms of the scenario's parameters, for `mirrorsim calibrate`
// (`--out calibration.toml`: scenario keys, empirical distributions
// included) and `mirrorsim validate`.
//
//   disk: pwrite + fdatasync of one block at random offsets of a pre-written
//         file, at two sizes; the model's disk time is latency + bytes /
//         bandwidth, so the two medians give both, and every small write's
//         time less its bytes / bandwidth is a sample of the fixed part.
//         Reads the same way, separately: O_DIRECT pread at random offsets
//         (a disk read, not the page cache)
//   link: request/response over loopback TCP (TCP_NODELAY, the controllers'
//         congestion control) at two payload sizes; one way is overhead +
//         bytes / bandwidth, so half the small round trip is the overhead and
//         the slope between the sizes the bandwidth a message sees; plus bulk
//         streaming throughput for reference; every small round trip's half
//         is a sample of the one-way overhead
//   processors: sched_getaffinity
//   CPU per operation kind: a short probe run of the real pair (cpu.hpp),
//         its own scenario and seed, never a run that validate compares
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "config/scenario.hpp"
#include "real/cpu.hpp"
#include "real/real_run.hpp"

namespace mirrorsim::real {

struct Quantiles {
  double p50_us = 0, p99_us = 0, mean_us = 0;
};

struct DiskCalibration {
  uint32_t small_bytes = 4096, large_bytes = 1 << 20;
  // Every I/O is timed twice: its wall time, and the calling thread's CPU
  // over it (CLOCK_THREAD_CPUTIME_ID: the copy into the page cache, the
  // flush's submission, on a virtual machine the device's notifications —
  // 100-200 us of a 300 us write on some). The model's disk is the
  // device's time, the difference; the CPU is spent on the machine's
  // processors, which a real run's back_end operations hold (cpu.hpp), so
  // the CPU probe's back_end demands have it and the disk's fixed parts
  // must not have it twice.
  Quantiles small, large;             // pwrite + fdatasync, wall time
  Quantiles small_device, large_device;  // the same less the thread's CPU
  Quantiles write_cpu, first_write_cpu, read_cpu;  // the thread's CPU (small writes, first writes, small reads)
  double latency_us = 0;              // fitted: fixed part of an I/O
  double bandwidth_mb_per_s = 0;      // fitted: 10^6 bytes/s
  bool bandwidth_fitted = true;       // false: no slope (see calibrate_disk), a lower bound
  std::vector<double> write_fixed_us; // each small write's device time less small_bytes / bandwidth
  // First writes as a run on this machine makes them: a track (64 KiB)
  // into a hole of a sparse backing file, with pwrite + fdatasync (the file
  // system allocates and journals each extent first). Measured by one
  // writer alone, after exponential idle gaps of 1 ms mean, five per `ops`:
  // the device's own time, with no other I/O queued ahead of it. The queue
  // is the simulator's to make (disk_device_servers below): samples taken
  // with sixteen writers at once held the device's queueing already and the
  // simulator added its own on top.
  uint32_t first_write_bytes = 65536;
  double first_write_gap_mean_us = 1000;
  Quantiles first_write;                    // the device's time of pwrite + fdatasync of first_write_bytes into a hole
  std::vector<double> first_write_fixed_us; // each less first_write_bytes / bandwidth
  // How many I/Os the device serves at once: first writes back to back by
  // one writer, then by sixteen at once (two controllers' eight disk
  // workers), each for device_probe_s; the ratio of the throughputs,
  // rounded, is disk_device_servers (one device under every backing file).
  uint32_t device_probe_writers = 16;
  double device_probe_s = 0.6;
  double device_one_writer_per_s = 0;   // first writes a second, one writer back to back
  double device_many_writers_per_s = 0; // the same, device_probe_writers at once
  uint32_t device_servers = 0;          // round(many / one), at least 1
  // Reads of tracks never written, as a run's read misses of unwritten
  // tracks are: O_DIRECT preads of first_write_bytes from holes of a sparse
  // file (no extent: the file system answers zeros), one per `ops`.
  Quantiles unwritten_read;                    // their device time (wall less the thread's CPU)
  std::vector<double> unwritten_read_fixed_us; // each less first_write_bytes / bandwidth, at least 0
  Quantiles read_small, read_large;   // O_DIRECT pread
  double read_bandwidth_mb_per_s = 0; // fitted from the reads
  double read_latency_us = 0;         // the small reads' median less its bytes / (the writes') bandwidth
  std::vector<double> read_fixed_us;  // each small read less small_bytes / bandwidth
};

struct LinkCalibration {
  uint32_t small_bytes = 64, large_bytes = 65536;
  Quantiles small_rtt, large_rtt;     // round trip: payload there, 64-byte answer back
  double overhead_us = 0;             // fitted: one-way fixed part
  double bandwidth_gbit_per_s = 0;    // fitted: what one message sees
  double bulk_gbit_per_s = 0;         // streaming, for reference
  bool bandwidth_fitted = true;       // false: no slope, the bulk figure stands in
  std::vector<double> overhead_samples_us;  // half of each small round trip
};

// The probe run's shape: the scenario's geometry and first workload's
// requests (or the quickstart's), at its own rate, seed and duration.
struct CpuProbeOptions {
  uint32_t track_bytes = 65536;
  uint32_t block_bytes = 8192;
  uint32_t cache_slots = 4096;
  uint32_t disks = 8;
  double write_fraction = 0.7;
  std::string mode = "sync";
  double rate_iops = 1000;
  double duration_s = 2;
  uint64_t seed = 7919;
  RealOptions real;                   // emulate_link is forced off: the raw link
};
// The probe's shape from a scenario (its first volume and workload).
CpuProbeOptions cpu_probe_for(const Scenario& s);
std::string cpu_probe_toml(const CpuProbeOptions& o);

struct CpuCalibration {
  std::string scenario_toml;          // the probe's, resolved
  double window_s = 0;                // measured
  uint64_t writes = 0, reads = 0;
  uint64_t requests = 0;              // host requests issued in the window (RealRun::window_requests)
  std::array<CpuStats, 2> cpu;        // R1's, R2's
  // The probe's machine: the pair's processes' CPU beside the operations'
  // (RealRun::machine_cpu_s), and what is left per host request; < 0: not known.
  double machine_processors_busy = -1, operations_processors_busy = -1;
  double other_cpu_us_per_request = -1;
  // The controllers' event loops' mean wait for a processor when woken
  // (RealRun::loop_wakeup_mean_us), µs, over loop_switches; < 0: not known.
  double loop_wakeup_mean_us = -1;
  uint64_t loop_switches = 0;
};
CpuCalibration calibrate_cpu(const CpuProbeOptions& o);
// Probes of one shape pooled as one longer probe (validate's before and
// after its real runs): windows, operations and CPU added, samples pooled
// (CpuStats::merge); the machine's processors busy weighted by window, the
// other CPU per request by requests, the wake-up mean by switches (a figure
// one probe did not know comes from those that did). At least one probe.
CpuCalibration pooled(const std::vector<CpuCalibration>& probes);
// Both loops' sampled wake-ups in the probe (CpuStats::wakeups), µs.
std::vector<double> loop_wakeup_samples_us(const CpuCalibration& c);
// Both loops' sampled preemptions in mid-step (CpuStats::preemptions), µs.
std::vector<double> loop_preemption_samples_us(const CpuCalibration& c);

// Processors this process may run on (sched_getaffinity).
uint32_t processors_available();

struct Calibration {
  std::string host, date, dir;
  DiskCalibration disk;
  LinkCalibration link;
  uint32_t processors = 0;
  CpuCalibration cpu;
};

// A quantile table: [probability, value] pairs at p0, p5, …, p95, p99,
// p99.9, p100 (23 points), probabilities strictly increasing, values
// non-decreasing, finite and ≥ 0 (the samples are clamped at 0).
std::vector<std::pair<double, double>> quantile_table(std::vector<double> us);
// The calibration as scenario keys (calibration.toml), with comment lines
// saying what was measured and how.
std::string calibration_toml(const Calibration& c);
// A CPU probe's figures as text lines: `head` before the first, `indent` before the others.
std::string cpu_probe_text(const CpuCalibration& cpu, const std::string& head, const std::string& indent);
// The text summary `mirrorsim calibrate` prints.
std::string calibration_text(const Calibration& c);

// `dir`: where the temporary file goes (the run's file system). `ops` per size.
DiskCalibration calibrate_disk(const std::string& dir, int ops);
LinkCalibration calibrate_link(int round_trips);
// Round trips of `payload_bytes` there and a 64-byte answer back, in µs:
// back to back, or (gap_mean_us > 0) separated by exponentially distributed
// pauses, as open arrivals are — on a virtual machine an idle vCPU is slow to
// wake, and that shows in both.
std::vector<double> loopback_round_trips_us(uint32_t payload_bytes, int round_trips, double gap_mean_us = 0);
// Sequential writes of `block_bytes` each, pwrite + fdatasync, one stream:
// bytes per second.
double disk_stream_bytes_per_s(const std::string& dir, uint32_t block_bytes, uint64_t total_bytes);
// `streams` concurrent sequential writers (one file each, as the backing
// files are), `block_bytes` per pwrite + fdatasync, for `seconds`: total
// bytes per second. A mirrored pair on one machine shares its device between
// R1's and R2's streams.
double disk_parallel_bytes_per_s(const std::string& dir, uint32_t block_bytes, uint32_t streams, double seconds);
double loopback_bulk_bytes_per_s(uint64_t total_bytes);
// How late the real link's delay line releases a frame: `timers` event-loop
// timers (timerfd, timer slack 1 ns, as the controllers run them), each due
// after an exponentially distributed idle wait of `gap_mean_us`; what each
// fired after its due time, µs. On a virtual machine an idle vCPU is slow to
// wake, and an emulated distance waits on such a timer once per message.
std::vector<double> delay_line_lateness_us(int timers, double gap_mean_us);
// `samples_us` as an empirical service time, as a scenario value
// ({ distribution = "empirical", quantiles = [...] }), up to 1,001 points:
// its mean is the samples' within the tail's last step.
std::string empirical_text(std::vector<double> samples_us);

Quantiles quantiles_of(std::vector<double> us);

}  // namespace mirrorsim::real
