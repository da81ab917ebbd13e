// A storage controller of a mirrored pair, as a sans-IO state machine.
//
// One class holds both personalities: the primary (R1) caches host writes,
// sets the local and remote write-pending indicators, destages and copies;
// the secondary (R2) stores copies, acknowledges them and destages. Failover
// and failback move the personality between the two controllers.
//
//   step(now, input, out)  apply one input, append the commands to execute
//   next_deadline()        when the controller next wants a Timeout (it owns its
//                          timers: the driver re-arms one per controller after each step)
//
// Nothing here reads a clock, touches a file or a socket.
#pragma once

#include <cstdint>
#include <memory>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <vector>

#include "model/cache.hpp"
#include "model/config.hpp"
#include "model/fifo.hpp"
#include "model/io.hpp"
#include "model/track_table.hpp"

namespace mirrorsim {

struct ControllerCounters {
  uint64_t host_writes = 0;           // accepted into the cache
  uint64_t host_writes_delayed = 0;   // waited at the write-pending limit (delayed fast write)
  uint64_t host_writes_rejected = 0;
  uint64_t host_reads = 0;
  uint64_t read_hits = 0;
  uint64_t read_misses = 0;
  uint64_t destages = 0;              // disk writes issued
  uint64_t disk_io_errors = 0;
  uint64_t copies_sent = 0;
  uint64_t copy_bytes_sent = 0;
  uint64_t copies_stored = 0;         // at the secondary
  uint64_t stores_delayed = 0;        // copies that waited for a slot at the secondary
  uint64_t stale_messages = 0;        // dropped: wrong epoch or wrong personality
  uint64_t establishes = 0;
  uint64_t suspensions = 0;
  uint64_t evictions = 0;
  // async
  uint64_t cycle_switches = 0;
  uint64_t writes_folded = 0;        // a track already in the capture set written again
  uint64_t cycle_tracks_sent = 0;    // CycleData sent (R1)
  uint64_t cycle_bytes_sent = 0;
  uint64_t delta_sets_applied = 0;   // R2
  uint64_t tracks_spilled = 0;
  uint64_t spill_bytes_written = 0;
  uint64_t session_drops = 0;
};

// What a controller keeps across a crash of its process: the track table
// (vault memory) and, when the cache is non-volatile, which tracks sit in
// cache slots at which version. A real-device driver persists this (e.g. in
// a mapped file) and rebuilds the controller from it after a restart.
struct DurableTrack {
  Version version = 0;
  Version disk_version = 0;
  bool local_wp = false;
  bool remote_wp = false;
  bool invalid_local = false;
  bool divergent = false;
  bool invalid_remote = false;
  bool cached = false;        // non-volatile cache: a slot holds the track...
  Version cached_version = 0;  // ...at this version
  bool operator==(const DurableTrack&) const = default;
};
struct DurableState {
  Role role = Role::Primary;
  Generation generation = 1;
  Epoch epoch = 1;
  bool operator_suspended = false;
  std::vector<std::vector<DurableTrack>> tracks;  // per volume, per track
  bool operator==(const DurableState&) const = default;
};

class Controller {
 public:
  Controller(Side side, Role role, ControllerConfig config);
  // A controller rebuilt from its durable state, as it is right after a
  // crash: step it with Restart to bring it up (volatile-cache rules apply
  // then). Cached tracks come back only with a non-volatile cache.
  static Controller recovered(Side side, ControllerConfig config, const DurableState& state);

  void step(Time now, const Input& in, Commands& out);
  std::optional<Time> next_deadline() const;

  // ---- inspection ----
  Side side() const { return side_; }
  Role role() const { return role_; }
  PairState pair_state() const { return state_; }
  bool mirrored() const { return role_ == Role::Primary && state_ != PairState::Suspended; }
  bool crashed() const { return crashed_; }
  bool reachable() const { return reachable_; }
  bool session_open() const { return role_ == Role::Primary ? state_ != PairState::Suspended : session_open_; }
  bool operator_suspended() const { return operator_suspended_; }
  bool handing_over() const { return handing_over_; }
  Epoch epoch() const { return epoch_; }
  Generation generation() const { return generation_; }
  const ControllerConfig& config() const { return shape_->cfg; }
  const ControllerCounters& counters() const { return counters_; }

  const TrackTable& tracks() const { return table_; }
  const TrackEntry& track(TrackKey k) const { return table_.at(k); }
  bool invalid_remote(TrackKey k) const { return table_.invalid_remote(k); }
  // The version of the track's data this side holds now: the cache slot's if
  // the slot has data, else the local disk's.
  Version content_version(TrackKey k) const;
  const Slot* slot_of(TrackKey k) const;
  uint32_t disk_of(TrackKey k) const;

