// The invariant observer: watches both controllers of a pair from outside,
// sees every input and command, and checks DESIGN.md's I1–I11 at every step.
//
// It keeps its own evidence (what the disks confirmed, what the secondary
// acknowledged, which host writes were acknowledged) rather than trusting the
// controllers' bookkeeping. Violations are data: counted, recorded with the
// events that led to them, never thrown.
#pragma once

#include <algorithm>
#include <array>
#include <map>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "model/controller.hpp"
#include "model/hash.hpp"

namespace mirrorsim {

enum class Invariant : uint8_t {
  I1 = 1,  // local WP reset ⇒ the local disk holds the slot's version
  I2,      // remote WP reset ⇒ the secondary acknowledged the slot's version (or the track went invalid)
  I3,      // write-pending data is never evicted or overwritten at the primary
  I4,      // sync: host ack of w ⇒ the secondary holds w at that instant
  I5,      // semi-sync: ≤ 1 acknowledged write per volume the secondary lacks
  I6,      // adaptive-copy-wp: tracks acknowledged ahead of the secondary ≤ skew
  I7,      // domino: no host write acknowledged while the secondary is unreachable
  I8,      // what the secondary lacks is owed: remote WP or invalid-remote; writes while suspended are invalid tracks
  I9,      // quiesced: no WP, no invalid track, disks hold the content, R2 == R1
  I10,     // acknowledged writes lost within the mode's bound
  I11,     // the secondary never regresses a track's version
  I12,     // async: R2 applies whole cycles: its image is R1's at a boundary, the same one across the group
  I13,     // async: a transmitted track carries the newest version written in its cycle
  I14,     // async: delta sets stay within their cache limit (or the session drops)
};
std::string_view describe(Invariant);

struct Violation {
  Invariant which = Invariant::I1;
  Time at;
  Side side = Side::A;
  std::string what;
  std::vector<std::string> trace;  // the events that led here, oldest first
};

// Acknowledged writes that no controller holds any more.
struct LossEvent {
  enum class Cause : uint8_t { Failover, VolatileCache, Discard };
  Cause cause = Cause::Failover;
  Time at;
  Side acked_by = Side::A;
  uint64_t writes = 0;
  uint64_t bytes = 0;
  // ...of which acknowledged to the host while the pair was mirrored and
  // never acknowledged by the secondary: what the mode's bound limits.
  uint64_t writes_acked_while_mirrored = 0;
  std::vector<uint64_t> writes_by_volume;
};
std::string_view to_string(LossEvent::Cause);

class Observer {
 public:
  Observer(const Controller& a, const Controller& b, size_t trace_length = 48);
  // Points a copied observer at the copies of its controllers.
  void rebind(const Controller& a, const Controller& b) { ctl_ = {&a, &b}; }

  // After every step of either controller, with the input it got and the
  // commands it returned.
  void after_step(Side side, Time now, const Input& in, std::span<const Command> out);
  // The pair is at rest (no host I/O, link up, everything drained): I9.
  void check_quiesced(Time now);

  uint64_t violation_count() const { return violation_count_; }
  // The first violations in full (up to a bound; the count goes on).
  const std::vector<Violation>& violations() const { return violations_; }
  std::string report() const;  // a readable list of the recorded violations
  // A fingerprint of the evidence that decides future verdicts (shadows of
  // both sides, acknowledged writes not yet safe, the personalities and pair
  // states last seen), for the exhaustive checker. Counters, losses already
  // recorded, the trace and request sizes (which only feed byte counts) are
  // history and left out. State added to the observer that a verdict
  // depends on must be added here too, or the checker prunes futures.
  uint64_t state_hash() const;
  // The last events seen (as many as the trace length), oldest first.
  std::vector<std::string> recent_events() const;

  // Acknowledged writes the acking controller's peer does not hold: the data
  // at risk if the acking site were lost now (RPO).
  uint64_t writes_at_risk() const { return risk_writes_[0] + risk_writes_[1]; }
  uint64_t bytes_at_risk() const { return risk_bytes_[0] + risk_bytes_[1]; }
  const std::vector<LossEvent>& losses() const { return losses_; }
  uint64_t writes_lost() const;
  uint64_t writes_acked() const { return writes_acked_; }

  static constexpr size_t kViolationsKept = 64;
  // What the observer keeps per track, for the resource estimates
  // (config/resources.cpp, check/explorer.cpp).
  static constexpr size_t bytes_per_track() { return sizeof(TrackRecord); }

