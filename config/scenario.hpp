// A scenario: topology, workload, modes, failure schedule, measurement —
// one TOML file that every driver (sim, real, check) and the Python
// bindings share. This header is the typed, validated form of that file.
//
// Units are last in every key and every field name. Defaults are documented
// in scenarios/README.md; anything unknown, mistyped or out of range is a
// ScenarioError naming file:line:col, never a silent default.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "model/config.hpp"
#include "model/types.hpp"
#include "service/service_time.hpp"

namespace mirrorsim {

// An error in a scenario file or an override, with the place it was found.
// `where` is "file:line:col" for files, "--set key=value" (or the Python
// key) for overrides.
class ScenarioError : public std::runtime_error {
 public:
  ScenarioError(std::string where, const std::string& message)
      : std::runtime_error(where.empty() ? message : where + ": " + message), where_(std::move(where)) {}
  const std::string& where() const { return where_; }

 private:
  std::string where_;
};

// What a controller's processors share (scenarios/README.md, "Processors").
enum class ProcessorsShared : uint8_t {
  None,        // each controller has its three pools
  Controller,  // one pool of front_end_processors serves a controller's three kinds of work (one event loop)
  Pair,        // one pool of the primary's front_end_processors serves both controllers (one machine)
};
std::string_view to_string(ProcessorsShared);  // "none", "controller", "pair"

struct ControllerScenario {
  uint32_t cache_slots = 65536;
  uint32_t track_bytes = 65536;
  double write_pending_limit = 0.8;  // fraction of slots that may hold WP data, (0, 1]
  bool cache_nonvolatile = true;     // battery-backed: slots and WP indicators survive a crash
  // Processors: three pools, each of `processors` serving its work FIFO; a
  // demand is its service time plus per_kib_us for each KiB it moves.
  // front end (host adapters): a host write's cache store, a host read
  uint32_t front_end_processors = 16;
  ServiceTime front_end_write_us = ServiceTime::fixed(50);
  std::optional<ServiceTime> front_end_read_us;  // default: front_end_write_us
  double front_end_per_kib_us = 0;
  // remote adapters: sending a copy or command; receiving one, storing it
  // and answering (before the answer leaves); receiving an answer
  uint32_t remote_adapter_processors = 8;
  ServiceTime remote_adapter_copy_send_us = ServiceTime::fixed(0);
  ServiceTime remote_adapter_copy_receive_us = ServiceTime::fixed(50);
  ServiceTime remote_adapter_ack_receive_us = ServiceTime::fixed(0);
  double remote_adapter_per_kib_us = 0;
  // back end (disk adapters): a destage, a disk read, before the disk
  uint32_t back_end_processors = 8;
  ServiceTime back_end_destage_us = ServiceTime::fixed(0);
  ServiceTime back_end_disk_read_us = ServiceTime::fixed(0);
  double back_end_per_kib_us = 0;
  // disks: a FIFO server each, fixed part + bytes / bandwidth
  uint32_t disks = 8;
  ServiceTime disk_write_us = ServiceTime::fixed(200);
  // A write into a track the disk does not hold yet: a thin device
  // allocates its extent first (and journals it). Absent: disk_write_us.
  std::optional<ServiceTime> disk_first_write_us;
  ServiceTime disk_read_us = ServiceTime::fixed(200);
  // A read of a track no write has reached: a thin device holds no extent
  // for it and answers zeros (the real mode's sparse backing files: a hole).
  // Absent: disk_read_us.
  std::optional<ServiceTime> disk_unwritten_read_us;
  double disk_bandwidth_mb_per_s = 500;  // per disk, MB = 10^6 bytes
  uint32_t destages_per_disk_max = 32;
  uint32_t copies_in_flight_max = 256;
  double disk_retry_ms = 1;          // wait before retrying a failed disk I/O

  const ServiceTime& front_end_read() const { return front_end_read_us ? *front_end_read_us : front_end_write_us; }
  const ServiceTime& disk_first_write() const { return disk_first_write_us ? *disk_first_write_us : disk_write_us; }
  const ServiceTime& disk_unwritten_read() const { return disk_unwritten_read_us ? *disk_unwritten_read_us : disk_read_us; }
  bool operator==(const ControllerScenario&) const = default;
};

struct LinkScenario {
  double distance_km = 100;          // one-way propagation at 5 us/km
  ServiceTime overhead_us = ServiceTime::fixed(20);  // adapters and switches, each direction
  double bandwidth_gbit_per_s = 10;  // per link, Gbit = 10^9 bits
  uint32_t links = 2;
  uint32_t round_trips_per_write = 1;  // 1 = single-round-trip protocol, 2 = plain FCP (XFER_RDY)
  double failure_detection_ms = 50;  // until the controllers notice a cut link or a dead peer
  std::string network_model = "cm02";  // "cm02": latency + size/bandwidth; "lv08": SimGrid's TCP-flavoured default

