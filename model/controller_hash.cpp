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
  // Flags and small counts are packed into words (the fold costs a multiply
  // a word, and this runs on every transition of the checker); each packing
  // is injective over the fields' ranges, so it merges no two states.
  auto pair32 = [](uint32_t hi, uint32_t lo) { return (static_cast<uint64_t>(hi) << 32) | lo; };
  StateFold h;
  h.add(static_cast<uint64_t>(role_) | static_cast<uint64_t>(state_) << 8 |
        pack_flags(crashed_, reachable_, session_open_, operator_suspended_, handing_over_, takeover_sent_) << 16);
  h.add(generation_).add(epoch_);
  h.add(pair32(copies_in_flight_, copy_reads_in_flight_)).add(resync_pending_);
  table_.for_each([&](TrackKey k, const TrackEntry& e) {
    h.add(e.version).add(e.disk_version);
    const uint64_t entry_bits =
        pack_flags(e.local_wp, e.remote_wp, e.invalid_local, e.divergent, table_.invalid_remote(k), e.slot >= 0);
    if (e.slot < 0) {
      h.add(entry_bits);
      return;
    }
    const Slot& s = cache_[e.slot];
    h.add(entry_bits |
          pack_flags(s.has_data, s.reading, s.copy_read, s.resync_copy, s.destage_queued, s.copy_queued, s.destaging.has_value())
              << 8 |
          static_cast<uint64_t>(s.copies_in_flight) << 32);
    h.add(s.version).add(s.destaging.value_or(0)).add(s.sent_version);
    h.add(pair32(s.local_dirty_bytes, s.remote_dirty_bytes));
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
  for (const DiskQueue& d : disks_) {
    h.add(d.in_flight).add(d.destages.size());
    for (TrackKey k : d.destages) h.add(key_bits(k));
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
  if (!groups_.empty()) {
    h.add(pack_flags(async_active_, async_resume_, limbo_until_.has_value()));
    if (limbo_until_) h.add(static_cast<uint64_t>(limbo_until_->ns));
    h.add(pair32(async_in_flight_, static_cast<uint32_t>(delta_slots_))).add(spill_bytes_).add(static_cast<uint64_t>(spill_free_at_.ns));
    auto add_set = [&](const DeltaSet& d) {
      h.add(d.cycle).add(d.bytes).add(d.entries.size());
      for (const auto& [k, e] : d.entries) h.add(key_bits(k)).add(e.version).add(pair32(e.bytes, pack_flags(e.spilled, e.in_spill, e.acked)));
      h.add(key_bits(d.cursor)).add(pack_flags(d.sent_all, d.end_sent, d.spill_read_ready.has_value(), d.expected.has_value()));
      h.add(d.acked).add(d.expected.value_or(0)).add(d.previous);
      if (d.spill_read_ready) h.add(static_cast<uint64_t>(d.spill_read_ready->ns));
    };
    for (const AsyncGroup& g : groups_) {
      h.add(g.capture_cycle).add(g.first_cycle).add(g.applied_cycle).add(static_cast<uint64_t>(g.cycle_started.ns));
      h.add(pack_flags(g.cycle_time_elapsed, g.hold_until.has_value()));
      if (g.hold_until) h.add(static_cast<uint64_t>(g.hold_until->ns));
      add_set(g.capture);
      h.add(g.transmit.size());
      for (const DeltaSet& t : g.transmit) add_set(t);
      h.add(g.receive.size());
      for (const DeltaSet& r : g.receive) add_set(r);
      h.add(g.held.size());
      for (const HeldWrite& w : g.held)
        h.add(static_cast<uint64_t>(w.due.ns)).add(static_cast<uint64_t>(w.since.ns)).add(w.write.req).add(key_bits(w.write.key)).add(w.write.bytes).add(static_cast<uint64_t>(w.reason));
    }
  }
  return h.value();
}

}  // namespace mirrorsim
