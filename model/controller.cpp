#include "model/controller.hpp"
#include "model/overloaded.hpp"

#include <algorithm>
#include <array>
#include <cassert>
#include <stdexcept>
#include <string>
#include <utility>

#include <fmt/format.h>

namespace mirrorsim {

namespace {

TrackKey key_of(const std::variant<HostWrite, HostRead>& r) {
  return std::visit([](const auto& x) { return x.key; }, r);
}
}  // namespace

Controller::Controller(Side side, Role role, ControllerConfig config) : side_(side), role_(role) {
  auto shape = std::make_shared<Shape>();
  shape->cfg = std::move(config);
  shape->wp_slots_max = shape->cfg.write_pending_slots_max();
  shape->delta_slots_max = shape->cfg.async.delta_set_slots_max(shape->cfg.cache_slots);
  std::vector<TrackNo> tracks;
  for (const auto& v : shape->cfg.volumes) {
    tracks.push_back(v.tracks);
    shape->volume_base.push_back(shape->tracks);
    shape->tracks += v.tracks;
  }
  shape_ = std::move(shape);
  table_ = TrackTable(tracks);
  cache_ = Cache(shape_->cfg.cache_slots);
  volumes_.resize(shape_->cfg.volumes.size());
  disks_.resize(shape_->cfg.disks);
  scratch_.stamp.assign(shape_->tracks, 0);
  groups_.resize(shape_->cfg.consistency_groups());
  for (AsyncGroup& g : groups_) g.capture.cycle = g.capture_cycle;
  // An async pair starts in sync (both sides empty): R1's cycles run from time 0.
  async_active_ = shape_->cfg.is_async() && role_ == Role::Primary;
}

// ---------------------------------------------------------------------------
// step

void Controller::step(Time now, const Input& in, Commands& out) {
  now_ = now;
  out_ = &out;
  scratch_.touched.clear();
  lost_data_ = false;
  // A copy keeps the buffers it had: size them for this controller's tracks.
  if (scratch_.stamp.size() != shape_->tracks) {
    scratch_.stamp.assign(shape_->tracks, 0);
    scratch_.step = 0;
  }
  if (++scratch_.step == 0) {
    std::fill(scratch_.stamp.begin(), scratch_.stamp.end(), 0);
    scratch_.step = 1;
  }
  if (crashed_) {
    // A crashed controller does nothing until it restarts; the driver is
    // expected to hold back everything else, and anything it does send is
    // counted as stale.
    if (std::holds_alternative<Restart>(in)) on_restart();
    else ++counters_.stale_messages;
  } else {
    std::visit(overloaded{
                   [&](const HostWrite& w) { on_host_write(w); },
                   [&](const HostRead& r) { on_host_read(r); },
                   [&](const DiskWriteDone& d) { on_destage_done(d); },
                   [&](const DiskReadDone& d) { on_disk_read_done(d); },
                   [&](const Received& r) { on_received(r.msg); },
                   [&](const LinkStateChanged& l) { on_link_state(l.up); },
                   [&](const Timeout&) { on_timeout(); },
                   [&](const Crash&) { on_crash(); },
                   [&](const Restart&) { ++counters_.stale_messages; },
                   [&](const Suspend&) {
                     if (role_ != Role::Primary) return;
                     operator_suspended_ = true;
                     suspend();
                   },
                   [&](const Resume&) { operator_suspended_ = false; },
                   [&](const Failover&) { on_failover(); },
                   [&](const Failback&) { on_failback(); },
               },
               in);
  }
  if (!crashed_) pump();
  out_ = nullptr;
}

std::optional<Time> Controller::next_deadline() const {
  if (crashed_) return std::nullopt;
  std::optional<Time> at = retry_at_;
  if (config().is_async())
    if (const auto a = async_deadline(); a && (!at || *a < *at)) at = a;
  return at;
}

// ---------------------------------------------------------------------------
// host I/O at the primary

std::optional<RejectReason> Controller::refusal(const HostWrite& w) const {
  if (role_ != Role::Primary) return RejectReason::WriteDisabled;
  if (handing_over_) return RejectReason::NotReady;
  if (volume(w.key.volume).domino && state_ == PairState::Suspended) return RejectReason::Domino;
  if (table_.at(w.key).invalid_local) return RejectReason::NotReady;
  return std::nullopt;
}

void Controller::on_host_write(const HostWrite& w) {
  if (!table_.contains(w.key)) {
    reject(w.req, w.key, RejectReason::BadAddress, true);
    return;
  }
  if (auto why = refusal(w)) {
    reject(w.req, w.key, *why, true);
    return;
  }
  if (async_active_ && async_hold(w)) return;
  VolumeState& vs = volumes_[w.key.volume];
  const size_t outstanding_max = config().mutant == Mutant::SemiSyncTwoOutstanding ? 2 : 1;
  const bool gated = volume(w.key.volume).mode == Mode::SemiSync && state_ != PairState::Suspended &&
                     (vs.outstanding.size() + vs.delayed >= outstanding_max || !vs.gated.empty());
  if (gated) {
    vs.gated.push_back(w);
    return;
  }
  admit_write(w);
}

void Controller::admit_write(const HostWrite& w) {
  if (delayed_.empty() && try_accept(w)) return;
  if (delayed_.size() >= config().delayed_requests_max) {
    reject(w.req, w.key, RejectReason::QueueFull, true);
    return;
  }
  delayed_.push_back(w);
  ++volumes_[w.key.volume].delayed;
  ++counters_.host_writes_delayed;
  emit(HostRequestDelayed{w.req});
}

void Controller::on_host_read(const HostRead& r) {
  if (!table_.contains(r.key)) {
    reject(r.req, r.key, RejectReason::BadAddress, false);
    return;
  }
  if (role_ != Role::Primary) {
    reject(r.req, r.key, RejectReason::NotReady, false);
    return;
  }
  ++counters_.host_reads;
  if (delayed_.empty() && try_accept(r)) return;
  if (delayed_.size() >= config().delayed_requests_max) {
    reject(r.req, r.key, RejectReason::QueueFull, false);
    return;
  }
  delayed_.push_back(r);
  emit(HostRequestDelayed{r.req});
}

bool Controller::try_accept(const HostRequest& r) {
  const TrackKey k = key_of(r);
  TrackEntry& e = table_.at(k);
  if (const auto* w = std::get_if<HostWrite>(&r)) {
    if (auto why = refusal(*w)) {
      reject(w->req, k, *why, true);
      return true;
    }
    // A semi-sync write that waited while the pair was suspended meets the
    // gate again if the pair is mirrored by the time it can be stored.
    const size_t outstanding_max = config().mutant == Mutant::SemiSyncTwoOutstanding ? 2 : 1;
    if (volume(k.volume).mode == Mode::SemiSync && state_ != PairState::Suspended &&
        volumes_[k.volume].outstanding.size() >= outstanding_max)
      return false;
    const bool adds_wp = !(e.local_wp || e.remote_wp);
    if (adds_wp && wp_slots_ >= shape_->wp_slots_max && config().mutant != Mutant::EvictWpSlot) return false;
    int32_t s = e.slot;
    if (s < 0) s = allocate_slot(k);
    if (s < 0) return false;
    accept_write(*w, s);
    return true;
  }
  const auto& rd = std::get<HostRead>(r);
  if (role_ != Role::Primary || e.invalid_local) {
    reject(rd.req, k, RejectReason::NotReady, false);
    return true;
  }
  if (e.slot >= 0) {
    Slot& sl = cache_[e.slot];
    if (sl.has_data) {
      ++counters_.read_hits;
      emit(AckHost{rd.req, k, sl.version, false});
      cache_.set_clean(e.slot, false);  // to the most-recently-used end
      refresh_slot(e.slot);
    } else {
      sl.read_waiters.push_back(rd.req);
      if (!sl.reading) {
        // The slot's earlier read failed and awaits its retry: read now.
        sl.reading = true;
        emit(DiskRead{disk_of(k), k, config().track_bytes});
      }
      refresh_slot(e.slot);
    }
    return true;
  }
  const int32_t s = allocate_slot(k);
  if (s < 0) return false;
  ++counters_.read_misses;
  start_read(rd);
  return true;
}

void Controller::start_read(const HostRead& r) {
  Slot& sl = cache_[table_.at(r.key).slot];
  sl.read_waiters.push_back(r.req);
  sl.reading = true;
  emit(DiskRead{disk_of(r.key), r.key, config().track_bytes});
  refresh_slot(table_.at(r.key).slot);
}

void Controller::accept_write(const HostWrite& w, int32_t s) {
  const TrackKey k = w.key;
  TrackEntry& e = table_.at(k);
  Slot& sl = cache_[s];
  const Version v = next_version(e);
  e.version = v;
  sl.version = v;
  sl.has_data = true;
  sl.local_dirty_bytes = std::min(config().track_bytes, sl.local_dirty_bytes + w.bytes);
  ++counters_.host_writes;
  touch(k);
  if (!sl.reading) {
    // Reads that waited for a failed disk read see this write's data.
    for (RequestId r : sl.read_waiters) emit(AckHost{r, k, v, false});
    sl.read_waiters.clear();
  }
  set_local_wp(k, true);
  queue_destage(s);

  const Mode mode = volume(k.volume).mode;
  if (mode == Mode::Async && async_active_) {
    async_capture(w, v);  // the track goes out with its cycle
    ack_write(w, v);
    refresh_slot(s);
    return;
  }
  if (state_ == PairState::Suspended) {
    // Not mirrored: the secondary is owed this track through the track table.
    set_invalid_remote(k, true);
    ack_write(w, v);
    refresh_slot(s);
    return;
  }
  // Async while its cycles are not running (a resync after a drop) behaves
  // as adaptive-copy-disk.
  if ((mode == Mode::AdaptiveCopyDisk || mode == Mode::Async) && !e.remote_wp) {
    set_invalid_remote(k, true);  // the background copier will move it
    ack_write(w, v);
    refresh_slot(s);
    return;
  }
  if (table_.invalid_remote(k)) {
    // The secondary lacks earlier versions: the next copy carries the whole track.
    set_invalid_remote(k, false);
    sl.remote_dirty_bytes = config().track_bytes;
  } else {
    sl.remote_dirty_bytes = std::min(config().track_bytes, sl.remote_dirty_bytes + w.bytes);
  }
  set_remote_wp(k, true);
  queue_copy(s);
  switch (mode) {
    case Mode::Sync:
      if (config().mutant == Mutant::SyncAckBeforeRemoteAck) ack_write(w, v);
      else sl.sync_waiters.push_back({w.req, v});
      break;
    case Mode::SemiSync:
      volumes_[k.volume].outstanding.emplace_back(k, v);
      ack_write(w, v);
      break;
    case Mode::AdaptiveCopyWp:
      // Above the skew the volume behaves as sync until it is back under.
      if (volumes_[k.volume].remote_wp_tracks > volume(k.volume).skew_tracks) sl.sync_waiters.push_back({w.req, v});
      else ack_write(w, v);
      break;
    case Mode::AdaptiveCopyDisk:
    case Mode::Async:
      ack_write(w, v);
      break;
  }
  refresh_slot(s);
}

void Controller::ack_write(const HostWrite& w, Version v) { emit(AckHost{w.req, w.key, v, true}); }

void Controller::reject(RequestId req, TrackKey key, RejectReason why, bool write) {
  if (write) ++counters_.host_writes_rejected;
  emit(RejectHost{req, key, why, write});
}

void Controller::release_volume_gate(VolumeId v) {
  VolumeState& vs = volumes_[v];
  const size_t outstanding_max = config().mutant == Mutant::SemiSyncTwoOutstanding ? 2 : 1;
  while (!vs.gated.empty()) {
    const bool semi = volume(v).mode == Mode::SemiSync && state_ != PairState::Suspended;
    if (semi && vs.outstanding.size() + vs.delayed >= outstanding_max) break;
    HostWrite w = vs.gated.front();
    vs.gated.pop_front();
    if (auto why = refusal(w)) reject(w.req, w.key, *why, true);
    else admit_write(w);
  }
}

void Controller::release_delayed() {
  while (!delayed_.empty()) {
    HostRequest r = delayed_.front();
    if (!try_accept(r)) break;
    delayed_.pop_front();
    emit(HostRequestAdmitted{std::visit([](const auto& x) { return x.req; }, r)});
    if (const auto* w = std::get_if<HostWrite>(&r)) --volumes_[w->key.volume].delayed;
  }
}

// ---------------------------------------------------------------------------
// disk completions

void Controller::on_destage_done(const DiskWriteDone& d) {
  if (!table_.contains(d.key)) {
    ++counters_.stale_messages;
    return;
  }
  TrackEntry& e = table_.at(d.key);
  const int32_t s = e.slot;
  if (s < 0 || cache_[s].destaging != d.version) {
    ++counters_.stale_messages;  // from before a crash, or for a slot no longer here
    return;
  }
  Slot& sl = cache_[s];
  sl.destaging.reset();
  --disks_[disk_of(d.key)].in_flight;
  touch(d.key);
  if (!d.ok) {
    // I/O error policy: the local WP indicator stays set and the destage is
    // retried after an interval; the data stays pinned in cache meanwhile.
    ++counters_.disk_io_errors;
    add_retry(RetryKind::Destage, d.key);
    refresh_slot(s);
    return;
  }
  e.disk_version = d.version;
  if (e.local_wp && sl.version == d.version) {
    set_local_wp(d.key, false);  // on_destage_done of the slot's current version
  } else if (e.local_wp) {
    queue_destage(s);  // a newer write landed meanwhile
  }
  refresh_slot(s);
}

void Controller::on_disk_read_done(const DiskReadDone& d) {
  if (!table_.contains(d.key)) {
    ++counters_.stale_messages;
    return;
  }
  const TrackKey k = d.key;
  TrackEntry& e = table_.at(k);
  if (recovery_reads_.count(k)) {
    if (!d.ok) {
      ++counters_.disk_io_errors;
      add_retry(RetryKind::RecoveryRead, k);
      return;
    }
    recovery_reads_.erase(k);
    e.disk_version = d.version;
    touch(k);
    if (d.version == e.version) {
      set_invalid_local(k, false);  // the disk had the newest data after all
    } else {
      // Older: fetch the newest back from the peer. Newer than anything this
      // side accepted: a divergent leftover of a discarded write, which the
      // peer's data must replace whatever its version.
      if (d.version > e.version) e.divergent = true;
      wanted_.insert(k);
    }
    return;
  }
  if (fetch_reads_.count(k)) {
    if (!d.ok) {
      ++counters_.disk_io_errors;
      add_retry(RetryKind::FetchRead, k);
      return;
    }
    fetch_reads_.erase(k);
    e.disk_version = d.version;
    const Version v = std::max(d.version, content_version(k));
    send(CopyData{epoch_, k, v, config().track_bytes, true});
    return;
  }
  const int32_t s = e.slot;
  if (s < 0 || !cache_[s].reading) {
    ++counters_.stale_messages;
    return;
  }
  Slot& sl = cache_[s];
  sl.reading = false;
  if (sl.copy_read) {
    sl.copy_read = false;
    --copy_reads_in_flight_;
  }
  touch(k);
  if (!d.ok) {
    ++counters_.disk_io_errors;
    for (RequestId r : sl.read_waiters) reject(r, k, RejectReason::IoError, false);
    sl.read_waiters.clear();
    if (!sl.has_data) {
      if (e.remote_wp) add_retry(RetryKind::SlotRead, k);  // the copy still needs the data
      else free_slot(s);
      return;
    }
    refresh_slot(s);
    return;
  }
  e.disk_version = d.version;
  if (!sl.has_data) {
    sl.has_data = true;
    sl.version = d.version;
  }
  for (RequestId r : sl.read_waiters) emit(AckHost{r, k, sl.version, false});
  sl.read_waiters.clear();
  if (e.remote_wp) queue_copy(s);
  refresh_slot(s);
}

// ---------------------------------------------------------------------------
// messages

void Controller::on_received(const Message& m) {
  std::visit(overloaded{
                 [&](const Establish& x) { on_establish(x); },
                 [&](const EstablishAck& x) { on_establish_ack(x); },
                 [&](const WriteCommand& x) { on_write_command(x); },
                 [&](const TransferReady& x) { on_transfer_ready(x); },
                 [&](const CopyData& x) { on_copy_data(x); },
                 [&](const CopyAck& x) { on_copy_acked(x); },
                 [&](const Takeover& x) { on_takeover(x); },
                 [&](const CycleData& x) { on_cycle_data(x); },
                 [&](const CycleDataAck& x) { on_cycle_data_ack(x); },
                 [&](const CycleEnd& x) { on_cycle_end(x); },
                 [&](const CycleApplied& x) { on_cycle_applied(x); },
             },
             m);
}

void Controller::on_establish(const Establish& m) {
  if (role_ == Role::Primary) {
    // Two primaries: the higher generation wins (a failover bumped it); on a
    // tie, which only a misconfiguration produces, side A wins.
    const bool peer_wins = m.generation > generation_ || (m.generation == generation_ && side_ == Side::B);
    if (!peer_wins) {
      ++counters_.stale_messages;
      return;
    }
    demote();
  } else if (m.generation < generation_ || (m.generation == generation_ && m.epoch <= epoch_ && session_open_)) {
    // An old primary's, or an earlier session's handshake that a faster
    // link overtook: sessions of one primary only move forward.
    ++counters_.stale_messages;
    return;
  }
  for (const TrackKey& k : m.wanted)
    if (!table_.contains(k)) {
      ++counters_.stale_messages;  // a malformed request: refuse the session
      return;
    }
  generation_ = m.generation;
  epoch_ = m.epoch;
  session_open_ = true;
  if (!m.async_resume) {
    // A new session: what R2 received of unfinished cycles is never applied.
    for (AsyncGroup& g : groups_) {
      g.receive.clear();
      g.applied_cycle = 0;
    }
    delta_slots_ = 0;
  }
  state_ = PairState::Synchronized;
  pending_stores_.clear();
  fetch_reads_.clear();
  EstablishAck ack{epoch_, {}, {}};
  table_.for_each([&](TrackKey k, const TrackEntry& e) {
    if (e.invalid_local) ack.owed.push_back(k);
  });
  for (const AsyncGroup& g : groups_) ack.applied_cycles.push_back(g.applied_cycle);
  send(std::move(ack));
  for (const TrackKey& k : m.wanted) {
    const TrackEntry& e = table_.at(k);
    if (e.slot >= 0 && cache_[e.slot].has_data) {
      send(CopyData{epoch_, k, cache_[e.slot].version, config().track_bytes, true});
    } else if (fetch_reads_.insert(k).second) {
      emit(DiskRead{disk_of(k), k, config().track_bytes});
    }
  }
}

void Controller::on_establish_ack(const EstablishAck& m) {
  if (role_ != Role::Primary || state_ != PairState::Establishing || m.epoch != epoch_) {
    ++counters_.stale_messages;
    return;
  }
  for (const TrackKey& k : m.owed) {
    if (!table_.contains(k)) continue;
    if (!table_.at(k).remote_wp) set_invalid_remote(k, true);
  }
  if (config().mutant == Mutant::ResyncSkipsInvalidTracks) {
    std::vector<TrackKey> all;
    table_.for_each_invalid_remote([&](TrackKey k) { all.push_back(k); });
    for (TrackKey k : all) set_invalid_remote(k, false);
  }
  if (async_resume_) {
    async_resume_ = false;
    state_ = PairState::Synchronized;
    // The session goes on only if R2 lost nothing meanwhile and holds the
    // cycle the oldest transmit set applies on top of (or a later one).
    bool resumable = m.owed.empty() && m.applied_cycles.size() == groups_.size();
    for (size_t g = 0; resumable && g < groups_.size(); ++g)
      if (!groups_[g].transmit.empty() && m.applied_cycles[g] < groups_[g].transmit.front().previous) resumable = false;
    if (!resumable) async_drop(DropReason::LinkLimbo);
    else async_rewind();  // resend what may have been lost
    return;
  }
  // Async: the cycles start again once nothing is owed and nothing is in flight (pump).
  state_ = table_.invalid_remote_count() > 0 || config().is_async() ? PairState::Syncing : PairState::Synchronized;
}

void Controller::on_write_command(const WriteCommand& m) {
  if (role_ != Role::Secondary || !session_open_ || m.epoch != epoch_ || !table_.contains(m.key)) {
    ++counters_.stale_messages;
    return;
  }
  send(TransferReady{epoch_, m.key, m.version, m.bytes});
}

void Controller::on_transfer_ready(const TransferReady& m) {
  if (role_ != Role::Primary || m.epoch != epoch_ || state_ == PairState::Suspended ||
      state_ == PairState::Establishing || !table_.contains(m.key)) {
    ++counters_.stale_messages;
    return;
  }
  const int32_t s = table_.at(m.key).slot;
  if (s < 0 || cache_[s].copies_in_flight == 0) {
    ++counters_.stale_messages;
    return;
  }
  // The data phase carries the slot's data as it is now (possibly newer
  // than announced); the secondary only ever moves forward.
  Slot& sl = cache_[s];
  sl.sent_version = std::max(sl.sent_version, sl.version);
  send(CopyData{epoch_, m.key, sl.version, m.bytes, false});
}

void Controller::on_copy_data(const CopyData& m) {
  if (!table_.contains(m.key)) {
    ++counters_.stale_messages;
    return;
  }
  if (m.fetch) {
    if (role_ != Role::Primary || m.epoch != epoch_ || !wanted_.count(m.key)) {
      ++counters_.stale_messages;
      return;
    }
    if (!pending_stores_.empty() || !store_fetched(m)) pending_stores_.push_back(m);
    return;
  }
  if (role_ != Role::Secondary || !session_open_ || m.epoch != epoch_) {
    ++counters_.stale_messages;
    return;
  }
  if (!pending_stores_.empty() || !store_copy(m)) {
    pending_stores_.push_back(m);
    ++counters_.stores_delayed;
  }
}

bool Controller::store_copy(const CopyData& m) {
  const TrackKey k = m.key;
  TrackEntry& e = table_.at(k);
  const bool discard = e.invalid_local;  // our data is stale or divergent: take whatever comes
  const bool newer = m.version > e.version ||
                     (config().mutant == Mutant::SecondaryAppliesOlder && m.version != e.version);
  if (!discard && !newer) {
    send(CopyAck{epoch_, k, e.version});  // already holds this version or a newer one
    return true;
  }
  if (!e.local_wp && wp_slots_ >= shape_->wp_slots_max) return false;
  int32_t s = e.slot;
  if (s < 0) s = allocate_slot(k);
  if (s < 0) return false;
  store_received(k, s, m.version, m.bytes);
  send(CopyAck{epoch_, k, m.version});
  refresh_slot(s);
  return true;
}

void Controller::store_received(TrackKey k, int32_t s, Version v, uint32_t bytes) {
  TrackEntry& e = table_.at(k);
  Slot& sl = cache_[s];
  e.version = v;
  sl.version = v;
  sl.has_data = true;
  sl.local_dirty_bytes = std::min(config().track_bytes, sl.local_dirty_bytes + bytes);
  touch(k);
  if (e.invalid_local) set_invalid_local(k, false);
  set_local_wp(k, true);
  queue_destage(s);
  ++counters_.copies_stored;
}

bool Controller::store_fetched(const CopyData& m) {
  const TrackKey k = m.key;
  TrackEntry& e = table_.at(k);
  if (!e.invalid_local) {
    wanted_.erase(k);
    return true;
  }
  if (e.divergent || m.version > content_version(k)) {
    int32_t s = e.slot;
    if (s < 0) {
      if (wp_slots_ >= shape_->wp_slots_max) return false;
      s = allocate_slot(k);
      if (s < 0) return false;
    }
    Slot& sl = cache_[s];
    // Divergent data is forgotten outright: the peer's version becomes the
    // newest this side knows, so a divergent leftover on the local disk can
    // never pass for current. (Writes of this primary carry a newer
    // generation than any divergent version, so numbering stays unique.)
    if (e.divergent) e.version = m.version;
    sl.version = m.version;
    sl.has_data = true;
    sl.local_dirty_bytes = config().track_bytes;
    set_local_wp(k, true);
    queue_destage(s);
    refresh_slot(s);
  }
  wanted_.erase(k);
  set_invalid_local(k, false);
  touch(k);
  return true;
}

void Controller::release_pending_stores() {
  while (!pending_stores_.empty()) {
    const CopyData& m = pending_stores_.front();
    const bool stale =
        m.epoch != epoch_ || (m.fetch ? role_ != Role::Primary : (role_ != Role::Secondary || !session_open_));
    if (!stale && !(m.fetch ? store_fetched(m) : store_copy(m))) break;
    pending_stores_.pop_front();
  }
}

void Controller::on_copy_acked(const CopyAck& m) {
  if (role_ != Role::Primary || m.epoch != epoch_ || !table_.contains(m.key) ||
      (state_ != PairState::Syncing && state_ != PairState::Synchronized)) {
    ++counters_.stale_messages;
    return;
  }
  const TrackKey k = m.key;
  TrackEntry& e = table_.at(k);
  const int32_t s = e.slot;
  if (s < 0 || cache_[s].copies_in_flight == 0) {
    ++counters_.stale_messages;
    return;
  }
  Slot& sl = cache_[s];
  --sl.copies_in_flight;
  --copies_in_flight_;
  touch(k);
  if (e.remote_wp && sl.has_data && m.version >= sl.version) {
    set_remote_wp(k, false);  // on_copy_acked of the slot's current version
    sl.remote_dirty_bytes = 0;
  }
  // Host writes waiting for the secondary: every version up to the acknowledged one.
  auto& ws = sl.sync_waiters;
  for (auto it = ws.begin(); it != ws.end();) {
    if (it->version <= m.version) {
      emit(AckHost{it->req, k, it->version, true});
      it = ws.erase(it);
    } else {
      ++it;
    }
  }
  auto& out = volumes_[k.volume].outstanding;
  const size_t before = out.size();
  std::erase_if(out, [&](const auto& o) { return o.first == k && o.second <= m.version; });
  if (out.size() != before) release_volume_gate(k.volume);
  if (e.remote_wp && sl.sent_version < sl.version) queue_copy(s);
  refresh_slot(s);
}

void Controller::on_takeover(const Takeover& m) {
  if (role_ != Role::Secondary || !session_open_ || m.epoch != epoch_ || m.generation <= generation_) {
    ++counters_.stale_messages;
    return;
  }
  promote(m.generation);
}

// ---------------------------------------------------------------------------
// link, crash, operator

void Controller::on_link_state(bool up) {
  reachable_ = up;
  // An async session rides an outage through for its limbo time: cycles
  // keep capturing, nothing is sent, and a link back in time resumes the
  // session without a drop (on_establish_ack).
  if (role_ == Role::Primary && async_active_) {
    if (!up && !limbo_until_ && config().async.link_limbo.ns > 0) {
      limbo_until_ = now_ + config().async.link_limbo;
      async_rewind();
      if (state_ == PairState::Establishing) state_ = PairState::Synchronized;
      return;
    }
    if (up && limbo_until_) {
      limbo_until_.reset();
      async_resume_ = true;
      state_ = PairState::Suspended;
      establish();
      return;
    }
    if (up && state_ == PairState::Establishing && async_resume_) {
      state_ = PairState::Suspended;
      establish();
      return;
    }
  }
  // A suspended primary opens a new session in pump(). A secondary does not
  // act on reachability news, which may concern a connection the primary has
  // already replaced: sessions end for it only through a new Establish.
  if (!up && role_ == Role::Primary) suspend();
  // A primary still waiting for an answer when a (new) connection comes up
  // asks again: its Establish may have gone out on a connection that died.
  if (up && role_ == Role::Primary && state_ == PairState::Establishing) {
    state_ = PairState::Suspended;
    establish();
  }
}

void Controller::on_timeout() {
  // The driver's clock says the deadline has come; the controller does not
  // second-guess it (the exhaustive checker's time is frozen): what is due
  // at the earliest deadline is due now. A deadline that no longer exists
  // (the retries were dropped) leaves nothing to do.
  const std::optional<Time> deadline = next_deadline();
  if (!deadline) return;
  const Time t = std::max(now_, *deadline);
  if (config().is_async()) async_on_timeout(t);
  if (!retry_at_ || *retry_at_ > t) return;
  retry_at_.reset();
  std::vector<Retry> due;
  due.swap(retries_);
  for (const Retry& r : due) {
    TrackEntry& e = table_.at(r.key);
    switch (r.kind) {
      case RetryKind::Destage:
        if (e.slot >= 0 && e.local_wp) queue_destage(e.slot);
        break;
      case RetryKind::SlotRead:
        if (e.slot >= 0 && !cache_[e.slot].has_data && !cache_[e.slot].reading) {
          cache_[e.slot].reading = true;
          emit(DiskRead{disk_of(r.key), r.key, config().track_bytes});
        }
        break;
      case RetryKind::RecoveryRead:
        if (recovery_reads_.count(r.key)) emit(DiskRead{disk_of(r.key), r.key, config().track_bytes});
        break;
      case RetryKind::FetchRead:
        if (fetch_reads_.count(r.key)) emit(DiskRead{disk_of(r.key), r.key, config().track_bytes});
        break;
    }
  }
}

void Controller::add_retry(RetryKind kind, TrackKey key) {
  retries_.push_back({kind, key});
  if (!retry_at_) {
    retry_at_ = now_ + config().disk_retry_interval;
  }
}

void Controller::on_crash() {
  // Host requests in progress die with the controller: the hosts see them fail.
  for (const HostRequest& r : delayed_) {
    if (const auto* w = std::get_if<HostWrite>(&r)) reject(w->req, w->key, RejectReason::Crashed, true);
    else reject(std::get<HostRead>(r).req, std::get<HostRead>(r).key, RejectReason::Crashed, false);
  }
  delayed_.clear();
  async_reject_held(RejectReason::Crashed);
  for (VolumeState& vs : volumes_) {
    for (const HostWrite& w : vs.gated) reject(w.req, w.key, RejectReason::Crashed, true);
    vs.gated.clear();
    vs.delayed = 0;
  }
  cache_.for_each_in_use([&](int32_t, Slot& sl) {
    for (const auto& w : sl.sync_waiters) reject(w.req, sl.key, RejectReason::Crashed, true);
    for (RequestId r : sl.read_waiters) reject(r, sl.key, RejectReason::Crashed, false);
    sl.sync_waiters.clear();
    sl.read_waiters.clear();
  });
  crashed_ = true;
}

void Controller::on_restart() {
  crashed_ = false;
  reachable_ = false;     // until the driver reports the peer reachable
  session_open_ = false;  // until a primary opens a new one
  state_ = PairState::Suspended;
  handing_over_ = false;
  takeover_sent_ = false;
  for (VolumeState& vs : volumes_) {
    // The remote WP count stays: it counts the track table's indicators.
    vs.outstanding.clear();
    vs.gated.clear();
    vs.delayed = 0;
  }
  pending_stores_.clear();
  copy_queue_.clear();
  for (DiskQueue& d : disks_) {
    d.destages.clear();
    d.in_flight = 0;
  }
  copies_in_flight_ = 0;
  copy_reads_in_flight_ = 0;
  resync_pending_ = 0;
  fetch_reads_.clear();
  recovery_reads_.clear();
  retries_.clear();
  retry_at_.reset();
  // Delta sets are not kept across a restart: what they owed R2 is owed as
  // invalid tracks (the remote WP indicators below), and cycles start again
  // after the resync. R2 keeps the boundary it applied last.
  async_clear();

  if (config().cache_nonvolatile) {
    // Slots and both WP indicators survived: owed destages resume, owed
    // copies become invalid tracks (the pair is suspended until re-established).
    std::vector<int32_t> empty;
    cache_.for_each_in_use([&](int32_t i, Slot& sl) {
      sl.reading = sl.copy_read = sl.resync_copy = sl.destage_queued = sl.copy_queued = false;
      sl.destaging.reset();
      sl.copies_in_flight = 0;
      sl.sent_version = 0;
      if (!sl.has_data) empty.push_back(i);
    });
    for (int32_t i : empty) {
      const TrackKey k = cache_[i].key;
      if (table_.at(k).remote_wp) {
        set_remote_wp(k, false);
        set_invalid_remote(k, true);
      }
      free_slot(i);
    }
    cache_.for_each_in_use([&](int32_t i, Slot& sl) {
      const TrackKey k = sl.key;
      if (table_.at(k).remote_wp) {
        set_remote_wp(k, false);
        set_invalid_remote(k, true);
        sl.remote_dirty_bytes = 0;
      }
      if (table_.at(k).local_wp) queue_destage(i);
      refresh_slot(i);
    });
  } else {
    // The cache is gone. Whatever was not yet on the local disk is lost on
    // this side; the track table (vault memory) says which tracks those were.
    lost_data_ = true;
    cache_.clear();
    wp_slots_ = local_wp_slots_ = remote_wp_tracks_ = 0;
    for (VolumeState& v : volumes_) v.remote_wp_tracks = 0;
    table_.for_each([&](TrackKey k, TrackEntry& e) {
      const bool lost = e.local_wp || e.version > e.disk_version;
      const bool owed = e.remote_wp;
      if (e.slot >= 0 || e.local_wp || e.remote_wp) touch(k);
      e.slot = -1;
      e.local_wp = e.remote_wp = false;
      if (owed) set_invalid_remote(k, true);
      // The version high-water mark stays: a recovery read that finds an
      // older version on disk then knows the newest data must come back
      // from the peer.
      if (lost) set_invalid_local(k, true);
    });
  }
  // A primary with invalid tracks first learns what its disk really holds
  // (a destage may have landed unconfirmed), then fetches the rest from the
  // peer when the session opens.
  if (role_ == Role::Primary) start_recovery();
  else wanted_.clear();
}

void Controller::on_failover() {
  if (role_ == Role::Primary) {
    ++counters_.stale_messages;
    return;
  }
  promote(generation_ + 1);
}

void Controller::on_failback() {
  if (role_ != Role::Primary) {
    ++counters_.stale_messages;
    return;
  }
  handing_over_ = true;
  // New host I/O is refused from now on; what waits in queues is refused too.
  async_reject_held(RejectReason::NotReady);
  Fifo<HostRequest> waiting;
  std::swap(waiting, delayed_);
  for (const HostRequest& r : waiting) {
    if (const auto* w = std::get_if<HostWrite>(&r)) reject(w->req, w->key, RejectReason::NotReady, true);
    else delayed_.push_back(r);  // reads still complete
  }
  for (VolumeId v = 0; v < volumes_.size(); ++v) {
    volumes_[v].delayed = 0;
    for (const HostWrite& w : volumes_[v].gated) reject(w.req, w.key, RejectReason::NotReady, true);
    volumes_[v].gated.clear();
  }
}

// ---------------------------------------------------------------------------
// pair control

Epoch Controller::next_epoch() const {
  // Each side opens sessions with epochs of its own parity, so two sessions
  // opened by different sides never share an epoch.
  Epoch e = epoch_ + 1;
  if ((e & 1u) != static_cast<Epoch>(index_of(side_))) ++e;
  return e;
}

void Controller::establish() {
  if (role_ != Role::Primary || state_ != PairState::Suspended || operator_suspended_ || !reachable_ ||
      !recovery_reads_.empty())
    return;
  epoch_ = next_epoch();
  state_ = PairState::Establishing;
  ++counters_.establishes;
  send(Establish{epoch_, generation_, std::vector<TrackKey>(wanted_.begin(), wanted_.end()), async_resume_});
}

void Controller::suspend() {
  // (An async session waiting to resume after a limbo is Suspended with its
  // delta sets still held: dropping it converts them too.)
  if (role_ != Role::Primary || (state_ == PairState::Suspended && !async_active_)) return;
  state_ = PairState::Suspended;
  takeover_sent_ = false;
  ++counters_.suspensions;
  copies_in_flight_ = 0;
  copy_queue_.clear();
  std::vector<int32_t> slots;
  cache_.for_each_in_use([&](int32_t i, Slot&) { slots.push_back(i); });
  for (int32_t i : slots) {
    Slot& sl = cache_[i];
    const TrackKey k = sl.key;
    sl.copies_in_flight = 0;
    sl.sent_version = 0;
    sl.copy_queued = false;
    if (table_.at(k).remote_wp) {
      // What the secondary is owed moves from the cache to the track table.
      set_remote_wp(k, false);
      set_invalid_remote(k, true);
      sl.remote_dirty_bytes = 0;
    }
    const bool domino = volume(k.volume).domino;
    for (const auto& w : sl.sync_waiters) {
      if (domino) reject(w.req, k, RejectReason::Domino, true);
      else emit(AckHost{w.req, k, w.version, true});
    }
    sl.sync_waiters.clear();
    refresh_slot(i);
  }
  for (VolumeId v = 0; v < volumes_.size(); ++v) {
    volumes_[v].outstanding.clear();
    release_volume_gate(v);
  }
  if (config().is_async()) {
    // The delta sets are gone (their tracks are invalid tracks now); writes
    // held by pacing or a coordination go in at once, owed the same way.
    async_clear();
    async_release_held(Time::max());
  }
}

void Controller::demote() {
  // Another controller holds a newer primary generation: this side's
  // unmirrored data is divergent and is discarded in favour of the peer's.
  role_ = Role::Secondary;
  handing_over_ = false;
  takeover_sent_ = false;
  operator_suspended_ = false;
  lost_data_ = true;
  for (const HostRequest& r : delayed_) {
    if (const auto* w = std::get_if<HostWrite>(&r)) reject(w->req, w->key, RejectReason::NotReady, true);
    else reject(std::get<HostRead>(r).req, std::get<HostRead>(r).key, RejectReason::NotReady, false);
  }
  delayed_.clear();
  async_reject_held(RejectReason::NotReady);
  async_clear();
  for (AsyncGroup& g : groups_) g.applied_cycle = 0;
  for (VolumeState& vs : volumes_) {
    for (const HostWrite& w : vs.gated) reject(w.req, w.key, RejectReason::NotReady, true);
    // The remote WP count stays: it counts the track table's indicators,
    // which are reset one by one below (the audit found it reset here and
    // then counted down past zero, which made adaptive-copy-wp volumes of a
    // demoted and re-promoted controller behave as sync for good).
    const uint32_t remote_wp = vs.remote_wp_tracks;
    vs = VolumeState{};
    vs.remote_wp_tracks = remote_wp;
  }
  copy_queue_.clear();
  copies_in_flight_ = 0;
  copy_reads_in_flight_ = 0;
  resync_pending_ = 0;
  cache_.for_each_in_use([&](int32_t, Slot& sl) {
    for (const auto& w : sl.sync_waiters) reject(w.req, sl.key, RejectReason::NotReady, true);
    for (RequestId r : sl.read_waiters) reject(r, sl.key, RejectReason::NotReady, false);
    sl.sync_waiters.clear();
    sl.read_waiters.clear();
    sl.copies_in_flight = 0;
    sl.sent_version = 0;
    sl.copy_queued = sl.copy_read = sl.resync_copy = false;
  });
  std::vector<TrackKey> divergent;
  table_.for_each([&](TrackKey k, const TrackEntry& e) {
    if (e.remote_wp || e.invalid_local || table_.invalid_remote(k)) divergent.push_back(k);
  });
  for (TrackKey k : divergent) {
    set_remote_wp(k, false);
    set_invalid_remote(k, false);
    set_invalid_local(k, true);
    table_.at(k).divergent = true;
    if (table_.at(k).slot >= 0) refresh_slot(table_.at(k).slot);
  }
  recovery_reads_.clear();
  wanted_.clear();
}

void Controller::promote(Generation g) {
  role_ = Role::Primary;
  generation_ = g;
  state_ = PairState::Suspended;
  operator_suspended_ = false;
  handing_over_ = false;
  takeover_sent_ = false;
  pending_stores_.clear();
  fetch_reads_.clear();
  // R2 takes over at its last applied boundary: receive sets of cycles not
  // yet applied are discarded; cycles of this primary number on from there.
  for (AsyncGroup& g : groups_) g.capture_cycle = std::max(g.capture_cycle, g.applied_cycle);
  async_clear();
  // Tracks this side lost (a volatile-cache crash) or was discarding cannot
  // be served until their data comes back from the peer.
  start_recovery();
}

void Controller::start_recovery() {
  // Divergent tracks come back from the peer as they are; lost ones first
  // learn what the local disk really holds (a destage may have landed
  // unconfirmed before a crash).
  table_.for_each([&](TrackKey k, TrackEntry& e) {
    if (!e.invalid_local) return;
    if (e.divergent) {
      wanted_.insert(k);
      return;
    }
    recovery_reads_.insert(k);
    wanted_.erase(k);
    emit(DiskRead{disk_of(k), k, config().track_bytes});
  });
}

void Controller::maybe_hand_over() {
  if (!handing_over_ || takeover_sent_ || state_ != PairState::Synchronized || remote_wp_tracks_ != 0 ||
      copies_in_flight_ != 0 || table_.invalid_remote_count() != 0)
    return;
  takeover_sent_ = true;
  send(Takeover{epoch_, generation_ + 1});
}

// ---------------------------------------------------------------------------
// pumps

void Controller::pump() {
  if (role_ == Role::Primary) {
    if (state_ == PairState::Suspended) establish();
    release_pending_stores();
    release_delayed();
    pump_copies();
    // Async: in sync only when nothing is in flight either (R2 == R1): the
    // cycles start from there.
    if (state_ == PairState::Syncing && table_.invalid_remote_count() == 0 && resync_pending_ == 0 &&
        (!config().is_async() || async_in_step()))
      state_ = PairState::Synchronized;
    if (config().is_async()) async_pump();
    maybe_hand_over();
  } else {
    release_pending_stores();
    if (config().is_async()) async_pump();
  }
  pump_destages();
}

void Controller::queue_destage(int32_t i) {
  Slot& sl = cache_[i];
  if (sl.destage_queued || sl.destaging) return;
  sl.destage_queued = true;
  disks_[disk_of(sl.key)].destages.push_back(sl.key);
}

void Controller::pump_destages() {
  for (uint32_t d = 0; d < config().disks; ++d) {
    auto& q = disks_[d].destages;
    while (disks_[d].in_flight < config().destages_per_disk_max && !q.empty()) {
      const TrackKey k = q.front();
      q.pop_front();
      const TrackEntry& e = table_.at(k);
      if (e.slot < 0) continue;
      Slot& sl = cache_[e.slot];
      sl.destage_queued = false;
      if (!e.local_wp || sl.destaging || !sl.has_data) continue;
      sl.destaging = sl.version;
      ++disks_[d].in_flight;
      ++counters_.destages;
      const uint32_t bytes = sl.local_dirty_bytes ? sl.local_dirty_bytes : config().track_bytes;
      sl.local_dirty_bytes = 0;
      emit(DiskWrite{d, k, sl.version, bytes});
      if (config().mutant == Mutant::LocalWpResetOnDestageStart) set_local_wp(k, false);
      refresh_slot(e.slot);
    }
  }
}

void Controller::queue_copy(int32_t i) {
  // Async cycles carry every copy while they run (a remote WP indicator set
  // by a capture set is reset by its cycle's apply, not by a copy).
  if (async_active_) return;
  Slot& sl = cache_[i];
  if (sl.copy_queued) return;
  sl.copy_queued = true;
  copy_queue_.push_back(sl.key);
}

void Controller::send_copy(int32_t i) {
  Slot& sl = cache_[i];
  const uint32_t bytes = sl.remote_dirty_bytes ? sl.remote_dirty_bytes : config().track_bytes;
  sl.remote_dirty_bytes = 0;
  sl.sent_version = sl.version;
  ++sl.copies_in_flight;
  ++copies_in_flight_;
  ++counters_.copies_sent;
  counters_.copy_bytes_sent += bytes;
  if (config().round_trips_per_write >= 2) send(WriteCommand{epoch_, sl.key, sl.version, bytes});
  else send(CopyData{epoch_, sl.key, sl.version, bytes, false});
  if (config().mutant == Mutant::RemoteWpResetOnSend) set_remote_wp(sl.key, false);
  touch(sl.key);
  refresh_slot(i);
}

void Controller::pump_copies() {
  if (state_ != PairState::Syncing && state_ != PairState::Synchronized) return;
  uint64_t skipped = 0;
  while (copies_in_flight_ + copy_reads_in_flight_ < config().copies_in_flight_max) {
    if (!copy_queue_.empty()) {
      const TrackKey k = copy_queue_.front();
      copy_queue_.pop_front();
      const TrackEntry& e = table_.at(k);
      if (e.slot < 0) continue;
      Slot& sl = cache_[e.slot];
      sl.copy_queued = false;
      if (!e.remote_wp || !sl.has_data) continue;
      if (sl.copies_in_flight > 0 && sl.sent_version >= sl.version) continue;  // its ack is coming
      send_copy(e.slot);
      continue;
    }
    // Background copier: invalid tracks, in track order from a cursor.
    if (table_.invalid_remote_count() == 0 || skipped >= table_.invalid_remote_count()) break;
    const auto next = table_.next_invalid_remote(resync_cursor_);
    if (!next) break;
    const TrackKey k = *next;
    resync_cursor_ = TrackKey{k.volume, k.track + 1};
    TrackEntry& e = table_.at(k);
    if (e.invalid_local) {
      ++skipped;  // lost here as well: nothing to copy until it is fetched back
      continue;
    }
    int32_t s = e.slot;
    if (s < 0) {
      if (wp_slots_ >= shape_->wp_slots_max) break;  // resync yields to host writes at the limit
      s = allocate_slot(k);
      if (s < 0) break;
    }
    Slot& sl = cache_[s];
    set_invalid_remote(k, false);
    set_remote_wp(k, true);
    sl.remote_dirty_bytes = config().track_bytes;
    if (!sl.resync_copy) {
      sl.resync_copy = true;
      ++resync_pending_;
    }
    if (sl.has_data) {
      send_copy(s);
    } else if (!sl.reading) {
      sl.reading = true;
      sl.copy_read = true;
      ++copy_reads_in_flight_;
      emit(DiskRead{disk_of(k), k, config().track_bytes});
    }
    refresh_slot(s);
  }
}

// ---------------------------------------------------------------------------
// bookkeeping

int32_t Controller::allocate_slot(TrackKey k) {
  TrackKey evicted;
  bool did_evict = false;
  int32_t s = cache_.allocate(k, &evicted, &did_evict);
  if (s < 0 && config().mutant == Mutant::EvictWpSlot) {
    // The broken variant: take the first slot with data, write-pending or not,
    // abandoning whatever destage or copy was in flight for it.
    int32_t victim = -1;
    cache_.for_each_in_use([&](int32_t i, Slot& sl) {
      if (victim < 0 && !sl.reading && sl.has_data && sl.sync_waiters.empty() && sl.read_waiters.empty()) victim = i;
    });
    if (victim >= 0) {
      Slot& vs = cache_[victim];
      const TrackKey vk = vs.key;
      copies_in_flight_ -= vs.copies_in_flight;
      if (vs.destaging) --disks_[disk_of(vk)].in_flight;
      set_local_wp(vk, false);
      set_remote_wp(vk, false);
      free_slot(victim);
      s = cache_.allocate(k, &evicted, &did_evict);
    }
  }
  if (did_evict) {
    table_.at(evicted).slot = -1;
    touch(evicted);
    ++counters_.evictions;
  }
  if (s >= 0) {
    table_.at(k).slot = s;
    touch(k);
  }
  return s;
}

void Controller::free_slot(int32_t i) {
  const TrackKey k = cache_[i].key;
  if (cache_[i].copy_read) --copy_reads_in_flight_;
  if (cache_[i].resync_copy) --resync_pending_;
  table_.at(k).slot = -1;
  cache_.release(i);
  touch(k);
}

void Controller::set_local_wp(TrackKey k, bool on) {
  TrackEntry& e = table_.at(k);
  if (e.local_wp == on) return;
  const bool was_any = e.local_wp || e.remote_wp;
  e.local_wp = on;
  const bool now_any = e.local_wp || e.remote_wp;
  if (was_any != now_any) wp_slots_ += now_any ? 1 : -1;
  local_wp_slots_ += on ? 1 : -1;
  touch(k);
  if (e.slot >= 0) refresh_slot(e.slot);
}

void Controller::set_remote_wp(TrackKey k, bool on) {
  TrackEntry& e = table_.at(k);
  if (e.remote_wp == on) return;
  const bool was_any = e.local_wp || e.remote_wp;
  e.remote_wp = on;
  const bool now_any = e.local_wp || e.remote_wp;
  if (was_any != now_any) wp_slots_ += now_any ? 1 : -1;
  remote_wp_tracks_ += on ? 1 : -1;
  volumes_[k.volume].remote_wp_tracks += on ? 1 : -1;
  if (!on && e.slot >= 0 && cache_[e.slot].resync_copy) {
    cache_[e.slot].resync_copy = false;
    --resync_pending_;
  }
  touch(k);
  if (e.slot >= 0) refresh_slot(e.slot);
}

void Controller::set_invalid_remote(TrackKey k, bool on) {
  if (table_.set_invalid_remote(k, on)) touch(k);
}

void Controller::set_invalid_local(TrackKey k, bool on) {
  TrackEntry& e = table_.at(k);
  if (!on) e.divergent = false;
  if (e.invalid_local == on) return;
  e.invalid_local = on;
  invalid_local_count_ += on ? 1 : static_cast<uint64_t>(-1);
  touch(k);
}

void Controller::refresh_slot(int32_t i) {
  const Slot& sl = cache_[i];
  const TrackEntry& e = table_.at(sl.key);
  const bool clean = sl.in_use && sl.has_data && !sl.reading && !e.local_wp && !e.remote_wp && !sl.destaging &&
                     sl.copies_in_flight == 0 && sl.sync_waiters.empty() && sl.read_waiters.empty();
  cache_.set_clean(i, clean);
}

void Controller::touch(TrackKey k) {
  uint32_t& stamp = scratch_.stamp[shape_->volume_base[k.volume] + k.track];
  if (stamp == scratch_.step) return;
  stamp = scratch_.step;
  scratch_.touched.push_back(k);
}

Version Controller::next_version(const TrackEntry& e) const {
  return std::max(e.version + 1, make_version(generation_, 1));
}

void Controller::send(Message m) {
  const uint32_t bytes = wire_bytes(m);
  emit(Send{std::move(m), bytes});
}

Version Controller::content_version(TrackKey k) const {
  const TrackEntry& e = table_.at(k);
  if (e.slot >= 0 && cache_[e.slot].has_data) return cache_[e.slot].version;
  return e.disk_version;
}

const Slot* Controller::slot_of(TrackKey k) const {
  const TrackEntry& e = table_.at(k);
  return e.slot >= 0 ? &cache_[e.slot] : nullptr;
}

uint32_t Controller::disk_of(TrackKey k) const {
  return static_cast<uint32_t>((k.track + 7u * k.volume) % config().disks);
}

}  // namespace mirrorsim

