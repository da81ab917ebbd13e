#include "check/explorer.hpp"

#include <algorithm>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>

#include "check/fingerprints.hpp"

namespace mirrorsim::check {

std::string_view to_string(Finding::Kind k) {
  switch (k) {
    case Finding::Kind::Invariant: return "invariant";
    case Finding::Kind::EndState: return "end-state";
    case Finding::Kind::HungRequest: return "hung-request";
    case Finding::Kind::NoRest: return "no-rest";
  }
  return "?";
}

std::string_view to_string(Result::Outcome o) {
  switch (o) {
    case Result::Outcome::Complete: return "complete";
    case Result::Outcome::Violation: return "violation";
    case Result::Outcome::StateLimit: return "state-limit";
    case Result::Outcome::DepthLimit: return "depth-limit";
    case Result::Outcome::MemoryLimit: return "memory-limit";
  }
  return "?";
}

namespace {

using mirrorsim::to_string;  // Version is an integer: no argument-dependent lookup
using Kind = WorldEvent::Kind;
using Clock = std::chrono::steady_clock;

// Bringing a state to rest runs the internal events oldest first; a bounded
// pair settles in a few dozen. Far more means it never will.
constexpr uint64_t kRestEventsMax = 100'000;

// The part of the environment's budget a path has used. Part of the state:
// two paths that reach the same pair with different budgets left have
// different futures.
struct Used {
  uint32_t writes = 0;
  uint32_t reads = 0;
  uint32_t link_failures = 0;
  uint32_t crashes = 0;
  uint32_t disk_failures = 0;
  uint32_t disasters = 0;
  uint32_t failovers = 0;
  uint32_t operator_actions = 0;

  // Folded into the state's fingerprint, two counts a word.
  void add_to(StateFold& h) const {
    auto pair32 = [](uint32_t hi, uint32_t lo) { return (static_cast<uint64_t>(hi) << 32) | lo; };
    h.add(pair32(writes, reads))
        .add(pair32(link_failures, crashes))
        .add(pair32(disk_failures, disasters))
        .add(pair32(failovers, operator_actions));
  }
};

struct State {
  World world;
  Used used;
  explicit State(const WorldConfig& c) : world(c) {}
  State(const State&) = default;
  State& operator=(const State&) = default;
};

// States a search has finished with, kept to be assigned over: most
// transitions lead to a state already seen, and a copy assigned into a
// spent state reuses its buffers instead of allocating them again.
class Spares {
 public:
  size_t size() const { return spare_.size(); }
  std::unique_ptr<State> copy_of(const State& from) {
    if (spare_.empty()) return std::make_unique<State>(from);
    std::unique_ptr<State> s = std::move(spare_.back());
    spare_.pop_back();
    *s = from;
    return s;
  }
  void give_back(std::unique_ptr<State> s) {
    if (s && spare_.size() < kSpareMax) spare_.push_back(std::move(s));
  }