  uint32_t wp_slots() const { return wp_slots_; }           // slots holding local or remote WP data
  uint32_t local_wp_slots() const { return local_wp_slots_; }
  uint32_t remote_wp_tracks() const { return remote_wp_tracks_; }
  uint32_t remote_wp_tracks(VolumeId v) const { return volumes_[v].remote_wp_tracks; }
  uint64_t invalid_remote_tracks() const { return table_.invalid_remote_count(); }
  uint64_t invalid_local_tracks() const { return invalid_local_count_; }
  // Tracks a resynchronisation owes the peer: still invalid-remote, or taken
  // up by the copier and not yet acknowledged.
  uint64_t resync_tracks_owed() const { return table_.invalid_remote_count() + resync_pending_; }
  uint32_t copies_in_flight() const { return copies_in_flight_; }
  uint32_t delayed_requests() const { return static_cast<uint32_t>(delayed_.size()); }
  // Of them, host writes (the delayed fast writes waiting now).
  uint32_t delayed_writes() const {
    uint32_t n = 0;
    for (const VolumeState& v : volumes_) n += v.delayed;
    return n;
  }
  // ---- async (model/async.cpp) ----
  // R1's cycles are running: host writes are captured into delta sets.
  bool async_active() const { return async_active_; }
  // All links are lost and the session waits out its limbo time.
  bool in_limbo() const { return limbo_until_.has_value(); }
  // Slots the delta sets hold (R1: capture and transmit sets, a track in two
  // sets counted twice, spilled tracks not; R2: receive sets) and may hold.
  uint64_t delta_set_slots() const { return delta_slots_; }
  uint32_t delta_set_slots_max() const { return shape_->delta_slots_max; }
  uint64_t spill_bytes() const { return spill_bytes_; }
  uint16_t consistency_group_of(VolumeId v) const { return volume(v).consistency_group; }
  size_t consistency_groups() const { return groups_.size(); }
  uint64_t capture_cycle(uint16_t g) const { return groups_[g].capture_cycle; }
  uint64_t capture_tracks(uint16_t g) const { return groups_[g].capture.entries.size(); }
  size_t transmit_sets(uint16_t g) const { return groups_[g].transmit.size(); }
  uint64_t applied_cycle(uint16_t g) const { return groups_[g].applied_cycle; }
  size_t receive_sets(uint16_t g) const { return groups_[g].receive.size(); }
  uint32_t held_writes() const;
  uint32_t cycle_copies_in_flight() const { return async_in_flight_; }
  // Transmit-set tracks not yet acknowledged by R2's receive set (R1).
  uint64_t transmit_backlog_tracks() const;
  // For a driver that owns the bytes the delta sets name. R1: the cycle of
  // the transmit set holding track k at version v (its data is owed to R2
  // until the set is applied, whatever the cache slot holds by then).
  std::optional<uint64_t> transmit_cycle_of(TrackKey k, Version v) const;
  bool has_transmit_set(uint16_t g, uint64_t cycle) const;
  // R2: a receive set of `cycle` is held (not yet applied, not discarded).
  bool has_receive_set(uint16_t g, uint64_t cycle) const;

  // Semi-sync: the host write of the volume whose copy is not yet acknowledged.
  size_t semi_sync_outstanding(VolumeId v) const { return volumes_[v].outstanding.size(); }

  // Tracks whose entry or slot the last step changed (each listed once).
  std::span<const TrackKey> touched() const { return scratch_.touched; }
  // True when the last step lost cache data on purpose: a restart with a
  // volatile cache, or a demotion that discards divergent tracks.
  bool last_step_lost_data() const { return lost_data_; }

  // Everything that affects future behaviour, canonical (independent of
  // which slot index holds which track), for the exhaustive checker.
  uint64_t state_hash() const;

  DurableTrack durable_track(TrackKey k) const;
  DurableState durable_state() const;

  // Checks every count the controller keeps beside its track table and cache
  // (write-pending, invalid-track and in-flight counts, slot ownership, the
  // clean list) against a recount, and throws std::logic_error naming what
  // differs: these are
  // what the fingerprint, the durable view and the drivers' decisions rely
  // on. O(tracks + slots): the exhaustive checker and the test harness audit
  // after every step, the drivers at the end of a run. A no-op for a
  // crashed controller and for the deliberately broken mutants.
  void audit() const;

 private:
  struct VolumeState {
    std::vector<std::pair<TrackKey, Version>> outstanding;  // semi-sync: unacknowledged remote writes
    Fifo<HostWrite> gated;  // semi-sync: writes waiting for the outstanding one
    uint32_t delayed = 0;         // this volume's writes waiting at the write-pending limit
    uint32_t remote_wp_tracks = 0;  // tracks of the volume with remote WP set
  };
  struct DiskQueue {
    Fifo<TrackKey> destages;     // tracks waiting to be destaged to the disk
    uint32_t in_flight = 0;      // destages issued and not yet completed
  };
  using HostRequest = std::variant<HostWrite, HostRead>;
  enum class RetryKind : uint8_t { Destage, SlotRead, RecoveryRead, FetchRead };
  struct Retry {
    RetryKind kind;
    TrackKey key;
  };

