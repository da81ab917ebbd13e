// The rules of the mirrored pair — not of one controller — that every driver
// follows: which side the hosts address, what each controller is told of its
// peer's reachability and in which order, what an entry of the failure
// schedule does, when the pair is quiet, and how a run ends.
//
// The drivers (the checker's World, the SimGrid driver, the real-device
// orchestrator and its replay) supply only transport and a clock; what the
// pair does is decided here, once. Pure: no clock, no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "model/io.hpp"
#include "model/types.hpp"

namespace mirrorsim {

class Controller;

// What the pair's rules look at in one controller: taken from the
// controller itself where the driver holds it, from its status report where
// it runs in another process (the real-device orchestrator).
struct ControllerView {
  Role role = Role::Primary;
  bool crashed = false;  // crashed, or its process is gone
  Generation generation = 1;
  PairState pair_state = PairState::Synchronized;
  bool operator_suspended = false;
  uint64_t wp_slots = 0;
  uint64_t copies_in_flight = 0;
  uint64_t delayed_requests = 0;
  uint64_t invalid_remote_tracks = 0;
  uint64_t invalid_local_tracks = 0;
  bool deadline_pending = false;
  // The controller has been told its peer is reachable (it heard the link
  // come back); a pair whose controller has not heard it yet is not quiet.
  bool told_reachable = true;
  // Work the driver holds for it, where the driver can see it (else 0).
  uint64_t disk_ios_in_flight = 0;
  uint64_t host_requests_open = 0;
};
ControllerView view_of(const Controller& c);

// ---- who is addressed --------------------------------------------------

// The side the hosts send to: the live primary; with two (a takeover under
// way) the one of the newer generation; with none alive, the side that holds
// the primary personality (A when that is ambiguous), whose hosts then see
// their requests fail.
Side host_side(const ControllerView& a, const ControllerView& b);

// Where an operator's failover goes: the named controller, else the live
// one that does not hold the primary role: B if it is such, else A.
Side failover_target(const ControllerView& a, const ControllerView& b, std::optional<Side> named);

// ---- reachability --------------------------------------------------------

// A side's peer is reachable when some link is up and the peer is alive.
inline bool peer_reachable(bool link_up, const ControllerView& peer) { return link_up && !peer.crashed; }

// What one controller has been told of its peer, and what it must hear next.
// A session that ended (a cut link, a crashed peer, a broken connection) is
// reported as down even when a new one could already be opened: the
// controller must see every session end. A restarted controller has heard
// nothing. A fresh controller starts out believing its peer reachable.
class SessionNotice {
 public:
  // The session this side knows of has ended; it has not heard yet.
  void session_ended() { broken_ = true; }
  // The controller restarted: it has heard nothing of its peer.
  void restarted() {
    told_up_ = false;
    broken_ = false;
  }
  // Whether a notification is owed, given the peer's reachability now.
  bool owed(bool reachable) const { return broken_ || told_up_ != reachable; }
  // The next notification, in order, and what the controller has then been
  // told; nullopt when nothing is owed. Deliver them until nullopt.
  std::optional<LinkStateChanged> next(bool reachable);

  bool told_up() const { return told_up_; }
  bool broken() const { return broken_; }
  // Two bits, for fingerprints of the exhaustive checker.
  uint32_t bits() const { return (told_up_ ? 1u : 0u) | (broken_ ? 2u : 0u); }

 private:
  bool told_up_ = true;
  bool broken_ = false;
};

// ---- the failure schedule ------------------------------------------------

// What one entry of the failure schedule does to the pair. A driver carries
// out the parts it has, in this order: the links, the crash, the restart,
// the disk, then the step of a controller.
struct FailureAction {
  enum class Links : uint8_t { Unchanged, Cut, Restore, Degrade };
  Links links = Links::Unchanged;
  std::optional<Side> crash;    // this controller crashes
  bool site_lost = false;       // a disaster: the crash is a power loss of the primary's site
  std::optional<Side> restart;  // this controller restarts (if it is down)
  std::optional<Side> disk_side;
  uint32_t disk = 0;
  bool disk_failed = false;     // disk `disk` of `disk_side` fails (true) or is repaired (false)
  std::optional<Side> step_side;  // an operator's command, stepped at this controller
  Input step_input;
};
// `controller`: the side the entry names, where it names one.
FailureAction failure_action(FailureEvent event, std::optional<Side> controller, const ControllerView& a,
                             const ControllerView& b);

// ---- quiet, drained, ended ---------------------------------------------

// Nothing left to do that the model knows of: no write-pending data, no
// copy or request in flight or waiting, no deadline, no invalid track owed
// and no session to open while the peer is reachable (a link up, the peer
// alive), every controller told that its peer is reachable. A crashed
// controller does nothing and is left out.
bool pair_quiet(const ControllerView& a, const ControllerView& b, bool link_up);

// How a run ended, once host I/O is over and the driver stopped waiting
// (`drained`: the pair was quiet; `waited_s`: how long it waited after host
// I/O ended).
struct PairEnd {
  std::string end_state;      // "" when the pair drained with nothing in the way: R2 == R1 is then checked
  bool drain_failed = false;  // nothing stopped it and it did not drain: a liveness failure
  bool quiesced() const { return end_state.empty(); }
};
PairEnd pair_end(const ControllerView& a, const ControllerView& b, bool link_up, bool disk_failed, bool drained,
                 double waited_s);

}  // namespace mirrorsim