 private:
  struct Shadow {
    Version content_seen = 0;  // highest content version seen on this side
    Version disk_seen = 0;     // what a disk completion last confirmed
    Version ack_evidence = 0;  // newest version the peer acknowledged (as this side's secondary) in ack_epoch
    Epoch ack_epoch = 0;
    Version acked_ever = 0;    // newest version the peer ever acknowledged, any session
    bool local_wp = false;
    bool remote_wp = false;
    bool invalid_remote = false;
    bool invalid_local = false;
  };
  struct AckedWrite {
    Version version = 0;
    uint32_t bytes = 0;
    Side acked_by = Side::A;
    bool mirrored = false;  // acknowledged while the pair was mirrored (not suspended)
    // The secondary acknowledged it and lost it since (a volatile cache):
    // that double failure is the cache option's risk, outside the mode's bound.
    bool peer_acked = false;
    uint64_t ack_step = 0;  // observer step at which the host was acknowledged
  };
  // Everything the observer keeps per track: one vector of them (the
  // checker copies the observer on every transition).
  struct TrackRecord {
    std::array<Shadow, 2> shadow;   // per side
    std::vector<AckedWrite> acked;  // not yet safe on both disks
    std::array<uint32_t, 2> risk_writes{};
    std::array<uint64_t, 2> risk_bytes{};
    std::array<uint32_t, 2> risk_mirrored{};
    Version boundary = 0;  // async: the version R2's last applied boundary gives the track
  };
  // Async: per consistency group, what the hosts had acknowledged in each
  // cycle R2 has not applied yet (newest version per track), from R1's
  // acknowledgements and cycle switches.
  struct AsyncRecord {
    bool active = false;
    std::map<TrackKey, Version> open;
    std::vector<std::pair<uint64_t, std::map<TrackKey, Version>>> closed;  // by cycle, ascending
  };
  std::vector<AsyncRecord> async_;
  void async_command(Side side, Time now, const Command& cmd);
  void async_started(Side side, Time now, uint16_t group);
  void async_check_applied(Side side, Time now);
  struct TraceEvent {
    Time at;
    Side side = Side::A;
    Input in;
    Commands out;
  };

  const Controller& ctl(Side s) const { return *ctl_[index_of(s)]; }
  size_t index(TrackKey k) const { return volumes_[k.volume].base + k.track; }
  Shadow& shadow(Side s, TrackKey k) { return records_[index(k)].shadow[index_of(s)]; }
  Version effective_content(Side s, TrackKey k) const;
  void violate(Invariant which, Side side, Time now, std::string what);
  void check_track(Side side, Time now, TrackKey k, bool lossy_step);
  bool in_step(const std::vector<TrackKey>& v, TrackKey k) const { return std::find(v.begin(), v.end(), k) != v.end(); }
  void check_owed(Time now, TrackKey k);
  void recompute_risk(TrackKey k, Time now);
  void on_ack(Side side, Time now, const AckHost& a);
  void drop_superseded(Side old, Side new_primary, LossEvent::Cause cause, Time now);
  void clear_mirrored(Side acked_by);
  void check_volume_bounds(Side side, Time now, VolumeId v);
  void record_loss(LossEvent::Cause cause, Side acked_by, Time now, const std::vector<std::pair<TrackKey, AckedWrite>>& lost);

  std::array<const Controller*, 2> ctl_;
  // Per volume: where its tracks start in the per-track arrays, and per
  // acknowledging side the acknowledged writes at risk that the mode's bound
  // limits (semi-sync: writes, adaptive-copy-wp: tracks). One vector: the
  // checker copies the observer on every transition.
  struct VolumeRecord {
    size_t base = 0;
    std::array<uint32_t, 2> risk_mirrored_writes{};
    std::array<uint32_t, 2> risk_mirrored_tracks{};
  };
  std::vector<VolumeRecord> volumes_;
  std::vector<TrackRecord> records_;
  std::array<uint64_t, 2> risk_writes_{};
  std::array<uint64_t, 2> risk_bytes_{};
  std::array<PairState, 2> pair_state_seen_{};
  std::array<Role, 2> role_seen_{};
  // The step at which each side's peer last took the primary role over: what
  // the side acknowledges after it, still believing itself primary, lives on
  // a line the new primary never takes up (split brain).
  std::array<uint64_t, 2> superseded_at_step_{};
  uint64_t steps_ = 0;
  // Host writes in progress and their sizes, sorted by request (ids grow:
  // inserts land at the end; a flat vector copies cheaply in the checker).
  std::vector<std::pair<RequestId, uint32_t>> request_bytes_;
  uint32_t take_request_bytes(RequestId r);  // 0 if unknown
  uint64_t writes_acked_ = 0;
  std::vector<LossEvent> losses_;

  std::vector<TraceEvent> ring_;
  size_t ring_next_ = 0;
  size_t ring_size_ = 0;
  uint64_t violation_count_ = 0;
  std::vector<Violation> violations_;
  // Buffers of one step, not state: a copied observer keeps its own (and
  // their capacity) instead of copying them, empty between steps anyway.
  struct StepScratch {
    std::vector<VolumeId> volumes_to_check;
    // Tracks this step started a destage or a copy for: an indicator set
    // and reset within one step is still a transition to check.
    std::vector<TrackKey> destaged;
    std::vector<TrackKey> copied;
    std::vector<TrackKey> acked_tracks;
    std::vector<std::pair<uint16_t, uint64_t>> applied;  // async: (group, cycle) R2 applied this step
    StepScratch() = default;
    StepScratch(const StepScratch&) {}
    StepScratch& operator=(const StepScratch&) { return *this; }
  };
  StepScratch scratch_;
};

}  // namespace mirrorsim