namespace mirrorsim {

DurableTrack Controller::durable_track(TrackKey k) const {
  const TrackEntry& e = table_.at(k);
  DurableTrack d;
  d.version = e.version;
  d.disk_version = e.disk_version;
  d.local_wp = e.local_wp;
  d.remote_wp = e.remote_wp;
  d.invalid_local = e.invalid_local;
  d.divergent = e.divergent;
  d.invalid_remote = table_.invalid_remote(k);
  if (e.slot >= 0 && cache_[e.slot].has_data) {
    d.cached = true;
    d.cached_version = cache_[e.slot].version;
  }
  return d;
}

DurableState Controller::durable_state() const {
  DurableState s;
  s.role = role_;
  s.generation = generation_;
  s.epoch = epoch_;
  s.operator_suspended = operator_suspended_;
  s.tracks.resize(table_.volume_count());
  for (VolumeId v = 0; v < table_.volume_count(); ++v) {
    s.tracks[v].reserve(table_.tracks(v));
    for (TrackNo t = 0; t < table_.tracks(v); ++t) s.tracks[v].push_back(durable_track(TrackKey{v, t}));
  }
  return s;
}

Controller Controller::recovered(Side side, ControllerConfig config, const DurableState& state) {
  Controller c(side, state.role, std::move(config));
  c.generation_ = state.generation;
  c.epoch_ = state.epoch;
  c.operator_suspended_ = state.operator_suspended;
  for (VolumeId v = 0; v < state.tracks.size() && v < c.table_.volume_count(); ++v) {
    for (TrackNo t = 0; t < state.tracks[v].size() && t < c.table_.tracks(v); ++t) {
      const DurableTrack& d = state.tracks[v][t];
      const TrackKey k{v, t};
      TrackEntry& e = c.table_.at(k);
      e.version = d.version;
      e.disk_version = d.disk_version;
      e.divergent = d.divergent;
      if (d.invalid_local) {
        e.invalid_local = true;
        ++c.invalid_local_count_;
      }
      c.table_.set_invalid_remote(k, d.invalid_remote);
      // Write-pending data comes back only in cache slots that survived.
      const bool slot_survives = c.config().cache_nonvolatile && d.cached;
      if (slot_survives) {
        TrackKey evicted;
        bool did_evict = false;
        const int32_t s = c.cache_.allocate(k, &evicted, &did_evict);
        if (s >= 0) {
          e.slot = s;
          Slot& sl = c.cache_[s];
          sl.version = d.cached_version;
          sl.has_data = true;
        }
      }
      if (e.slot >= 0) {
        c.set_local_wp(k, d.local_wp);
        c.set_remote_wp(k, d.remote_wp);
        c.refresh_slot(e.slot);
      } else if (!c.config().cache_nonvolatile) {
        // The indicators were set but their data is gone: the restart's
        // volatile-cache rules see local WP (lost) and remote WP (owed).
        e.local_wp = d.local_wp;
        e.remote_wp = d.remote_wp;
      } else {
        // Non-volatile, yet no data: a copy was still reading it from disk
        // (owed through the track table now), or a damaged record (lost).
        if (d.remote_wp) c.table_.set_invalid_remote(k, true);
        if (d.local_wp && !e.invalid_local) {
          e.invalid_local = true;
          ++c.invalid_local_count_;
        }
      }
    }
  }
  c.crashed_ = true;
  c.scratch_.touched.clear();
  return c;
}

}  // namespace mirrorsim

