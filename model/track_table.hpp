// Track tables: one entry per track of every volume, the patent family's
// four-indicator index (valid-local, valid-remote, local WP, remote WP).
//
// The table is metadata that survives a controller crash (it lives in the
// array's vault memory); only the cache slot mapping is volatile.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "model/types.hpp"

namespace mirrorsim {

struct TrackEntry {
  Version version = 0;       // newest version this side accepted (or assigned, at a primary)
  Version disk_version = 0;  // version the local disk is known to hold
  int32_t slot = -1;         // cache slot holding the track; -1 when not cached
  bool local_wp = false;     // destage to the local disk owed (data in the slot)
  bool remote_wp = false;    // copy to the peer owed (data in the slot)
  bool invalid_local = false;  // this side's data for the track is stale or discarded
  // With invalid_local: the local data is divergent (written by a primary
  // that lost the role) and must be replaced by the peer's, whatever its
  // version. Without it the track was lost (a volatile cache) and the newer
  // of the local disk and the peer wins.
  bool divergent = false;
};

class TrackTable {
 public:
  TrackTable() = default;
  explicit TrackTable(const std::vector<TrackNo>& tracks_per_volume);

  TrackEntry& at(TrackKey k) { return volumes_[k.volume].entries[k.track]; }
  const TrackEntry& at(TrackKey k) const { return volumes_[k.volume].entries[k.track]; }
  bool contains(TrackKey k) const {
    return k.volume < volumes_.size() && k.track < volumes_[k.volume].entries.size();
  }
  size_t volume_count() const { return volumes_.size(); }
  TrackNo tracks(VolumeId v) const { return static_cast<TrackNo>(volumes_[v].entries.size()); }

  // Invalid-remote tracks (owed to the peer through the track table, not the
  // cache) are kept as a bitmap per volume so a resync can scan them quickly.
  bool invalid_remote(TrackKey k) const {
    return (volumes_[k.volume].invalid_remote[k.track / 64] >> (k.track % 64)) & 1u;
  }
  // Returns true when the flag changed.
  bool set_invalid_remote(TrackKey k, bool on);
  uint64_t invalid_remote_count() const { return invalid_remote_total_; }
  uint64_t invalid_remote_count(VolumeId v) const { return volumes_[v].invalid_remote_count; }
  // The next invalid-remote track at or after the cursor, wrapping once.
  std::optional<TrackKey> next_invalid_remote(TrackKey from) const;
  // Calls f(key) for every invalid-remote track in key order.
  template <class F>
  void for_each_invalid_remote(F&& f) const {
    for (VolumeId v = 0; v < volumes_.size(); ++v) {
      const auto& bits = volumes_[v].invalid_remote;
      for (size_t w = 0; w < bits.size(); ++w) {
        uint64_t word = bits[w];
        while (word) {
          int b = __builtin_ctzll(word);
          f(TrackKey{v, static_cast<TrackNo>(w * 64 + b)});
          word &= word - 1;
        }
      }
    }
  }
  template <class F>
  void for_each(F&& f) {
    for (VolumeId v = 0; v < volumes_.size(); ++v)
      for (TrackNo t = 0; t < volumes_[v].entries.size(); ++t) f(TrackKey{v, t}, volumes_[v].entries[t]);
  }
  template <class F>
  void for_each(F&& f) const {
    for (VolumeId v = 0; v < volumes_.size(); ++v)
      for (TrackNo t = 0; t < volumes_[v].entries.size(); ++t) f(TrackKey{v, t}, volumes_[v].entries[t]);
  }

 private:
  struct Volume {
    std::vector<TrackEntry> entries;
    std::vector<uint64_t> invalid_remote;
    uint64_t invalid_remote_count = 0;
  };
  std::vector<Volume> volumes_;
  uint64_t invalid_remote_total_ = 0;
};

}  // namespace mirrorsim
