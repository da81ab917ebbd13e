#include "report/metrics.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "model/pair.hpp"

namespace mirrorsim {

RunMetrics::Window RunMetrics::window_of(const Scenario& s, Time origin) {
  return Window{origin, origin + Time::from_s(s.measurement.warmup_s), origin + Time::from_s(s.duration_s)};
}

RunMetrics::RunMetrics(const Scenario& s, Window w, const Controller& a, const Controller& b, const Observer& invariants)
    : w_(w), ctl_{&a, &b}, invariants_(invariants) {
  measured_s_ = (w.duration_end - w.warmup_end).s();
  interval_ = Time::from_s(s.measurement.timeseries_interval_s);
  links_ = s.link.links;
  link_bytes_per_s_ = s.link.bandwidth_gbit_per_s * 1e9 / 8.0;
  percentiles_ = s.measurement.percentiles;
  for (const auto& v : s.volumes) {
    VolumeResult vr;
    vr.name = v.name;
    vr.mode = v.mode;
    vr.writes.samples = SampleReservoir(100'000, s.seed * 2 + 1);
    vr.reads.samples = SampleReservoir(100'000, s.seed * 2 + 2);
    volumes_.push_back(std::move(vr));
  }
  disk_busy_s_[0].assign(s.primary.disks, 0);
  disk_busy_s_[1].assign(s.secondary.disks, 0);
  uint64_t tracks = 0;
  for (const auto& v : s.volumes) {
    volume_base_.push_back(tracks);
    tracks += v.tracks;
  }
  wp_since_ns_.assign(tracks, kNotWritePending);
  plan_ = processor_plan(s);
  group_offered_s_.assign(plan_.processors.size(), 0);
  occupancy_last_ = w.origin;
  next_sample_ = w.origin + interval_;
  const ControllerConfig config = controller_config(s, Side::A);
  async_ = config.is_async();
  cache_slots_ = config.cache_slots;
  async_groups_.resize(config.consistency_groups());
  for (AsyncGroupTrack& g : async_groups_) g.last_switch = w.origin;  // R1's cycles run from time 0
  role_seen_ = {a.role(), b.role()};
}

double RunMetrics::exposure_s(Time now) const {
  double worst = 0;
  for (const AsyncGroupTrack& g : async_groups_) {
    std::optional<Time> first = g.unapplied.empty() ? g.open_first : std::optional<Time>(g.unapplied.front().second);
    if (first) worst = std::max(worst, (now - *first).s());
  }
  return worst;
}

void RunMetrics::async_command(Side side, Time now, const Command& cmd) {
  const Controller& c = ctl(side);
  if (const auto* a = std::get_if<AckHost>(&cmd)) {
    if (!a->write || c.role() != Role::Primary) return;
    AsyncGroupTrack& g = async_groups_[c.consistency_group_of(a->key.volume)];
    if (!g.open_first) g.open_first = now;
  } else if (const auto* sw = std::get_if<CycleSwitched>(&cmd)) {
    AsyncGroupTrack& g = async_groups_[sw->group];
    if (g.open_first) g.unapplied.emplace_back(sw->cycle, *g.open_first);
    g.open_first.reset();
    if (g.last_switch) {
      g.last_cycle_s = (now - *g.last_switch).s();
      if (in_window(now)) cycle_times_s_.push_back(g.last_cycle_s);
    }
    g.last_switch = now;
  } else if (const auto* ap = std::get_if<DeltaSetApplied>(&cmd)) {
    rpo_max_s_ = std::max(rpo_max_s_, in_window(now) ? exposure_s(now) : 0.0);
    AsyncGroupTrack& g = async_groups_[ap->group];
    while (!g.unapplied.empty() && g.unapplied.front().first <= ap->cycle) g.unapplied.pop_front();
  } else if (const auto* st = std::get_if<CyclesStarted>(&cmd)) {
    // R2's image is R1's: nothing is exposed from here.
    AsyncGroupTrack& g = async_groups_[st->group];
    g = AsyncGroupTrack{};
    g.last_switch = now;
  } else if (const auto* d = std::get_if<SessionDropped>(&cmd)) {
    drops_.push_back(SessionDropResult{run_s(now), std::string(to_string(d->reason)), d->tracks});
    for (AsyncGroupTrack& g : async_groups_) g.last_switch.reset();
  } else if (const auto* h = std::get_if<HostWriteHeld>(&cmd)) {
    const Request* r = requests_.find(h->req);
    if (!r || !r->measured) return;
    if (h->reason == HoldReason::Pacing) {
      ++paced_;
      ++interval_paced_;
      pacing_s_ += h->delay.s();
      interval_pacing_s_ += h->delay.s();
      pacing_max_s_ = std::max(pacing_max_s_, h->delay.s());
    } else {
      ++coordination_holds_;
      coordination_s_ += h->delay.s();
    }
  } else if (const auto* snd = std::get_if<Send>(&cmd)) {
    if (const auto* cd = std::get_if<CycleData>(&snd->msg); cd && in_window(now)) async_bytes_sent_ += cd->bytes;
  }
}

double RunMetrics::clipped_s(Time from, Time to) const {
  const Time f = std::max(from, w_.warmup_end), t = std::min(to, w_.duration_end);
  return t > f ? (t - f).s() : 0;
}

void RunMetrics::host_issued(RequestId req, Time sent, Time arrived, TrackKey key, bool write, uint32_t bytes) {
  advance(arrived);
  if (write) ++host_writes_;
  requests_.insert(req, Request{arrived, key, bytes, write, sent >= w_.warmup_end && sent < w_.duration_end, std::nullopt});
}

void RunMetrics::host_unanswered(RequestId req, Time at) {
  advance(at);
  complete(req, false, at);
}

void RunMetrics::complete(RequestId id, bool acked, Time now, bool hit) {
  const Request* found = requests_.find(id);
  if (!found) return;  // from before the driver knew it (a request of an earlier run)
  const Request r = *found;
  requests_.erase(id);
  VolumeResult& vol = volumes_[r.key.volume];
  if (r.delayed_since && r.measured && r.write) vol.delayed_write_s += (now - *r.delayed_since).s();
  const int64_t response_ns = (now - r.issued).ns;
  if (r.measured) {
    OpStats& st = r.write ? vol.writes : vol.reads;
    if (acked) {
      ++st.completed;
      st.bytes += r.bytes;
      if (r.write && vol.mode == Mode::Async) async_bytes_written_ += r.bytes;
      st.response.add(response_ns);
      st.samples.add(response_ns);
      if (hit && !r.write) ++vol.read_hits;
    } else {
      ++st.rejected;
    }
  }
  if (r.write && acked) {
    ++interval_writes_;
    interval_write_response_ns_ += static_cast<double>(response_ns);
  }
}

void RunMetrics::after_step(Side side, Time now, const Input& in, std::span<const Command> out) {
  advance(now);
  const int i = index_of(side);
  if (async_) {
    // R2 takes over at its last applied boundary: what is exposed then is lost.
    const Role role = ctl(side).role();
    if (role == Role::Primary && role_seen_[i] == Role::Secondary && !rpo_at_failover_s_) rpo_at_failover_s_ = exposure_s(now);
    role_seen_[i] = role;
    for (const Command& cmd : out) async_command(side, now, cmd);
    const Controller& c = ctl(side);
    if (c.role() == Role::Primary) {
      delta_slots_peak_ = std::max<uint64_t>(delta_slots_peak_, c.delta_set_slots());
      spill_bytes_peak_ = std::max<uint64_t>(spill_bytes_peak_, c.spill_bytes());
      writes_folded_[i].see(c.counters().writes_folded);
      tracks_spilled_[i].see(c.counters().tracks_spilled);
    }
  }
  const auto* read = std::get_if<HostRead>(&in);  // answered in this step: a read hit
  for (const Command& cmd : out) {
    if (const auto* a = std::get_if<AckHost>(&cmd)) {
      complete(a->req, true, now, read && read->req == a->req);
    } else if (const auto* rj = std::get_if<RejectHost>(&cmd)) {
      complete(rj->req, false, now);
    } else if (const auto* snd = std::get_if<Send>(&cmd)) {
      // A link transmits one message at a time: its busy time is the
      // message's transmission time, counted where the message was sent.
      const double busy_s = std::max<uint32_t>(snd->bytes, 1) / link_bytes_per_s_;
      interval_link_busy_s_[i] += busy_s;
      if (now >= w_.warmup_end && now < w_.duration_end) link_busy_s_[i] += busy_s;
    } else if (const auto* d = std::get_if<HostRequestDelayed>(&cmd)) {
      Request* r = requests_.find(d->req);
      if (r && r->write) {
        r->delayed_since = now;
        if (r->measured) ++volumes_[r->key.volume].delayed_writes;
      }
    } else if (const auto* ad = std::get_if<HostRequestAdmitted>(&cmd)) {
      Request* r = requests_.find(ad->req);
      if (r && r->delayed_since) {
        if (r->measured) volumes_[r->key.volume].delayed_write_s += (now - *r->delayed_since).s();
        r->delayed_since.reset();
      }
    }
  }
  const Controller& c = ctl(side);
  copies_sent_[i].see(c.counters().copies_sent);
  disk_io_errors_[i].see(c.counters().disk_io_errors);
  track_primary(side, now);
}

void RunMetrics::track_primary(Side side, Time now) {
  const Controller& c = ctl(side);
  if (c.role() != Role::Primary || c.crashed()) return;
  if (side == Side::A) {
    // Occupancy and in-sync time over the measured window, then the
    // write-pending episodes of the tracks this step touched.
    const double span_s = clipped_s(occupancy_last_, now);
    occupancy_slot_s_ += occupancy_wp_slots_ * span_s;
    if (in_sync_) in_sync_s_ += span_s;
    occupancy_last_ = now;
    occupancy_wp_slots_ = c.wp_slots();
    in_sync_ = c.remote_wp_tracks() == 0 && c.invalid_remote_tracks() == 0 && c.pair_state() != PairState::Suspended;
    for (TrackKey k : c.touched()) {
      const TrackEntry& e = c.track(k);
      int64_t& since = wp_since_ns_[volume_base_[k.volume] + k.track];
      const bool wp = e.local_wp || e.remote_wp;
      if (wp && since == kNotWritePending) {
        since = now.ns;
      } else if (!wp && since != kNotWritePending) {
        const Time from = Time::from_ns(since);
        if (from >= w_.warmup_end && from < w_.duration_end) {
          ++wp_episodes_;
          wp_residence_s_ += (now - from).s();
        }
        since = kNotWritePending;
      }
    }
  }
  remote_wp_tracks_peak_ = std::max<uint64_t>(remote_wp_tracks_peak_, c.remote_wp_tracks());
  local_wp_slots_peak_ = std::max<uint64_t>(local_wp_slots_peak_, c.local_wp_slots());
  invalid_remote_tracks_peak_ = std::max<uint64_t>(invalid_remote_tracks_peak_, c.invalid_remote_tracks());
  writes_at_risk_peak_ = std::max<uint64_t>(writes_at_risk_peak_, invariants_.writes_at_risk());
  bytes_at_risk_peak_ = std::max<uint64_t>(bytes_at_risk_peak_, invariants_.bytes_at_risk());
  PairState& seen = pair_state_seen_[index_of(side)];
  const PairState after = c.pair_state();
  if (seen == after) return;
  if (after == PairState::Syncing)
    resyncs_.push_back(ResyncResult{run_s(now), std::nullopt, c.resync_tracks_owed()});
  if (after == PairState::Synchronized && seen == PairState::Syncing && !resyncs_.empty() && !resyncs_.back().end_s)
    resyncs_.back().end_s = run_s(now);
  seen = after;
}

void RunMetrics::disk_busy(Side side, uint32_t disk, Time start, Time end) {
  auto& busy = disk_busy_s_[index_of(side)];
  if (disk < busy.size()) busy[disk] += clipped_s(start, end);
}

void RunMetrics::disk_busy_in_window(Side side, uint32_t disk, double busy_s) {
  auto& busy = disk_busy_s_[index_of(side)];
  if (disk < busy.size()) busy[disk] += busy_s;
}

void RunMetrics::processor_work(Side side, Pool pool, Time arrived, Time start, Time end, uint32_t queue_length) {
  const size_t k = static_cast<size_t>(3 * index_of(side) + index_of(pool));
  PoolWork& w = pool_work_[k];
  if (start >= w_.warmup_end && start < w_.duration_end) {
    ++w.operations;
    w.wait_s += (start - arrived).s();
  }
  w.busy_s += clipped_s(start, end);
  if (arrived >= w_.warmup_end && arrived < w_.duration_end) {
    group_offered_s_[plan_.group[k]] += (end - start).s();
    w.queue_length_peak = std::max<uint64_t>(w.queue_length_peak, queue_length);
  }
  if (end <= start) return;
  // Spans arrive in start order from a FIFO pool; keep them so from any driver.
  auto at = w.spans.end();
  while (at != w.spans.begin() && std::prev(at)->first > start) --at;
  w.spans.insert(at, {start, end});
}

void RunMetrics::processor_other_work(Side side, Pool pool, Time arrived, Time start, Time end) {
  const size_t k = static_cast<size_t>(3 * index_of(side) + index_of(pool));
  other_busy_s_ += clipped_s(start, end);
  if (arrived >= w_.warmup_end && arrived < w_.duration_end) group_offered_s_[plan_.group[k]] += (end - start).s();
}

void RunMetrics::processors(Side side, Pool pool, uint32_t processors) {
  plan_.processors[plan_.group[static_cast<size_t>(3 * index_of(side) + index_of(pool))]] = processors;
}

double RunMetrics::interval_busy_s(PoolWork& w, Time from, Time to) {
  double busy = 0;
  for (auto it = w.spans.begin(); it != w.spans.end() && it->first < to;) {
    const Time a = std::max(it->first, from), b = std::min(it->second, to);
    if (b > a) busy += (b - a).s();
    if (it->second <= to) it = w.spans.erase(it);
    else ++it;
  }
  return busy;
}

void RunMetrics::link_bandwidth(Time now, double bytes_per_s) {
  advance(now);
  link_bytes_per_s_ = bytes_per_s;
}

Side RunMetrics::sampled_side() const { return host_side(view_of(ctl(Side::A)), view_of(ctl(Side::B))); }

void RunMetrics::advance(Time now) {
  // A sample at t holds the pair as every event up to t left it.
  while (next_sample_ < now) {
    sample(next_sample_);
    next_sample_ += interval_;
  }
}

void RunMetrics::sample(Time at) {
  const double interval_s = interval_.s();
  const Side from = sampled_side();
  const Controller& p = ctl(from);
  TimeSample t;
  t.t_s = run_s(at);
  t.remote_wp_tracks = p.remote_wp_tracks();
  t.local_wp_slots = p.local_wp_slots();
  t.invalid_remote_tracks = p.invalid_remote_tracks();
  t.delayed_writes = p.delayed_writes();
  t.writes_at_risk = invariants_.writes_at_risk();
  t.bytes_at_risk = invariants_.bytes_at_risk();
  t.link_utilisation = interval_link_busy_s_[index_of(from)] / (links_ * interval_s);
  t.write_iops = static_cast<double>(interval_writes_) / interval_s;
  t.write_response_mean_ms =
      interval_writes_ ? interval_write_response_ns_ / static_cast<double>(interval_writes_) / 1e6 : 0;
  t.pair_state = p.crashed() ? "crashed" : std::string(to_string(p.pair_state()));
  if (async_) {
    t.rpo_s = exposure_s(at);
    for (const AsyncGroupTrack& g : async_groups_) t.cycle_time_s = std::max(t.cycle_time_s, g.last_cycle_s);
    t.delta_set_slots = p.role() == Role::Primary ? p.delta_set_slots() : 0;
    t.pacing_delay_mean_ms = interval_paced_ ? interval_pacing_s_ / static_cast<double>(interval_paced_) * 1e3 : 0;
    interval_paced_ = 0;
    interval_pacing_s_ = 0;
    if (at > w_.warmup_end && at <= w_.duration_end) {
      rpo_samples_s_.push_back(t.rpo_s);
      rpo_max_s_ = std::max(rpo_max_s_, t.rpo_s);
      delta_slots_sampled_ += t.delta_set_slots;
      ++delta_samples_;
    }
  }
  const Time begin = at - interval_;
  const bool in_window = begin >= w_.warmup_end && at <= w_.duration_end;
  for (size_t k = 0; k < pool_work_.size(); ++k) {
    const double u = interval_busy_s(pool_work_[k], begin, at) / (plan_.processors[plan_.group[k]] * interval_s);
    t.processor_utilisation[k] = u;
    if (in_window) pool_work_[k].interval_busy_max = std::max(pool_work_[k].interval_busy_max, u);
  }
  samples_.push_back(std::move(t));
  interval_link_busy_s_ = {};
  interval_writes_ = 0;
  interval_write_response_ns_ = 0;
}

void RunMetrics::finish(Time end, RunResult& r) {
  advance(end + Time::from_ns(1));
  // The last stretch of the window, as the primary last left it.
  const double tail_s = clipped_s(occupancy_last_, w_.duration_end);
  occupancy_slot_s_ += occupancy_wp_slots_ * tail_s;
  if (in_sync_) in_sync_s_ += tail_s;
  occupancy_last_ = std::max(occupancy_last_, w_.duration_end);

  r.measured_s = measured_s_;
  r.percentiles = percentiles_;
  r.volumes = std::move(volumes_);
  r.host_writes = host_writes_;
  r.wp_slots_mean = occupancy_slot_s_ / measured_s_;
  r.in_sync_fraction = in_sync_s_ / measured_s_;
  r.wp_episodes_per_s = static_cast<double>(wp_episodes_) / measured_s_;
  r.wp_residence_mean_ms = wp_episodes_ ? wp_residence_s_ / static_cast<double>(wp_episodes_) * 1e3 : 0;
  r.remote_wp_tracks_peak = remote_wp_tracks_peak_;
  r.local_wp_slots_peak = local_wp_slots_peak_;
  r.invalid_remote_tracks_peak = invalid_remote_tracks_peak_;
  r.writes_at_risk_peak = writes_at_risk_peak_;
  r.bytes_at_risk_peak = bytes_at_risk_peak_;
  const double link_s = links_ * measured_s_;
  r.link_utilisation_R1_to_R2_mean = link_busy_s_[0] / link_s;
  r.link_utilisation_R2_to_R1_mean = link_busy_s_[1] / link_s;
  for (int i = 0; i < 2; ++i) {
    const auto& busy = disk_busy_s_[i];
    double sum = 0, mx = 0;
    for (double b : busy) {
      sum += b / measured_s_;
      mx = std::max(mx, b / measured_s_);
    }
    (i == 0 ? r.disk_utilisation_R1_mean : r.disk_utilisation_R2_mean) = busy.empty() ? 0 : sum / static_cast<double>(busy.size());
    (i == 0 ? r.disk_utilisation_R1_max : r.disk_utilisation_R2_max) = mx;
    r.copies_sent += copies_sent_[i].total;
    r.disk_io_errors += disk_io_errors_[i].total;
  }
  for (size_t k = 0; k < pool_work_.size(); ++k) {
    const PoolWork& w = pool_work_[k];
    const uint32_t g = plan_.group[k];
    ProcessorPoolResult p;
    p.controller = std::string(to_string(k < 3 ? Side::A : Side::B));
    p.pool = std::string(to_string(static_cast<Pool>(k % 3)));
    p.processors = plan_.processors[g];
    for (size_t o = 0; o < pool_work_.size(); ++o)
      if (o != k && plan_.group[o] == g)
        p.shared_with += fmt::format("{}{} {}", p.shared_with.empty() ? "" : ", ", to_string(o < 3 ? Side::A : Side::B),
                                     to_string(static_cast<Pool>(o % 3)));
    p.operations = w.operations;
    p.busy_s = w.busy_s;
    p.utilisation_mean = w.busy_s / (p.processors * measured_s_);
    p.utilisation_max = w.interval_busy_max;
    p.wait_mean_ms = w.operations ? w.wait_s / static_cast<double>(w.operations) * 1e3 : 0;
    p.queue_length_peak = w.queue_length_peak;
    p.offered_load = group_offered_s_[g] / (p.processors * measured_s_);
    p.saturated = p.offered_load >= 1;
    r.processor_pools.push_back(std::move(p));
  }
  r.processors_other_busy_s = other_busy_s_;
  r.resyncs = resyncs_;
  for (const LossEvent& l : invariants_.losses()) {
    LossResult lr;
    lr.cause = std::string(to_string(l.cause));
    lr.at_s = run_s(l.at);
    lr.acked_by = std::string(to_string(l.acked_by));
    lr.writes = l.writes;
    lr.bytes = l.bytes;
    lr.writes_acked_while_mirrored = l.writes_acked_while_mirrored;
    lr.writes_by_volume = l.writes_by_volume;
    r.losses.push_back(lr);
  }
  r.timeseries = std::move(samples_);
  if (async_) {
    AsyncResult a;
    a.consistency_groups = ctl(Side::A).config().async.consistency_groups;
    auto stats = [](std::vector<double> v, double& mean, double& p95, double& mx) {
      if (v.empty()) return;
      double sum = 0;
      for (double x : v) sum += x;
      mean = sum / static_cast<double>(v.size());
      std::sort(v.begin(), v.end());
      // The nearest-rank 95th percentile.
      const size_t rank = static_cast<size_t>(std::ceil(0.95 * static_cast<double>(v.size())));
      p95 = v[std::max<size_t>(rank, 1) - 1];
      mx = v.back();
    };
    a.cycles = cycle_times_s_.size();
    stats(cycle_times_s_, a.cycle_time_mean_s, a.cycle_time_p95_s, a.cycle_time_max_s);
    double rpo_sample_max = 0;
    stats(rpo_samples_s_, a.rpo_mean_s, a.rpo_p95_s, rpo_sample_max);
    a.rpo_max_s = std::max(rpo_max_s_, rpo_sample_max);
    a.delta_set_slots_peak = delta_slots_peak_;
    a.delta_set_slots_mean = delta_samples_ ? static_cast<double>(delta_slots_sampled_) / static_cast<double>(delta_samples_) : 0;
    a.delta_set_cache_fraction_peak = static_cast<double>(delta_slots_peak_) / cache_slots_;
    a.bytes_written = async_bytes_written_;
    a.bytes_transmitted = async_bytes_sent_;
    a.folding_ratio = async_bytes_sent_ ? static_cast<double>(async_bytes_written_) / static_cast<double>(async_bytes_sent_) : 0;
    a.writes_folded = writes_folded_[0].total + writes_folded_[1].total;
    a.paced_writes = paced_;
    a.pacing_delay_mean_ms = paced_ ? pacing_s_ / static_cast<double>(paced_) * 1e3 : 0;
    a.pacing_delay_max_ms = pacing_max_s_ * 1e3;
    a.coordination_holds = coordination_holds_;
    a.coordination_hold_mean_ms = coordination_holds_ ? coordination_s_ / static_cast<double>(coordination_holds_) * 1e3 : 0;
    a.tracks_spilled = tracks_spilled_[0].total + tracks_spilled_[1].total;
    a.spill_bytes_peak = spill_bytes_peak_;
    a.drops = drops_;
    a.rpo_at_failover_s = rpo_at_failover_s_;
    r.async = std::move(a);
  }
}

}  // namespace mirrorsim