namespace mirrorsim {

namespace {
// A broken promise of the controller to itself: never expected, never
// swallowed. Thrown (the model does no I/O): every driver lets it end the run.
[[noreturn]] void audit_failed(Side side, const std::string& what) {
  throw std::logic_error(fmt::format("controller {} audit failed: {}", to_string(side), what));
}
// The message is formatted only when the check fails: the exhaustive
// checker audits after every transition.
#define MIRRORSIM_AUDIT(ok, ...)                                 \
  do {                                                           \
    if (!(ok)) audit_failed(side_, fmt::format(__VA_ARGS__));    \
  } while (false)

// Counts by volume or disk without an allocation per audit (they are few).
class SmallCounts {
 public:
  explicit SmallCounts(size_t n) : n_(n) {
    if (n_ > kInline) heap_.assign(n_, 0);
  }
  uint64_t& operator[](size_t i) { return n_ > kInline ? heap_[i] : inline_[i]; }

 private:
  static constexpr size_t kInline = 16;
  size_t n_;
  std::array<uint64_t, kInline> inline_{};
  std::vector<uint64_t> heap_;
};
}  // namespace

void Controller::audit() const {
  if (crashed_ || config().mutant != Mutant::None) return;
  uint64_t wp = 0, local_wp = 0, remote_wp = 0, invalid_local = 0, invalid_remote = 0;
  SmallCounts remote_wp_by_volume(volumes_.size());
  table_.for_each([&](TrackKey k, const TrackEntry& e) {
    wp += e.local_wp || e.remote_wp;
    local_wp += e.local_wp;
    remote_wp += e.remote_wp;
    remote_wp_by_volume[k.volume] += e.remote_wp;
    invalid_local += e.invalid_local;
    invalid_remote += table_.invalid_remote(k);
    if (e.local_wp || e.remote_wp) {
      // Write-pending data lives in a cache slot, never only on a list.
      MIRRORSIM_AUDIT(e.slot >= 0, "track {} has a write-pending indicator and no cache slot", to_string(k));
    }
    if (e.slot >= 0) {
      MIRRORSIM_AUDIT(e.slot < static_cast<int32_t>(cache_.size()) && cache_[e.slot].in_use && cache_[e.slot].key == k,
                      "track {} points at slot {}, which does not hold it", to_string(k), e.slot);
      if (e.local_wp || e.remote_wp) MIRRORSIM_AUDIT(!cache_[e.slot].in_lru, "slot {} of write-pending track {} is on the clean list", e.slot, to_string(k));
    }
  });
  MIRRORSIM_AUDIT(wp == wp_slots_, "{} tracks are write-pending, the count says {}", wp, wp_slots_);
  MIRRORSIM_AUDIT(local_wp == local_wp_slots_, "{} tracks have local WP, the count says {}", local_wp, local_wp_slots_);
  MIRRORSIM_AUDIT(remote_wp == remote_wp_tracks_, "{} tracks have remote WP, the count says {}", remote_wp, remote_wp_tracks_);
  for (size_t v = 0; v < volumes_.size(); ++v)
    MIRRORSIM_AUDIT(remote_wp_by_volume[v] == volumes_[v].remote_wp_tracks, "volume {}: {} tracks have remote WP, the count says {}",
           v, remote_wp_by_volume[v], volumes_[v].remote_wp_tracks);
  MIRRORSIM_AUDIT(invalid_local == invalid_local_count_, "{} tracks are invalid-local, the count says {}", invalid_local,
         invalid_local_count_);
  MIRRORSIM_AUDIT(invalid_remote == table_.invalid_remote_count(), "{} tracks are invalid-remote, the count says {}",
         invalid_remote, table_.invalid_remote_count());
  uint64_t copies = 0, copy_reads = 0, resync = 0, in_use = 0;
  SmallCounts destaging(disks_.size());
  for (int32_t i = 0; i < static_cast<int32_t>(cache_.size()); ++i) {
    const Slot& sl = cache_[i];
    if (!sl.in_use) continue;
    ++in_use;
    MIRRORSIM_AUDIT(table_.at(sl.key).slot == i, "slot {} holds track {}, whose entry points at slot {}", i, to_string(sl.key),
           table_.at(sl.key).slot);
    copies += sl.copies_in_flight;
    copy_reads += sl.copy_read;
    resync += sl.resync_copy;
    if (sl.destaging) ++destaging[disk_of(sl.key)];
  }
  MIRRORSIM_AUDIT(in_use + cache_.free_count() == cache_.size(), "{} slots in use and {} free of {}", in_use, cache_.free_count(),
         cache_.size());
  MIRRORSIM_AUDIT(copies == copies_in_flight_, "slots have {} copies in flight, the count says {}", copies, copies_in_flight_);
  MIRRORSIM_AUDIT(copy_reads == copy_reads_in_flight_, "slots have {} copier reads in flight, the count says {}", copy_reads,
         copy_reads_in_flight_);
  MIRRORSIM_AUDIT(resync == resync_pending_, "{} slots hold resync copies, the count says {}", resync, resync_pending_);
  SmallCounts delayed_writes(volumes_.size());
  for (const HostRequest& r : delayed_)
    if (const auto* w = std::get_if<HostWrite>(&r)) ++delayed_writes[w->key.volume];
  for (size_t v = 0; v < volumes_.size(); ++v)
    MIRRORSIM_AUDIT(delayed_writes[v] == volumes_[v].delayed, "volume {}: {} writes wait at the write-pending limit, the count says {}",
           v, delayed_writes[v], volumes_[v].delayed);
  for (size_t d = 0; d < disks_.size(); ++d)
    MIRRORSIM_AUDIT(destaging[d] == disks_[d].in_flight, "disk {}: {} slots are destaging, the count says {}", d, destaging[d],
           disks_[d].in_flight);
}

#undef MIRRORSIM_AUDIT

}  // namespace mirrorsim
