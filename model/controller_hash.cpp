// Canonical fingerprint of a controller's state, for the exhaustive checker.
// Slots are identified by the track they hold, never by their index, so two
// states that differ only in which slot index a track landed in hash alike.
#include "model/controller.hpp"
#include "model/hash.hpp"

namespace mirrorsim {

namespace {
uint64_t key_bits(TrackKey k) { return (static_cast<uint64_t>(k.volume) << 32) | k.track; }
}  // namespace

uint64_t Controller::state_hash() const {
  StateFold h;
  h.add(static_cast<uint64_t>(role_)).add(generation_).add(epoch_).add(static_cast<uint64_t>(state_));
  h.add(crashed_).add(reachable_).add(session_open_).add(operator_suspended_).add(handing_over_).add(takeover_sent_);
  h.add(copies_in_flight_).add(copy_reads_in_flight_).add(resync_pending_);
  table_.for_each([&](TrackKey k, const TrackEntry& e) {
    h.add(e.version).add(e.disk_version).add(e.local_wp).add(e.remote_wp).add(e.invalid_local).add(e.divergent);
    h.add(table_.invalid_remote(k));
    if (e.slot < 0) {
      h.add(0xffff);
      return;
    }
    const Slot& s = cache_[e.slot];
    h.add(s.version).add(s.has_data).add(s.reading).add(s.copy_read).add(s.resync_copy).add(s.destage_queued);
    h.add(s.destaging ? *s.destaging + 1 : 0).add(s.copies_in_flight).add(s.sent_version).add(s.copy_queued);
    h.add(s.local_dirty_bytes).add(s.remote_dirty_bytes);
    h.add(s.sync_waiters.size());
    for (const auto& w : s.sync_waiters) h.add(w.req).add(w.version);
    h.add(s.read_waiters.size());
    for (RequestId r : s.read_waiters) h.add(r);
  });
  // Eviction order: the LRU list as a sequence of tracks.
  h.add(cache_.clean_count());
  for (int32_t i = cache_.lru_head(); i >= 0; i = cache_[i].lru_next) h.add(key_bits(cache_[i].key));
  h.add(cache_.free_count());
  for (const VolumeState& v : volumes_) {
    h.add(v.outstanding.size());
    for (const auto& o : v.outstanding) h.add(key_bits(o.first)).add(o.second);
    h.add(v.gated.size());
    for (const auto& w : v.gated) h.add(w.req).add(key_bits(w.key)).add(w.bytes);
    h.add(v.delayed);
  }
  h.add(delayed_.size());
  for (const auto& r : delayed_)
    std::visit([&](const auto& x) { h.add(x.req).add(key_bits(x.key)).add(x.bytes).add(r.index()); }, r);
  h.add(pending_stores_.size());
  for (const auto& m : pending_stores_) h.add(m.epoch).add(key_bits(m.key)).add(m.version).add(m.bytes).add(m.fetch);
  h.add(copy_queue_.size());
  for (TrackKey k : copy_queue_) h.add(key_bits(k));
  for (size_t d = 0; d < destage_queue_.size(); ++d) {
    h.add(destages_in_flight_[d]).add(destage_queue_[d].size());
    for (TrackKey k : destage_queue_[d]) h.add(key_bits(k));
  }
  h.add(key_bits(resync_cursor_));
  for (const auto* set : {&recovery_reads_, &wanted_, &fetch_reads_}) {
    h.add(set->size());
    for (TrackKey k : *set) h.add(key_bits(k));
  }
  h.add(retries_.size());
  for (const Retry& r : retries_) h.add(static_cast<uint64_t>(r.kind)).add(key_bits(r.key));
  h.add(retry_at_.has_value());
  if (retry_at_) h.add(static_cast<uint64_t>(retry_at_->ns));
  return h.value();
}

}  // namespace mirrorsim
