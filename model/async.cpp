// Asynchronous replication in cycles (mode "async"): the controller's delta
// sets, cycle switches, write folding, consistency groups, pacing, the cache
// limit, the spill pool and the link limbo. See DESIGN.md, "Asynchronous
// replication in cycles".
//
// R1 captures the host writes of each consistency group into the capture
// set (acknowledged at the cache store; a track written twice in one cycle
// is kept once, at its newest version). At a cycle switch — the minimum
// cycle time elapsed, fewer than transmit_sets_max transmit sets waiting —
// the capture set becomes a transmit set and a new one opens. R1 sends the
// transmit set's tracks (CycleData, each acknowledged into R2's receive set)
// and then CycleEnd with their count; R2 applies the receive set as a whole
// once it holds all of it and answers CycleApplied, and only then does R1
// reset the remote WP indicators of the set's tracks (unless a later set
// holds them too). R2's image therefore moves from one cycle boundary to
// the next and never holds a partial cycle.
//
// While the session is not running (after a drop, before the resync that
// follows has brought R2 to R1's image) async volumes behave as
// adaptive-copy-disk: writes are owed as invalid tracks and copied in the
// background; cycles start again once nothing is owed.
#include "model/controller.hpp"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

namespace mirrorsim {

uint32_t Controller::held_writes() const {
  uint32_t n = 0;
  for (const AsyncGroup& g : groups_) n += static_cast<uint32_t>(g.held.size());
  return n;
}

uint64_t Controller::transmit_backlog_tracks() const {
  uint64_t n = 0;
  for (const AsyncGroup& g : groups_)
    for (const DeltaSet& t : g.transmit) n += t.entries.size() - t.acked;
  return n;
}

std::optional<uint64_t> Controller::transmit_cycle_of(TrackKey k, Version v) const {
  if (role_ != Role::Primary || !table_.contains(k)) return std::nullopt;
  for (const DeltaSet& t : groups_[consistency_group_of(k.volume)].transmit) {
    const auto it = t.entries.find(k);
    if (it != t.entries.end() && it->second.version == v) return t.cycle;
  }
  return std::nullopt;
}

bool Controller::has_transmit_set(uint16_t g, uint64_t cycle) const {
  if (role_ != Role::Primary || g >= groups_.size()) return false;
  for (const DeltaSet& t : groups_[g].transmit)
    if (t.cycle == cycle) return true;
  return false;
}

bool Controller::has_receive_set(uint16_t g, uint64_t cycle) const {
  if (role_ != Role::Secondary || g >= groups_.size()) return false;
  for (const DeltaSet& r : groups_[g].receive)
    if (r.cycle == cycle) return true;
  return false;
}

Time Controller::pacing_delay() const {
  const AsyncConfig& a = config().async;
  if (a.pacing_delay_max.ns <= 0 || a.pacing_threshold_fraction >= 1.0) return Time{};
  const double use = static_cast<double>(delta_slots_) / static_cast<double>(shape_->delta_slots_max);
  if (use <= a.pacing_threshold_fraction) return Time{};
  const double share = std::min(1.0, (use - a.pacing_threshold_fraction) / (1.0 - a.pacing_threshold_fraction));
  return Time::from_ns(static_cast<int64_t>(share * static_cast<double>(a.pacing_delay_max.ns)));
}

// ---------------------------------------------------------------------------
// host writes at R1

bool Controller::async_hold(const HostWrite& w) {
  AsyncGroup& g = groups_[consistency_group_of(w.key.volume)];
  Time due = now_;
  HoldReason reason = HoldReason::Pacing;
  if (g.hold_until) {
    due = *g.hold_until;
    reason = HoldReason::Coordination;
  }
  const Time paced = now_ + pacing_delay();
  if (paced > due) {
    due = paced;
    reason = HoldReason::Pacing;
  }
  // Writes of a group are accepted in arrival order: a dependent write
  // never overtakes the write it depends on.
  if (!g.held.empty()) due = std::max(due, g.held.back().due);
  if (due <= now_ && g.held.empty()) return false;
  g.held.push_back(HeldWrite{due, now_, w, reason});
  return true;
}

void Controller::async_release_held(Time upto) {
  for (uint16_t gi = 0; gi < groups_.size(); ++gi) {
    AsyncGroup& g = groups_[gi];
    if (g.hold_until && *g.hold_until <= upto) g.hold_until.reset();
    while (!g.held.empty() && g.held.front().due <= upto) {
      const HeldWrite h = g.held.front();
      g.held.pop_front();
      emit(HostWriteHeld{h.write.req, h.reason, now_ - h.since});
      if (auto why = refusal(h.write)) reject(h.write.req, h.write.key, *why, true);
      else admit_write(h.write);
    }
  }
}

void Controller::async_reject_held(RejectReason why) {
  for (AsyncGroup& g : groups_) {
    for (const HeldWrite& h : g.held) reject(h.write.req, h.write.key, why, true);
    g.held.clear();
    g.hold_until.reset();
  }
}

void Controller::async_capture(const HostWrite& w, Version v) {
  const TrackKey k = w.key;
  AsyncGroup& g = groups_[consistency_group_of(k.volume)];
  auto [it, added] = g.capture.entries.try_emplace(k);
  DeltaEntry& d = it->second;
  const uint32_t before = d.bytes;
  d.bytes = std::min(config().track_bytes, d.bytes + w.bytes);
  if (added || config().mutant != Mutant::AsyncFoldKeepsOlder) d.version = v;
  if (!added) ++counters_.writes_folded;
  g.capture.bytes += d.bytes - before;
  if (d.in_spill) {
    spill_bytes_ += d.bytes - before;
  } else if (added) {
    // A new track of the cycle needs a slot of its own (the transmit set may
    // hold an older version of it). At the limit it goes to the spill pool
    // if that has room; else the limit is crossed and the session drops
    // (async_pump, after this step's writes).
    const AsyncConfig& a = config().async;
    if (delta_slots_ >= shape_->delta_slots_max && a.spill_bytes_max > 0 && spill_bytes_ + d.bytes <= a.spill_bytes_max) {
      d.spilled = d.in_spill = true;
      spill_bytes_ += d.bytes;
      ++counters_.tracks_spilled;
      counters_.spill_bytes_written += d.bytes;
      spill_free_at_ = std::max(spill_free_at_, now_) +
                       Time::from_s(static_cast<double>(d.bytes) / config().async.spill_bytes_per_s);
    } else {
      ++delta_slots_;
    }
  }
  set_remote_wp(k, true);
}

// ---------------------------------------------------------------------------
// the pump (after every input)

void Controller::async_pump() {
  if (role_ == Role::Secondary) {
    async_apply();
    return;
  }
  if (!async_active_) {
    // Cycles (re)start once the resync has brought R2 to R1's image.
    if (state_ == PairState::Synchronized && !handing_over_) async_activate();
    return;
  }
  async_release_held(now_);
  if (!async_active_) return;
  if (delta_slots_ > shape_->delta_slots_max) {
    async_drop(DropReason::CacheLimit);
    return;
  }
  if (limbo_until_ || state_ != PairState::Synchronized) return;
  for (uint16_t gi = 0; gi < groups_.size(); ++gi) {
    AsyncGroup& g = groups_[gi];
    if (!g.cycle_time_elapsed && now_ >= g.cycle_started + config().async.cycle_time_min) g.cycle_time_elapsed = true;
    if (!g.cycle_time_elapsed || g.capture.entries.empty()) continue;
    const bool room = g.transmit.size() < config().async.transmit_sets_max;
    if (room || config().mutant == Mutant::AsyncSwitchBeforeTransmitAcked) async_switch(gi);
  }
  async_transmit();
}

void Controller::async_switch(uint16_t gi) {
  AsyncGroup& g = groups_[gi];
  if (config().mutant == Mutant::AsyncSwitchBeforeTransmitAcked && g.transmit.size() >= config().async.transmit_sets_max) {
    // The broken variant: the set R2 has not acknowledged yet is taken for
    // done, its tracks' remote WP reset, to make room for the new one.
    const DeltaSet old = std::move(g.transmit.front());
    g.transmit.erase(g.transmit.begin());
    for (const auto& [k, d] : old.entries) {
      if (!d.acked && async_in_flight_ > 0) --async_in_flight_;
      if (d.in_spill) spill_bytes_ -= d.bytes;
      if (!d.spilled) --delta_slots_;
      if (table_.at(k).remote_wp && !g.capture.entries.count(k)) set_remote_wp(k, false);
    }
  }
  DeltaSet next;
  next.cycle = g.capture_cycle + 1;
  if (config().mutant == Mutant::AsyncGroupSplitBoundary) {
    // The broken variant: the group's later volumes keep their writes for
    // the next cycle.
    VolumeId first = 0;
    while (first < volumes_.size() && consistency_group_of(first) != gi) ++first;
    for (auto it = g.capture.entries.begin(); it != g.capture.entries.end();) {
      if (it->first.volume != first) {
        g.capture.bytes -= it->second.bytes;
        next.bytes += it->second.bytes;
        next.entries.insert(*it);
        it = g.capture.entries.erase(it);
      } else {
        ++it;
      }
    }
  }
  DeltaSet& t = g.transmit.emplace_back(std::move(g.capture));
  t.previous = t.cycle == g.first_cycle ? 0 : t.cycle - 1;
  t.cursor = t.entries.empty() ? TrackKey{} : t.entries.begin()->first;
  t.sent_all = t.entries.empty();
  ++counters_.cycle_switches;
  emit(CycleSwitched{gi, t.cycle, t.entries.size(), t.bytes});
  g.capture = std::move(next);
  g.capture_cycle = g.capture.cycle;
  g.cycle_started = now_;
  g.cycle_time_elapsed = false;
  if (config().async.coordination_max.ns > 0) g.hold_until = now_ + config().async.coordination_max;
}

void Controller::async_transmit() {
  for (uint16_t gi = 0; gi < groups_.size(); ++gi) {
    AsyncGroup& g = groups_[gi];
    for (DeltaSet& t : g.transmit) {
      if (!t.sent_all) {
        auto it = t.entries.lower_bound(t.cursor);
        while (it != t.entries.end() && async_in_flight_ < config().copies_in_flight_max) {
          DeltaEntry& d = it->second;
          if (d.in_spill) {
            // Read back from the spill pool first (one read at a time).
            if (!t.spill_read_ready) {
              spill_free_at_ = std::max(spill_free_at_, now_) +
                               Time::from_s(static_cast<double>(d.bytes) / config().async.spill_bytes_per_s);
              t.spill_read_ready = spill_free_at_;
            }
            if (*t.spill_read_ready > now_) break;
            t.spill_read_ready.reset();
            // Read back into a slot only for its transmission: it counts
            // against the spill pool no longer, and never as a delta-set slot.
            spill_bytes_ -= d.bytes;
            d.in_spill = false;
          }
          send(CycleData{epoch_, gi, t.cycle, it->first, d.version, d.bytes});
          ++async_in_flight_;
          ++counters_.cycle_tracks_sent;
          counters_.cycle_bytes_sent += d.bytes;
          ++it;
        }
        if (it == t.entries.end()) t.sent_all = true;
        else t.cursor = it->first;
      }
      if (t.sent_all && !t.end_sent) {
        t.end_sent = true;
        send(CycleEnd{epoch_, gi, t.cycle, t.entries.size(), t.previous});
      }
      if (!t.end_sent) break;  // sets go out in cycle order
    }
  }
}

// ---------------------------------------------------------------------------
// session start, drop, limbo

bool Controller::async_in_step() const {
  // R2's image is R1's: nothing owed either way, nothing in flight, nothing
  // this side still has to learn or fetch back.
  return remote_wp_tracks_ == 0 && copies_in_flight_ == 0 && copy_reads_in_flight_ == 0 &&
         table_.invalid_remote_count() == 0 && resync_pending_ == 0 && invalid_local_count_ == 0 && wanted_.empty() &&
         recovery_reads_.empty() && pending_stores_.empty();
}

void Controller::async_activate() {
  if (!async_in_step()) return;
  async_active_ = true;
  for (uint16_t gi = 0; gi < groups_.size(); ++gi) {
    AsyncGroup& g = groups_[gi];
    g.capture = DeltaSet{};
    g.capture.cycle = ++g.capture_cycle;
    g.first_cycle = g.capture_cycle;
    g.transmit.clear();
    g.cycle_started = now_;
    g.cycle_time_elapsed = false;
    g.hold_until.reset();
    emit(CyclesStarted{gi, g.capture_cycle});
  }
}

void Controller::async_clear() {
  async_active_ = false;
  async_resume_ = false;
  limbo_until_.reset();
  async_in_flight_ = 0;
  delta_slots_ = 0;
  spill_bytes_ = 0;
  for (AsyncGroup& g : groups_) {
    g.capture.entries.clear();
    g.capture.bytes = 0;
    g.transmit.clear();
    g.receive.clear();
    g.hold_until.reset();
    g.cycle_time_elapsed = false;
  }
}

void Controller::async_rewind() {
  async_in_flight_ = 0;
  for (AsyncGroup& g : groups_)
    for (DeltaSet& t : g.transmit) {
      t.cursor = t.entries.empty() ? TrackKey{} : t.entries.begin()->first;
      t.sent_all = t.entries.empty();
      t.end_sent = false;
      t.acked = 0;
      t.spill_read_ready.reset();
      for (auto& [k, d] : t.entries) d.acked = false;
    }
}

void Controller::async_drop(DropReason why) {
  ++counters_.session_drops;
  emit(SessionDropped{why, remote_wp_tracks_});
  // suspend() moves what R2 is owed (the delta sets' remote WP) to the
  // track table, clears the delta sets and releases the held writes.
  suspend();
}

void Controller::async_on_timeout(Time t) {
  if (limbo_until_ && *limbo_until_ <= t) {
    async_drop(DropReason::LinkLimbo);
    return;
  }
  for (AsyncGroup& g : groups_) {
    if (!g.cycle_time_elapsed && g.cycle_started + config().async.cycle_time_min <= t) g.cycle_time_elapsed = true;
    for (DeltaSet& s : g.transmit)
      if (s.spill_read_ready && *s.spill_read_ready <= t) s.spill_read_ready = now_;
  }
  async_release_held(t);
}

std::optional<Time> Controller::async_deadline() const {
  std::optional<Time> at;
  auto consider = [&](Time t) {
    if (!at || t < *at) at = t;
  };
  if (role_ != Role::Primary || !async_active_) return at;
  if (limbo_until_) consider(*limbo_until_);
  for (const AsyncGroup& g : groups_) {
    if (g.hold_until) consider(*g.hold_until);
    if (!g.held.empty()) consider(g.held.front().due);
    if (!g.cycle_time_elapsed && !g.capture.entries.empty()) consider(g.cycle_started + config().async.cycle_time_min);
    for (const DeltaSet& s : g.transmit)
      if (s.spill_read_ready && *s.spill_read_ready > now_) consider(*s.spill_read_ready);
  }
  return at;
}

// ---------------------------------------------------------------------------
// messages

void Controller::on_cycle_data(const CycleData& m) {
  if (role_ != Role::Secondary || !session_open_ || m.epoch != epoch_ || m.group >= groups_.size() ||
      !table_.contains(m.key) || consistency_group_of(m.key.volume) != m.group) {
    ++counters_.stale_messages;
    return;
  }
  AsyncGroup& g = groups_[m.group];
  if (m.cycle > g.applied_cycle) {
    auto it = std::lower_bound(g.receive.begin(), g.receive.end(), m.cycle,
                               [](const DeltaSet& s, uint64_t c) { return s.cycle < c; });
    if (it == g.receive.end() || it->cycle != m.cycle) {
      it = g.receive.insert(it, DeltaSet{});
      it->cycle = m.cycle;
    }
    auto [e, added] = it->entries.try_emplace(m.key);
    if (added) ++delta_slots_;
    e->second.version = std::max(e->second.version, m.version);
    e->second.bytes = m.bytes;
  }
  // A cycle already applied (a resend after a limbo): acknowledged again.
  send(CycleDataAck{epoch_, m.group, m.cycle, m.key});
}

void Controller::on_cycle_end(const CycleEnd& m) {
  if (role_ != Role::Secondary || !session_open_ || m.epoch != epoch_ || m.group >= groups_.size()) {
    ++counters_.stale_messages;
    return;
  }
  AsyncGroup& g = groups_[m.group];
  if (m.cycle <= g.applied_cycle) {
    send(CycleApplied{epoch_, m.group, m.cycle});
    return;
  }
  auto it = std::lower_bound(g.receive.begin(), g.receive.end(), m.cycle,
                             [](const DeltaSet& s, uint64_t c) { return s.cycle < c; });
  if (it == g.receive.end() || it->cycle != m.cycle) {
    it = g.receive.insert(it, DeltaSet{});
    it->cycle = m.cycle;
  }
  it->expected = m.entries;
  it->previous = m.previous;
}

void Controller::async_apply() {
  for (uint16_t gi = 0; gi < groups_.size(); ++gi) {
    AsyncGroup& g = groups_[gi];
    while (!g.receive.empty()) {
      DeltaSet& r = g.receive.front();
      // Whole, and on top of the cycle R2 holds: a set whose predecessor was
      // lost waits (for the resend of a resumed session, or for a drop).
      const bool whole = r.expected && r.entries.size() >= *r.expected && r.previous == g.applied_cycle;
      const bool partial = config().mutant == Mutant::AsyncAppliesPartialCycle && !r.entries.empty();
      if (!whole && !partial) break;
      // Apply only when the cache can take the whole set: R2's image never
      // holds part of a cycle. Tracks with a slot go first (their slots are
      // then write-pending, out of reach of the evictions the others need).
      uint64_t need = 0, clean_own = 0;
      for (const auto& [k, d] : r.entries) {
        const int32_t s = table_.at(k).slot;
        if (s < 0) ++need;
        else if (cache_[s].in_lru) ++clean_own;
      }
      if (need + clean_own > static_cast<uint64_t>(cache_.free_count()) + cache_.clean_count()) break;
      for (const bool with_slot : {true, false}) {
        for (const auto& [k, d] : r.entries) {
          TrackEntry& e = table_.at(k);
          if ((e.slot >= 0) != with_slot) continue;
          if (!e.invalid_local && d.version <= e.version) continue;  // holds it already
          const int32_t s = e.slot >= 0 ? e.slot : allocate_slot(k);
          if (s < 0)
            throw std::logic_error(fmt::format("async apply: no slot for track {} though the cache had room", to_string(k)));
          store_received(k, s, d.version, d.bytes);
          refresh_slot(s);
        }
      }
      const uint64_t cycle = r.cycle;
      const uint64_t entries = r.entries.size();
      delta_slots_ -= entries;
      g.applied_cycle = cycle;
      ++counters_.delta_sets_applied;
      g.receive.erase(g.receive.begin());
      emit(DeltaSetApplied{gi, cycle, entries});
      send(CycleApplied{epoch_, gi, cycle});
    }
  }
}

void Controller::on_cycle_data_ack(const CycleDataAck& m) {
  if (role_ != Role::Primary || m.epoch != epoch_ || !async_active_ || m.group >= groups_.size()) {
    ++counters_.stale_messages;
    return;
  }
  for (DeltaSet& t : groups_[m.group].transmit) {
    if (t.cycle != m.cycle) continue;
    auto it = t.entries.find(m.key);
    if (it == t.entries.end() || it->second.acked) break;
    it->second.acked = true;
    ++t.acked;
    if (async_in_flight_ > 0) --async_in_flight_;
    return;
  }
  ++counters_.stale_messages;
}

void Controller::on_cycle_applied(const CycleApplied& m) {
  if (role_ != Role::Primary || m.epoch != epoch_ || !async_active_ || m.group >= groups_.size()) {
    ++counters_.stale_messages;
    return;
  }
  AsyncGroup& g = groups_[m.group];
  if (g.transmit.empty() || g.transmit.front().cycle != m.cycle) {
    ++counters_.stale_messages;
    return;
  }
  DeltaSet t = std::move(g.transmit.front());
  g.transmit.erase(g.transmit.begin());
  for (const auto& [k, d] : t.entries) {
    if (!d.acked && async_in_flight_ > 0) --async_in_flight_;
    if (d.in_spill) spill_bytes_ -= d.bytes;
    if (!d.spilled) --delta_slots_;
    // R2 holds the track at this cycle's version: the copy is done unless a
    // later set owes a newer one.
    bool later = g.capture.entries.count(k) > 0;
    for (const DeltaSet& s : g.transmit) later = later || s.entries.count(k) > 0;
    if (!later && table_.at(k).remote_wp) set_remote_wp(k, false);
  }
  g.applied_cycle = m.cycle;
}

}  // namespace mirrorsim
