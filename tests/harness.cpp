#include "tests/harness.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace mirrorsim::test {

WorldConfig make_config(const PairOptions& o) {
  ControllerConfig c;
  c.cache_slots = o.cache_slots;
  c.write_pending_limit = o.write_pending_limit;
  c.track_bytes = 65536;
  c.disks = o.disks;
  c.cache_nonvolatile = o.cache_nonvolatile;
  c.round_trips_per_write = o.round_trips;
  c.copies_in_flight_max = 8;
  c.destages_per_disk_max = 4;
  c.disk_retry_interval = Time::from_us(50);
  c.mutant = o.mutant;
  for (uint32_t v = 0; v < o.volumes; ++v)
    c.volumes.push_back(VolumeConfig{fmt::format("vol{}", v), o.tracks, o.mode, o.skew_tracks, o.domino});
  WorldConfig w;
  w.side_a = c;
  w.side_b = c;
  w.links = o.links;
  return w;
}

bool apply_first(World& w, const std::function<bool(const WorldEvent&)>& pred) {
  for (const WorldEvent& e : w.internal_events())
    if (pred(e)) {
      w.apply(e);
      return true;
    }
  return false;
}

int deliver_all(World& w, Side to) {
  int n = 0;
  while (apply_first(w, [&](const WorldEvent& e) { return e.kind == Kind::Deliver && e.side == to; })) ++n;
  return n;
}

int complete_disks(World& w, Side s) {
  int n = 0;
  while (apply_first(w, [&](const WorldEvent& e) { return e.kind == Kind::CompleteDisk && e.side == s; })) ++n;
  return n;
}

uint64_t drain(World& w, uint64_t max_events) {
  uint64_t n = 0;
  while (n < max_events) {
    auto evs = w.internal_events();
    if (evs.empty()) break;
    w.apply(evs.front());
    ++n;
  }
  return n;
}

size_t queued(const World& w, Side to) {
  size_t n = 0;
  for (const WorldEvent& e : w.internal_events())
    if (e.kind == Kind::Deliver && e.side == to) ++n;
  return n;
}

RandomRunResult random_run(const PairOptions& o, uint64_t seed, const RandomRunOptions& r) {
  World w(make_config(o));
  std::mt19937_64 rng(seed);
  auto pick = [&](uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng); };
  RandomRunResult res;
  res.seed = seed;
  uint32_t writes = 0, reads = 0, failures = 0;
  bool disaster_done = false;

  auto random_key = [&]() {
    return TrackKey{static_cast<VolumeId>(pick(o.volumes)), static_cast<TrackNo>(pick(o.tracks))};
  };
  auto random_failure = [&]() -> std::optional<WorldEvent> {
    std::vector<WorldEvent> options;
    const Controller& a = w.controller(Side::A);
    const Controller& b = w.controller(Side::B);
    options.push_back({w.link_up() ? Kind::LinkDown : Kind::LinkUp, Side::A, 0, {}, false});
    for (Side s : {Side::A, Side::B}) {
      const Controller& c = w.controller(s);
      if (c.crashed()) {
        options.push_back({Kind::Restart, s, 0, {}, false});
      } else {
        options.push_back({Kind::Crash, s, 0, {}, pick(2) == 1});
        if (c.role() == Role::Primary) {
          options.push_back({c.operator_suspended() ? Kind::Resume : Kind::Suspend, s, 0, {}, false});
          if (!c.handing_over() && pick(3) == 0) options.push_back({Kind::Failback, s, 0, {}, false});
        } else if (pick(3) == 0) {
          options.push_back({Kind::Failover, s, 0, {}, false});  // a planned or unplanned takeover
        }
      }
      if (r.allow_disk_errors) {
        const uint32_t d = static_cast<uint32_t>(pick(o.disks));
        options.push_back({w.disk_failed(s, d) ? Kind::DiskRepair : Kind::DiskFailure, s, d, {}, false});
      }
    }
    if (r.allow_disaster && !disaster_done && !a.crashed() && !b.crashed()) options.push_back({Kind::Disaster});
    return options[pick(options.size())];
  };

  while (res.events < r.max_events) {
    if (failures >= r.failures) {
      // The failure budget is spent: failed disks get replaced so the run can settle.
      for (Side s : {Side::A, Side::B})
        for (uint32_t d = 0; d < o.disks; ++d)
          if (w.disk_failed(s, d)) w.apply({Kind::DiskRepair, s, d, {}, false});
    }
    const auto internal = w.internal_events();
    const uint64_t roll = pick(100);
    if (writes < r.writes && roll < 25) {
      w.apply({Kind::HostWrite, w.host_side(), 0, random_key(), false});
      ++writes;
    } else if (reads < r.reads && roll < 30) {
      w.apply({Kind::HostRead, w.host_side(), 0, random_key(), false});
      ++reads;
    } else if (failures < r.failures && roll < 36) {
      auto f = random_failure();
      if (f) {
        if (f->kind == Kind::Disaster) {
          disaster_done = true;
          w.apply(*f);
          // The operator moves the workload to the secondary site.
          const Side survivor = w.controller(Side::A).crashed() ? Side::B : Side::A;
          res.failures_injected.push_back("disaster");
          w.apply({Kind::Failover, survivor, 0, {}, false});
          res.failures_injected.push_back(fmt::format("failover {}", to_string(survivor)));
        } else {
          res.failures_injected.push_back(to_string(*f));
          w.apply(*f);
        }
      }
      ++failures;
    } else if (!internal.empty()) {
      w.apply(internal[pick(internal.size())]);  // any order the links and disks allow
    } else if (writes >= r.writes && reads >= r.reads) {
      break;
    }
    ++res.events;
  }
  res.quiesced = w.quiesce();
  res.quiesce_findings = w.check_quiesced();
  res.violations = w.observer().violation_count();
  res.hung_requests = w.requests_in_progress();
  res.hung = w.pending_requests();
  res.writes_acked = w.host_stats().writes_acked;
  res.writes_lost = w.observer().writes_lost();
  if (res.violations) res.report = w.observer().report();
  if (res.hung_requests) {
    res.report += fmt::format("requests never answered: {}\nlast events:\n", fmt::join(res.hung, ", "));
    for (const auto& line : w.observer().recent_events()) res.report += "  " + line + "\n";
  }
  res.events = w.events_applied();
  return res;
}

}  // namespace mirrorsim::test