  // input handlers
  void on_host_write(const HostWrite& w);
  void on_host_read(const HostRead& r);
  void on_destage_done(const DiskWriteDone& d);
  void on_disk_read_done(const DiskReadDone& d);
  void on_received(const Message& m);
  void on_link_state(bool up);
  void on_timeout();
  void on_crash();
  void on_restart();
  void on_failover();
  void on_failback();

  // messages
  void on_establish(const Establish& m);
  void on_establish_ack(const EstablishAck& m);
  void on_write_command(const WriteCommand& m);
  void on_transfer_ready(const TransferReady& m);
  void on_copy_data(const CopyData& m);
  void on_copy_acked(const CopyAck& m);
  void on_takeover(const Takeover& m);
  void on_cycle_data(const CycleData& m);
  void on_cycle_data_ack(const CycleDataAck& m);
  void on_cycle_end(const CycleEnd& m);
  void on_cycle_applied(const CycleApplied& m);

  // primary write path
  void admit_write(const HostWrite& w);
  bool try_accept(const HostRequest& r);  // false: must wait at the write-pending limit
  std::optional<RejectReason> refusal(const HostWrite& w) const;
  void accept_write(const HostWrite& w, int32_t slot);
  void start_read(const HostRead& r);
  void release_volume_gate(VolumeId v);
  void release_delayed();
  void ack_write(const HostWrite& w, Version v);
  void reject(RequestId req, TrackKey key, RejectReason why, bool write);

  // secondary path
  bool store_copy(const CopyData& m);     // false: must wait for a slot
  // A version received from the peer (a copy, or a track of an applied
  // delta set) into slot `s`: the track holds it, valid, owing its destage.
  void store_received(TrackKey k, int32_t s, Version v, uint32_t bytes);
  bool store_fetched(const CopyData& m);  // primary: a track fetched back; false: wait for a slot
  void release_pending_stores();

  // pair control
  void establish();
  void suspend();
  void demote();
  void promote(Generation g);
  void start_recovery();
  void maybe_hand_over();
  Epoch next_epoch() const;

  // async (model/async.cpp)
  struct DeltaEntry {
    Version version = 0;
    uint32_t bytes = 0;
    bool spilled = false;     // R1: went to the spill pool (never counted as a delta-set slot)
    bool in_spill = false;    // R1: its bytes are in the spill pool (until it is read back and sent)
    bool acked = false;       // R1: in R2's receive set
    bool operator==(const DeltaEntry&) const = default;
  };
  struct DeltaSet {
    uint64_t cycle = 0;
    std::map<TrackKey, DeltaEntry> entries;
    uint64_t bytes = 0;
    // R1, transmitting: the next track to send, whether all are sent and
    // the end announced, how many R2 acknowledged; a spilled track is read
    // back from the spill pool before it is sent.
    TrackKey cursor;
    bool sent_all = false;
    bool end_sent = false;
    uint64_t acked = 0;
    std::optional<Time> spill_read_ready;
    // R2, receiving: how many tracks the set has, once CycleEnd told.
    std::optional<uint64_t> expected;
    // The cycle this one applies on top of (0: the first since the cycles
    // started): R1 sets it at the switch, R2 learns it from CycleEnd.
    uint64_t previous = 0;
    bool operator==(const DeltaSet&) const = default;
  };
  struct HeldWrite {
    Time due;
    Time since;
    HostWrite write;
    HoldReason reason = HoldReason::Pacing;
    bool operator==(const HeldWrite& o) const {
      return due == o.due && since == o.since && write.req == o.write.req && write.key == o.write.key &&
             write.bytes == o.write.bytes && reason == o.reason;
    }
  };
  struct AsyncGroup {
    // R1
    uint64_t capture_cycle = 1;
    uint64_t first_cycle = 1;  // the first cycle since the cycles (re)started
    DeltaSet capture;
    std::vector<DeltaSet> transmit;  // oldest first
    Time cycle_started;
    bool cycle_time_elapsed = false;
    std::optional<Time> hold_until;  // a switch's coordination hold
    Fifo<HeldWrite> held;            // host writes held (pacing, coordination), due times ascending
    // R2
    uint64_t applied_cycle = 0;
    std::vector<DeltaSet> receive;  // by cycle, ascending
  };
  bool async_hold(const HostWrite& w);  // true: the write waits in its group's held queue
  void async_capture(const HostWrite& w, Version v);
  void async_pump();
  void async_switch(uint16_t g);
  void async_transmit();
  void async_apply();
  void async_drop(DropReason why);
  void async_activate();
  bool async_in_step() const;  // R2's image is R1's: cycles may start
  void async_clear();   // R1 and R2: forget every delta set (held writes stay)
  void async_rewind();  // R1: every transmit set is to be sent again from its start
  void async_release_held(Time upto);
  void async_reject_held(RejectReason why);
  void async_on_timeout(Time t);
  std::optional<Time> async_deadline() const;
  Time pacing_delay() const;

