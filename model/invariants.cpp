#include "model/invariants.hpp"

#include <algorithm>

#include <fmt/format.h>


namespace mirrorsim {

std::string_view describe(Invariant i) {
  switch (i) {
    case Invariant::I1: return "I1 local WP reset only when the local disk holds the slot's version";
    case Invariant::I2: return "I2 remote WP reset only on the secondary's acknowledgement of the slot's version";
    case Invariant::I3: return "I3 write-pending data is never evicted or overwritten";
    case Invariant::I4: return "I4 sync: host ack implies the secondary holds the write";
    case Invariant::I5: return "I5 semi-sync: at most one acknowledged write per volume ahead of the secondary";
    case Invariant::I6: return "I6 adaptive-copy-wp: tracks acknowledged ahead of the secondary stay within the skew";
    case Invariant::I7: return "I7 domino: no host write acknowledged while the secondary is unreachable";
    case Invariant::I8: return "I8 what the secondary lacks is owed (remote WP or invalid-remote)";
    case Invariant::I9: return "I9 quiesced: no WP, no invalid track, disks hold the content, R2 == R1";
    case Invariant::I10: return "I10 acknowledged writes lost only within the mode's bound";
    case Invariant::I11: return "I11 the secondary never regresses a track's version";
    case Invariant::I12: return "I12 async: R2's image is R1's at a cycle boundary, the same boundary for every volume of a group";
    case Invariant::I13: return "I13 async: a transmitted track carries the newest version written in its cycle";
    case Invariant::I14: return "I14 async: delta sets stay within their cache limit, or the session drops";
  }
  return "?";
}

std::string_view to_string(LossEvent::Cause c) {
  switch (c) {
    case LossEvent::Cause::Failover: return "failover";
    case LossEvent::Cause::VolatileCache: return "volatile-cache";
    case LossEvent::Cause::Discard: return "discard";
  }
  return "?";
}

Observer::Observer(const Controller& a, const Controller& b, size_t trace_length) : ctl_{&a, &b} {
  size_t total = 0;
  for (const auto& v : a.config().volumes) {
    volumes_.push_back(VolumeRecord{total, {}, {}});
    total += v.tracks;
  }
  records_.resize(total);
  for (int i = 0; i < 2; ++i) {
    pair_state_seen_[i] = ctl_[i]->pair_state();
    role_seen_[i] = ctl_[i]->role();
    for (TrackRecord& r : records_) r.shadow[i].ack_epoch = ctl_[i]->epoch();
  }
  ring_.resize(trace_length);
  async_.resize(a.config().consistency_groups());
  for (AsyncRecord& g : async_) g.active = a.role() == Role::Primary || b.role() == Role::Primary;
}

uint64_t Observer::writes_lost() const {
  uint64_t n = 0;
  for (const auto& l : losses_) n += l.writes;
  return n;
}

Version Observer::effective_content(Side s, TrackKey k) const {
  const Controller& c = ctl(s);
  if (c.crashed() && !c.config().cache_nonvolatile) {
    const Shadow& sh = records_[index(k)].shadow[index_of(s)];
    return std::max(sh.disk_seen, c.track(k).disk_version);
  }
  return c.content_version(k);
}

void Observer::violate(Invariant which, Side side, Time now, std::string what) {
  ++violation_count_;
  if (violations_.size() >= kViolationsKept) return;
  violations_.push_back(Violation{which, now, side, std::move(what), recent_events()});
}

std::vector<std::string> Observer::recent_events() const {
  std::vector<std::string> out;
  const size_t n = ring_.size();
  for (size_t i = 0; i < ring_size_; ++i) {
    const TraceEvent& ev = ring_[(ring_next_ + n - ring_size_ + i) % n];
    std::string line = fmt::format("t={:.3f}us {}: {}", ev.at.us(), to_string(ev.side), to_string(ev.in));
    for (const Command& c : ev.out) line += fmt::format("\n      -> {}", to_string(c));
    out.push_back(std::move(line));
  }
  return out;
}

std::string Observer::report() const {
  std::string s;
  for (const Violation& v : violations_) {
    s += fmt::format("VIOLATION {} at t={:.3f}us on side {}: {}\n  [{}]\n  events that led here:\n", static_cast<int>(v.which),
                     v.at.us(), to_string(v.side), v.what, describe(v.which));
    for (const auto& line : v.trace) s += "    " + line + "\n";
  }
  if (violation_count_ > violations_.size())
    s += fmt::format("... and {} more violations\n", violation_count_ - violations_.size());
  return s;
}

uint64_t Observer::state_hash() const {
  StateFold h;
  // Step numbers are history; what decides a verdict is only whether a side
  // was ever superseded and whether a write was acknowledged after that
  // fence. A later fence lies after every step taken so far, so these two
  // facts carry every future comparison. (One word with the personalities
  // and pair states last seen: each field has its own bits.)
  h.add(static_cast<uint64_t>(pair_state_seen_[0]) | static_cast<uint64_t>(role_seen_[0]) << 8 |
        static_cast<uint64_t>(pair_state_seen_[1]) << 16 | static_cast<uint64_t>(role_seen_[1]) << 24 |
        pack_flags(superseded_at_step_[0] != 0, superseded_at_step_[1] != 0) << 32);
  for (const TrackRecord& r : records_) {
    for (const Shadow& sh : r.shadow) {
      h.add(sh.content_seen).add(sh.disk_seen).add(sh.ack_evidence).add(sh.acked_ever);
      // The epoch and the flags share a word (a multiply fewer per track).
      h.add(static_cast<uint64_t>(sh.ack_epoch) << 8 |
            pack_flags(sh.local_wp, sh.remote_wp, sh.invalid_remote, sh.invalid_local));
    }
    h.add(r.acked.size());
    for (const AckedWrite& w : r.acked) {
      const uint64_t fence = superseded_at_step_[index_of(w.acked_by)];
      const bool after_fence = fence != 0 && w.ack_step > fence;
      h.add(w.version).add(index_of(w.acked_by) | (w.mirrored ? 2u : 0u) | (w.peer_acked ? 4u : 0u) |
                           (after_fence ? 8u : 0u));
    }
    // The per-volume risk totals are sums of these per-track figures.
    for (int s = 0; s < 2; ++s) h.add(static_cast<uint64_t>(r.risk_writes[s]) << 32 | r.risk_mirrored[s]);
    if (!async_.empty()) h.add(r.boundary);
  }
  for (const AsyncRecord& g : async_) {
    h.add(g.active).add(g.open.size());
    for (const auto& [k, v] : g.open) h.add(static_cast<uint64_t>(k.volume) << 32 | k.track).add(v);
    h.add(g.closed.size());
    for (const auto& [cycle, set] : g.closed) {
      h.add(cycle).add(set.size());
      for (const auto& [k, v] : set) h.add(static_cast<uint64_t>(k.volume) << 32 | k.track).add(v);
    }
  }
  return h.value();
}

void Observer::after_step(Side side, Time now, const Input& in, std::span<const Command> out) {
  if (!ring_.empty()) {
    TraceEvent& ev = ring_[ring_next_];
    ev.at = now;
    ev.side = side;
    ev.in = in;
    ev.out.assign(out.begin(), out.end());
    ring_next_ = (ring_next_ + 1) % ring_.size();
    ring_size_ = std::min(ring_size_ + 1, ring_.size());
  }
  const Controller& c = ctl(side);
  const Side peer = peer_of(side);
  scratch_.volumes_to_check.clear();
  ++steps_;

  // Evidence carried by the input.
  if (const auto* w = std::get_if<HostWrite>(&in)) {
    auto it = std::lower_bound(request_bytes_.begin(), request_bytes_.end(), w->req,
                               [](const auto& e, RequestId id) { return e.first < id; });
    if (it != request_bytes_.end() && it->first == w->req) it->second = w->bytes;
    else request_bytes_.insert(it, {w->req, w->bytes});
  } else if (const auto* d = std::get_if<DiskWriteDone>(&in)) {
    if (d->ok && c.tracks().contains(d->key)) shadow(side, d->key).disk_seen = d->version;
  } else if (const auto* d = std::get_if<DiskReadDone>(&in)) {
    if (d->ok && c.tracks().contains(d->key)) shadow(side, d->key).disk_seen = d->version;
  }

  // Evidence carried by the commands.
  std::vector<TrackKey>& acked_tracks = scratch_.acked_tracks;
  acked_tracks.clear();
  scratch_.destaged.clear();
  scratch_.copied.clear();
  for (const Command& cmd : out) {
    if (const auto* dw = std::get_if<DiskWrite>(&cmd)) {
      scratch_.destaged.push_back(dw->key);
    } else if (const auto* s = std::get_if<Send>(&cmd)) {
      if (const auto* cd = std::get_if<CopyData>(&s->msg); cd && !cd->fetch) scratch_.copied.push_back(cd->key);
      if (const auto* wc = std::get_if<WriteCommand>(&s->msg)) scratch_.copied.push_back(wc->key);
      if (const auto* ack = std::get_if<CopyAck>(&s->msg)) {
        Shadow& sh = shadow(peer, ack->key);
        sh.acked_ever = std::max(sh.acked_ever, ack->version);
        if (sh.ack_epoch != ack->epoch) {
          sh.ack_epoch = ack->epoch;
          sh.ack_evidence = ack->version;
        } else {
          sh.ack_evidence = std::max(sh.ack_evidence, ack->version);
        }
      }
    } else if (const auto* a = std::get_if<AckHost>(&cmd)) {
      if (a->write) {
        on_ack(side, now, *a);
        acked_tracks.push_back(a->key);
      }
    } else if (const auto* r = std::get_if<RejectHost>(&cmd)) {
      if (r->write) take_request_bytes(r->req);
    }
    if (!async_.empty()) async_command(side, now, cmd);
  }
  if (!scratch_.applied.empty()) async_check_applied(side, now);
  if (!async_.empty() && c.role() == Role::Primary && !c.crashed()) {
    if (!c.async_active())
      for (AsyncRecord& g : async_) g = AsyncRecord{};
    else if (c.delta_set_slots() > c.delta_set_slots_max())
      violate(Invariant::I14, side, now,
              fmt::format("delta sets hold {} slots, above their limit of {}, and the session did not drop",
                          c.delta_set_slots(), c.delta_set_slots_max()));
  }

  const bool lossy = c.last_step_lost_data();
  for (TrackKey k : c.touched()) check_track(side, now, k, lossy);

  // Personality and pair-state transitions.
  if (c.role() == Role::Primary && role_seen_[index_of(side)] != Role::Primary) {
    drop_superseded(peer, side, LossEvent::Cause::Failover, now);
    superseded_at_step_[index_of(peer)] = steps_;
  }
  if (c.role() == Role::Secondary && role_seen_[index_of(side)] == Role::Primary)
    drop_superseded(side, peer, LossEvent::Cause::Discard, now);
  if (c.role() == Role::Primary && c.pair_state() == PairState::Suspended &&
      pair_state_seen_[index_of(side)] != PairState::Suspended)
    clear_mirrored(side);
  role_seen_[index_of(side)] = c.role();
  pair_state_seen_[index_of(side)] = c.pair_state();

  for (TrackKey k : c.touched()) {
    recompute_risk(k, now);
    check_owed(now, k);
    scratch_.volumes_to_check.push_back(k.volume);
  }
  for (TrackKey k : acked_tracks) {
    recompute_risk(k, now);
    scratch_.volumes_to_check.push_back(k.volume);
  }
  std::vector<VolumeId>& volumes = scratch_.volumes_to_check;
  std::sort(volumes.begin(), volumes.end());
  volumes.erase(std::unique(volumes.begin(), volumes.end()), volumes.end());
  for (VolumeId v : volumes) {
    check_volume_bounds(Side::A, now, v);
    check_volume_bounds(Side::B, now, v);
  }
  // Per-step scratch: left empty, a copied observer copies nothing of it.
  scratch_.volumes_to_check.clear();
  scratch_.destaged.clear();
  scratch_.copied.clear();
}

void Observer::check_track(Side side, Time now, TrackKey k, bool lossy) {
  const Controller& c = ctl(side);
  Shadow& sh = shadow(side, k);
  const TrackEntry& e = c.track(k);
  const Version content = c.content_version(k);
  const bool had_local_wp = sh.local_wp || in_step(scratch_.destaged, k);
  const bool had_remote_wp = sh.remote_wp || (c.role() == Role::Primary && in_step(scratch_.copied, k));
  if (had_local_wp && !e.local_wp && !lossy && sh.disk_seen != content) {
    violate(Invariant::I1, side, now,
            fmt::format("local WP of track {} reset while the cache holds v{} and the disk confirmed v{}", to_string(k),
                        to_string(content), to_string(sh.disk_seen)));
  }
  if (had_remote_wp && !e.remote_wp && !c.invalid_remote(k) && c.role() == Role::Primary && !lossy &&
      (sh.ack_epoch != c.epoch() || sh.ack_evidence < content)) {
    violate(Invariant::I2, side, now,
            fmt::format("remote WP of track {} reset at v{} but the secondary acknowledged only v{} (epoch {})",
                        to_string(k), to_string(content), to_string(sh.ack_evidence), sh.ack_epoch));
  }
  if (content < sh.content_seen && !lossy && !sh.invalid_local) {
    if (c.role() == Role::Primary)
      violate(Invariant::I3, side, now,
              fmt::format("track {} fell from v{} to v{}: write-pending data was dropped from the cache", to_string(k),
                          to_string(sh.content_seen), to_string(content)));
    else
      violate(Invariant::I11, side, now,
              fmt::format("the secondary's track {} regressed from v{} to v{}", to_string(k),
                          to_string(sh.content_seen), to_string(content)));
  }
  sh.content_seen = content;
  sh.local_wp = e.local_wp;
  sh.remote_wp = e.remote_wp;
  sh.invalid_remote = c.invalid_remote(k);
  sh.invalid_local = e.invalid_local;
}

void Observer::check_owed(Time now, TrackKey k) {
  const bool a_primary = ctl(Side::A).role() == Role::Primary;
  const bool b_primary = ctl(Side::B).role() == Role::Primary;
  if (a_primary == b_primary) return;  // a hand-over in progress: nobody or both claim the data
  const Side p = a_primary ? Side::A : Side::B;
  const Side s = peer_of(p);
  const Controller& pc = ctl(p);
  const Controller& sc = ctl(s);
  if (pc.crashed() || sc.crashed()) return;  // a crashed secondary's losses surface when it restarts
  if (pc.track(k).invalid_local || sc.track(k).invalid_local) return;
  const Version pv = pc.content_version(k);
  const Version sv = sc.content_version(k);
  if (pv > sv && !pc.track(k).remote_wp && !pc.invalid_remote(k)) {
    violate(Invariant::I8, p, now,
            fmt::format("the secondary holds v{} of track {}, the primary v{}, yet the primary owes nothing "
                        "(neither remote WP nor invalid-remote)",
                        to_string(sv), to_string(k), to_string(pv)));
  }
}

uint32_t Observer::take_request_bytes(RequestId r) {
  auto it = std::lower_bound(request_bytes_.begin(), request_bytes_.end(), r,
                             [](const auto& e, RequestId id) { return e.first < id; });
  if (it == request_bytes_.end() || it->first != r) return 0;
  const uint32_t bytes = it->second;
  request_bytes_.erase(it);
  return bytes;
}

void Observer::on_ack(Side side, Time now, const AckHost& a) {
  ++writes_acked_;
  const uint32_t bytes = take_request_bytes(a.req);
  const Controller& c = ctl(side);
  const TrackKey k = a.key;
  const bool suspended = c.pair_state() == PairState::Suspended;
  const bool mirrored = c.role() == Role::Primary && !suspended;
  const VolumeConfig& vol = c.config().volumes[k.volume];
  // A secondary with a volatile cache that acknowledged the write and then
  // crashed no longer holds it: that double failure is the cache option's
  // risk, not the protocol's, so its acknowledgement counts.
  const Side peer = peer_of(side);
  const bool acked_then_crashed = (ctl(peer).crashed() || ctl(peer).track(k).invalid_local) &&
                                  shadow(side, k).ack_epoch == c.epoch() && shadow(side, k).ack_evidence >= a.version;
  if (vol.mode == Mode::Sync && mirrored && effective_content(peer, k) < a.version && !acked_then_crashed) {
    violate(Invariant::I4, side, now,
            fmt::format("sync write req {} acknowledged at v{} of track {} while the secondary holds v{}", a.req,
                        to_string(a.version), to_string(k), to_string(effective_content(peer_of(side), k))));
  }
  if (vol.domino && suspended) {
    violate(Invariant::I7, side, now,
            fmt::format("domino volume {}: write req {} acknowledged while the secondary is unreachable", vol.name, a.req));
  }
  if (suspended && !c.invalid_remote(k)) {
    violate(Invariant::I8, side, now,
            fmt::format("write req {} to track {} acknowledged while suspended but the track is not invalid-remote",
                        a.req, to_string(k)));
  }
  records_[index(k)].acked.push_back(AckedWrite{a.version, bytes, side, mirrored, false, steps_});
  if (vol.mode == Mode::Async && c.role() == Role::Primary && c.async_active()) {
    AsyncRecord& g = async_[vol.consistency_group];
    if (g.active) g.open[k] = a.version;
  }
}

void Observer::async_command(Side side, Time now, const Command& cmd) {
  const Controller& c = ctl(side);
  if (const auto* sw = std::get_if<CycleSwitched>(&cmd)) {
    AsyncRecord& g = async_[sw->group];
    if (!g.active) return;
    g.closed.emplace_back(sw->cycle, std::move(g.open));
    g.open.clear();
  } else if (const auto* st = std::get_if<CyclesStarted>(&cmd)) {
    async_started(side, now, st->group);
  } else if (std::holds_alternative<SessionDropped>(cmd)) {
    for (AsyncRecord& g : async_) g = AsyncRecord{};
  } else if (const auto* s = std::get_if<Send>(&cmd)) {
    if (const auto* applied = std::get_if<CycleApplied>(&s->msg)) {
      // R2 answers that it holds the group's image at a boundary: evidence,
      // for each track of the group, of what R2 holds, which lets R1 reset
      // the remote WP indicators of the cycle's tracks (I2).
      const Side primary = peer_of(side);
      for (VolumeId v = 0; v < volumes_.size(); ++v) {
        if (c.config().volumes[v].consistency_group != applied->group) continue;
        for (TrackNo t = 0; t < c.tracks().tracks(v); ++t) {
          const TrackKey k{v, t};
          const Version have = c.content_version(k);
          Shadow& sh = shadow(primary, k);
          sh.acked_ever = std::max(sh.acked_ever, have);
          if (sh.ack_epoch != applied->epoch) {
            sh.ack_epoch = applied->epoch;
            sh.ack_evidence = have;
          } else {
            sh.ack_evidence = std::max(sh.ack_evidence, have);
          }
        }
      }
      return;
    }
    const auto* cd = std::get_if<CycleData>(&s->msg);
    if (!cd || cd->group >= async_.size()) return;
    const AsyncRecord& g = async_[cd->group];
    for (const auto& [cycle, set] : g.closed) {
      if (cycle != cd->cycle) continue;
      const auto it = set.find(cd->key);
      if (it == set.end())
        violate(Invariant::I13, side, now,
                fmt::format("track {} is transmitted with cycle {}, in which no host wrote it", to_string(cd->key),
                            cd->cycle));
      else if (it->second != cd->version)
        violate(Invariant::I13, side, now,
                fmt::format("track {} is transmitted with cycle {} at v{}, but the newest version written in the "
                            "cycle is v{}",
                            to_string(cd->key), cd->cycle, to_string(cd->version), to_string(it->second)));
    }
  } else if (const auto* ap = std::get_if<DeltaSetApplied>(&cmd)) {
    // Checked once the step's commands are all seen: one step may apply
    // several sets (after a resumed session), the last one decides R2's image.
    if (ap->group < async_.size()) scratch_.applied.emplace_back(ap->group, ap->cycle);
  }
}

void Observer::async_check_applied(Side side, Time now) {
  const Controller& c = ctl(side);
  // The last set a group applied this step decides its image.
  auto& applied = scratch_.applied;
  std::sort(applied.begin(), applied.end());
  for (size_t i = 0; i < applied.size(); ++i) {
    const auto [group, cycle] = applied[i];
    if (i + 1 < applied.size() && applied[i + 1].first == group) continue;
    AsyncRecord& g = async_[group];
    // R2's image now: every set up to `cycle`, a later version of a track replacing an earlier one.
    std::map<TrackKey, Version> expected;
    size_t sets = 0;
    auto end = g.closed.begin();
    for (; end != g.closed.end() && end->first <= cycle; ++end, ++sets)
      for (const auto& [k, v] : end->second) expected[k] = v;
    if (sets == 0) continue;  // applied in an earlier pass of this step, or unknown (before a drop)
    uint64_t wrong = 0;
    std::string first;
    for (const auto& [k, v] : expected) {
      const Version have = c.content_version(k);
      if (have != v) {
        if (wrong++ == 0)
          first = fmt::format("track {} (volume {}) holds v{} instead of v{}", to_string(k),
                              c.config().volumes[k.volume].name, to_string(have), to_string(v));
        continue;
      }
      records_[index(k)].boundary = v;
    }
    if (wrong > 0)
      violate(Invariant::I12, side, now,
              fmt::format("R2 applied cycle {} of group {}, yet {} of its {} tracks are not at the cycle's boundary: {}",
                          cycle, group, wrong, expected.size(), first));
    g.closed.erase(g.closed.begin(), end);
  }
  scratch_.applied.clear();
}

void Observer::async_started(Side side, Time now, uint16_t group) {
  // R1's cycles start with R2's image equal to R1's: that is their first boundary.
  AsyncRecord& g = async_[group];
  g = AsyncRecord{};
  g.active = true;
  const Controller& p = ctl(side);
  const Controller& r2 = ctl(peer_of(side));
  uint64_t differ = 0;
  std::string first;
  for (VolumeId v = 0; v < volumes_.size(); ++v) {
    if (p.config().volumes[v].consistency_group != group) continue;
    for (TrackNo t = 0; t < p.tracks().tracks(v); ++t) {
      const TrackKey k{v, t};
      const Version pv = p.content_version(k);
      records_[index(k)].boundary = pv;
      // (Only against the secondary of this session: a peer that took the
      // primary role meanwhile demotes this side when they next talk.)
      const bool same_session = !r2.crashed() && r2.role() == Role::Secondary && r2.epoch() == p.epoch();
      if (same_session && r2.content_version(k) != pv && differ++ == 0)
        first = fmt::format("track {}: R1 v{}, R2 v{}", to_string(k), to_string(pv), to_string(r2.content_version(k)));
    }
  }
  if (differ > 0)
    violate(Invariant::I12, side, now,
            fmt::format("cycles of group {} started while R2's image differs from R1's in {} tracks: {}", group, differ,
                        first));
}

void Observer::recompute_risk(TrackKey k, Time now) {
  TrackRecord& r = records_[index(k)];
  // Nothing acknowledged and not yet safe: the track's figures are zero
  // already (they count entries of `acked`).
  if (r.acked.empty() && r.risk_writes[0] == 0 && r.risk_writes[1] == 0) return;
  for (int s = 0; s < 2; ++s) {
    risk_writes_[s] -= r.risk_writes[s];
    risk_bytes_[s] -= r.risk_bytes[s];
    volumes_[k.volume].risk_mirrored_writes[s] -= r.risk_mirrored[s];
    if (r.risk_mirrored[s] > 0) --volumes_[k.volume].risk_mirrored_tracks[s];
    r.risk_writes[s] = 0;
    r.risk_bytes[s] = 0;
    r.risk_mirrored[s] = 0;
  }
  if (r.acked.empty()) return;
  const Controller& a = ctl(Side::A);
  const Controller& b = ctl(Side::B);
  const Version ca = effective_content(Side::A, k);
  const Version cb = effective_content(Side::B, k);
  const bool settled = !a.crashed() && !b.crashed() && !a.track(k).invalid_local && !b.track(k).invalid_local;
  const Version disk_both = std::min(shadow(Side::A, k).disk_seen, shadow(Side::B, k).disk_seen);
  std::vector<std::pair<TrackKey, AckedWrite>> lost;
  std::erase_if(r.acked, [&](AckedWrite& w) {
    if (settled && w.version > std::max(ca, cb)) {
      w.peer_acked = shadow(w.acked_by, k).acked_ever >= w.version;
      lost.emplace_back(k, w);  // neither controller holds it any more
      return true;
    }
    return w.version <= disk_both && w.version <= std::min(ca, cb);  // safe on both disks
  });
  for (AckedWrite& w : r.acked) {
    const int s = index_of(w.acked_by);
    const Version peer_content = w.acked_by == Side::A ? cb : ca;
    w.peer_acked = shadow(w.acked_by, k).acked_ever >= w.version;
    if (w.version <= peer_content) continue;
    ++r.risk_writes[s];
    r.risk_bytes[s] += w.bytes;
    if (w.mirrored && !w.peer_acked) ++r.risk_mirrored[s];
  }
  for (int s = 0; s < 2; ++s) {
    risk_writes_[s] += r.risk_writes[s];
    risk_bytes_[s] += r.risk_bytes[s];
    volumes_[k.volume].risk_mirrored_writes[s] += r.risk_mirrored[s];
    if (r.risk_mirrored[s] > 0) ++volumes_[k.volume].risk_mirrored_tracks[s];
  }
  if (!lost.empty()) {
    // A controller that just gave up the primary role discarded its
    // divergent tracks; otherwise a volatile cache took the data with it.
    for (Side s : {Side::A, Side::B}) {
      std::vector<std::pair<TrackKey, AckedWrite>> mine;
      for (const auto& l : lost)
        if (l.second.acked_by == s) mine.push_back(l);
      if (mine.empty()) continue;
      const auto cause = ctl(s).role() == Role::Secondary ? LossEvent::Cause::Discard : LossEvent::Cause::VolatileCache;
      record_loss(cause, s, now, mine);
    }
  }
}

void Observer::drop_superseded(Side old, Side new_primary, LossEvent::Cause cause, Time now) {
  // Acknowledged writes of the old primary that the new one lacks are lost:
  // the new primary's data is authoritative from here on. This happens when
  // the peer takes over (failover) and again when the old primary learns of
  // it and steps down (writes it acknowledged in between are discarded).
  std::vector<std::pair<TrackKey, AckedWrite>> lost;
  for (VolumeId v = 0; v < volumes_.size(); ++v) {
    for (TrackNo t = 0; t < ctl(old).tracks().tracks(v); ++t) {
      const TrackKey k{v, t};
      TrackRecord& r = records_[index(k)];
      if (r.acked.empty()) continue;
      const Version have = effective_content(new_primary, k);
      const uint64_t fence = cause == LossEvent::Cause::Discard ? superseded_at_step_[index_of(old)] : 0;
      std::erase_if(r.acked, [&](AckedWrite& w) {
        if (w.acked_by != old) return false;
        // Version numbers only compare along one line of primaries: a write
        // the old primary acknowledged after the takeover is lost whatever
        // its number.
        const bool split_brain = fence != 0 && w.ack_step > fence;
        if (w.version <= have && !split_brain) return false;
        w.peer_acked = shadow(old, k).acked_ever >= w.version;
        lost.emplace_back(k, w);
        return true;
      });
      recompute_risk(k, now);
    }
  }
  if (cause == LossEvent::Cause::Failover || !lost.empty()) record_loss(cause, old, now, lost);
}

void Observer::record_loss(LossEvent::Cause cause, Side acked_by, Time now,
                           const std::vector<std::pair<TrackKey, AckedWrite>>& lost) {
  LossEvent ev;
  ev.cause = cause;
  ev.at = now;
  ev.acked_by = acked_by;
  ev.writes_by_volume.assign(volumes_.size(), 0);
  std::vector<uint64_t> mirrored_by_volume(volumes_.size(), 0);
  std::vector<std::vector<TrackNo>> mirrored_tracks(volumes_.size());
  for (const auto& [k, w] : lost) {
    ++ev.writes;
    ev.bytes += w.bytes;
    ++ev.writes_by_volume[k.volume];
    if (w.mirrored && !w.peer_acked) {
      ++ev.writes_acked_while_mirrored;
      ++mirrored_by_volume[k.volume];
      mirrored_tracks[k.volume].push_back(k.track);
    }
  }
  const auto& vols = ctl(acked_by).config().volumes;
  if (cause == LossEvent::Cause::Failover) {
    // Async: R2 took over at its last applied boundary; what is lost is what
    // was written after it, never a write that boundary holds.
    for (const auto& [k, w] : lost)
      // (Unless R2 acknowledged the boundary and then lost it with a
      // volatile cache: that double failure is the cache option's risk.)
      if (vols[k.volume].mode == Mode::Async && w.version <= records_[index(k)].boundary && !w.peer_acked)
        violate(Invariant::I10, acked_by, now,
                fmt::format("async write v{} of track {} is lost although R2's applied boundary holds v{}",
                            to_string(w.version), to_string(k), to_string(records_[index(k)].boundary)));
  }
  for (VolumeId v = 0; v < vols.size(); ++v) {
    auto& ts = mirrored_tracks[v];
    std::sort(ts.begin(), ts.end());
    ts.erase(std::unique(ts.begin(), ts.end()), ts.end());
    const uint64_t n = mirrored_by_volume[v];
    bool over = false;
    std::string bound;
    switch (vols[v].mode) {
      case Mode::Sync: over = n > 0; bound = "none"; break;
      case Mode::SemiSync: over = n > 1; bound = "at most one"; break;
      case Mode::AdaptiveCopyWp:
        over = ts.size() > vols[v].skew_tracks;
        bound = fmt::format("at most skew = {} tracks", vols[v].skew_tracks);
        break;
      case Mode::AdaptiveCopyDisk: break;
      case Mode::Async: break;  // checked per write below
    }
    if (over)
      violate(Invariant::I10, acked_by, now,
              fmt::format("{} lost {} acknowledged writes of volume {} ({}) acknowledged while mirrored; bound: {}",
                          to_string(cause), n, vols[v].name, to_string(vols[v].mode), bound));
  }
  if (ev.writes > 0 || cause == LossEvent::Cause::Failover) losses_.push_back(std::move(ev));
}

void Observer::clear_mirrored(Side acked_by) {
  for (VolumeId v = 0; v < volumes_.size(); ++v) {
    for (TrackNo t = 0; t < ctl(acked_by).tracks().tracks(v); ++t) {
      TrackRecord& r = records_[index(TrackKey{v, t})];
      bool changed = false;
      for (AckedWrite& w : r.acked)
        if (w.acked_by == acked_by && w.mirrored) {
          w.mirrored = false;
          changed = true;
        }
      if (changed) recompute_risk(TrackKey{v, t}, Time{});
    }
  }
}

void Observer::check_volume_bounds(Side side, Time now, VolumeId v) {
  const VolumeConfig& vol = ctl(side).config().volumes[v];
  const int s = index_of(side);
  if (vol.mode == Mode::SemiSync && volumes_[v].risk_mirrored_writes[s] > 1) {
    violate(Invariant::I5, side, now,
            fmt::format("semi-sync volume {}: {} acknowledged writes the secondary lacks", vol.name,
                        volumes_[v].risk_mirrored_writes[s]));
  }
  if (vol.mode == Mode::AdaptiveCopyWp && volumes_[v].risk_mirrored_tracks[s] > vol.skew_tracks) {
    violate(Invariant::I6, side, now,
            fmt::format("adaptive-copy-wp volume {}: {} tracks acknowledged ahead of the secondary, skew {}", vol.name,
                        volumes_[v].risk_mirrored_tracks[s], vol.skew_tracks));
  }
}

void Observer::check_quiesced(Time now) {
  int reported = 0;
  uint64_t found = 0;
  auto fail = [&](Side side, std::string what) {
    ++found;
    if (reported < 8) {
      ++reported;
      violate(Invariant::I9, side, now, std::move(what));
    } else {
      ++violation_count_;
    }
  };
  for (Side side : {Side::A, Side::B}) {
    const Controller& c = ctl(side);
    if (c.crashed()) fail(side, "a controller is still crashed");
    if (c.role() == Role::Primary && c.pair_state() != PairState::Synchronized)
      fail(side, fmt::format("the primary's pair state is {}, not synchronized", to_string(c.pair_state())));
  }
  const Controller& a = ctl(Side::A);
  const Controller& b = ctl(Side::B);
  for (VolumeId v = 0; v < volumes_.size(); ++v) {
    for (TrackNo t = 0; t < a.tracks().tracks(v); ++t) {
      const TrackKey k{v, t};
      for (Side side : {Side::A, Side::B}) {
        const Controller& c = ctl(side);
        const TrackEntry& e = c.track(k);
        if (e.local_wp || e.remote_wp || e.invalid_local || c.invalid_remote(k))
          fail(side, fmt::format("track {} still has local WP {}, remote WP {}, invalid-local {}, invalid-remote {}",
                                 to_string(k), e.local_wp, e.remote_wp, e.invalid_local, c.invalid_remote(k)));
        if (shadow(side, k).disk_seen != c.content_version(k))
          fail(side, fmt::format("track {}: the disk confirmed v{} but the content is v{}", to_string(k),
                                 to_string(shadow(side, k).disk_seen), to_string(c.content_version(k))));
      }
      if (a.content_version(k) != b.content_version(k))
        fail(Side::B, fmt::format("track {}: side A holds v{}, side B holds v{}", to_string(k),
                                  to_string(a.content_version(k)), to_string(b.content_version(k))));
    }
  }
  if (writes_at_risk() != 0) fail(Side::A, fmt::format("{} acknowledged writes still at risk", writes_at_risk()));
  if (found > static_cast<uint64_t>(reported) && violations_.size() < kViolationsKept)
    violations_.back().what += fmt::format(" (and {} more quiesce findings)", found - reported);
}

}  // namespace mirrorsim
