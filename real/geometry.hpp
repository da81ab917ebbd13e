// Where tracks live: the volumes' sizes, the track size, and the placement
// of every track on the controller's disks (backing files).
#pragma once

#include <cstdint>
#include <vector>

#include "model/config.hpp"
#include "model/types.hpp"

namespace mirrorsim::real {

struct Geometry {
  std::vector<TrackNo> tracks;  // per volume
  uint32_t track_bytes = 0;
  uint32_t disks = 1;
  uint64_t total_tracks = 0;
  std::vector<uint64_t> volume_base;  // index of each volume's first track
  std::vector<uint32_t> slot_in_disk;  // per track index: its position in its disk's file
  std::vector<uint64_t> tracks_on_disk;  // per disk

  static Geometry of(const ControllerConfig& c);
  bool contains(TrackKey k) const { return k.volume < tracks.size() && k.track < tracks[k.volume]; }
  uint64_t index(TrackKey k) const { return volume_base[k.volume] + k.track; }
  TrackKey key_of(uint64_t index) const;
  // The model's placement (Controller::disk_of); the disk layer checks every
  // DiskWrite's disk against it, so the two cannot drift apart unnoticed.
  uint32_t disk_of(TrackKey k) const { return static_cast<uint32_t>((k.track + 7u * k.volume) % disks); }
  uint64_t offset_of(TrackKey k) const { return static_cast<uint64_t>(slot_in_disk[index(k)]) * track_bytes; }
};

}  // namespace mirrorsim::real
