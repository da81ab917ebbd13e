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

}  // namespace

LogReplay::LogReplay(const Scenario& s, const ReplayWindow& w) : sc_(s), w_(w) {
  ctl_[0] = std::make_unique<Controller>(Side::A, Role::Primary, controller_config(s, Side::A));
  ctl_[1] = std::make_unique<Controller>(Side::B, Role::Secondary, controller_config(s, Side::B));
  observer_ = std::make_unique<Observer>(*ctl_[0], *ctl_[1], w.violation_trace_length);
  cycles_ = std::make_unique<CycleHistory>(ctl_[0]->config());
  metrics_ = std::make_unique<RunMetrics>(s, RunMetrics::Window{w.workload_start, w.warmup_end, w.duration_end}, *ctl_[0],
                                          *ctl_[1], *observer_);
  // A controller process is one event-loop thread: its three pools are one
  // processor each, and that one processor is the same thread for all three
  // (the summary says so; cpu.hpp).
  for (const Side side : {Side::A, Side::B})
    for (int p = 0; p < kPools; ++p) metrics_->processors(side, static_cast<Pool>(p), 1);
}

void LogReplay::run(std::array<std::vector<LogRecord>, 2> logs, std::array<bool, 2> dead_at_end, std::vector<Time> sent_at,
                 std::vector<UnansweredRequest> unanswered) {
  auto sent = [&](RequestId req, Time otherwise) {
    return req >= 1 && req <= sent_at.size() ? sent_at[req - 1] : otherwise;
  };
  std::array<size_t, 2> next{0, 0};
  std::array<std::deque<std::vector<uint8_t>>, 2> in_flight;  // sent by side i, not yet received
  std::array<uint64_t, 2> last_seq{0, 0};
  std::array<std::optional<Geometry>, 2> geometry{Geometry::of(controller_config(sc_, Side::A)),
                                                   Geometry::of(controller_config(sc_, Side::B))};
  std::array<Time, 2> last_at{};  // each side's last logged step

  // When each step's commands took effect: its Executed record, taken out
  // of the log here (the merge orders steps, not their executions).
  // With it, the CPU the step spent (cpu.hpp).
  struct Executed {
    Time at;
    std::vector<CpuSpan> spans;
    std::optional<uint32_t> wakeup_ns;     // the loop's wake-up for the step's input
    std::optional<uint32_t> preempted_ns;  // the loop's time off its processor in the step
  };
  std::array<std::unordered_map<uint64_t, Executed>, 2> executed;
  for (int i = 0; i < 2; ++i) {
    std::erase_if(logs[i], [&](const LogRecord& r) {
      if (r.kind != LogKind::Executed) return false;
      auto body = decode_executed(r.body);
      if (!body)
        problems_.push_back(fmt::format("side {} log: the Executed record of step {} does not decode",
                                        to_string(i == 0 ? Side::A : Side::B), r.seq));
      executed[i][r.seq] = body ? Executed{r.at, std::move(body->spans), body->wakeup_ns, body->preempted_ns}
                                 : Executed{r.at, {}, {}, {}};
      return true;
    });
  }
  size_t next_unanswered = 0;
  auto answer_until = [&](Time t) {
    for (; next_unanswered < unanswered.size() && unanswered[next_unanswered].at <= t; ++next_unanswered) {
      const UnansweredRequest& u = unanswered[next_unanswered];
      // Never stepped by a controller: the metrics learn of it here. One
      // that a controller stepped was answered by its replay (a crash
      // rejects what the controller held), and an answer comes once.
      if (!u.reached_controller) metrics_->host_issued(u.req, sent(u.req, u.at), u.at, u.key, u.write, u.bytes);
      metrics_->host_unanswered(u.req, u.at);
    }
  };

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
    answer_until(pick_at);
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
        // In place: the observer keeps its reference to this controller.
        c = Controller::recovered(side, c.config(), expected);
        in_flight[pick].clear();
        ++restarts_checked_;
        break;
      }
      case LogKind::Executed: break;  // taken out above
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
        const auto done = executed[pick].find(rec.seq);
        if (const auto* w = std::get_if<HostWrite>(&*in))
          metrics_->host_issued(w->req, sent(w->req, rec.at), rec.at, w->key, true, w->bytes);
        if (const auto* rd = std::get_if<HostRead>(&*in))
          metrics_->host_issued(rd->req, sent(rd->req, rec.at), rec.at, rd->key, false, rd->bytes);
        step(side, rec.at, done == executed[pick].end() ? rec.at : std::max(rec.at, done->second.at), *in);
        if (done != executed[pick].end()) {
          // The step's CPU as the pools' work, at the step's time, no wait:
          // what the simulator's pools report, measured.
          const bool in_window = rec.at >= w_.warmup_end && rec.at < w_.duration_end;
          if (in_window && done->second.wakeup_ns) cpu_[pick].add_wakeup(*done->second.wakeup_ns);
          // A step of an operation (its own span, the first, is not `other`).
          if (in_window && done->second.preempted_ns && !done->second.spans.empty() &&
              pool_of(done->second.spans.front().kind))
            cpu_[pick].add_preemption(*done->second.preempted_ns);
          for (const CpuSpan& span : done->second.spans) {
            if (in_window) cpu_[pick].add(span.kind, span.ns);
            if (const auto pool = pool_of(span.kind))
              metrics_->processor_work(side, *pool, rec.at, rec.at, rec.at + Time::from_ns(span.ns), 0);
          }
        }
        for (const Command& cmd : out_)
          if (const auto* snd = std::get_if<Send>(&cmd)) {
            in_flight[pick].push_back(encoded(snd->msg));
            if (in_flight[pick].size() > 1'000'000) in_flight[pick].pop_front();
          }
        break;
      }
    }
  }
  answer_until(Time::max());
}

void LogReplay::crash(Side s, Time at) {
  Controller& c = *ctl_[index_of(s)];
  if (c.crashed()) return;
  step(s, at, at, Crash{});
}

void LogReplay::step(Side s, Time at, Time effects_at, const Input& in) {
  Controller& c = *ctl_[index_of(s)];
  out_.clear();
  c.step(at, in, out_);
  observer_->after_step(s, at, in, out_);
  cycles_->after_step(s, c, at, out_);
  metrics_->after_step(s, effects_at, in, out_);
  ++steps_;
  last_ = std::max(last_, effects_at);
}

void LogReplay::fill(RunResult& r) {
  for (const auto& c : ctl_) c->audit();  // its counts against its track table, once a run
  metrics_->finish(std::max(last_, w_.duration_end), r);
}

}  // namespace mirrorsim::real