  // Unloaded, with the overhead's mean.
  double one_way_latency_us() const { return 5.0 * distance_km + overhead_us.mean(); }
  bool operator==(const LinkScenario&) const = default;
};

// Asynchronous replication in cycles: the [async] table (mode = "async").
struct AsyncScenario {
  double cycle_time_min_s = 15;       // 30 on older arrays
  uint32_t transmit_sets_max = 1;
  double coordination_max_ms = 50;    // a cycle switch holds the group's host writes this long
  double async_cache_fraction_max = 0.75;  // of the cache slots, what delta sets may hold
  uint64_t spill_bytes_max = 0;       // the spill pool (delta set extension); 0: none
  double spill_bandwidth_mb_per_s = 200;  // the spill pool's disks, MB = 10^6 bytes
  double pacing_threshold_fraction = 0.6;  // of the delta-set limit, where write pacing starts
  double pacing_delay_max_ms = 50;    // per host write at the limit; 0: no pacing
  double link_limbo_s = 10;           // all links lost: the wait before the session drops

  bool operator==(const AsyncScenario&) const = default;
};

// [[consistency_group]]: volumes whose cycles switch together, so that R2
// is consistent across them. Async volumes in no group share one group.
struct ConsistencyGroupScenario {
  std::string name;
  std::vector<std::string> volumes;

  bool operator==(const ConsistencyGroupScenario&) const = default;
};

struct VolumeScenario {
  std::string name;
  uint32_t tracks = 0;
  Mode mode = Mode::Sync;
  uint32_t skew_tracks = 1000;  // adaptive-copy-wp
  bool domino = false;

  bool operator==(const VolumeScenario&) const = default;
};

enum class Arrival : uint8_t { Poisson, Closed, Intervals, Trace };
enum class TraceFormat : uint8_t { Spc, Msr, Blkparse, Fio };
std::string_view to_string(TraceFormat);  // "spc", "msr", "blkparse", "fio"
enum class AddressPattern : uint8_t { Uniform, Zipf, Sequential, Hotspot };
std::string_view to_string(Arrival);         // "poisson", "closed", "intervals", "trace"
std::string_view to_string(AddressPattern);  // "uniform", "zipf", "sequential", "hotspot"

// One row of measured interval statistics: from t_s until the next row's
// t_s (the last: until the workload stops), Poisson arrivals at these rates.
struct WorkloadInterval {
  double t_s = 0;
  double read_iops = 0, write_iops = 0;
  double read_bytes_per_s = 0, write_bytes_per_s = 0;
  std::optional<uint32_t> write_block_bytes;  // default: write_bytes_per_s / write_iops
  std::string where;                          // file:line (CSV) or intervals[i], for messages

  // The request size of a read or a write in this interval, bytes (≥ 1).
  uint32_t block_bytes(bool write) const;
  // The same rows, wherever they were read from.
  bool operator==(const WorkloadInterval& o) const {
    return t_s == o.t_s && read_iops == o.read_iops && write_iops == o.write_iops &&
           read_bytes_per_s == o.read_bytes_per_s && write_bytes_per_s == o.write_bytes_per_s &&
           write_block_bytes == o.write_block_bytes;
  }
};

struct WorkloadScenario {
  std::string volume;          // a VolumeScenario name
  VolumeId volume_index = 0;   // resolved from `volume`
  Arrival arrival = Arrival::Poisson;
  double rate_iops = 1000;     // poisson
  uint32_t queue_depth = 1;    // closed: requests outstanding at once
  double think_us = 0;         // closed: pause between a completion and the next request
  double write_fraction = 1.0; // [0, 1]
  uint32_t block_bytes = 8192; // per request, ≤ the primary's track_bytes
  AddressPattern addresses = AddressPattern::Uniform;
  double zipf_theta = 0.9;           // zipf, (0, 10]
  double hotspot_fraction = 0.1;     // hotspot: fraction of the volume's tracks that are hot
  double hotspot_probability = 0.9;  // hotspot: fraction of requests that go to them
  double start_s = 0;
  std::optional<double> stop_s;      // default: the scenario's duration
  std::optional<uint64_t> requests;  // stop after this many requests (reads and writes)
  std::vector<WorkloadInterval> intervals;  // arrival = "intervals": the rows, by t_s
  double time_scale = 1;                    // intervals, trace: their times run this many times faster
  // arrival = "trace": a block trace replayed at its timestamps
  std::string trace;                        // the file (resolved: an absolute path)
  TraceFormat trace_format = TraceFormat::Spc;
  uint32_t trace_device = 0;                // the ASU (spc) or DiskNumber (msr) this workload replays
  bool loop = false;                        // start the trace again after its last record

