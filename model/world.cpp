#include "model/world.hpp"

#include <algorithm>
#include <iterator>
#include <type_traits>

#include <fmt/format.h>


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
    case K::DiskFailure: return "disk-failure";
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
    case K::DiskFailure:
    case K::DiskRepair: return fmt::format("{} {} disk {}", kind_name(e.kind), to_string(e.side), e.index);
    case K::LinkDown:
    case K::LinkUp:
    case K::Disaster: return std::string(kind_name(e.kind));
    default: return fmt::format("{} {}", kind_name(e.kind), to_string(e.side));
  }
}

World::World(const WorldConfig& cfg) : cfg_(std::make_shared<const WorldConfig>(cfg)) {
  ctl_[0] = SharedController(Controller(Side::A, Role::Primary, cfg.side_a));
  ctl_[1] = SharedController(Controller(Side::B, Role::Secondary, cfg.side_b));
  observer_ = std::make_unique<Observer>(*ctl_[0], *ctl_[1], cfg.trace_length);
  const ControllerConfig* cc[2] = {&cfg.side_a, &cfg.side_b};
  for (int i = 0; i < 2; ++i) {
    env_[i].failed.assign(cc[i]->disks, false);
    links_[i].resize(std::max<uint32_t>(1, cfg.links));
  }
}

World::World(const World& o) : observer_(std::make_unique<Observer>(*o.observer_)) { copy_all_but_observer(o); }

World& World::operator=(const World& o) {
  if (this == &o) return *this;
  *observer_ = *o.observer_;  // into the buffers this world's observer already has
  copy_all_but_observer(o);
  return *this;
}

void World::copy_all_but_observer(const World& o) {
  // Assigned only when it differs (two atomic reference-count updates).
  if (cfg_ != o.cfg_) cfg_ = o.cfg_;
  for (int i = 0; i < 2; ++i) {
    ctl_[i] = o.ctl_[i];
    ctl_hash_[i] = o.ctl_hash_[i];
    env_[i] = o.env_[i];
    links_[i] = o.links_[i];
    next_link_[i] = o.next_link_[i];
  }
  link_up_ = o.link_up_;
  now_ = o.now_;
  next_req_ = o.next_req_;
  events_ = o.events_;
  host_ = o.host_;
  in_progress_ = o.in_progress_;
  acked_ = o.acked_;
  rejected_ = o.rejected_;
}

// Controllers given up by worlds, kept to be assigned over: a copy assigned
// into a controller that already owns queues, sets and slot vectors reuses
// them, where a copy-constructed one allocates every container afresh. Per
// thread, bounded; what is beyond the bound is freed.
class World::ControllerPool {
 public:
  using Block = SharedController::Block;
  ~ControllerPool() {
    gone_ = true;  // worlds that outlive the pool (thread exit) free their controllers themselves
    for (Block* b : spare_) delete b;
  }
  Block* copy_of(const Controller& from) {
    if (spare_.empty()) return new Block{from};
    Block* b = spare_.back();
    spare_.pop_back();
    b->controller = from;
    b->refs = 1;
    return b;
  }
  static void give_back(Block* b) {
    if (gone_) {
      delete b;
      return;
    }
    ControllerPool& p = pool();
    if (p.spare_.size() < kSpareMax) p.spare_.push_back(b);
    else delete b;
  }
  static ControllerPool& pool() {
    thread_local ControllerPool p;
    return p;
  }

 private:
  static constexpr size_t kSpareMax = 256;
  static thread_local bool gone_;  // trivially destructible: readable after the pool is destroyed
  std::vector<Block*> spare_;
};
thread_local bool World::ControllerPool::gone_ = false;

World::SharedController::SharedController(Controller&& c) : p_(new Block{std::move(c)}) {}

void World::SharedController::release() {
  if (p_ && --p_->refs == 0) ControllerPool::give_back(p_);
  p_ = nullptr;
}

void World::SharedController::unshare() {
  Block* copy = ControllerPool::pool().copy_of(p_->controller);
  release();
  p_ = copy;
}

Controller& World::mutable_controller(Side s) {
  const int i = index_of(s);
  if (ctl_[i].shared()) {
    ctl_[i].unshare();
    observer_->rebind(*ctl_[0], *ctl_[1]);
  }
  ctl_hash_[i] = 0;
  return *ctl_[i];
}

bool World::disk_failed(Side s, uint32_t disk) const { return env_[index_of(s)].failed[disk]; }

size_t World::disk_writes_in_flight(Side s) const {
  const auto& ios = env_[index_of(s)].in_flight;
  return static_cast<size_t>(std::count_if(ios.begin(), ios.end(), [](const DiskIo& io) { return io.write; }));
}

Version World::disk_version(Side s, TrackKey k) const {
  const auto& written = env_[index_of(s)].disk;
  auto it = std::lower_bound(written.begin(), written.end(), k,
                             [](const auto& entry, TrackKey key) { return entry.first < key; });
  return it == written.end() || it->first != k ? 0 : it->second;
}