 private:
  static constexpr size_t kSpareMax = 64;  // a level holds a state's children at once
  std::vector<std::unique_ptr<State>> spare_;
};

uint64_t fingerprint(const State& s) {
  StateFold h;
  h.add(s.world.state_hash());
  s.used.add_to(h);
  return h.value();
}

WorldConfig explorer_config(WorldConfig c) {
  c.trace_length = 0;  // the trace is rebuilt by replaying the path
  c.time_frozen = true;
  c.audit_every_step = false;  // every new state is audited once, below
  return c;
}

// Every event enabled in `s`, in a fixed order: work already under way
// first, then the hosts, then failures and operators within their bounds.
// Returns how many are the pair's own work: none means the state is quiet.
size_t enabled_events(const State& s, const Bounds& b, std::vector<WorldEvent>& out) {
  const World& w = s.world;
  out.clear();
  w.internal_events(out);
  const size_t internal = out.size();
  const Side host = w.host_side();
  const auto& volumes = w.controller(Side::A).config().volumes;
  auto each_track = [&](Kind kind) {
    for (VolumeId v = 0; v < volumes.size(); ++v)
      for (TrackNo t = 0; t < volumes[v].tracks; ++t) out.push_back({kind, host, 0, TrackKey{v, t}, false});
  };
  if (s.used.writes < b.writes) each_track(Kind::HostWrite);
  if (s.used.reads < b.reads) each_track(Kind::HostRead);

  if (w.link_up()) {
    if (s.used.link_failures < b.link_failures) out.push_back({Kind::LinkDown, Side::A, 0, {}, false});
  } else {
    out.push_back({Kind::LinkUp, Side::A, 0, {}, false});
  }
  for (Side side : {Side::A, Side::B}) {
    const Controller& c = w.controller(side);
    if (c.crashed()) {
      out.push_back({Kind::Restart, side, 0, {}, false});
    } else if (s.used.crashes < b.crashes) {
      out.push_back({Kind::Crash, side, 0, {}, false});
      // With no disk write in flight both variants of the crash reach the
      // same state: offering one is enough.
      if (w.disk_writes_in_flight(side) > 0) out.push_back({Kind::Crash, side, 0, {}, true});
    }
  }
  for (Side side : {Side::A, Side::B}) {
    const uint32_t disks = w.controller(side).config().disks;
    for (uint32_t d = 0; d < disks; ++d) {
      if (w.disk_failed(side, d)) out.push_back({Kind::DiskRepair, side, d, {}, false});
      else if (s.used.disk_failures < b.disk_failures) out.push_back({Kind::DiskFailure, side, d, {}, false});
    }
  }
  if (s.used.disasters < b.disasters && !w.controller(host).crashed() &&
      w.controller(host).role() == Role::Primary)
    out.push_back({Kind::Disaster, host, 0, {}, false});
  for (Side side : {Side::A, Side::B}) {
    const Controller& c = w.controller(side);
    if (c.crashed()) continue;
    // After a disaster the operator moves the work to the surviving site.
    if (c.role() == Role::Secondary && s.used.failovers < s.used.disasters)
      out.push_back({Kind::Failover, side, 0, {}, false});
    if (c.operator_suspended()) out.push_back({Kind::Resume, side, 0, {}, false});
    if (c.role() == Role::Primary && s.used.operator_actions < b.operator_actions) {
      if (!c.operator_suspended()) out.push_back({Kind::Suspend, side, 0, {}, false});
      if (!c.handing_over()) out.push_back({Kind::Failback, side, 0, {}, false});
    }
  }
  return internal;
}

void count(Used& u, const WorldEvent& e) {
  switch (e.kind) {
    case Kind::HostWrite: ++u.writes; break;
    case Kind::HostRead: ++u.reads; break;
    case Kind::LinkDown: ++u.link_failures; break;
    case Kind::Crash: ++u.crashes; break;
    case Kind::DiskFailure: ++u.disk_failures; break;
    case Kind::Disaster: ++u.disasters; break;
    case Kind::Failover: ++u.failovers; break;
    case Kind::Suspend:
    case Kind::Failback: ++u.operator_actions; break;
    default: break;
  }
}

std::string describe(const Violation& v) {
  return fmt::format("{} on side {}: {}", describe(v.which), to_string(v.side), v.what);
}

// The observer's verdict on the event just applied (the state before it had
// no violation: the search stops at the first).
std::optional<Finding> judge_step(const World& w) {
  if (w.observer().violation_count() == 0) return std::nullopt;
  const Violation& v = w.observer().violations().front();
  return Finding{Finding::Kind::Invariant, v.which, describe(v)};
}

// Brings a copy of a quiet state to rest (disks repaired, link up,
// controllers restarted, suspensions resumed, everything drained oldest
// first) and judges the end state: R2 == R1 on disk and in content, no WP
// or invalid track anywhere, nothing at risk, every host request answered.
std::optional<Finding> judge_at_rest(const World& w) {
  World rest(w);
  if (!rest.quiesce(kRestEventsMax))
    return Finding{Finding::Kind::NoRest, std::nullopt,
                   fmt::format("the pair did not settle within {} events", kRestEventsMax)};
  rest.check_quiesced();
  const Observer& ob = rest.observer();
  if (ob.violation_count() > 0) {
    std::string what;
    for (const Violation& v : ob.violations()) {
      if (!what.empty()) what += '\n';
      what += describe(v);
    }
    return Finding{Finding::Kind::EndState, ob.violations().front().which, what};
  }
  std::string what;
  const Controller& a = rest.controller(Side::A);
  for (VolumeId v = 0; v < a.tracks().volume_count(); ++v)
    for (TrackNo t = 0; t < a.tracks().tracks(v); ++t) {
      const TrackKey k{v, t};
      const Version da = rest.disk_version(Side::A, k), db = rest.disk_version(Side::B, k);
      if (da != db) what += fmt::format("{}track {}: disk A holds v{}, disk B v{}", what.empty() ? "" : "\n",
                                        to_string(k), to_string(da), to_string(db));
      if (da != a.content_version(k))
        what += fmt::format("{}track {}: disk A holds v{}, A's content is v{}", what.empty() ? "" : "\n",
                            to_string(k), to_string(da), to_string(a.content_version(k)));
    }
  if (!what.empty()) return Finding{Finding::Kind::EndState, Invariant::I9, what};
  if (rest.requests_in_progress() > 0) {
    std::string ids;
    for (RequestId r : rest.pending_requests()) ids += fmt::format("{}{}", ids.empty() ? "" : ", ", r);
    return Finding{Finding::Kind::HungRequest, std::nullopt,
                   fmt::format("host requests never answered after the pair came to rest: {}", ids)};
  }
  return std::nullopt;
}

class Progress {
 public:
  explicit Progress(const Options& o) : options_(o), start_(Clock::now()), next_(start_ + std::chrono::seconds(1)) {}
  double seconds() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }
  // Cheap enough to call on every transition: reads the clock every 4096.
  void tick(const Stats& st, uint32_t depth) {
    if (!options_.progress || (++ticks_ & 4095) != 0) return;
    const auto now = Clock::now();
    if (now < next_) return;
    next_ = now + std::chrono::seconds(1);
    options_.progress(st.states, st.transitions, depth, seconds());
  }

