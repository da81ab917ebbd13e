// A closed, timeless mirrored pair: two controllers, their disks, the link
// between them and the hosts, with every event that can happen next listed
// explicitly. Whoever drives it picks the order: a test by script or seeded
// RNG, the exhaustive checker by trying every choice. It is not a timing
// engine: time advances one microsecond per event, only so that timers
// have an order.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/controller.hpp"
#include "model/invariants.hpp"
#include "model/pair.hpp"

namespace mirrorsim {

struct WorldConfig {
  ControllerConfig side_a;  // starts as the primary (R1)
  ControllerConfig side_b;  // starts as the secondary (R2)
  uint32_t links = 1;       // parallel links; each is FIFO, but they overtake each other
  size_t trace_length = 48;  // steps the observer keeps for its reports; 0 keeps none
  // Every step happens at t = 0. The exhaustive checker sets it: a timer
  // is then only armed or not, and two states reached by paths of
  // different lengths are the same state.
  bool time_frozen = false;
  // Audit the controller after each of its steps (Controller::audit). The
  // exhaustive checker audits every new state it reaches instead: the same
  // states, a third as many audits.
  bool audit_every_step = true;
};

struct WorldEvent {
  enum class Kind : uint8_t {
    // internal: work the pair has already started
    Deliver,       // side = receiver, index = link
    CompleteDisk,  // side, index = position among that side's in-flight disk I/Os
    FireTimer,     // side
    Notify,        // side: the driver tells it the peer's reachability changed
    // external: hosts, failures, operators
    HostWrite,     // side, key
    HostRead,      // side, key
    LinkDown,
    LinkUp,
    Crash,         // side; flag = in-flight disk writes land before the crash
    Restart,       // side
    DiskFailure,      // side, index = disk
    DiskRepair,    // side, index = disk
    Disaster,      // the primary's site: controller crash and link cut at once
    Suspend,       // side (operator)
    Resume,        // side
    Failover,      // side
    Failback,      // side
  };
  Kind kind = Kind::Deliver;
  Side side = Side::A;
  uint32_t index = 0;
  TrackKey key;
  bool flag = false;
};
std::string to_string(const WorldEvent&);

class World {
 public:
  explicit World(const WorldConfig& cfg);
  // Cheap: the copy shares both controllers with the original until one of
  // the two worlds steps one (copy on write), and shares the configuration.
  // Assigning over an existing world also reuses its buffers.
  World(const World& other);
  World& operator=(const World& other);

  const Controller& controller(Side s) const { return *ctl_[index_of(s)]; }
  const Observer& observer() const { return *observer_; }
  Time now() const { return now_; }
  bool link_up() const { return link_up_; }
  bool disk_failed(Side s, uint32_t disk) const;
  // Disk writes issued by `s` and not yet completed.
  size_t disk_writes_in_flight(Side s) const;
  // What the disk really holds (the truth the controllers only learn through completions).
  Version disk_version(Side s, TrackKey k) const;
  // The side hosts send to: the only primary, or A when that is ambiguous.
  Side host_side() const;

  // The events the pair's own work has enabled (deliveries, disk and timer
  // completions, link notifications), in a fixed order; the second form
  // appends them to `out` (no allocation once `out` has grown).
  std::vector<WorldEvent> internal_events() const;
  void internal_events(std::vector<WorldEvent>& out) const;
  void apply(const WorldEvent& ev);

  // Convenience for tests: issue host I/O (returns the request id).
  RequestId write(TrackKey k, uint32_t bytes = 4096);
  RequestId read(TrackKey k, uint32_t bytes = 4096);

  // Brings the pair to rest: repairs disks, restarts crashed controllers,
  // brings the link up, resumes a suspended pair, then runs every internal
  // event (oldest first) until nothing is left. False if it did not settle
  // within `max_events`.
  bool quiesce(uint64_t max_events = 1'000'000);
  // After quiesce: the observer's I9 and the disks compared track by track.
  // Returns the number of findings (0 = R2 == R1 and nothing owed).
  uint64_t check_quiesced();
  // Both controllers' audits (Controller::audit): throws std::logic_error.
  void audit() const {
    ctl_[0]->audit();
    ctl_[1]->audit();
  }

