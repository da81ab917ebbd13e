#include "model/world.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "model/hash.hpp"

namespace mirrorsim {

namespace {
std::string_view kind_name(WorldEvent::Kind k) {
  using K = WorldEvent::Kind;
  switch (k) {
    case K::Deliver: return "deliver";
    case K::CompleteDisk: return "complete-disk-io";
    case K::FireTimer: return "fire-timer";
    case K::Notify: return "notify-reachability";
    case K::HostWrite: return "host-write";
    case K::HostRead: return "host-read";
    case K::LinkDown: return "link-down";
    case K::LinkUp: return "link-up";
    case K::Crash: return "crash";
    case K::Restart: return "restart";
    case K::DiskFail: return "disk-fail";
    case K::DiskRepair: return "disk-repair";
    case K::Disaster: return "disaster";
    case K::Suspend: return "suspend";
    case K::Resume: return "resume";
    case K::Failover: return "failover";
    case K::Failback: return "failback";
  }
  return "?";
}
}  // namespace

std::string to_string(const WorldEvent& e) {
  using K = WorldEvent::Kind;
  switch (e.kind) {
    case K::Deliver: return fmt::format("deliver to {} on link {}", to_string(e.side), e.index);
    case K::CompleteDisk: return fmt::format("complete disk I/O #{} on {}", e.index, to_string(e.side));
    case K::HostWrite:
    case K::HostRead: return fmt::format("{} track {} at {}", kind_name(e.kind), to_string(e.key), to_string(e.side));
    case K::Crash: return fmt::format("crash {}{}", to_string(e.side), e.flag ? " (in-flight disk writes land)" : "");
    case K::DiskFail:
    case K::DiskRepair: return fmt::format("{} {} disk {}", kind_name(e.kind), to_string(e.side), e.index);
    case K::LinkDown:
    case K::LinkUp:
    case K::Disaster: return std::string(kind_name(e.kind));
    default: return fmt::format("{} {}", kind_name(e.kind), to_string(e.side));
  }
}

World::World(const WorldConfig& cfg) : cfg_(cfg) {
  ctl_[0] = std::make_unique<Controller>(Side::A, Role::Primary, cfg.side_a);
  ctl_[1] = std::make_unique<Controller>(Side::B, Role::Secondary, cfg.side_b);
  observer_ = std::make_unique<Observer>(*ctl_[0], *ctl_[1], cfg.trace_length);
  const ControllerConfig* cc[2] = {&cfg.side_a, &cfg.side_b};
  for (int i = 0; i < 2; ++i) {
    env_[i].disk.resize(cc[i]->volumes.size());
    env_[i].failed.assign(cc[i]->disks, false);
    links_[i].resize(std::max<uint32_t>(1, cfg.links));
  }
}

World::World(const World& o)
    : cfg_(o.cfg_),
      link_up_(o.link_up_),
      now_(o.now_),
      next_req_(o.next_req_),
      events_(o.events_),
      host_(o.host_),
      in_progress_(o.in_progress_),
      acked_(o.acked_),
      rejected_(o.rejected_) {
  ctl_[0] = std::make_unique<Controller>(*o.ctl_[0]);
  ctl_[1] = std::make_unique<Controller>(*o.ctl_[1]);
  observer_ = std::make_unique<Observer>(*o.observer_);
  observer_->rebind(*ctl_[0], *ctl_[1]);
  for (int i = 0; i < 2; ++i) {
    env_[i] = o.env_[i];
    links_[i] = o.links_[i];
    next_link_[i] = o.next_link_[i];
  }
}

bool World::disk_failed(Side s, uint32_t disk) const { return env_[index_of(s)].failed[disk]; }

Version World::disk_version(Side s, TrackKey k) const {
  const auto& m = env_[index_of(s)].disk[k.volume];
  auto it = m.find(k.track);
  return it == m.end() ? 0 : it->second;
}

Side World::host_side() const {
  // Hosts follow the primary personality; with two primaries (a takeover
  // under way) they stay with a live one, newest generation first.
  auto serving = [&](Side s) { return controller(s).role() == Role::Primary && !controller(s).crashed(); };
  const bool a = serving(Side::A), b = serving(Side::B);
  if (a && b) return controller(Side::B).generation() > controller(Side::A).generation() ? Side::B : Side::A;
  if (b) return Side::B;
  if (a) return Side::A;
  return controller(Side::B).role() == Role::Primary && controller(Side::A).role() != Role::Primary ? Side::B : Side::A;
}

std::optional<RejectReason> World::reject_reason(RequestId r) const {
  auto it = rejected_.find(r);
  if (it == rejected_.end()) return std::nullopt;
  return it->second;
}

bool World::reachable_from(Side s) const { return link_up_ && !controller(peer_of(s)).crashed(); }

std::vector<WorldEvent> World::internal_events() const {
  using K = WorldEvent::Kind;
  std::vector<WorldEvent> evs;
  for (Side s : {Side::A, Side::B}) {
    const int i = index_of(s);
    const bool up = !controller(s).crashed();
    if (up) {
      for (uint32_t l = 0; l < links_[i].size(); ++l)
        if (!links_[i][l].empty()) evs.push_back({K::Deliver, s, l, {}, false});
      for (uint32_t d = 0; d < env_[i].in_flight.size(); ++d) evs.push_back({K::CompleteDisk, s, d, {}, false});
      if (env_[i].timer) evs.push_back({K::FireTimer, s, 0, {}, false});
      if (env_[i].connection_broken || env_[i].notified_up != reachable_from(s))
        evs.push_back({K::Notify, s, 0, {}, false});
    }
  }
  return evs;
}

void World::step(Side s, const Input& in) {
  scratch_.clear();
  Controller& c = *ctl_[index_of(s)];
  now_ += Time::from_us(1);
  c.step(now_, in, scratch_);
  observer_->after_step(s, now_, in, scratch_);
  Commands out;
  out.swap(scratch_);
  execute(s, out);
}

void World::execute(Side s, const Commands& out) {
  const int i = index_of(s);
  for (const Command& cmd : out) {
    if (const auto* w = std::get_if<DiskWrite>(&cmd)) {
      env_[i].in_flight.push_back({true, w->key, w->version});
    } else if (const auto* r = std::get_if<DiskRead>(&cmd)) {
      env_[i].in_flight.push_back({false, r->key, 0});
    } else if (const auto* snd = std::get_if<Send>(&cmd)) {
      const int to = index_of(peer_of(s));
      if (!link_up_ || controller(peer_of(s)).crashed()) continue;  // lost on a cut link or at a dead peer
      const uint32_t l = next_link_[to]++ % links_[to].size();
      links_[to][l].push_back(snd->msg);
    } else if (const auto* a = std::get_if<AckHost>(&cmd)) {
      if (in_progress_.erase(a->req)) {
        acked_[a->req] = true;
        (a->write ? host_.writes_acked : host_.reads_acked)++;
      }
    } else if (const auto* r = std::get_if<RejectHost>(&cmd)) {
      if (in_progress_.erase(r->req)) {
        rejected_[r->req] = r->reason;
        (r->write ? host_.writes_rejected : host_.reads_rejected)++;
      }
    } else if (const auto* t = std::get_if<ArmTimer>(&cmd)) {
      env_[i].timer = *t;
    }
  }
}

void World::cut_link() {
  if (link_up_)
    for (auto& e : env_) e.connection_broken = true;
  link_up_ = false;
  for (auto& dir : links_)
    for (auto& q : dir) q.clear();  // a cut link loses what was on it
}

void World::crash(Side s, bool land_in_flight) {
  const int i = index_of(s);
  if (controller(s).crashed()) return;
  env_[index_of(peer_of(s))].connection_broken = true;
  if (land_in_flight)
    for (const DiskIo& io : env_[i].in_flight)
      if (io.write && !env_[i].failed[ctl_[i]->disk_of(io.key)]) env_[i].disk[io.key.volume][io.key.track] = io.version;
  env_[i].in_flight.clear();
  env_[i].timer.reset();
  for (auto& q : links_[i]) q.clear();  // messages to a dead controller are lost
  step(s, Crash{});
}

void World::apply(const WorldEvent& ev) {
  using K = WorldEvent::Kind;
  ++events_;
  const int i = index_of(ev.side);
  switch (ev.kind) {
    case K::Deliver: {
      auto& q = links_[i][ev.index];
      Message m = std::move(q.front());
      q.pop_front();
      step(ev.side, Received{std::move(m)});
      break;
    }
    case K::CompleteDisk: {
      DiskIo io = env_[i].in_flight[ev.index];
      env_[i].in_flight.erase(env_[i].in_flight.begin() + ev.index);
      const bool ok = !env_[i].failed[ctl_[i]->disk_of(io.key)];
      if (io.write) {
        if (ok) env_[i].disk[io.key.volume][io.key.track] = io.version;
        step(ev.side, DiskWriteDone{io.key, io.version, ok});
      } else {
        step(ev.side, DiskReadDone{io.key, ok ? disk_version(ev.side, io.key) : 0, ok});
      }
      break;
    }
    case K::FireTimer: {
      const ArmTimer t = *env_[i].timer;
      env_[i].timer.reset();
      now_ = std::max(now_, t.at);
      step(ev.side, TimerFired{t.id});
      break;
    }
    case K::Notify: {
      // A connection that broke is reported as down even if a new one could
      // already be opened: the controller must see every session end.
      if (env_[i].connection_broken && env_[i].notified_up) {
        env_[i].connection_broken = false;
        env_[i].notified_up = false;
      } else {
        env_[i].connection_broken = false;
        env_[i].notified_up = reachable_from(ev.side);
      }
      step(ev.side, LinkStateChanged{env_[i].notified_up});
      break;
    }
    case K::HostWrite:
      host_io(ev.side, true, ev.key, 4096);
      break;
    case K::HostRead:
      host_io(ev.side, false, ev.key, 4096);
      break;
    case K::LinkDown:
      cut_link();
      break;
    case K::LinkUp:
      link_up_ = true;
      break;
    case K::Crash:
      crash(ev.side, ev.flag);
      break;
    case K::Restart:
      if (controller(ev.side).crashed()) {
        step(ev.side, Restart{});
        env_[i].notified_up = false;  // a restarted controller has heard nothing yet
        env_[i].connection_broken = false;
      }
      break;
    case K::DiskFail:
      env_[i].failed[ev.index] = true;
      break;
    case K::DiskRepair:
      env_[i].failed[ev.index] = false;
      break;
    case K::Disaster: {
      const Side p = host_side();
      cut_link();
      crash(p, false);
      break;
    }
    case K::Suspend: step(ev.side, Suspend{}); break;
    case K::Resume: step(ev.side, Resume{}); break;
    case K::Failover: step(ev.side, Failover{}); break;
    case K::Failback: step(ev.side, Failback{}); break;
  }
}

RequestId World::host_io(Side s, bool write, TrackKey k, uint32_t bytes) {
  const RequestId r = next_req_++;
  (write ? host_.writes_issued : host_.reads_issued)++;
  if (controller(s).crashed()) {
    // Nobody answers at a dead controller: the host's I/O times out.
    rejected_[r] = RejectReason::Crashed;
    (write ? host_.writes_rejected : host_.reads_rejected)++;
    return r;
  }
  in_progress_[r] = write;
  if (write) step(s, HostWrite{r, k, bytes});
  else step(s, HostRead{r, k, bytes});
  return r;
}

RequestId World::write(TrackKey k, uint32_t bytes) {
  ++events_;
  return host_io(host_side(), true, k, bytes);
}

RequestId World::read(TrackKey k, uint32_t bytes) {
  ++events_;
  return host_io(host_side(), false, k, bytes);
}

bool World::quiesce(uint64_t max_events) {
  using K = WorldEvent::Kind;
  for (Side s : {Side::A, Side::B})
    for (uint32_t d = 0; d < env_[index_of(s)].failed.size(); ++d) env_[index_of(s)].failed[d] = false;
  if (!link_up_) apply({K::LinkUp, Side::A, 0, {}, false});
  for (Side s : {Side::A, Side::B})
    if (controller(s).crashed()) apply({K::Restart, s, 0, {}, false});
  for (Side s : {Side::A, Side::B})
    if (controller(s).operator_suspended()) apply({K::Resume, s, 0, {}, false});
  for (uint64_t n = 0; n < max_events; ++n) {
    auto evs = internal_events();
    if (evs.empty()) return true;
    // Oldest work first: deliveries and completions before timers.
    apply(evs.front());
  }
  return false;
}

uint64_t World::check_quiesced() {
  const uint64_t before = observer_->violation_count();
  observer_->check_quiesced(now_);
  uint64_t findings = observer_->violation_count() - before;
  const Controller& a = controller(Side::A);
  for (VolumeId v = 0; v < a.tracks().volume_count(); ++v)
    for (TrackNo t = 0; t < a.tracks().tracks(v); ++t) {
      const TrackKey k{v, t};
      if (disk_version(Side::A, k) != disk_version(Side::B, k)) ++findings;
      if (disk_version(Side::A, k) != controller(Side::A).content_version(k)) ++findings;
    }
  return findings;
}

uint64_t World::state_hash() const {
  Hasher h;
  h.add(ctl_[0]->state_hash()).add(ctl_[1]->state_hash()).add(link_up_);
  for (int i = 0; i < 2; ++i) {
    const SideEnv& e = env_[i];
    for (const auto& vol : e.disk) {
      h.add(vol.size());
      for (const auto& [t, v] : vol) h.add(t).add(v);
    }
    for (bool f : e.failed) h.add(f);
    // In-flight disk I/O completes in any order: hash it as a multiset.
    std::vector<uint64_t> ios;
    for (const DiskIo& io : e.in_flight)
      ios.push_back(Hasher().add(io.write).add(io.key.volume).add(io.key.track).add(io.version).value());
    std::sort(ios.begin(), ios.end());
    h.add(ios.size());
    for (uint64_t x : ios) h.add(x);
    h.add(e.timer.has_value());
    if (e.timer) h.add(e.timer->id);
    h.add(e.notified_up).add(e.connection_broken);
    for (const auto& q : links_[i]) {
      h.add(q.size());
      for (const Message& m : q) h.add(Hasher().add(m.index()).value()).add(std::hash<std::string>{}(to_string(m)));
    }
    h.add(next_link_[i] % links_[i].size());
  }
  return h.value();
}

}  // namespace mirrorsim