 private:
  const Options& options_;
  Clock::time_point start_;
  Clock::time_point next_;
  uint64_t ticks_ = 0;
};

struct SearchFrame {
  std::unique_ptr<State> state;
  std::vector<WorldEvent> events;
  size_t next = 0;
  uint32_t depth = 0;
};

// The search stack, whose frames keep their event lists' buffers when
// popped: a push reuses them instead of allocating.
class Stack {
 public:
  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }
  SearchFrame& back() { return frames_[size_ - 1]; }
  void pop() {
    SearchFrame& f = frames_[--size_];
    f.state.reset();
  }
  // A new top frame for `state`, its event list empty.
  SearchFrame& push(std::unique_ptr<State> state, uint32_t depth) {
    if (size_ == frames_.size()) frames_.emplace_back();
    SearchFrame& f = frames_[size_++];
    f.state = std::move(state);
    f.events.clear();
    f.next = 0;
    f.depth = depth;
    return f;
  }

 private:
  std::vector<SearchFrame> frames_;
  size_t size_ = 0;
};

// What a search holds, against Options::memory_bytes_max: its table of
// fingerprints and the states alive, each at most state_bytes().
class MemoryBudget {
 public:
  explicit MemoryBudget(const Options& o) : max_(o.memory_bytes_max), per_state_(state_bytes(o.world)) {}
  // Whether the search may hold this much; records the most it held.
  bool allows(uint64_t table_bytes, uint64_t states, Stats& st) const {
    const uint64_t held = table_bytes + states * per_state_;
    st.memory_bytes = std::max(st.memory_bytes, held);
    return max_ == 0 || held <= max_;
  }