  // The highest request rate it offers (intervals: the busiest row's).
  double peak_iops() const;

  bool operator==(const WorkloadScenario&) const = default;
};


struct FailureScenario {
  double at_s = 0;
  FailureEvent event = FailureEvent::LinkDown;
  std::optional<Side> controller;   // "R1" = side A, "R2" = side B (crash, restart, disk-*)
  std::optional<uint32_t> disk;     // disk-failure, disk-repair
  std::optional<uint32_t> link;     // link-down, link-up, link-degrade: one link only
  std::optional<double> bandwidth_gbit_per_s;  // link-degrade
  std::optional<double> added_latency_us;      // link-degrade
  std::string where;                // file:line:col of the entry, for run-time messages

  bool operator==(const FailureScenario&) const = default;
};

struct MeasurementScenario {
  double warmup_s = 0;  // excluded from response-time statistics
  std::vector<double> percentiles{50, 90, 99, 99.9};
  double timeseries_interval_s = 0.1;

  bool operator==(const MeasurementScenario&) const = default;
};

// [sweep]: every key but `repeat` is a dotted scenario key with a list of
// values (or "start:stop:step"); the grid is their cartesian product.
struct SweepParam {
  std::string key;
  std::vector<std::string> values;  // as TOML value text, applied with set_value

  bool operator==(const SweepParam&) const = default;
};
struct SweepScenario {
  std::vector<SweepParam> params;
  uint32_t repeat = 1;

  bool operator==(const SweepScenario&) const = default;
};

// [check]: bounds of the exhaustive exploration (the scenario scaled down).
struct CheckScenario {
  uint32_t writes = 4;
  uint32_t tracks = 2;   // per volume
  uint32_t volumes = 1;  // the scenario's first volumes
  uint32_t cache_slots = 2;
  uint32_t links = 1;
  uint32_t link_failures = 1;    // link cut + restore
  uint32_t crashes = 1;          // controller crash + restart
  uint32_t disk_failures = 0;      // disk failure + repair
  uint32_t disasters = 0;        // primary-site disaster + failover
  uint32_t operator_actions = 0; // suspend/resume, failback
  uint64_t max_states = 10'000'000;

  bool operator==(const CheckScenario&) const = default;
};

struct Scenario {
  std::string source;  // the file it came from, or a name given to parse_scenario
  uint64_t seed = 1;
  double duration_s = 10;  // hosts issue I/O from 0 to duration_s (simulated)
  ProcessorsShared processors_shared = ProcessorsShared::None;
  // CPU the processors spend per host request outside the controllers'
  // operations — where the hosts run on the controllers' machine (a
  // loopback pair: the hosts' own driver, the event loops' work between
  // steps). Held on a processor of the pool that serves the request's front
  // end, right after the request's own front-end work; in no pool's figures.
  double processors_other_per_request_us = 0;
  // 0: every disk is a device of its own. N: the disks of both controllers
  // are on one device that serves at most N I/Os at a time, first come
  // first served (a loopback pair: every disk a file on one machine's
  // device and filesystem journal). A disk's I/O then waits for the device
  // after its turn at the disk; the disk counts as busy while it waits.
  uint32_t disk_device_servers = 0;
  // A controller's event loop, woken by what reaches it from the link (a
  // message) or its disks (a completion), starts on it this long after: the
  // time a woken thread waits for the machine's processors (a loopback pair:
  // both controllers' loops, their disk workers and the hosts on one
  // machine). Host requests are served at once. It holds no processor. 0: at once.
  ServiceTime processors_wakeup_us = ServiceTime::fixed(0);
  // A controller's event loop is off its processor this long in the middle
  // of each step of an operation (a host request, a received message, a
  // disk completion), preempted by the machine's other work: the step's
  // result is that much later and whatever reaches the loop meanwhile
  // waits for it. It holds no processor. 0: never.
  ServiceTime processors_preemption_us = ServiceTime::fixed(0);
  ControllerScenario primary;    // R1 = side A
  ControllerScenario secondary;  // R2 = side B
  LinkScenario link;
  std::vector<VolumeScenario> volumes;
  AsyncScenario async;
  std::vector<ConsistencyGroupScenario> consistency_groups;
  std::vector<WorkloadScenario> workloads;
  std::vector<FailureScenario> failures;  // sorted by at_s, file order kept on ties
  MeasurementScenario measurement;
  std::optional<SweepScenario> sweep;
  std::optional<CheckScenario> check;