  struct HostStats {
    uint64_t writes_issued = 0, writes_acked = 0, writes_rejected = 0;
    uint64_t reads_issued = 0, reads_acked = 0, reads_rejected = 0;
  };
  const HostStats& host_stats() const { return host_; }
  // Requests that got neither an ack nor a rejection yet.
  size_t requests_in_progress() const { return in_progress_.size(); }
  std::vector<RequestId> pending_requests() const {
    std::vector<RequestId> r;
    for (const auto& [id, write] : in_progress_) r.push_back(id);
    return r;
  }
  bool acked(RequestId r) const { return std::binary_search(acked_.begin(), acked_.end(), r); }
  bool rejected(RequestId r) const { return reject_reason(r).has_value(); }
  std::optional<RejectReason> reject_reason(RequestId r) const;
  uint64_t events_applied() const { return events_; }
  // A fingerprint of everything that decides what can happen next and what
  // the observer will judge: both controllers, the disks, in-flight I/O as a
  // multiset, the links, whether a timer is armed, the host requests in
  // progress and the observer's evidence. Not the clock, counters or
  // history. Equal fingerprints ⇒ the same futures (up to 64-bit collisions).
  uint64_t state_hash() const;

 private:
  struct DiskIo {
    bool write = true;
    TrackKey key;
    Version version = 0;
  };
  struct SideEnv {
    // The written tracks only, sorted: a few entries in the small pairs
    // that get copied often.
    std::vector<std::pair<TrackKey, Version>> disk;
    std::vector<uint8_t> failed;  // per disk (bytes: copied and hashed a word at a time, unlike vector<bool>)
    std::vector<DiskIo> in_flight;
    SessionNotice notice;  // what the controller has heard of its peer
  };

  bool reachable_from(Side s) const;  // is the peer reachable, as the driver would tell s
  Controller& mutable_controller(Side s);  // unshares it first
  void copy_all_but_observer(const World& o);
  void step(Side s, const Input& in);
  void execute(Side s, const Commands& out);
  void crash(Side s, bool land_in_flight);
  void cut_link();
  void write_disk(int side, TrackKey k, Version v);
  bool take_in_progress(RequestId r);  // false if it was not in progress
  void record_rejection(RequestId r, RejectReason why);
  RequestId host_io(Side s, bool write, TrackKey k, uint32_t bytes);

  // A controller shared by copies of a world until one of them steps it
  // (copy on write). The count is a plain integer, not an atomic: the
  // exhaustive checker copies worlds on every transition, and the worlds
  // that share a controller live on one thread (the pool that recycles
  // controllers is per thread too).
  class ControllerPool;
  class SharedController {
   public:
    SharedController() = default;
    explicit SharedController(Controller&& c);
    SharedController(const SharedController& o) : p_(o.p_) { retain(); }
    SharedController& operator=(const SharedController& o) {
      if (p_ != o.p_) {
        release();
        p_ = o.p_;
        retain();
      }
      return *this;
    }
    ~SharedController() { release(); }
    Controller& operator*() const { return p_->controller; }
    Controller* operator->() const { return &p_->controller; }
    bool shared() const { return p_->refs > 1; }
    // Points this handle at a private copy of its controller.
    void unshare();

    struct Block {
      Controller controller;
      uint32_t refs = 1;
    };

   private:
    void retain() {
      if (p_) ++p_->refs;
    }
    void release();
    Block* p_ = nullptr;
  };

  std::shared_ptr<const WorldConfig> cfg_;
  // Shared between copies until stepped; a controller's fingerprint is
  // cached with it (0 = not computed yet), so a copy that never steps it
  // never hashes it again.
  SharedController ctl_[2];
  mutable uint64_t ctl_hash_[2] = {0, 0};
  std::unique_ptr<Observer> observer_;
  SideEnv env_[2];
  bool link_up_ = true;
  // Messages in flight per direction (index = receiver) and link, oldest
  // first. Links hold a handful of messages: a vector is cheaper to copy
  // than a deque.
  std::vector<std::vector<Message>> links_[2];
  uint32_t next_link_[2] = {0, 0};
  Time now_;
  RequestId next_req_ = 1;
  uint64_t events_ = 0;
  HostStats host_;
  // Sorted by request id (ids only grow, so appending keeps the order).
  std::vector<std::pair<RequestId, bool>> in_progress_;  // → is a write
  std::vector<RequestId> acked_;
  std::vector<std::pair<RequestId, RejectReason>> rejected_;
  Commands scratch_;
};

}  // namespace mirrorsim
