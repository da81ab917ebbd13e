// The CPU a controller spends per operation, for the model's processor
// pools. A controller process is one event-loop thread; around each step
// (Controller::step, the commit, the execution of its commands with their
// system calls) it reads its thread's CPU clock and writes the spans to the
// step's Executed log record:
//
//   the step's own CPU, by its input     host write → write, host read → read
//                                        a received copy or command (and the
//                                        answer it sends) → copy_receive,
//                                        a received acknowledgement → ack_receive,
//                                        a disk completion → destage / disk_read
//   each copy it sends                   copy_send (timed around its send)
//   each disk I/O it submits             added to that I/O's completion span:
//                                        one destage or disk_read operation is
//                                        its submission, the disk worker
//                                        thread's CPU for the I/O (its thread
//                                        CPU clock around pwrite + fdatasync
//                                        or pread: the copy, the flush's
//                                        submission, the device's
//                                        notifications) and its completion
//
// So a back_end operation's CPU is spent on two threads: the event loop's
// and a disk worker's. All of them share the machine's processors, which
// is what a calibration says (processors_shared = "pair", one pool of the
// processors available).
// The receive path's share of a frame (the read, the decode, the tag check)
// goes to the step the frame causes. Steps of other inputs (timeouts, link
// state changes, operator commands) are `other`: counted, in no pool.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/io.hpp"

namespace mirrorsim::real {

enum class CpuKind : uint8_t { Write, Read, CopyReceive, AckReceive, CopySend, Destage, DiskRead, Other };
constexpr size_t kCpuKinds = 8;
std::string_view to_string(CpuKind k);
// The processor pool an operation kind runs in; nullopt for Other.
std::optional<Pool> pool_of(CpuKind k);
// The kind a step's own CPU counts as, by its input.
CpuKind cpu_kind_of(const Input& in);

struct CpuSpan {
  CpuKind kind = CpuKind::Other;
  uint32_t ns = 0;
};

// This thread's CPU time (CLOCK_THREAD_CPUTIME_ID), ns.
int64_t thread_cpu_ns();

// The receive path's CPU, from the connection's read to the frame's
// callback: Connection marks where it started (mark_frame_start) and the
// callback's first step takes what accrued since (take_frame_cpu_ns, once).
void mark_frame_start();  // before a read, and after each frame's callback
void close_frame_marks(); // the read is done: nothing more accrues to a frame
int64_t take_frame_cpu_ns();

// An Executed record's body: u8 count, then (u8 kind, u32 ns) each; then a
// u8 of flags saying which of two u32 fields follow, in this order:
//   wakeup_ns     for a step its event loop was woken for (a disk
//                 completion that reached an idle loop): how long the loop
//                 took from the completion's posting to running — its
//                 wake-up (processors_wakeup_us)
//   preempted_ns  the step's wall time less its thread's CPU over it: how
//                 long the loop was off its processor in the middle of the
//                 step, preempted by other work of the machine
//                 (processors_preemption_us)
// An empty body (a log of an older version) holds no spans.
struct ExecutedBody {
  std::vector<CpuSpan> spans;
  std::optional<uint32_t> wakeup_ns;
  std::optional<uint32_t> preempted_ns;
};
std::vector<uint8_t> encode_executed(std::span<const CpuSpan> spans, std::optional<uint32_t> wakeup_ns,
                                     std::optional<uint32_t> preempted_ns);
// nullopt when malformed.
std::optional<ExecutedBody> decode_executed(std::span<const uint8_t> body);

// Per kind: operations, CPU seconds, and a bounded uniform sample of the
// per-operation CPU (a reservoir with a fixed seed: the same spans give
// the same sample).
struct CpuKindStats {
  uint64_t operations = 0;
  double cpu_s = 0;
  std::vector<double> sample_us;
};

class CpuStats {
 public:
  static constexpr size_t kReservoir = 4096;
  CpuStats();
  void add(CpuKind k, uint32_t ns);
  const CpuKindStats& of(CpuKind k) const { return kinds_[static_cast<size_t>(k)]; }
  // Per pool: operations and CPU seconds of its kinds.
  uint64_t pool_operations(Pool pool) const;
  double pool_cpu_s(Pool pool) const;
  // The event loop's wake-ups (ExecutedBody::wakeup_ns): a wait for a
  // processor, not CPU — `operations` counts them, `cpu_s` sums the waits.
  void add_wakeup(uint32_t ns);
  const CpuKindStats& wakeups() const { return wakeups_; }
  // The event loop's preemptions in its steps (ExecutedBody::preempted_ns),
  // one per step of an operation (not `other`): `operations` counts the
  // steps, `cpu_s` sums the time off the processor.
  void add_preemption(uint32_t ns);
  const CpuKindStats& preemptions() const { return preemptions_; }
  // Another run's figures pooled into these (validate's probes before and
  // after its runs): operations and CPU seconds added; each sample keeps
  // every operation of both when they fit in kReservoir, else it is drawn
  // from the two in proportion to their operations (evenly spaced in each,
  // so the same two give the same pool).
  void merge(const CpuStats& other);

 private:
  static void merge(CpuKindStats& into, const CpuKindStats& other);
  static void sample(CpuKindStats& s, std::mt19937_64& rng, uint32_t ns);
  std::array<CpuKindStats, kCpuKinds> kinds_;
  std::array<std::mt19937_64, kCpuKinds> rng_;
  CpuKindStats wakeups_;
  std::mt19937_64 wakeup_rng_{0x5eed'0a4eull};
  CpuKindStats preemptions_;
  std::mt19937_64 preemption_rng_{0x5eed'9e3bull};
};

nlohmann::json to_json(const CpuStats& s);
// Both controllers' CPU per pool and kind over a window of `window_s`
// seconds: the summary's "controller CPU" section.
std::string cpu_text(const CpuStats& r1, const CpuStats& r2, double window_s);

}  // namespace mirrorsim::real
