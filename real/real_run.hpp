// `mirrorsim real`: a scenario on real devices. The orchestrator (this
// process) plays the hosts and the failure schedule; R1 and R2 are
// controller processes (controller_server.hpp) — both forked here, or R2 a
// `mirrorsim secondary` on another machine. After host I/O ends and the pair
// drains, every run is verified:
//
//   - R2's disks equal R1's track by track (version, length and checksum of
//     every track image, and the checksum is that of the image generated for
//     that version), and both equal what the replayed model says they hold;
//   - every acknowledged write (the hosts' log of volume, track, version) is
//     held by the surviving primary, or its loss is one the model's observer
//     accounts for (a disaster in an asynchronous mode); versions newer than
//     anything acknowledged — durable but not acknowledged — are accepted;
//   - the invariant observer replays both controllers' input logs (replay.hpp).
#pragma once

#include <array>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/scenario.hpp"
#include "real/auth.hpp"
#include "real/cpu.hpp"
#include "real/cycle_boundaries.hpp"
#include "real/net.hpp"
#include "report/result.hpp"

namespace mirrorsim::real {

// Kernel-level link faults (root only): R2 serves inside network namespace
// `netns`, reached over a veth pair whose root-side end is `device`; then
// link-down and link-up set that device down and up, and a link-degrade's
// bandwidth becomes a tbf qdisc on it, instead of the in-process wrapper.
// This kernel has no netem, so an added latency has no kernel counterpart.
struct KernelLink {
  std::string netns;
  std::string device;
  std::string r2_address;  // R2's address in the namespace
};

struct RealOptions {
  std::string run_dir;               // empty: a new directory under temp_parent, removed at the end
  std::string temp_parent;           // empty: $TMPDIR, else /tmp
  bool keep_run_dir = false;
  std::optional<Endpoint> secondary; // R2 is a `mirrorsim secondary` there; else forked here
  // The secondary's key (--key FILE), which R1 and this process prove to
  // it; the public key fits a secondary on loopback started without one.
  // Controllers forked here get a fresh random key for each run, handed
  // over in memory through the fork.
  Key secondary_key = public_key();
  std::string state_dir = "/dev/shm";
  bool o_direct = false;
  // Disk reads are O_DIRECT; where the file system refuses it, the run is
  // refused unless this accepts page-cache reads (--page-cache-reads).
  bool page_cache_reads = false;
  // Add the scenario's link on top of the real one: 5 µs/km × distance_km
  // one way and its aggregate bandwidth (links × bandwidth_gbit_per_s). Off:
  // the real link as it is (validate, which calibrates from it).
  bool emulate_link = true;
  // With emulate_link, the bandwidth too (off: the distance only; validate,
  // whose calibration is the raw link's bandwidth).
  bool emulate_link_bandwidth = true;
  double link_jitter_us = 0;
  double link_loss = 0;              // probability per frame; a loss breaks the connection
  int disk_failure_errno = 5;        // EIO; ENOSPC makes failed disks answer "no space"
  double disk_added_latency_us = 0;
  // After host I/O, how long the pair may take to drain; unset:
  // default_drain_timeout_s. An async pair's last capture set switches only
  // a minimum cycle time after the previous switch: a timeout no longer
  // than that is refused (check_real_support).
  std::optional<double> drain_timeout_s;
  uint64_t disk_bytes_max = 2ull << 30;  // backing files per side
  uint64_t log_bytes = 1ull << 30;       // input log per controller (sparse)
  bool progress = true;              // a progress line on stderr
  bool controller_logs = false;      // the controllers' own log lines on stderr
  std::optional<KernelLink> kernel_link;
  // SIGINT and SIGTERM end the run (interrupt.hpp): controllers stopped,
  // the run's files removed, Interrupted thrown. The CLI's choice.
  bool stop_on_signals = false;
};

struct Verification {
  bool disks_compared = false;       // the pair drained: R2 == R1 was checked
  uint64_t tracks_compared = 0;     // written on at least one side: read and compared
  uint64_t tracks_unwritten = 0;    // never written on either side (holes): version 0, checked against the model
  uint64_t tracks_differing = 0;     // R2's image differs from R1's
  uint64_t tracks_damaged = 0;       // an image fails its checksum, or is not the one generated for its version
  uint64_t tracks_unlike_model = 0;  // the disk holds another version than the replayed model says
  std::string survivor;              // whose data the acknowledged writes were checked against: "R1" | "R2"
  uint64_t writes_acked = 0;
  uint64_t writes_acked_lost = 0;    // not held by the survivor
  uint64_t writes_lost_by_model = 0; // what the observer accounts for (the mode's allowance)
  uint64_t tracks_durable_unacked = 0;  // hold a version newer than any acknowledged: accepted
  uint64_t link_connections = 0;    // R1's link connections over the run (1 when it never broke)
  uint64_t replay_steps = 0;
  uint64_t restarts_checked = 0;
  bool log_truncated = false;        // the observer saw only part of the run
  // Async: per consistency group, the cycle boundary R2's image is and the
  // acknowledged writes after it (cycle_boundaries.hpp).
  std::vector<GroupBoundary> async_groups;
  // Async: track images each side held apart from its cache for delta sets
  // (R1's older versions owed by transmit sets, R2's unapplied receive sets),
  // the most at once and what was left at the end (R1, R2; a dead side: its
  // last report). A drained pair holds none.
  std::array<uint64_t, 2> delta_set_image_bytes_peak{};
  std::array<uint64_t, 2> delta_set_images_at_end{};
  std::vector<std::string> findings; // what failed, first ones in full
  bool ok() const { return findings.empty(); }
};

struct RealRun {
  RunResult result;
  Verification verification;
  uint64_t requests_issued = 0;  // by the hosts, reads and writes
  double last_request_s = 0;     // when the hosts issued their last request, s after host I/O began
  std::array<CpuStats, 2> cpu;   // R1's, R2's: CPU per operation kind over the measured window (cpu.hpp)
  // The CPU of every process of the pair on this machine over the measured
  // window — both controllers with their disk workers, and this one (the
  // hosts) — from the kernel's accounting (/proc/PID/stat, getrusage), s;
  // < 0 when a controller is not a child of this process (--secondary).
  double machine_cpu_s = -1;
  uint64_t window_requests = 0;  // host requests issued in the window
  // The controllers' event-loop threads over the measured window, from the
  // kernel's scheduler statistics (/proc/PID/task/PID/schedstat): the time
  // they waited runnable for a processor over the times they were switched
  // in — a woken loop's mean wait, µs; < 0 where not known (as machine_cpu_s).
  double loop_wakeup_mean_us = -1;
  uint64_t loop_switches = 0;  // their switches in over the window
  // CPU per host request outside the controllers' operations (the hosts,
  // the event loops between steps): (machine − operations) / requests, µs;
  // < 0 when machine_cpu_s is.
  double other_cpu_us_per_request() const;
};
// The machine's CPU beside the operations', for `mirrorsim real`.
std::string machine_cpu_text(const RealRun& r);
nlohmann::json machine_cpu_json(const RealRun& r);

// The drain timeout when none is given: 30 s, and for an async pair its
// minimum cycle time on top (the last capture set waits that long to switch).
double default_drain_timeout_s(const Scenario& s);

// What `mirrorsim real` cannot do with this scenario and these options:
// throws ScenarioError naming the failure entry (file:line:col) or the keys.
void check_real_support(const Scenario& s, const RealOptions& o);

// Runs the scenario; throws std::runtime_error when the run cannot happen
// (a controller does not start, the link never comes up), Interrupted
// (stop_on_signals). Findings of the verification are in the result,
// counted as invariant violations. First removes what killed runs left
// (run_files.hpp); its own run directory and state files are named after
// this process and removed at the end.
RealRun run_real(const Scenario& s, const RealOptions& o);

std::string verification_text(const Verification& v);
nlohmann::json to_json(const Verification& v);

}  // namespace mirrorsim::real