 private:
  uint64_t max_;
  uint64_t per_state_;
};

// Takes the frame's next event, on a copy of its state, or on the state
// itself when it is the last one (no copy; the frame is spent).
std::unique_ptr<State> take_next(SearchFrame& f, WorldEvent& ev, Spares& spares) {
  ev = f.events[f.next++];
  if (f.next == f.events.size()) return std::move(f.state);
  return spares.copy_of(*f.state);
}

void apply(State& s, const WorldEvent& ev) {
  s.world.apply(ev);
  count(s.used, ev);
}

Counterexample make_counterexample(const Options& o, std::vector<WorldEvent> events, bool rest) {
  Counterexample cx;
  cx.world = o.world;
  cx.bounds = o.bounds;
  cx.events = std::move(events);
  cx.rest_at_end = rest;
  return cx;
}

// The main search: depth-first, every distinct state expanded once, stops
// at the first finding.
//
// A state is expanded whole before the search descends: every event is
// applied (to copies of the state, the last to the state itself), each
// child judged and fingerprinted, and only then are the fingerprints looked
// up, each slot of the visited table prefetched when its fingerprint is
// known. The table is far larger than the caches, so a lookup is a memory
// access; issued together, the lookups of one state's children overlap
// instead of stalling one after another. The new children are kept in the
// level and explored in event order. The states reached, and so the counts,
// are those of a search that descends at once; only which path reaches a
// state first (and so the longest path) can differ.
//
// No partial-order or symmetry reduction: every event steps the observer,
// whose verdicts depend on the interleaving itself (I4 judges the instant of
// a host acknowledgement, I2 the moment an indicator resets), so two
// "independent" events do not commute for the checker; tracks are not
// symmetric either (they map to different disks and sit at different places
// in the LRU). The only merging is sound by construction: the state
// fingerprint leaves out what cannot influence the future (see
// World::state_hash), and a crash with no disk write in flight is offered
// once, not in both variants.
struct Level {
  struct Child {
    std::unique_ptr<State> state;
    WorldEvent event;
    uint64_t fingerprint = 0;
  };
  std::vector<Child> children;  // after the lookups: the new ones only, in event order
  size_t next = 0;              // the next child to descend into
  uint32_t depth = 0;           // of the children
};

