#include "model/track_table.hpp"

namespace mirrorsim {

TrackTable::TrackTable(const std::vector<TrackNo>& tracks_per_volume) {
  volumes_.resize(tracks_per_volume.size());
  for (size_t v = 0; v < tracks_per_volume.size(); ++v) {
    volumes_[v].entries.resize(tracks_per_volume[v]);
    volumes_[v].invalid_remote.assign((tracks_per_volume[v] + 63) / 64, 0);
  }
}

bool TrackTable::set_invalid_remote(TrackKey k, bool on) {
  auto& vol = volumes_[k.volume];
  uint64_t& word = vol.invalid_remote[k.track / 64];
  const uint64_t bit = uint64_t{1} << (k.track % 64);
  const bool was = word & bit;
  if (was == on) return false;
  if (on) {
    word |= bit;
    ++vol.invalid_remote_count;
    ++invalid_remote_total_;
  } else {
    word &= ~bit;
    --vol.invalid_remote_count;
    --invalid_remote_total_;
  }
  return true;
}

std::optional<TrackKey> TrackTable::next_invalid_remote(TrackKey from) const {
  if (invalid_remote_total_ == 0 || volumes_.empty()) return std::nullopt;
  const size_t nvol = volumes_.size();
  // Visit volumes starting at the cursor's, wrapping once; within the
  // cursor's volume first scan from the cursor, and last from the start.
  for (size_t i = 0; i <= nvol; ++i) {
    const VolumeId v = static_cast<VolumeId>((from.volume + i) % nvol);
    const auto& vol = volumes_[v];
    if (vol.invalid_remote_count == 0) continue;
    const TrackNo start = (i == 0) ? from.track : 0;
    const TrackNo end = (i == nvol) ? from.track : static_cast<TrackNo>(vol.entries.size());
    for (size_t w = start / 64; w * 64 < end; ++w) {
      uint64_t word = vol.invalid_remote[w];
      if (w == start / 64) word &= ~uint64_t{0} << (start % 64);
      while (word) {
        const TrackNo t = static_cast<TrackNo>(w * 64 + __builtin_ctzll(word));
        if (t >= end) break;
        return TrackKey{v, t};
      }
    }
  }
  return std::nullopt;
}

}  // namespace mirrorsim