bool World::take_in_progress(RequestId r) {
  auto it = std::lower_bound(in_progress_.begin(), in_progress_.end(), r,
                             [](const auto& entry, RequestId id) { return entry.first < id; });
  if (it == in_progress_.end() || it->first != r) return false;
  in_progress_.erase(it);
  return true;
}

void World::record_rejection(RequestId r, RejectReason why) {
  auto it = std::lower_bound(rejected_.begin(), rejected_.end(), r,
                             [](const auto& entry, RequestId id) { return entry.first < id; });
  if (it != rejected_.end() && it->first == r) it->second = why;
  else rejected_.insert(it, {r, why});
}

void World::write_disk(int side, TrackKey k, Version v) {
  auto& written = env_[side].disk;
  auto it = std::lower_bound(written.begin(), written.end(), k,
                             [](const auto& entry, TrackKey key) { return entry.first < key; });
  if (it != written.end() && it->first == k) it->second = v;
  else written.insert(it, {k, v});
}

Side World::host_side() const { return mirrorsim::host_side(view_of(controller(Side::A)), view_of(controller(Side::B))); }

std::optional<RejectReason> World::reject_reason(RequestId r) const {
  auto it = std::lower_bound(rejected_.begin(), rejected_.end(), r,
                             [](const auto& entry, RequestId id) { return entry.first < id; });
  if (it == rejected_.end() || it->first != r) return std::nullopt;
  return it->second;
}

bool World::reachable_from(Side s) const { return link_up_ && !controller(peer_of(s)).crashed(); }

std::vector<WorldEvent> World::internal_events() const {
  std::vector<WorldEvent> evs;
  internal_events(evs);
  return evs;
}

void World::internal_events(std::vector<WorldEvent>& evs) const {
  using K = WorldEvent::Kind;
  for (Side s : {Side::A, Side::B}) {
    const int i = index_of(s);
    const bool up = !controller(s).crashed();
    if (up) {
      for (uint32_t l = 0; l < links_[i].size(); ++l)
        if (!links_[i][l].empty()) evs.push_back({K::Deliver, s, l, {}, false});
      for (uint32_t d = 0; d < env_[i].in_flight.size(); ++d) evs.push_back({K::CompleteDisk, s, d, {}, false});
      if (controller(s).next_deadline()) evs.push_back({K::FireTimer, s, 0, {}, false});
      if (env_[i].notice.owed(reachable_from(s))) evs.push_back({K::Notify, s, 0, {}, false});
    }
  }
}

void World::step(Side s, const Input& in) {
  scratch_.clear();
  Controller& c = mutable_controller(s);
  if (!cfg_->time_frozen) now_ += Time::from_us(1);
  c.step(now_, in, scratch_);
  if (cfg_->audit_every_step) c.audit();
  observer_->after_step(s, now_, in, scratch_);
  execute(s, scratch_);  // executing never steps a controller: the scratch stays intact
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
      if (take_in_progress(a->req)) {
        acked_.insert(std::upper_bound(acked_.begin(), acked_.end(), a->req), a->req);
        (a->write ? host_.writes_acked : host_.reads_acked)++;
      }
    } else if (const auto* r = std::get_if<RejectHost>(&cmd)) {
      if (take_in_progress(r->req)) {
        record_rejection(r->req, r->reason);
        (r->write ? host_.writes_rejected : host_.reads_rejected)++;
      }
    }
  }
}

void World::cut_link() {
  if (link_up_)
    for (auto& e : env_) e.notice.session_ended();
  link_up_ = false;
  for (auto& dir : links_)
    for (auto& q : dir) q.clear();  // a cut link loses what was on it
}