Result depth_first(const Options& o) {
  Result r;
  Progress progress(o);
  const MemoryBudget budget(o);
  FingerprintTable visited(/*with_depth=*/false);
  Spares spares;
  uint64_t waiting = 0;  // children kept on the levels, not yet descended into
  std::vector<Level> levels;  // levels[d] holds the children at depth d + 1; kept, with their buffers
  size_t top = 0;             // levels in use
  std::vector<WorldEvent> path;
  std::vector<WorldEvent> events;
  const WorldConfig cfg = explorer_config(o.world);

  auto finish = [&](Result::Outcome outcome) {
    r.outcome = outcome;
    r.stats.seconds = progress.seconds();
    r.stats.visited_bytes = visited.bytes();
    return r;
  };
  auto found = [&](Finding f, bool rest) {
    r.finding = std::move(f);
    r.counterexample = make_counterexample(o, path, rest);
    return finish(Result::Outcome::Violation);
  };

  auto root = std::make_unique<State>(cfg);
  visited.insert(fingerprint(*root), 0);
  r.stats.states = 1;
  if (enabled_events(*root, o.bounds, events) == 0) {
    ++r.stats.end_states;
    if (auto f = judge_at_rest(root->world)) return found(std::move(*f), true);
  }
  std::unique_ptr<State> expanding = std::move(root);
  uint32_t depth = 0;  // of `expanding`; `events` are its enabled events

  for (;;) {
    if (expanding) {
      // Every child of the state exists at once, beside the waiting ones
      // and the spares; the table may double as the new ones go in.
      if (!budget.allows(2 * visited.bytes(), waiting + events.size() + spares.size() + 1, r.stats))
        return finish(Result::Outcome::MemoryLimit);
      // Expand: every child, then every lookup.
      if (top == levels.size()) levels.emplace_back();
      Level& level = levels[top++];
      level.children.clear();
      level.next = 0;
      level.depth = depth + 1;
      path.resize(depth);
      for (size_t i = 0; i < events.size(); ++i) {
        const WorldEvent& ev = events[i];
        std::unique_ptr<State> child =
            i + 1 == events.size() ? std::move(expanding) : spares.copy_of(*expanding);
        apply(*child, ev);
        ++r.stats.transitions;
        progress.tick(r.stats, level.depth);
        if (auto fnd = judge_step(child->world)) {
          path.push_back(ev);
          return found(std::move(*fnd), false);
        }
        const uint64_t fp = fingerprint(*child);
        visited.prefetch(fp);
        level.children.push_back(Level::Child{std::move(child), ev, fp});
      }
      expanding.reset();
      size_t kept = 0;
      for (Level::Child& c : level.children) {
        if (!visited.insert(c.fingerprint, level.depth)) {
          spares.give_back(std::move(c.state));
          continue;
        }
        c.state->world.audit();
        ++r.stats.states;
        r.stats.max_depth = std::max(r.stats.max_depth, level.depth);
        if (r.stats.states >= o.bounds.max_states) return finish(Result::Outcome::StateLimit);
        if (level.depth >= o.bounds.max_depth) return finish(Result::Outcome::DepthLimit);
        if (&c != &level.children[kept]) level.children[kept] = std::move(c);
        ++kept;
      }
      level.children.resize(kept);
      waiting += kept;
    }
    // Descend into the next new child of the deepest level that has one.
    while (top > 0 && levels[top - 1].next == levels[top - 1].children.size()) --top;
    if (top == 0) break;
    Level& level = levels[top - 1];
    Level::Child& c = level.children[level.next++];
    --waiting;
    depth = level.depth;
    path.resize(depth - 1);
    path.push_back(c.event);
    expanding = std::move(c.state);
    if (enabled_events(*expanding, o.bounds, events) == 0) {
      ++r.stats.end_states;
      if (auto fnd = judge_at_rest(expanding->world)) return found(std::move(*fnd), true);
    }
  }
  return finish(Result::Outcome::Complete);
}

// Shortest counterexamples: depth-first again, bounded by a depth that
// doubles from `first_bound` until a finding turns up (or `depth_max` is
// reached), re-expanding a state whenever a shorter path reaches it. Within
// a bound that re-expansion gives every state its true distance from the
// initial state, so a pass that runs to its end finds the shortest finding
// within its bound; once one is known only strictly shorter paths are
// followed. Memory stays that of the depth-first search (a fingerprint and a
// depth per state), where a breadth-first search would hold a whole level of
// pairs; the price is re-expansion, a few times the work of a plain pass.
struct Bounded {
  std::optional<Finding> finding;
  std::vector<WorldEvent> events;
  bool rest = false;
  bool shortest = false;  // the pass that found it ran to its end
  bool memory_limit = false;  // stopped at Options::memory_bytes_max
  Stats stats;
};