  // The document with every override applied, as TOML text: loading it
  // again gives the same scenario. What --out records as "the resolved scenario".
  std::string resolved_toml;

  // Every field, including source, resolved_toml and the failures' `where`.
  bool operator==(const Scenario&) const = default;
};

// A scenario file is a regular file of at most this many bytes (the largest
// shipped one is a few kB; a [sweep] of 10,000 values a few hundred kB).
inline constexpr uintmax_t kScenarioFileBytesMax = uintmax_t{16} << 20;

// Refuses a path with a NUL in it, what is not a regular file (without
// blocking on a FIFO) and files above kScenarioFileBytesMax.
Scenario load_scenario_file(const std::string& path);
// The same checks for any input file the loader reads (a CSV of samples, a
// calibration): the whole file, or ScenarioError naming `path`; `what` names
// the kind in messages ("a scenario").
std::string read_input_file(const std::string& path, std::string_view what);
Scenario parse_scenario(std::string_view toml_text, std::string source_name);

// Dotted keys address any value: "link.distance_km", "primary.cache_slots",
// "volume.db.mode" (volumes by name), "workload.0.rate_iops" (by index),
// "failure.1.at_s", "seed". `value_text` is a TOML value ("200", "\"sync\"",
// or a bare word for strings: "semi-sync"). The result is validated like a
// file; errors name `where` (e.g. "--set link.distance_km=abc").
//
// set_value changes that one key only: an override of a primary.* key does
// not carry over to the secondary (inheritance applies to files, see
// scenarios/README.md), except primary.track_bytes, which both sides share.
// Overrides start from the fields of `s` as they stand. With a [sweep], the
// sweep's keys are checked again but its values only when they are applied.
void set_value(Scenario& s, std::string_view dotted_key, std::string_view value_text, const std::string& where);
// Several overrides at once, checked together after all are applied (so
// `duration_s` and `measurement.warmup_s` can change in either order).
// Errors in one override name its `where`; errors across keys name them all.
struct Override {
  std::string key;
  std::string value;
  std::string where;
};
void set_values(Scenario& s, const std::vector<Override>& overrides);

// A sweep range "start:stop:step" (stop included when a step lands on it),
// as the [sweep] table and `--param` both read it: integers in exact,
// checked arithmetic when all three are integers, numbers otherwise.
// nullopt when malformed, when step ≤ 0 or stop < start, or when it gives
// more than kSweepValuesMax values.
inline constexpr size_t kSweepValuesMax = 10000;
std::optional<std::vector<std::string>> range_values(std::string_view text);
// TOML text of the value; "" for an optional key that is not set (e.g.
// workload.0.stop_s, or any check.* key without a [check] table).
std::string get_value(const Scenario& s, std::string_view dotted_key);

// Which processors serve each kind of work: for each controller (R1, R2)
// and pool (front_end, remote_adapter, back_end), index k = 3·side + pool,
// the group of processors it queues for; groups are numbered from 0 and
// `processors[g]` is the size of group g. With processors_shared = "none"
// there are six groups, "controller" two (each controller's
// front_end_processors), "pair" one (the primary's front_end_processors).
struct ProcessorPlan {
  std::array<uint32_t, 6> group{};
  std::vector<uint32_t> processors;
};
ProcessorPlan processor_plan(const Scenario& s);

// Lays the calibration file at `path` (what `mirrorsim calibrate --out`
// writes: service times, processors, disk and link timing, nothing the user
// sizes) over `s`, as overrides checked together. Errors name
// path:line:col (ScenarioError). A calibration without [secondary] times R2
// like R1.
void apply_calibration(Scenario& s, const std::string& path);

// The model's view of one side's controller.
ControllerConfig controller_config(const Scenario& s, Side side);
// Async: the consistency groups by index — the declared ones in file order,
// then "default" for the async volumes in none — and the group of a volume.
std::vector<std::string> consistency_group_names(const Scenario& s);
uint16_t consistency_group_of(const Scenario& s, size_t volume);

}  // namespace mirrorsim
