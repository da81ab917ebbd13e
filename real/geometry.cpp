#include "real/geometry.hpp"

#include <algorithm>

namespace mirrorsim::real {

Geometry Geometry::of(const ControllerConfig& c) {
  Geometry g;
  g.track_bytes = c.track_bytes;
  g.disks = std::max<uint32_t>(c.disks, 1);
  g.tracks_on_disk.assign(g.disks, 0);
  for (const auto& v : c.volumes) {
    g.volume_base.push_back(g.total_tracks);
    g.tracks.push_back(v.tracks);
    g.total_tracks += v.tracks;
  }
  g.slot_in_disk.resize(g.total_tracks);
  for (VolumeId v = 0; v < g.tracks.size(); ++v)
    for (TrackNo t = 0; t < g.tracks[v]; ++t) {
      const TrackKey k{v, t};
      g.slot_in_disk[g.index(k)] = static_cast<uint32_t>(g.tracks_on_disk[g.disk_of(k)]++);
    }
  return g;
}

TrackKey Geometry::key_of(uint64_t index) const {
  const auto it = std::upper_bound(volume_base.begin(), volume_base.end(), index);
  const auto v = static_cast<VolumeId>(it - volume_base.begin() - 1);
  return TrackKey{v, static_cast<TrackNo>(index - volume_base[v])};
}

}  // namespace mirrorsim::real
