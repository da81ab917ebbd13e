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
  Mutant mutant = Mutant::None;

  // Slots that may hold WP data before host writes are delayed (at least 1).
  uint32_t write_pending_slots_max() const;
};

}  // namespace mirrorsim
