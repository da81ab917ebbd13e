// Static configuration of one controller and of the volumes it mirrors.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "model/types.hpp"

namespace mirrorsim {

struct VolumeConfig {
  std::string name;
  TrackNo tracks = 0;
  Mode mode = Mode::Sync;
  uint32_t skew_tracks = 0;  // adaptive-copy-wp: remote-WP tracks acknowledged early
  bool domino = false;       // reject host writes while the secondary is unreachable
  uint16_t consistency_group = 0;  // async: the group whose cycles the volume follows
};

// Asynchronous replication in cycles (mode "async"): see DESIGN.md.
struct AsyncConfig {
  Time cycle_time_min = Time::from_s(15);  // a cycle switch waits at least this long after the last
  uint32_t transmit_sets_max = 1;          // transmit sets that may wait for R2 at once
  Time coordination_max = Time::from_us(50'000);  // a switch holds the group's host writes this long
  double cache_fraction_max = 0.75;        // of the cache slots, what delta sets may hold
  uint64_t spill_bytes_max = 0;            // the spill pool (delta set extension); 0: none
  double spill_bytes_per_s = 200e6;        // the spill pool's disks, writes and reads together
  double pacing_threshold_fraction = 0.6;  // of the delta-set limit, where pacing starts
  Time pacing_delay_max = Time::from_us(50'000);  // at the limit; 0: no pacing
  Time link_limbo = Time::from_s(10);      // all links lost: how long the session waits before it drops
  std::vector<std::string> consistency_groups;  // names, by group index

  // Delta-set slots the cache allows (at least 1).
  uint32_t delta_set_slots_max(uint32_t cache_slots) const;
};

// Deliberately broken protocol variants. They exist to prove that the
// invariant observer and the exhaustive checker catch real mistakes; a
// scenario file can never select one (only tests and `mirrorsim check
// --mutant` can).
enum class Mutant : uint8_t {
  None,
  RemoteWpResetOnSend,       // reset the remote WP indicator when the copy is sent
  LocalWpResetOnDestageStart,  // reset the local WP indicator when the destage starts
  SyncAckBeforeRemoteAck,    // sync mode acknowledges the host at the cache store
  SecondaryAppliesOlder,     // the secondary stores an older version over a newer one
  EvictWpSlot,               // a slot holding write-pending data may be evicted
  ResyncSkipsInvalidTracks,  // resynchronisation forgets the invalid tracks
  SemiSyncTwoOutstanding,    // semi-sync lets two remote writes per volume be outstanding
  AsyncAppliesPartialCycle,  // async: R2 applies a receive set before it holds all of it
  AsyncSwitchBeforeTransmitAcked,  // async: a switch takes the unacknowledged transmit set for done
  AsyncFoldKeepsOlder,       // async: a track written twice in a cycle keeps its first version
  AsyncGroupSplitBoundary,   // async: a group's later volumes switch one cycle after its first
};
std::string_view to_string(Mutant);
bool parse_mutant(std::string_view text, Mutant& out);
const std::vector<Mutant>& all_mutants();  // every value but None

struct ControllerConfig {
  uint32_t cache_slots = 1024;
  double write_pending_limit = 0.8;  // fraction of slots that may hold WP data
  uint32_t track_bytes = 65536;
  uint32_t disks = 1;
  bool cache_nonvolatile = true;     // slots and WP data survive a crash
  uint32_t round_trips_per_write = 1;  // 2 = plain FCP (write command, XFER_RDY, data)
  uint32_t copies_in_flight_max = 256;  // remote copies sent and not yet acknowledged
  uint32_t destages_per_disk_max = 32;  // destages issued and not yet completed, per disk
  Time disk_retry_interval = Time::from_us(1000);  // after a failed disk I/O
  uint32_t delayed_requests_max = 65536;  // host requests waiting at the write-pending limit
  std::vector<VolumeConfig> volumes;
  AsyncConfig async;
  Mutant mutant = Mutant::None;

  // Every volume is async (a pair's volumes are either all async or none:
  // the loader refuses a mix, as an SRDF/A group runs one mode).
  bool is_async() const { return !volumes.empty() && volumes.front().mode == Mode::Async; }
  size_t consistency_groups() const { return is_async() ? std::max<size_t>(1, async.consistency_groups.size()) : 0; }

  // Slots that may hold WP data before host writes are delayed (at least 1).
  uint32_t write_pending_slots_max() const;
};

}  // namespace mirrorsim
