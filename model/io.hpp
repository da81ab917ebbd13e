// What flows in and out of a controller: link messages, inputs, commands.
//
// A controller is a state machine: a driver feeds it inputs with the current
// time and executes the commands it returns. Completions of those commands
// come back as inputs. Nothing here knows how time passes or bytes move.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "model/types.hpp"

namespace mirrorsim {

// ---- Messages between the two controllers -------------------------------
// Every message after the handshake carries the epoch of the link session it
// belongs to; a controller drops messages of any other epoch, so nothing from
// a torn-down session can act on a new one.

// Primary → secondary: open a link session. `generation` is the sender's
// primary generation: a primary that receives a higher one gives up the
// primary role. `wanted` lists tracks the primary lost (volatile cache crash)
// and asks the secondary to send back.
// `async_resume`: an async session rode a link outage through its limbo
// time: R2 keeps its receive sets (anything else discards them, partial
// cycles are never applied).
struct Establish {
  Epoch epoch = 0;
  Generation generation = 0;
  std::vector<TrackKey> wanted;
  bool async_resume = false;
};
// Secondary → primary: session open. `owed` lists the secondary's invalid
// tracks (data it lacks or must discard); the primary marks them
// invalid-remote and copies them.
// `applied_cycles`: async, per consistency group, the last cycle R2 applied
// (0: none since the session began): a resumed session goes on from there.
struct EstablishAck {
  Epoch epoch = 0;
  std::vector<TrackKey> owed;
  std::vector<uint64_t> applied_cycles;
};
// First leg of a two-round-trip (FCP) write: announce the write.
struct WriteCommand {
  Epoch epoch = 0;
  TrackKey key;
  Version version = 0;
  uint32_t bytes = 0;
};
// Second leg: the target is ready for the data (FCP XFER_RDY).
struct TransferReady {
  Epoch epoch = 0;
  TrackKey key;
  Version version = 0;
  uint32_t bytes = 0;  // of the data phase announced
};
// A track's data (`bytes` of it) at `version`. From the primary it is a copy;
// from the secondary it answers Establish::wanted (fetch = true).
struct CopyData {
  Epoch epoch = 0;
  TrackKey key;
  Version version = 0;
  uint32_t bytes = 0;
  bool fetch = false;
};
// Secondary → primary: the secondary now holds `version` (or newer) of the track.
struct CopyAck {
  Epoch epoch = 0;
  TrackKey key;
  Version version = 0;
};
// Primary → peer: take over the primary role with `generation` (failback).
struct Takeover {
  Epoch epoch = 0;
  Generation generation = 0;
};

// ---- Asynchronous replication in cycles ----
// Primary → secondary: one track of the transmit set of `cycle` of
// consistency group `group`, at the newest version written in that cycle.
struct CycleData {
  Epoch epoch = 0;
  uint16_t group = 0;
  uint64_t cycle = 0;
  TrackKey key;
  Version version = 0;
  uint32_t bytes = 0;
};
// Secondary → primary: the track is in R2's receive set.
struct CycleDataAck {
  Epoch epoch = 0;
  uint16_t group = 0;
  uint64_t cycle = 0;
  TrackKey key;
};
// Primary → secondary: the transmit set of `cycle` has `entries` tracks;
// R2 applies it once it holds them all, and only on top of `previous`, the
// cycle before it (0: the first cycle since the cycles started, when R2's
// image was R1's): a lost cycle is never skipped.
struct CycleEnd {
  Epoch epoch = 0;
  uint16_t group = 0;
  uint64_t cycle = 0;
  uint64_t entries = 0;
  uint64_t previous = 0;
};
// Secondary → primary: R2's image is now R1's at the boundary of `cycle`.
struct CycleApplied {
  Epoch epoch = 0;
  uint16_t group = 0;
  uint64_t cycle = 0;
};

using Message = std::variant<Establish, EstablishAck, WriteCommand, TransferReady, CopyData, CopyAck, Takeover,
                             CycleData, CycleDataAck, CycleEnd, CycleApplied>;

// ---- Inputs -------------------------------------------------------------
struct HostWrite {
  RequestId req = 0;
  TrackKey key;
  uint32_t bytes = 0;
};
struct HostRead {
  RequestId req = 0;
  TrackKey key;
  uint32_t bytes = 0;
};
struct DiskWriteDone {
  TrackKey key;
  Version version = 0;
  bool ok = true;
};
// `version` is the version the disk holds for the track (from its header in
// the real driver, from the disk model elsewhere).
struct DiskReadDone {
  TrackKey key;
  Version version = 0;
  bool ok = true;
};
struct Received {
  Message msg;
};
// The driver's view of the link and the peer behind it: up when a session can
// be opened, down when the peer is unreachable (cut, crash, timeout).
struct LinkStateChanged {
  bool up = false;
};
// The deadline the controller asked for (next_deadline()) has come. The
// controller owns its timers: a driver keeps one per controller, re-arms it
// after every step and delivers a Timeout when it expires; an early or
// stale one does nothing.
struct Timeout {};
struct Crash {};
struct Restart {};
// Operator commands.
struct Suspend {};   // stop mirroring; writes are tracked as invalid tracks
struct Resume {};    // re-establish and resynchronise
struct Failover {};  // at the secondary: take over the primary role now
struct Failback {};  // at the primary: resync the peer, then hand the primary role to it

using Input = std::variant<HostWrite, HostRead, DiskWriteDone, DiskReadDone, Received, LinkStateChanged, Timeout,
                           Crash, Restart, Suspend, Resume, Failover, Failback>;

// ---- Commands -----------------------------------------------------------
struct DiskWrite {
  uint32_t disk = 0;
  TrackKey key;
  Version version = 0;
  uint32_t bytes = 0;
};
struct DiskRead {
  uint32_t disk = 0;
  TrackKey key;
  uint32_t bytes = 0;
};
struct Send {
  Message msg;
  uint32_t bytes = 0;  // on the wire, header included
};
struct AckHost {
  RequestId req = 0;
  TrackKey key;
  Version version = 0;
  bool write = true;
};
struct RejectHost {
  RequestId req = 0;
  TrackKey key;
  RejectReason reason = RejectReason::NotReady;
  bool write = true;
};
// Bookkeeping for the driver's metrics, no action needed: a host request
// started / stopped waiting at the write-pending limit (delayed fast write).
struct HostRequestDelayed {
  RequestId req = 0;
};
struct HostRequestAdmitted {
  RequestId req = 0;
};
// Async bookkeeping, no action needed. R1 switched `group` to a new cycle:
// `cycle` (with `entries` tracks of `bytes`) is now a transmit set.
struct CycleSwitched {
  uint16_t group = 0;
  uint64_t cycle = 0;
  uint64_t entries = 0;
  uint64_t bytes = 0;
};
// R2 applied the receive set of `cycle`: its image is R1's at that boundary.
struct DeltaSetApplied {
  uint16_t group = 0;
  uint64_t cycle = 0;
  uint64_t entries = 0;
};
// R1's cycles (re)started for `group` at `cycle`, with R2's image equal to R1's.
struct CyclesStarted {
  uint16_t group = 0;
  uint64_t cycle = 0;
};
// R1 dropped the async session (suspended it; the delta sets became invalid tracks).
struct SessionDropped {
  DropReason reason = DropReason::CacheLimit;
  uint64_t tracks = 0;  // the delta sets' tracks made invalid
};
// A host write was held (pacing, a switch's coordination) for `delay`
// before it was accepted.
struct HostWriteHeld {
  RequestId req = 0;
  HoldReason reason = HoldReason::Pacing;
  Time delay;
};

using Command = std::variant<DiskWrite, DiskRead, Send, AckHost, RejectHost, HostRequestDelayed, HostRequestAdmitted,
                             CycleSwitched, DeltaSetApplied, CyclesStarted, SessionDropped, HostWriteHeld>;
using Commands = std::vector<Command>;

// An answer to the peer's message (the secondary's acknowledgements, the
// primary's transfer-ready and fetched data): it carries its sender's store
// of what it answers (remote_adapter_copy_receive_us) and costs its
// receiver remote_adapter_ack_receive_us; every other message is a copy
// (remote_adapter_copy_send_us at its sender).
bool is_answer(const Message&);

// Size of the fixed part of every message on the wire.
constexpr uint32_t kMessageHeaderBytes = 64;
uint32_t wire_bytes(const Message&);

std::string to_string(const TrackKey&);
std::string to_string(Version);
std::string to_string(const Message&);
std::string to_string(const Input&);
std::string to_string(const Command&);

}  // namespace mirrorsim