  // work pumps, run after every input
  void pump();
  void pump_destages();
  void pump_copies();
  void send_copy(int32_t slot_index);
  void queue_copy(int32_t slot_index);
  void queue_destage(int32_t slot_index);
  void add_retry(RetryKind kind, TrackKey key);

  // indicator and slot bookkeeping
  int32_t allocate_slot(TrackKey key);  // -1 when no slot can be had
  void free_slot(int32_t i);
  void set_local_wp(TrackKey k, bool on);
  void set_remote_wp(TrackKey k, bool on);
  void set_invalid_remote(TrackKey k, bool on);
  void set_invalid_local(TrackKey k, bool on);
  void refresh_slot(int32_t i);  // LRU membership after a change
  void touch(TrackKey k);
  Version next_version(const TrackEntry& e) const;
  const VolumeConfig& volume(VolumeId v) const { return config().volumes[v]; }
  void emit(Command c) { out_->push_back(std::move(c)); }
  void send(Message m);

  // What the configuration fixes, shared by every copy of the controller
  // (the exhaustive checker copies controllers on every transition).
  struct Shape {
    ControllerConfig cfg;
    uint32_t wp_slots_max = 0;
    std::vector<uint64_t> volume_base;  // per volume: the index of its first track among all tracks
    uint64_t tracks = 0;                // of every volume
    uint32_t delta_slots_max = 0;       // async
  };
  // Buffers of the current step, not state: a copy of the controller keeps
  // its own (and their capacity) and starts with nothing touched. The
  // stamps stay consistent with the counter that lives beside them.
  struct StepScratch {
    std::vector<TrackKey> touched;
    std::vector<uint32_t> stamp;  // per track (volume base + track) → the step that last touched it
    uint32_t step = 0;
    StepScratch() = default;
    StepScratch(const StepScratch&) {}
    StepScratch& operator=(const StepScratch&) {
      touched.clear();
      return *this;
    }
  };

  // configuration
  Side side_;
  std::shared_ptr<const Shape> shape_;

  // persistent state (survives a crash)
  Role role_;
  Generation generation_ = 1;
  Epoch epoch_ = 1;
  TrackTable table_;
  uint64_t invalid_local_count_ = 0;
  bool operator_suspended_ = false;

  // volatile state
  Cache cache_;
  bool crashed_ = false;
  bool reachable_ = true;
  PairState state_ = PairState::Synchronized;
  bool session_open_ = true;  // secondary: a primary's Establish opened the current epoch
  bool handing_over_ = false;
  bool takeover_sent_ = false;
  uint32_t wp_slots_ = 0;
  uint32_t local_wp_slots_ = 0;
  uint32_t remote_wp_tracks_ = 0;
  uint32_t copies_in_flight_ = 0;
  uint32_t copy_reads_in_flight_ = 0;
  uint32_t resync_pending_ = 0;  // copier-converted tracks not yet acknowledged
  std::vector<VolumeState> volumes_;
  Fifo<HostRequest> delayed_;           // waiting at the write-pending limit, in arrival order
  Fifo<CopyData> pending_stores_;       // copies waiting for a slot, in arrival order
  Fifo<TrackKey> copy_queue_;
  std::vector<DiskQueue> disks_;  // per disk
  TrackKey resync_cursor_;
  std::set<TrackKey> recovery_reads_;  // primary after a volatile crash: learning disk versions
  std::set<TrackKey> wanted_;          // primary: tracks to fetch back from the secondary
  std::set<TrackKey> fetch_reads_;     // secondary: disk reads answering Establish::wanted
  std::vector<Retry> retries_;
  std::optional<Time> retry_at_;
  ControllerCounters counters_;
  // async
  std::vector<AsyncGroup> groups_;
  bool async_active_ = false;
  bool async_resume_ = false;          // R1: the next Establish resumes the session after a limbo
  std::optional<Time> limbo_until_;
  uint32_t async_in_flight_ = 0;       // R1: CycleData sent and not yet acknowledged
  uint64_t delta_slots_ = 0;
  uint64_t spill_bytes_ = 0;
  Time spill_free_at_;                 // the spill pool is busy until then

  // per-step scratch
  Time now_;
  Commands* out_ = nullptr;
  StepScratch scratch_;
  bool lost_data_ = false;
};

}  // namespace mirrorsim
