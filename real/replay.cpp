#include "real/replay.hpp"

#include <algorithm>
#include <deque>

#include <fmt/format.h>

#include "real/geometry.hpp"
#include "real/messages.hpp"

namespace mirrorsim::real {

namespace {

std::vector<uint8_t> encoded(const Message& m) {
  std::vector<uint8_t> b;
  ByteWriter w(b);
  encode_message(w, m);
  return b;
}

ControllerCounters add(const ControllerCounters& a, const ControllerCounters& b) {
  ControllerCounters c = a;
  c.copies_sent += b.copies_sent;
  c.disk_errors += b.disk_errors;
  return c;
}

}  // namespace

Replay::Replay(const Scenario& s, const ReplayWindow& w) : sc_(s), w_(w) {
  ctl_[0] = std::make_unique<Controller>(Side::A, Role::Primary, controller_config(s, Side::A));
  ctl_[1] = std::make_unique<Controller>(Side::B, Role::Secondary, controller_config(s, Side::B));
  observer_ = std::make_unique<Observer>(*ctl_[0], *ctl_[1], w.violation_trace_length);
  next_sample_ = w_.workload_start + Time::from_s(w_.timeseries_interval_s);
}

void Replay::run(std::array<std::vector<LogRecord>, 2> logs, std::array<bool, 2> dead_at_end) {
  std::array<size_t, 2> next{0, 0};
  std::array<std::deque<std::vector<uint8_t>>, 2> in_flight;  // sent by side i, not yet received
  std::array<uint64_t, 2> last_seq{0, 0};
  std::array<std::optional<Geometry>, 2> geometry{Geometry::of(controller_config(sc_, Side::A)),
                                                   Geometry::of(controller_config(sc_, Side::B))};
  std::array<Time, 2> last_at{};  // each side's last logged step

  // Decoded inputs, ahead of the merge: the merge looks at received messages.
  std::array<std::vector<std::optional<Input>>, 2> inputs;
  for (int i = 0; i < 2; ++i) {
    for (const LogRecord& r : logs[i]) {
      std::optional<Input> in;
      if (r.kind == LogKind::Input) {
        ByteReader br(r.body);
        in = decode_input(br, *geometry[i]);
        if (!in || !br.finish("input"))
          problems_.push_back(fmt::format("side {} log: step {} does not decode: {}", to_string(i == 0 ? Side::A : Side::B),
                                          r.seq, br.error()));
      }
      inputs[i].push_back(std::move(in));
    }
  }

  auto eligible = [&](int i) {
    if (next[i] >= logs[i].size()) return false;
    const auto& in = inputs[i][next[i]];
    if (!in || !std::holds_alternative<Received>(*in)) return true;
    const auto want = encoded(std::get<Received>(*in).msg);
    const auto& q = in_flight[1 - i];
    return std::find(q.begin(), q.end(), want) != q.end();
  };

  for (;;) {
    // The next event of each side: its death (when its next record is a
    // restart, or its log ends with it dead), or its next record.
    int pick = -1;
    Time pick_at = Time::max();
    bool pick_is_kill = false;
    for (int i = 0; i < 2; ++i) {
      const bool has_record = next[i] < logs[i].size();
      const bool dies = !ctl_[i]->crashed() && last_at[i] > Time{} &&
                        (has_record ? logs[i][next[i]].kind == LogKind::Recovered : dead_at_end[i]);
      if (dies) {
        const Time at = last_at[i] + Time::from_ns(1);
        if (at < pick_at) {
          pick = i;
          pick_at = at;
          pick_is_kill = true;
        }
        continue;
      }
      const Time rec_at = has_record ? logs[i][next[i]].at : Time::max();
      if (has_record && eligible(i) && rec_at < pick_at) {
        pick = i;
        pick_at = rec_at;
        pick_is_kill = false;
      }
    }
    if (pick < 0) {
      // Nothing is eligible: a received message nobody sent (a log gap).
      int forced = -1;
      for (int i = 0; i < 2; ++i)
        if (next[i] < logs[i].size() && (forced < 0 || logs[i][next[i]].at < logs[forced][next[forced]].at)) forced = i;
      if (forced < 0) break;
      problems_.push_back(fmt::format("side {} step {}: received a message the peer's log never sent",
                                      to_string(forced == 0 ? Side::A : Side::B), logs[forced][next[forced]].seq));
      pick = forced;
      pick_at = logs[forced][next[forced]].at;
      pick_is_kill = false;
      const auto& in = inputs[forced][next[forced]];
      if (in) in_flight[1 - forced].push_front(encoded(std::get<Received>(*in).msg));
    }
    const Side side = pick == 0 ? Side::A : Side::B;
    if (pick_is_kill) {
      crash(side, pick_at);
      continue;
    }
    const LogRecord& rec = logs[pick][next[pick]];
    const auto& in = inputs[pick][next[pick]];
    ++next[pick];
    switch (rec.kind) {
      case LogKind::Start:
        if (steps_ > 0 && last_seq[pick] > 0)
          problems_.push_back(fmt::format("side {}: a second fresh start in one run", to_string(side)));
        break;
      case LogKind::Recovered: {
        Controller& c = *ctl_[pick];
        if (!c.crashed()) crash(side, rec.at);  // died before it stepped anything
        uint64_t hash = 0;
        if (rec.body.size() == 8) std::memcpy(&hash, rec.body.data(), 8);
        const DurableState expected = c.durable_state();
        if (durable_hash(expected) != hash)
          problems_.push_back(fmt::format(
              "side {} restarted at step {} from a durable state that differs from the one its log leads to "
              "(the state file lost or invented something)",
              to_string(side), rec.seq));
        counters_before_restart_[pick] = add(counters_before_restart_[pick], c.counters());
        // In place: the observer keeps its reference to this controller.
        c = Controller::recovered(side, c.config(), expected);
        in_flight[pick].clear();
        ++restarts_checked_;
        break;
      }
      case LogKind::Input: {
        if (!in) break;
        if (rec.seq <= last_seq[pick]) break;  // a record the log repair wrote twice
        last_seq[pick] = rec.seq;
        last_at[pick] = rec.at;
        if (const auto* r = std::get_if<Received>(&*in)) {
          auto& q = in_flight[1 - pick];
          const auto want = encoded(r->msg);
          auto it = std::find(q.begin(), q.end(), want);
          if (it != q.end()) q.erase(q.begin(), it + 1);  // earlier ones were lost with their connection
        }
        step(side, rec.at, *in);
        for (const Command& cmd : out_)
          if (const auto* snd = std::get_if<Send>(&cmd)) {
            in_flight[pick].push_back(encoded(snd->msg));
            if (in_flight[pick].size() > 1'000'000) in_flight[pick].pop_front();
          }
        break;
      }
    }
  }
  sample_until(last_ > w_.duration_end ? last_ : w_.duration_end);
}

void Replay::crash(Side s, Time at) {
  Controller& c = *ctl_[index_of(s)];
  if (c.crashed()) return;
  step(s, at, Crash{});
}

void Replay::step(Side s, Time at, const Input& in) {
  sample_until(at);
  Controller& c = *ctl_[index_of(s)];
  out_.clear();
  c.step(at, in, out_);
  observer_->after_step(s, at, in, out_);
  ++steps_;
  last_ = std::max(last_, at);
  after_step(s, at);
}

void Replay::after_step(Side s, Time now) {
  // The simulator's bookkeeping (sim/simulation.cpp, track_pair_state).
  const Controller& c = *ctl_[index_of(s)];
  if (c.role() != Role::Primary || c.crashed()) return;
  if (s == Side::A) {
    const Time from = std::max(occupancy_last_, w_.warmup_end);
    const Time to = std::min(now, w_.duration_end);
    if (to > from) occupancy_slot_s_ += occupancy_wp_slots_ * (to - from).s();
    occupancy_last_ = now;
    occupancy_wp_slots_ = c.wp_slots();
    for (TrackKey k : c.touched()) {
      const TrackEntry& e = c.track(k);
      const uint64_t id = (static_cast<uint64_t>(k.volume) << 32) | k.track;
      const bool wp = e.local_wp || e.remote_wp;
      auto it = wp_since_.find(id);
      if (wp && it == wp_since_.end()) {
        wp_since_.emplace(id, now);
      } else if (!wp && it != wp_since_.end()) {
        if (it->second >= w_.warmup_end && it->second < w_.duration_end) {
          ++wp_episodes_;
          wp_residence_s_ += (now - it->second).s();
        }
        wp_since_.erase(it);
      }
    }
  }
  peak_remote_wp_ = std::max<uint64_t>(peak_remote_wp_, c.remote_wp_tracks());
  peak_local_wp_ = std::max<uint64_t>(peak_local_wp_, c.local_wp_slots());
  peak_invalid_remote_ = std::max<uint64_t>(peak_invalid_remote_, c.invalid_remote_tracks());
  peak_at_risk_ = std::max<uint64_t>(peak_at_risk_, observer_->writes_at_risk());
  peak_bytes_at_risk_ = std::max<uint64_t>(peak_bytes_at_risk_, observer_->bytes_at_risk());
  PairState& seen = pair_state_seen_[index_of(s)];
  const PairState after = c.pair_state();
  if (seen == after) return;
  if (after == PairState::Syncing && seen != PairState::Syncing)
    resyncs_.push_back(ResyncResult{run_s(now), std::nullopt, c.resync_tracks_owed()});
  if (after == PairState::Synchronized && seen == PairState::Syncing && !resyncs_.empty() && !resyncs_.back().end_s)
    resyncs_.back().end_s = run_s(now);
  seen = after;
}

void Replay::sample_until(Time t) {
  const Time interval = Time::from_s(w_.timeseries_interval_s);
  while (next_sample_ <= t && next_sample_ <= w_.duration_end + Time::from_s(600) && samples_.size() < 1'000'000) {
    const Controller& a = *ctl_[0];
    const Controller& b = *ctl_[1];
    const Controller& p = (b.role() == Role::Primary && !b.crashed() && (a.role() != Role::Primary || a.crashed())) ? b : a;
    TimeSample x;
    x.t_s = run_s(next_sample_);
    x.remote_wp_tracks = p.remote_wp_tracks();
    x.local_wp_slots = p.local_wp_slots();
    x.invalid_remote_tracks = p.invalid_remote_tracks();
    x.delayed_writes = p.delayed_requests();
    x.writes_at_risk = observer_->writes_at_risk();
    x.bytes_at_risk = observer_->bytes_at_risk();
    x.pair_state = p.crashed() ? "crashed" : std::string(to_string(p.pair_state()));
    samples_.push_back(std::move(x));
    next_sample_ += interval;
  }
}

void Replay::fill(RunResult& r) const {
  r.peak_remote_wp_tracks = peak_remote_wp_;
  r.peak_local_wp_slots = peak_local_wp_;
  r.peak_invalid_remote_tracks = peak_invalid_remote_;
  r.peak_writes_at_risk = peak_at_risk_;
  r.peak_bytes_at_risk = peak_bytes_at_risk_;
  r.resyncs = resyncs_;
  const double measured_s = (w_.duration_end - w_.warmup_end).s();
  r.mean_wp_slots = measured_s > 0 ? occupancy_slot_s_ / measured_s : 0;
  r.wp_episodes_per_s = measured_s > 0 ? static_cast<double>(wp_episodes_) / measured_s : 0;
  r.wp_residence_mean_ms = wp_episodes_ ? wp_residence_s_ / static_cast<double>(wp_episodes_) * 1e3 : 0;
  for (int i = 0; i < 2; ++i) {
    const ControllerCounters c = add(counters_before_restart_[i], ctl_[i]->counters());
    r.copies_sent += c.copies_sent;
    r.disk_errors += c.disk_errors;
  }
  for (const LossEvent& l : observer_->losses()) {
    LossResult lr;
    lr.cause = std::string(to_string(l.cause));
    lr.at_s = run_s(l.at);
    lr.acked_by = l.acked_by == Side::A ? "r1" : "r2";
    lr.writes = l.writes;
    lr.bytes = l.bytes;
    lr.writes_acked_while_mirrored = l.writes_acked_while_mirrored;
    lr.writes_by_volume = l.writes_by_volume;
    r.losses.push_back(lr);
  }
  r.timeseries = samples_;
}

}  // namespace mirrorsim::real