Bounded bounded_search(const Options& o, uint32_t first_bound, uint32_t depth_max, uint64_t transitions_max) {
  Bounded best;
  Progress progress(o);
  const MemoryBudget budget(o);
  const WorldConfig cfg = explorer_config(o.world);
  uint32_t best_length = UINT32_MAX;

  for (uint32_t bound = std::min(first_bound, depth_max);; bound = std::min(bound * 2, depth_max)) {
    FingerprintTable seen(/*with_depth=*/true);
    Spares spares;
    Stack stack;
    std::vector<WorldEvent> path;
    auto root = std::make_unique<State>(cfg);
    seen.insert(fingerprint(*root), 0);
    {
      SearchFrame& top = stack.push(std::move(root), 0);
      enabled_events(*top.state, o.bounds, top.events);
    }
    bool cut_short = false;
    bool bound_reached = false;  // some state was left unexpanded at the bound

    while (!stack.empty()) {
      SearchFrame& f = stack.back();
      if (f.next == f.events.size()) {
        stack.pop();
        continue;
      }
      const uint32_t depth = f.depth + 1;
      WorldEvent ev;
      std::unique_ptr<State> child = take_next(f, ev, spares);
      if (f.next == f.events.size()) stack.pop();
      apply(*child, ev);
      ++best.stats.transitions;
      progress.tick(best.stats, depth);
      path.resize(depth - 1);
      path.push_back(ev);
      auto record = [&](Finding fnd, bool rest) {
        best.finding = std::move(fnd);
        best.events = path;
        best.rest = rest;
        best_length = depth;
      };
      if (auto fnd = judge_step(child->world)) {
        if (depth < best_length) record(std::move(*fnd), false);
        spares.give_back(std::move(child));
        continue;
      }
      if (!seen.insert(fingerprint(*child), depth)) {  // reached before by a path as short
        spares.give_back(std::move(child));
        continue;
      }
      ++best.stats.states;
      best.stats.max_depth = std::max(best.stats.max_depth, depth);
      // The child's frame, popped again below if it is not to be expanded.
      SearchFrame& next = stack.push(std::move(child), depth);
      if (enabled_events(*next.state, o.bounds, next.events) == 0) {
        ++best.stats.end_states;
        if (auto fnd = judge_at_rest(next.state->world)) {
          if (depth < best_length) record(std::move(*fnd), true);
          spares.give_back(std::move(next.state));
          stack.pop();
          continue;
        }
      }
      if (seen.size() >= o.bounds.max_states || best.stats.transitions >= transitions_max) {
        cut_short = true;
        break;
      }
      // A state per frame on the stack, the spares, and the table, which may double.
      if (!budget.allows(2 * seen.bytes(), stack.size() + spares.size() + 1, best.stats)) {
        cut_short = best.memory_limit = true;
        break;
      }
      // A finding through the child needs at least one more event.
      if (depth + 1 >= best_length || depth >= bound) {
        bound_reached = bound_reached || depth >= bound;
        spares.give_back(std::move(next.state));
        stack.pop();
      }
    }
    best.stats.visited_bytes = std::max(best.stats.visited_bytes, seen.bytes());
    best.shortest = best.finding && !cut_short;
    // A pass that never reached its bound explored everything there is.
    if (cut_short || best.finding || !bound_reached || bound >= depth_max) break;
  }
  best.stats.seconds = progress.seconds();
  return best;
}

// Whether World::apply can take `ev` now: internal events must be among
// those listed, external ones must name tracks and disks that exist. (The
// World trusts its caller; a trace file is not to be trusted.)
bool applicable(const World& w, const WorldEvent& ev) {
  switch (ev.kind) {
    case Kind::Deliver:
    case Kind::CompleteDisk:
    case Kind::FireTimer:
    case Kind::Notify: {
      const auto evs = w.internal_events();
      return std::any_of(evs.begin(), evs.end(), [&](const WorldEvent& e) {
        return e.kind == ev.kind && e.side == ev.side && e.index == ev.index;
      });
    }
    case Kind::HostWrite:
    case Kind::HostRead: return w.controller(ev.side).tracks().contains(ev.key);
    case Kind::DiskFailure:
    case Kind::DiskRepair: return ev.index < w.controller(ev.side).config().disks;
    default: return true;
  }
}

}  // namespace