void World::crash(Side s, bool land_in_flight) {
  const int i = index_of(s);
  if (controller(s).crashed()) return;
  env_[index_of(peer_of(s))].notice.session_ended();
  if (land_in_flight)
    for (const DiskIo& io : env_[i].in_flight)
      if (io.write && !env_[i].failed[ctl_[i]->disk_of(io.key)]) write_disk(i, io.key, io.version);
  env_[i].in_flight.clear();
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
      q.erase(q.begin());
      step(ev.side, Received{std::move(m)});
      break;
    }
    case K::CompleteDisk: {
      DiskIo io = env_[i].in_flight[ev.index];
      env_[i].in_flight.erase(env_[i].in_flight.begin() + ev.index);
      const bool ok = !env_[i].failed[ctl_[i]->disk_of(io.key)];
      if (io.write) {
        if (ok) write_disk(i, io.key, io.version);
        step(ev.side, DiskWriteDone{io.key, io.version, ok});
      } else {
        step(ev.side, DiskReadDone{io.key, ok ? disk_version(ev.side, io.key) : 0, ok});
      }
      break;
    }
    case K::FireTimer: {
      const Time at = *controller(ev.side).next_deadline();
      if (!cfg_->time_frozen) now_ = std::max(now_, at);
      step(ev.side, Timeout{});
      break;
    }
    case K::Notify:
      step(ev.side, *env_[i].notice.next(reachable_from(ev.side)));
      break;
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
        env_[i].notice.restarted();
      }
      break;
    case K::DiskFailure:
      env_[i].failed[ev.index] = true;
      break;
    case K::DiskRepair:
      env_[i].failed[ev.index] = false;
      break;
    case K::Disaster: {
      const FailureAction act =
          failure_action(FailureEvent::Disaster, std::nullopt, view_of(controller(Side::A)), view_of(controller(Side::B)));
      cut_link();
      crash(*act.crash, false);
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
    record_rejection(r, RejectReason::Crashed);
    (write ? host_.writes_rejected : host_.reads_rejected)++;
    return r;
  }
  in_progress_.emplace_back(r, write);  // ids only grow: the order holds
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
  std::vector<WorldEvent> evs;
  for (uint64_t n = 0; n < max_events; ++n) {
    evs.clear();
    internal_events(evs);
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

namespace {
uint64_t key_bits(TrackKey k) { return (static_cast<uint64_t>(k.volume) << 32) | k.track; }

void add_message(StateFold& h, const Message& m) {
  h.add(m.index());
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        h.add(x.epoch);
        if constexpr (std::is_same_v<T, Establish>) {
          h.add(x.generation).add(x.wanted.size()).add(x.async_resume);
          for (TrackKey k : x.wanted) h.add(key_bits(k));
        } else if constexpr (std::is_same_v<T, EstablishAck>) {
          h.add(x.owed.size());
          for (TrackKey k : x.owed) h.add(key_bits(k));
          h.add(x.applied_cycles.size());
          for (uint64_t c : x.applied_cycles) h.add(c);
        } else if constexpr (std::is_same_v<T, WriteCommand> || std::is_same_v<T, TransferReady>) {
          h.add(key_bits(x.key)).add(x.version).add(x.bytes);
        } else if constexpr (std::is_same_v<T, CopyData>) {
          h.add(key_bits(x.key)).add(x.version).add(x.bytes).add(x.fetch);
        } else if constexpr (std::is_same_v<T, CopyAck>) {
          h.add(key_bits(x.key)).add(x.version);
        } else if constexpr (std::is_same_v<T, CycleData>) {
          h.add(x.group).add(x.cycle).add(key_bits(x.key)).add(x.version).add(x.bytes);
        } else if constexpr (std::is_same_v<T, CycleDataAck>) {
          h.add(x.group).add(x.cycle).add(key_bits(x.key));
        } else if constexpr (std::is_same_v<T, CycleEnd>) {
          h.add(x.group).add(x.cycle).add(x.entries).add(x.previous);
        } else if constexpr (std::is_same_v<T, CycleApplied>) {
          h.add(x.group).add(x.cycle);
        } else {
          static_assert(std::is_same_v<T, Takeover>);
          h.add(x.generation);
        }
      },
      m);
}
}  // namespace

uint64_t World::state_hash() const {
  StateFold h;
  for (int i = 0; i < 2; ++i) {
    if (ctl_hash_[i] == 0) ctl_hash_[i] = ctl_[i]->state_hash();
    h.add(ctl_hash_[i]);
  }
  h.add(observer_->state_hash()).add(link_up_);
  for (int i = 0; i < 2; ++i) {
    const SideEnv& e = env_[i];
    h.add(e.disk.size());
    for (const auto& [k, v] : e.disk) h.add(key_bits(k)).add(v);
    h.add(e.failed.size());
    for (size_t first = 0; first < e.failed.size(); first += 64) {  // 64 disks a word
      uint64_t failed_bits = 0;
      for (size_t d = first; d < std::min(first + 64, e.failed.size()); ++d)
        failed_bits |= static_cast<uint64_t>(e.failed[d] != 0) << (d - first);
      h.add(failed_bits);
    }
    // In-flight disk I/O completes in any order: hash it as a multiset, in
    // a canonical (sorted) order of its exact contents.
    struct Io {
      uint64_t key_and_kind;
      Version version;
      auto operator<=>(const Io&) const = default;
    };
    const size_t n_ios = e.in_flight.size();
    Io ios[16];
    std::vector<Io> more;
    Io* first = ios;
    if (n_ios > std::size(ios)) {
      more.resize(n_ios);
      first = more.data();
    }
    for (size_t n = 0; n < n_ios; ++n) {
      const DiskIo& io = e.in_flight[n];
      // key_bits keeps the volume below bit 48: bit 63 is free for the kind.
      first[n] = Io{key_bits(io.key) | (io.write ? uint64_t{1} << 63 : 0), io.version};
    }
    if (n_ios > 1) std::sort(first, first + n_ios);
    h.add(n_ios);
    for (size_t n = 0; n < n_ios; ++n) h.add(first[n].key_and_kind).add(first[n].version);
    // Whether a deadline is pending (the controller's own state holds it too).
    h.add((ctl_[i]->next_deadline().has_value() ? 1u : 0u) | (e.notice.bits() << 1));
    for (const auto& q : links_[i]) {
      h.add(q.size());
      for (const Message& m : q) add_message(h, m);
    }
    h.add(next_link_[i] % links_[i].size());
  }
  // Requests nobody will answer any more make a difference at the end.
  h.add(in_progress_.size());
  for (const auto& [id, write] : in_progress_) h.add(id).add(write);
  return h.value();
}

}  // namespace mirrorsim