Result explore(const Options& o) {
  // First a shallow search, within a small budget: mistakes that show
  // within a few events are found at once, with a shortest trace, however
  // large the state space a depth-first search could lose itself in first.
  const uint64_t shallow_budget = std::max<uint64_t>(10'000, o.bounds.max_states / 50);
  Bounded shallow = bounded_search(o, 4, o.bounds.max_depth, shallow_budget);
  auto adopt = [&](Result& r, Bounded& b) {
    r.finding = std::move(b.finding);
    r.counterexample = make_counterexample(o, std::move(b.events), b.rest);
    r.counterexample->shortest = b.shortest;
  };
  if (shallow.memory_limit && !shallow.finding) {
    // Even the shallow search does not fit: neither would the others.
    Result r;
    r.outcome = Result::Outcome::MemoryLimit;
    r.stats = shallow.stats;
    r.shallow_stats = shallow.stats;
    return r;
  }
  if (shallow.finding) {
    Result r;
    r.outcome = Result::Outcome::Violation;
    r.stats = shallow.stats;
    adopt(r, shallow);
    return r;
  }
  // Then every state, once.
  Result r = depth_first(o);
  r.shallow_stats = shallow.stats;
  if (r.outcome != Result::Outcome::Violation || !o.shortest_counterexample) return r;
  // The shallow search ruled out findings within the depth it completed;
  // the shortest lies between there and the depth-first trace's length.
  const auto dfs_length = static_cast<uint32_t>(r.counterexample->events.size());
  Bounded s = bounded_search(o, std::max<uint32_t>(shallow.stats.max_depth, 4), dfs_length, 8 * o.bounds.max_states);
  r.shortest_stats = s.stats;
  if (s.finding && s.events.size() <= dfs_length) adopt(r, s);
  return r;
}

uint64_t state_bytes(const WorldConfig& world) {
  // The world's own containers (links, requests, disk I/O in flight) at a
  // generous constant; the rest per track, slot and disk.
  uint64_t bytes = sizeof(State) + 4096;
  uint64_t observed_tracks = 0;
  for (const ControllerConfig* c : {&world.side_a, &world.side_b}) {
    uint64_t tracks = 0;
    for (const VolumeConfig& v : c->volumes) tracks += v.tracks;
    observed_tracks = std::max(observed_tracks, tracks);
    bytes += sizeof(Controller) + tracks * (sizeof(TrackEntry) + sizeof(uint32_t) + sizeof(std::pair<TrackKey, Version>)) +
             uint64_t{c->cache_slots} * (sizeof(Slot) + sizeof(int32_t)) + uint64_t{c->disks} * 128;
  }
  return bytes + observed_tracks * Observer::bytes_per_track();
}

ReplayResult replay(const Counterexample& cx) {
  ReplayResult out;
  WorldConfig cfg = explorer_config(cx.world);
  // One observer step per event at most: keep them all for the narrative.
  cfg.trace_length = cx.events.size() + 1;
  World w(cfg);
  size_t steps_seen = 0;
  auto narrate_steps = [&](const World& world) {
    const auto lines = world.observer().recent_events();
    for (size_t i = steps_seen; i < lines.size(); ++i) {
      std::string line = lines[i];
      // Time is frozen in the checker: drop the constant timestamp.
      if (const auto colon = line.find("us "); line.rfind("t=", 0) == 0 && colon != std::string::npos)
        line.erase(0, colon + 3);
      out.narrative.push_back("     " + line);
    }
    steps_seen = lines.size();
  };
  for (size_t i = 0; i < cx.events.size(); ++i) {
    const WorldEvent& ev = cx.events[i];
    if (!applicable(w, ev))
      throw std::invalid_argument(fmt::format("event {} ({}) cannot happen at that point of the trace", i + 1,
                                              to_string(ev)));
    out.narrative.push_back(fmt::format("{:>3}. {}", i + 1, to_string(ev)));
    w.apply(ev);
    ++out.events_applied;
    narrate_steps(w);
    if (auto f = judge_step(w)) {
      out.finding = std::move(f);
      return out;
    }
  }
  if (cx.rest_at_end) {
    out.narrative.push_back(
        "  -- the pair is brought to rest: disks repaired, link up, controllers restarted, suspensions resumed, "
        "everything drained oldest first");
    out.finding = judge_at_rest(w);
  }
  return out;
}

}  // namespace mirrorsim::check
