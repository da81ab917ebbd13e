// The SimGrid driver. Model commands become SimGrid activities, their
// completions become model inputs:
//
//   Send       a detached comm on one of the remote links, to a receiver
//              actor on the peer's side that steps the peer. Each link
//              direction transmits one message at a time (FIFO, like one
//              TCP connection or FC exchange); the comm gets the rate that
//              makes it arrive when that transmission ends plus the latency
//              SimGrid adds, so queueing on a link is M/D/1, not shared.
//   DiskWrite  a FIFO server per disk (latency + bytes/bandwidth, one I/O at
//   DiskRead   a time); the completion is an event on the controller's
//              scheduler actor, which steps the controller with it
//   ArmTimer   an event on the controller's scheduler actor
//
// Every actor that steps a controller runs on a host of that controller's
// side, so the comms the step starts leave from that side: routes exist from
// every host of a side to the peer's link ports. (Disks are not SimGrid
// comms: a timer wake-up costs about a quarter of a comm here, and a disk
// shares nothing with the network model.)
//
// Fixed service times cost no activity: a host request reaches the model
// one cache_store_us after it was issued (the scheduler applies it then),
// and the secondary's cache store is charged on the route its responses take
// (a processing link with that latency), so an unloaded synchronous write
// costs exactly cache store + round trips + transfers + the secondary's store.
#include "sim/simulation.hpp"

#include <simgrid/Exception.hpp>
#include <simgrid/s4u.hpp>
#include <simgrid/version.h>
#include <xbt/log.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <random>
#include <unordered_map>

#include <fmt/format.h>

#include "config/scenario_json.hpp"
#include "model/controller.hpp"
#include "model/invariants.hpp"
#include "report/trace.hpp"

#ifndef MIRRORSIM_VERSION
#define MIRRORSIM_VERSION "0.0.0"
#endif

namespace mirrorsim {

std::string simgrid_version() { return fmt::format("{}.{}", SIMGRID_VERSION_MAJOR, SIMGRID_VERSION_MINOR); }

namespace {

namespace sg = simgrid::s4u;

constexpr double kDrainMaxS = 600;  // simulated seconds allowed after duration_s for the pair to drain

struct Envelope {
  Message msg;
};

struct DiskRequest {
  bool write = true;
  TrackKey key;
  Version version = 0;
  uint32_t bytes = 0;
  uint64_t incarnation = 0;
  uint32_t disk = 0;
  Time issued;
};

struct Request {
  uint32_t workload = 0;
  bool write = true;
  uint32_t bytes = 0;
  TrackKey key;
  Time issued;  // when the host sent it (before the cache store)
  bool measured = false;
  std::optional<Time> delayed_since;
  int64_t traced = -1;  // row in the trace, when traced
};

struct Event {
  Time at;
  uint64_t seq = 0;
  std::function<void()> fn;
  bool operator>(const Event& o) const { return at != o.at ? at > o.at : seq > o.seq; }
};

// Responses carry the responder's cache-store time on their route.
bool is_response(const Message& m) {
  if (std::holds_alternative<CopyAck>(m) || std::holds_alternative<TransferReady>(m) ||
      std::holds_alternative<EstablishAck>(m))
    return true;
  if (const auto* c = std::get_if<CopyData>(&m)) return c->fetch;
  return false;
}

Time now_time() { return Time::from_s(sg::Engine::get_clock()); }

class Simulation {
 public:
  Simulation(const Scenario& sc, const SimOptions& opt)
      : sc_(sc), opt_(opt), tracing_(opt.trace && opt.trace_writes > 0) {}
  RunResult run();

 private:
  struct SideState {
    Side side = Side::A;
    const ControllerScenario* cfg = nullptr;
    std::unique_ptr<Controller> ctl;
    Time cache_store;
    sg::Host* host = nullptr;
    std::vector<sg::Host*> hosts;  // every host of this side (controller, ports, disks)
    std::vector<sg::Mailbox*> port_mb, resp_mb;
    std::vector<Time> disk_latency;
    std::vector<double> disk_bandwidth_bytes_per_s;
    std::vector<Time> disk_free;  // when each disk finishes the I/O it is serving
    std::vector<std::vector<Version>> disk_content;  // per volume, per track
    std::vector<bool> disk_failed;
    std::vector<double> disk_busy_s;  // service time of I/Os issued in the measured window
    uint64_t incarnation = 0;
    bool notified_up = true;
    bool broken = false;  // the session it knows of ended; it has not heard yet
    uint32_t next_link = 0;
    double transmit_busy_measured_s = 0;  // links busy sending this side's messages
    double transmit_busy_interval_s = 0;
    // scheduler
    std::priority_queue<Event, std::vector<Event>, std::greater<>> queue;
    sg::SemaphorePtr wake;
    double waiting_until_s = -1;  // ≥ 0 while the scheduler sleeps until then
  };

  struct WorkloadState {
    const WorkloadScenario* cfg = nullptr;
    uint32_t index = 0;
    std::mt19937_64 rng;
    std::vector<double> zipf_cdf;
    TrackNo next_sequential = 0;
    Time stop;
    uint64_t issued = 0;
    uint64_t outstanding = 0;
    bool stopped = false;
  };

  SideState& side(Side s) { return sides_[index_of(s)]; }
  SideState& peer(const SideState& s) { return sides_[index_of(peer_of(s.side))]; }

  void build_platform();
  void start_actors();
  void receiver_loop(SideState& s, sg::Mailbox* mb, uint32_t link);
  void disk_done(SideState& s, const DiskRequest& r);
  void scheduler_loop(SideState& s);
  void schedule(SideState& s, Time at, std::function<void()> fn);

  void step(SideState& s, const Input& in);
  void execute(SideState& s, const Commands& out);
  void send(SideState& s, const Send& snd);
  void disk_io(SideState& s, DiskRequest r);
  void complete_request(RequestId req, bool acked, Time now);
  void track_pair_state(SideState& s, Time now);

  Side host_side() const;
  bool any_link_up() const;
  void break_session(Time detect_at);
  void notify(SideState& s);

  void start_workload(WorkloadState& w);
  void issue(WorkloadState& w, Time arrival);
  void apply_request(WorkloadState& w, Time arrival, Side target);
  TrackNo pick_track(WorkloadState& w);

  void schedule_failures();
  void apply_failure(const FailureScenario& f);
  void crash(SideState& s);
  void set_links(const FailureScenario& f, bool up);

  void sample();
  bool workloads_done() const;
  bool pair_quiet() const;
  void finish(std::string end_state);
  RunResult collect();

  const Scenario& sc_;
  const SimOptions& opt_;
  std::unique_ptr<sg::Engine> engine_;
  SideState sides_[2];
  struct LinkDirection {
    sg::Link* link = nullptr;
    double bandwidth_bytes_per_s = 0;
    Time transmit_free;  // when the message being transmitted has left
  };
  // Per remote link: [0] towards R2 (side B), [1] towards R1 (side A).
  std::vector<std::array<LinkDirection, 2>> links_;
  std::vector<double> link_base_latency_s_;
  std::vector<bool> link_up_;
  double link_bandwidth_bytes_per_s_ = 0;
  std::unique_ptr<Observer> observer_;
  std::vector<WorkloadState> workloads_;
  std::unordered_map<RequestId, Request> requests_;
  RequestId next_req_ = 1;
  uint64_t next_event_seq_ = 0;
  std::vector<Commands> spare_commands_;  // cleared buffers, kept for their capacity
  bool finished_ = false;
  bool deadlocked_ = false;
  Time warmup_, duration_;

  // metrics
  RunResult result_;
  std::vector<VolumeResult> volumes_;
  uint64_t activities_ = 0;
  uint64_t host_writes_ = 0;
  uint64_t interval_writes_ = 0;
  double interval_write_response_ns_ = 0;
  std::map<Side, PairState> pair_state_seen_;
  // cache occupancy of the primary (Little's law: mean WP slots = episodes/s × residence)
  Time occupancy_last_;
  uint32_t occupancy_wp_slots_ = 0;
  double occupancy_slot_s_ = 0;
  bool in_sync_ = true;     // the primary owes the secondary nothing
  double in_sync_s_ = 0;
  std::unordered_map<uint64_t, Time> wp_since_;  // tracks holding WP data, since when
  uint64_t wp_episodes_ = 0;
  double wp_residence_s_ = 0;
  TraceRecorder trace_;
  uint64_t traced_writes_ = 0;
  std::map<std::tuple<int, TrackKey, Version>, Time> trace_pending_;  // phase starts by (side, track, version)
  std::map<std::pair<TrackKey, Version>, int64_t> trace_rows_;         // traced writes by track and version
  std::optional<std::pair<TrackKey, int64_t>> trace_applying_;          // the traced write being stepped in
  bool tracing_ = false;
  std::chrono::steady_clock::time_point wall_start_, last_progress_;
  bool progress_shown_ = false;
};

// ---------------------------------------------------------------------------
// platform and actors

void Simulation::build_platform() {
  auto* zone = sg::create_full_zone("pair");
  const LinkScenario& L = sc_.link;
  link_bandwidth_bytes_per_s_ = L.bandwidth_gbit_per_s * 1e9 / 8.0;
  const double latency_s = L.one_way_latency_us() * 1e-6;
  for (int i = 0; i < 2; ++i) {
    SideState& s = sides_[i];
    const std::string tag = i == 0 ? "r1" : "r2";
    s.host = zone->create_host(tag, 1e9);
    s.hosts.push_back(s.host);
    for (uint32_t l = 0; l < L.links; ++l) {
      s.hosts.push_back(zone->create_host(fmt::format("{}-port{}", tag, l), 1e9));
      s.hosts.push_back(zone->create_host(fmt::format("{}-responses{}", tag, l), 1e9));
    }
  }
  // The SimGrid links carry latency and fail; bandwidth is enforced per
  // message by the FIFO transmitter (see send()).
  constexpr double kUnlimited = 1e15;
  for (uint32_t l = 0; l < L.links; ++l) {
    std::array<LinkDirection, 2> dirs;
    // FATPIPE: flows do not share the link (each has its own rate), which
    // also keeps SimGrid's max-min solver out of the way.
    dirs[0].link = zone->create_link(fmt::format("link{}-r1-to-r2", l), kUnlimited)->set_latency(latency_s)->set_sharing_policy(sg::Link::SharingPolicy::FATPIPE);
    dirs[1].link = zone->create_link(fmt::format("link{}-r2-to-r1", l), kUnlimited)->set_latency(latency_s)->set_sharing_policy(sg::Link::SharingPolicy::FATPIPE);
    dirs[0].bandwidth_bytes_per_s = dirs[1].bandwidth_bytes_per_s = link_bandwidth_bytes_per_s_;
    links_.push_back(dirs);
    link_base_latency_s_.push_back(latency_s);
    link_up_.push_back(true);
  }
  // Per side: the processing link its responses cross, and one bus per disk.
  for (int i = 0; i < 2; ++i) {
    SideState& s = sides_[i];
    SideState& p = sides_[1 - i];
    const std::string tag = i == 0 ? "r1" : "r2";
    auto* processing = zone->create_link(tag + "-cache-store", kUnlimited)
                           ->set_latency(s.cache_store.s())
                           ->set_sharing_policy(sg::Link::SharingPolicy::FATPIPE);
    (void)p;
    for (uint32_t d = 0; d < s.cfg->disks; ++d) {
      s.disk_latency.push_back(Time::from_us(s.cfg->disk_latency_us));
      s.disk_bandwidth_bytes_per_s.push_back(s.cfg->disk_bandwidth_mb_per_s * 1e6);
    }
    for (sg::Host* from : s.hosts) {
      for (uint32_t l = 0; l < L.links; ++l) {
        sg::Host* port = p.hosts[1 + 2 * l];
        sg::Host* responses = p.hosts[2 + 2 * l];
        sg::Link* wire = links_[l][i].link;
        zone->add_route(from->get_netpoint(), port->get_netpoint(), nullptr, nullptr, {sg::LinkInRoute(wire)}, false);
        zone->add_route(from->get_netpoint(), responses->get_netpoint(), nullptr, nullptr,
                        {sg::LinkInRoute(processing), sg::LinkInRoute(wire)}, false);
      }
    }
  }
  zone->seal();
}

void Simulation::start_actors() {
  const uint32_t links = sc_.link.links;
  for (int i = 0; i < 2; ++i) {
    SideState& s = sides_[i];
    const std::string tag = i == 0 ? "r1" : "r2";
    s.wake = sg::Semaphore::create(0);
    for (uint32_t l = 0; l < links; ++l) {
      for (int kind = 0; kind < 2; ++kind) {
        auto* mb = sg::Mailbox::by_name(fmt::format("{}-{}{}", tag, kind == 0 ? "port" : "responses", l));
        (kind == 0 ? s.port_mb : s.resp_mb).push_back(mb);
        auto actor = sg::Actor::create(mb->get_name(), s.hosts[1 + 2 * l + kind],
                                       [this, &s, mb, l] { receiver_loop(s, mb, l); });
        // Comms start as soon as they are sent (a permanent receiver), so
        // messages on one link travel concurrently and arrive in order.
        mb->set_receiver(actor);
      }
    }
    sg::Actor::create(tag + "-scheduler", s.host, [this, &s] { scheduler_loop(s); });
  }
}

void Simulation::receiver_loop(SideState& s, sg::Mailbox* mb, uint32_t link) {
  sg::Actor::self()->daemonize();
  for (;;) {
    Envelope* raw = nullptr;
    try {
      raw = mb->get<Envelope>();
    } catch (const simgrid::NetworkFailureException&) {
      // A message died with its link: the session it belonged to is broken.
      break_session(now_time() + Time::from_s(sc_.link.failure_detection_ms * 1e-3));
      continue;
    }
    std::unique_ptr<Envelope> env(raw);
    if (s.ctl->crashed()) continue;  // lost at a dead controller
    if (tracing_) {
      if (const auto* c = std::get_if<CopyData>(&env->msg); c && !c->fetch) {
        auto it = trace_rows_.find({c->key, c->version});
        auto start = trace_pending_.find({index_of(peer_of(s.side)), c->key, c->version});
        if (it != trace_rows_.end() && start != trace_pending_.end()) {
          trace_.add(fmt::format("copy v{} on link {}", to_string(c->version), link), "link", it->second, start->second,
                     now_time());
          trace_pending_.erase(start);
          trace_pending_[{index_of(s.side), c->key, c->version}] = now_time();  // stored at the secondary
        }
      } else if (const auto* a = std::get_if<CopyAck>(&env->msg)) {
        auto it = trace_rows_.find({a->key, a->version});
        auto stored = trace_pending_.find({index_of(peer_of(s.side)), a->key, a->version});
        if (it != trace_rows_.end() && stored != trace_pending_.end()) {
          trace_.add(fmt::format("secondary store, acknowledgement v{}", to_string(a->version)), "link", it->second,
                     stored->second, now_time());
          trace_pending_.erase(stored);
        }
      }
    }
    step(s, Received{std::move(env->msg)});
  }
}

void Simulation::disk_done(SideState& s, const DiskRequest& r) {
  if (r.incarnation != s.incarnation || s.ctl->crashed()) return;  // lost with a crash
  const Time now = now_time();
  const bool ok = !s.disk_failed[r.disk];
  Version& on_disk = s.disk_content[r.key.volume][r.key.track];
  if (r.write) {
    if (tracing_) {
      auto it = trace_rows_.find({r.key, r.version});
      if (it != trace_rows_.end())
        trace_.add(fmt::format("destage v{}", to_string(r.version)), s.side == Side::A ? "R1" : "R2", it->second,
                   r.issued, now);
    }
    if (ok) on_disk = r.version;
    step(s, DiskWriteDone{r.key, r.version, ok});
  } else {
    step(s, DiskReadDone{r.key, ok ? on_disk : 0, ok});
  }
}

void Simulation::schedule(SideState& s, Time at, std::function<void()> fn) {
  s.queue.push(Event{at, next_event_seq_++, std::move(fn)});
  if (s.waiting_until_s >= 0 && at.s() < s.waiting_until_s) {
    s.waiting_until_s = -1;
    s.wake->release();
  }
}

void Simulation::scheduler_loop(SideState& s) {
  while (!finished_) {
    if (s.queue.empty()) {
      s.waiting_until_s = 1e300;
      s.wake->acquire();
      ++activities_;
      s.waiting_until_s = -1;
      continue;
    }
    const Time at = s.queue.top().at;
    const double now_s = sg::Engine::get_clock();
    if (at > Time::from_s(now_s)) {
      s.waiting_until_s = at.s();
      s.wake->acquire_timeout(at.s() - now_s);
      ++activities_;
      s.waiting_until_s = -1;
      continue;
    }
    Event ev = s.queue.top();
    s.queue.pop();
    ev.fn();
  }
}

// ---------------------------------------------------------------------------
// stepping the model

void Simulation::step(SideState& s, const Input& in) {
  const Time now = now_time();
  // The commands need a buffer of their own: executing them makes simcalls,
  // which yield to other actors that step controllers too.
  Commands out;
  if (!spare_commands_.empty()) {
    out = std::move(spare_commands_.back());
    spare_commands_.pop_back();
  }
  s.ctl->step(now, in, out);
  observer_->after_step(s.side, now, in, out);
  track_pair_state(s, now);
  execute(s, out);
  out.clear();
  spare_commands_.push_back(std::move(out));
}

void Simulation::execute(SideState& s, const Commands& out) {
  const Time now = now_time();
  if (trace_applying_) {
    // The step that stored the traced write: its version is in the commands.
    for (const Command& cmd : out) {
      Version v = 0;
      TrackKey k;
      if (const auto* w = std::get_if<DiskWrite>(&cmd)) k = w->key, v = w->version;
      else if (const auto* a = std::get_if<AckHost>(&cmd); a && a->write) k = a->key, v = a->version;
      else if (const auto* snd = std::get_if<Send>(&cmd)) {
        if (const auto* c = std::get_if<CopyData>(&snd->msg)) k = c->key, v = c->version;
        else if (const auto* wc = std::get_if<WriteCommand>(&snd->msg)) k = wc->key, v = wc->version;
      }
      if (v && k == trace_applying_->first) trace_rows_[{k, v}] = trace_applying_->second;
    }
  }
  for (const Command& cmd : out) {
    if (const auto* w = std::get_if<DiskWrite>(&cmd)) {
      disk_io(s, DiskRequest{true, w->key, w->version, w->bytes, s.incarnation, w->disk, now});
    } else if (const auto* r = std::get_if<DiskRead>(&cmd)) {
      disk_io(s, DiskRequest{false, r->key, 0, r->bytes, s.incarnation, r->disk, now});
    } else if (const auto* snd = std::get_if<Send>(&cmd)) {
      send(s, *snd);
    } else if (const auto* a = std::get_if<AckHost>(&cmd)) {
      complete_request(a->req, true, now);
    } else if (const auto* rj = std::get_if<RejectHost>(&cmd)) {
      complete_request(rj->req, false, now);
    } else if (const auto* t = std::get_if<ArmTimer>(&cmd)) {
      const uint64_t incarnation = s.incarnation;
      const uint64_t id = t->id;
      schedule(s, t->at, [this, &s, incarnation, id] {
        if (s.incarnation == incarnation && !s.ctl->crashed()) step(s, TimerFired{id});
      });
    } else if (const auto* d = std::get_if<HostRequestDelayed>(&cmd)) {
      if (auto it = requests_.find(d->req); it != requests_.end()) {
        it->second.delayed_since = now;
        if (it->second.measured && it->second.write) ++volumes_[it->second.key.volume].delayed_writes;
      }
    } else if (const auto* ad = std::get_if<HostRequestAdmitted>(&cmd)) {
      if (auto it = requests_.find(ad->req); it != requests_.end() && it->second.delayed_since) {
        if (it->second.measured && it->second.write)
          volumes_[it->second.key.volume].delayed_write_s += (now - *it->second.delayed_since).s();
        it->second.delayed_since.reset();
      }
    }
  }
}

void Simulation::send(SideState& s, const Send& snd) {
  SideState& p = peer(s);
  if (p.ctl->crashed()) return;  // nobody answers at a dead controller
  const uint32_t links = sc_.link.links;
  int64_t link = -1;
  for (uint32_t k = 0; k < links; ++k) {
    const uint32_t l = (s.next_link + k) % links;
    if (link_up_[l]) {
      link = l;
      s.next_link = l + 1;
      break;
    }
  }
  if (link < 0) return;  // every link is cut: lost
  const Time now = now_time();
  if (tracing_) {
    if (const auto* c = std::get_if<CopyData>(&snd.msg); c && !c->fetch && trace_rows_.count({c->key, c->version}))
      trace_pending_[{index_of(s.side), c->key, c->version}] = now;
  }
  // FIFO transmission: the message starts when the link is free (a response
  // only after the responder's cache store) and arrives one latency after
  // its last byte left. The comm's rate makes SimGrid deliver it then.
  const bool response = is_response(snd.msg);
  LinkDirection& dir = links_[link][index_of(s.side)];
  const uint32_t bytes = std::max<uint32_t>(snd.bytes, 1);
  const Time ready = response ? now + s.cache_store : now;
  const Time start = std::max(ready, dir.transmit_free);
  dir.transmit_free = start + Time::from_s(bytes / dir.bandwidth_bytes_per_s);
  // Utilisation: the part of the transmission inside the measured window.
  const Time busy_from = std::max(start, warmup_), busy_to = std::min(dir.transmit_free, duration_);
  if (busy_to > busy_from) s.transmit_busy_measured_s += (busy_to - busy_from).s();
  s.transmit_busy_interval_s += (dir.transmit_free - start).s();
  const double transmit_s = (dir.transmit_free - ready).s();  // the route adds the latencies
  sg::Mailbox* mb = response ? p.resp_mb[link] : p.port_mb[link];
  auto* env = new Envelope{snd.msg};
  mb->put_init(env, bytes)
      ->set_rate(bytes / std::max(transmit_s, 1e-12))
      ->detach([](void* data) { delete static_cast<Envelope*>(data); });
  ++activities_;
}

void Simulation::disk_io(SideState& s, DiskRequest r) {
  // One I/O at a time per disk, in arrival order: latency + bytes/bandwidth.
  const uint32_t d = r.disk;
  const Time start = std::max(r.issued, s.disk_free[d]);
  const Time done = start + s.disk_latency[d] + Time::from_s(std::max<uint32_t>(r.bytes, 1) / s.disk_bandwidth_bytes_per_s[d]);
  s.disk_free[d] = done;
  const Time busy_from = std::max(start, warmup_), busy_to = std::min(done, duration_);
  if (busy_to > busy_from) s.disk_busy_s[d] += (busy_to - busy_from).s();
  schedule(s, done, [this, &s, r] { disk_done(s, r); });
}

void Simulation::complete_request(RequestId id, bool acked, Time now) {
  auto it = requests_.find(id);
  if (it == requests_.end()) return;
  Request r = it->second;
  requests_.erase(it);
  VolumeResult& vol = volumes_[r.key.volume];
  if (r.delayed_since && r.measured && r.write) vol.delayed_write_s += (now - *r.delayed_since).s();
  const int64_t response_ns = (now - r.issued).ns;
  if (r.measured) {
    OpStats& st = r.write ? vol.writes : vol.reads;
    if (acked) {
      ++st.completed;
      st.bytes += r.bytes;
      st.response.add(response_ns);
      st.samples.add(response_ns);
    } else {
      ++st.rejected;
    }
  }
  if (r.write && acked) {
    ++interval_writes_;
    interval_write_response_ns_ += static_cast<double>(response_ns);
  }
  if (r.traced >= 0) trace_.add(acked ? "host write" : "host write (rejected)", "hosts", static_cast<uint64_t>(r.traced), r.issued, now);
  WorkloadState& w = workloads_[r.workload];
  --w.outstanding;
  if (w.cfg->arrival == Arrival::Closed) issue(w, now + Time::from_us(w.cfg->think_us));
}

void Simulation::track_pair_state(SideState& s, Time now) {
  const Controller& c = *s.ctl;
  if (c.role() != Role::Primary || c.crashed()) return;
  if (s.side == Side::A) {
    // Occupancy area over the measured window, then episodes of the tracks
    // this step touched.
    const Time from = std::max(occupancy_last_, warmup_);
    const Time to = std::min(now, duration_);
    if (to > from) {
      occupancy_slot_s_ += occupancy_wp_slots_ * (to - from).s();
      if (in_sync_) in_sync_s_ += (to - from).s();
    }
    occupancy_last_ = now;
    occupancy_wp_slots_ = c.wp_slots();
    in_sync_ = c.remote_wp_tracks() == 0 && c.invalid_remote_tracks() == 0 && c.pair_state() != PairState::Suspended;
    for (TrackKey k : c.touched()) {
      const TrackEntry& e = c.track(k);
      const uint64_t id = (static_cast<uint64_t>(k.volume) << 32) | k.track;
      const bool wp = e.local_wp || e.remote_wp;
      auto it = wp_since_.find(id);
      if (wp && it == wp_since_.end()) {
        wp_since_.emplace(id, now);
      } else if (!wp && it != wp_since_.end()) {
        if (it->second >= warmup_ && it->second < duration_) {
          ++wp_episodes_;
          wp_residence_s_ += (now - it->second).s();
        }
        wp_since_.erase(it);
      }
    }
  }
  result_.peak_remote_wp_tracks = std::max<uint64_t>(result_.peak_remote_wp_tracks, c.remote_wp_tracks());
  result_.peak_local_wp_slots = std::max<uint64_t>(result_.peak_local_wp_slots, c.local_wp_slots());
  result_.peak_invalid_remote_tracks = std::max<uint64_t>(result_.peak_invalid_remote_tracks, c.invalid_remote_tracks());
  result_.peak_writes_at_risk = std::max<uint64_t>(result_.peak_writes_at_risk, observer_->writes_at_risk());
  result_.peak_bytes_at_risk = std::max<uint64_t>(result_.peak_bytes_at_risk, observer_->bytes_at_risk());
  const PairState before = pair_state_seen_.count(s.side) ? pair_state_seen_[s.side] : PairState::Synchronized;
  const PairState after = c.pair_state();
  if (before == after) return;
  pair_state_seen_[s.side] = after;
  if (after == PairState::Syncing && before != PairState::Syncing)
    result_.resyncs.push_back(ResyncResult{now.s(), std::nullopt, c.resync_tracks_owed()});
  if (after == PairState::Synchronized && before == PairState::Syncing && !result_.resyncs.empty() &&
      !result_.resyncs.back().end_s)
    result_.resyncs.back().end_s = now.s();
}

// ---------------------------------------------------------------------------
// link sessions and failures

Side Simulation::host_side() const {
  // Hosts follow the primary personality; with two primaries (a takeover in
  // progress) they stay with a live one, newest generation first.
  const Controller& a = *sides_[0].ctl;
  const Controller& b = *sides_[1].ctl;
  const bool sa = a.role() == Role::Primary && !a.crashed();
  const bool sb = b.role() == Role::Primary && !b.crashed();
  if (sa && sb) return b.generation() > a.generation() ? Side::B : Side::A;
  if (sb) return Side::B;
  if (sa) return Side::A;
  return b.role() == Role::Primary && a.role() != Role::Primary ? Side::B : Side::A;
}

bool Simulation::any_link_up() const { return std::find(link_up_.begin(), link_up_.end(), true) != link_up_.end(); }

void Simulation::break_session(Time detect_at) {
  for (SideState& s : sides_) {
    s.broken = true;
    schedule(s, detect_at, [this, &s] { notify(s); });
  }
}

void Simulation::notify(SideState& s) {
  if (s.ctl->crashed()) return;
  const bool reachable = any_link_up() && !peer(s).ctl->crashed();
  // A session that ended is reported as down even if a new one could already
  // be opened: the controller must see every session end.
  if (s.broken && s.notified_up) {
    s.notified_up = false;
    step(s, LinkStateChanged{false});
  }
  s.broken = false;
  if (s.notified_up != reachable) {
    s.notified_up = reachable;
    step(s, LinkStateChanged{reachable});
  }
}

void Simulation::set_links(const FailureScenario& f, bool up) {
  const bool was_up = any_link_up();
  for (uint32_t l = 0; l < sc_.link.links; ++l) {
    if (f.link && *f.link != l) continue;
    if (link_up_[l] == up) continue;
    link_up_[l] = up;
    for (LinkDirection& d : links_[l]) {
      if (up) {
        d.link->turn_on();
        d.transmit_free = Time{};
      } else {
        d.link->turn_off();
      }
    }
  }
  const Time now = now_time();
  if (was_up && !any_link_up()) break_session(now + Time::from_s(sc_.link.failure_detection_ms * 1e-3));
  if (!was_up && any_link_up())
    for (SideState& s : sides_) schedule(s, now, [this, &s] { notify(s); });
}

void Simulation::crash(SideState& s) {
  if (s.ctl->crashed()) return;
  step(s, Crash{});
  ++s.incarnation;
  SideState& p = peer(s);
  p.broken = true;
  schedule(p, now_time() + Time::from_s(sc_.link.failure_detection_ms * 1e-3), [this, &p] { notify(p); });
}

void Simulation::schedule_failures() {
  for (const FailureScenario& f : sc_.failures) {
    // Every failure is dispatched from R1's scheduler at its time; actions
    // that step a controller move to that controller's scheduler.
    schedule(sides_[0], Time::from_s(f.at_s), [this, &f] { apply_failure(f); });
  }
}

void Simulation::apply_failure(const FailureScenario& f) {
  const Time now = now_time();
  auto on = [&](Side target, std::function<void(SideState&)> action) {
    SideState& s = side(target);
    schedule(s, now, [&s, action] { action(s); });
  };
  switch (f.event) {
    case FailureEvent::LinkDown: set_links(f, false); break;
    case FailureEvent::LinkUp: set_links(f, true); break;
    case FailureEvent::LinkDegrade:
      for (uint32_t l = 0; l < sc_.link.links; ++l) {
        if (f.link && *f.link != l) continue;
        for (LinkDirection& d : links_[l]) {
          if (f.bandwidth_gbit_per_s) d.bandwidth_bytes_per_s = *f.bandwidth_gbit_per_s * 1e9 / 8.0;
          if (f.added_latency_us) d.link->set_latency(link_base_latency_s_[l] + *f.added_latency_us * 1e-6);
        }
      }
      break;
    case FailureEvent::Crash: on(*f.controller, [this](SideState& s) { crash(s); }); break;
    case FailureEvent::Restart:
      on(*f.controller, [this](SideState& s) {
        if (!s.ctl->crashed()) return;
        step(s, Restart{});
        s.notified_up = false;
        s.broken = false;
        notify(s);
        SideState& p = peer(s);
        schedule(p, now_time(), [this, &p] { notify(p); });
      });
      break;
    case FailureEvent::DiskFailure: side(*f.controller).disk_failed[*f.disk] = true; break;
    case FailureEvent::DiskRepair: side(*f.controller).disk_failed[*f.disk] = false; break;
    case FailureEvent::Disaster: {
      SideState& p = side(host_side());
      FailureScenario all_links;
      set_links(all_links, false);
      crash(p);
      break;
    }
    case FailureEvent::Failover: {
      // At the secondary: the live controller that does not hold the primary role.
      const Side target = f.controller ? *f.controller
                          : sides_[1].ctl->role() == Role::Secondary && !sides_[1].ctl->crashed() ? Side::B
                                                                                                  : Side::A;
      on(target, [this](SideState& s) { step(s, Failover{}); });
      break;
    }
    case FailureEvent::Failback: on(host_side(), [this](SideState& s) { step(s, Failback{}); }); break;
    case FailureEvent::Suspend: on(host_side(), [this](SideState& s) { step(s, Suspend{}); }); break;
    case FailureEvent::Resume: on(host_side(), [this](SideState& s) { step(s, Resume{}); }); break;
  }
}

// ---------------------------------------------------------------------------
// hosts

void Simulation::start_workload(WorkloadState& w) {
  const WorkloadScenario& c = *w.cfg;
  w.stop = Time::from_s(c.stop_s ? *c.stop_s : sc_.duration_s);
  const TrackNo tracks = sc_.volumes[c.volume_index].tracks;
  if (c.addresses == AddressPattern::Zipf) {
    w.zipf_cdf.resize(tracks);
    double sum = 0;
    for (TrackNo k = 0; k < tracks; ++k) {
      sum += 1.0 / std::pow(static_cast<double>(k + 1), c.zipf_theta);
      w.zipf_cdf[k] = sum;
    }
    for (double& x : w.zipf_cdf) x /= sum;
  }
  const Time start = Time::from_s(c.start_s);
  if (c.arrival == Arrival::Poisson) {
    issue(w, start + Time::from_s(std::exponential_distribution<double>(c.rate_iops)(w.rng)));
  } else {
    for (uint32_t q = 0; q < c.queue_depth; ++q) issue(w, start);
  }
}

void Simulation::issue(WorkloadState& w, Time arrival) {
  if (w.stopped) return;
  if (arrival >= w.stop || (w.cfg->requests && w.issued >= *w.cfg->requests)) {
    w.stopped = true;
    return;
  }
  ++w.issued;
  ++w.outstanding;
  const Side target = host_side();
  SideState& s = side(target);
  schedule(s, arrival + s.cache_store, [this, &w, arrival, target] { apply_request(w, arrival, target); });
}

TrackNo Simulation::pick_track(WorkloadState& w) {
  const WorkloadScenario& c = *w.cfg;
  const TrackNo tracks = sc_.volumes[c.volume_index].tracks;
  switch (c.addresses) {
    case AddressPattern::Uniform: return std::uniform_int_distribution<TrackNo>(0, tracks - 1)(w.rng);
    case AddressPattern::Zipf: {
      const double u = std::uniform_real_distribution<double>(0, 1)(w.rng);
      const auto it = std::lower_bound(w.zipf_cdf.begin(), w.zipf_cdf.end(), u);
      return static_cast<TrackNo>(std::min<size_t>(it - w.zipf_cdf.begin(), tracks - 1));
    }
    case AddressPattern::Sequential: return w.next_sequential++ % tracks;
    case AddressPattern::Hotspot: {
      const TrackNo hot = std::clamp<TrackNo>(static_cast<TrackNo>(c.hotspot_fraction * tracks), 1, tracks);
      const bool to_hot = hot == tracks || std::uniform_real_distribution<double>(0, 1)(w.rng) < c.hotspot_probability;
      return to_hot ? std::uniform_int_distribution<TrackNo>(0, hot - 1)(w.rng)
                    : std::uniform_int_distribution<TrackNo>(hot, tracks - 1)(w.rng);
    }
  }
  return 0;
}

void Simulation::apply_request(WorkloadState& w, Time arrival, Side target) {
  const WorkloadScenario& c = *w.cfg;
  const bool write = std::uniform_real_distribution<double>(0, 1)(w.rng) < c.write_fraction;
  const TrackKey key{c.volume_index, pick_track(w)};
  const RequestId id = next_req_++;
  Request r{w.index, write, c.block_bytes, key, arrival, arrival >= warmup_ && arrival < duration_, std::nullopt, -1};
  if (write) ++host_writes_;
  if (write && tracing_ && traced_writes_ < opt_.trace_writes) r.traced = static_cast<int64_t>(traced_writes_++);
  requests_.emplace(id, r);
  SideState& s = side(target);
  if (r.traced >= 0)
    trace_.add("cache store", s.side == Side::A ? "R1" : "R2", static_cast<uint64_t>(r.traced), arrival, now_time());
  if (s.ctl->crashed()) {
    complete_request(id, false, now_time());  // nobody answers at a dead controller
  } else if (write) {
    if (r.traced >= 0) trace_applying_ = std::make_pair(key, r.traced);
    step(s, HostWrite{id, key, c.block_bytes});
    trace_applying_.reset();
  } else {
    step(s, HostRead{id, key, c.block_bytes});
  }
  if (c.arrival == Arrival::Poisson) issue(w, arrival + Time::from_s(std::exponential_distribution<double>(c.rate_iops)(w.rng)));
}

// ---------------------------------------------------------------------------
// sampling and the end of the run

bool Simulation::workloads_done() const {
  for (const WorkloadState& w : workloads_)
    if (!w.stopped || w.outstanding) return false;
  return requests_.empty();
}

bool Simulation::pair_quiet() const {
  // Nothing left to do that the model knows of: no write-pending data, no
  // invalid track owed while the link is up, nothing waiting.
  for (const SideState& s : sides_) {
    const Controller& c = *s.ctl;
    if (c.crashed()) continue;
    if (c.wp_slots() || c.copies_in_flight() || c.delayed_requests()) return false;
    if (c.role() == Role::Primary && any_link_up() && !c.operator_suspended() &&
        (c.pair_state() != PairState::Synchronized || c.invalid_remote_tracks()))
      return false;
    if (c.invalid_local_tracks() && any_link_up() && !sides_[1 - index_of(s.side)].ctl->crashed()) return false;
    if (c.next_deadline()) return false;
  }
  return true;
}

void Simulation::sample() {
  const Time now = now_time();
  const double interval_s = sc_.measurement.timeseries_interval_s;
  const Controller& p = *side(host_side()).ctl;
  TimeSample t;
  t.t_s = now.s();
  t.remote_wp_tracks = p.remote_wp_tracks();
  t.local_wp_slots = p.local_wp_slots();
  t.invalid_remote_tracks = p.invalid_remote_tracks();
  t.delayed_writes = p.delayed_requests();
  t.writes_at_risk = observer_->writes_at_risk();
  t.bytes_at_risk = observer_->bytes_at_risk();
  const SideState& from = side(host_side());
  t.link_utilisation = from.transmit_busy_interval_s / (sc_.link.links * interval_s);
  t.write_iops = static_cast<double>(interval_writes_) / interval_s;
  t.write_response_mean_ms = interval_writes_ ? interval_write_response_ns_ / static_cast<double>(interval_writes_) / 1e6 : 0;
  t.pair_state = p.crashed() ? "crashed" : std::string(to_string(p.pair_state()));
  result_.timeseries.push_back(t);
  for (SideState& s : sides_) s.transmit_busy_interval_s = 0;
  interval_writes_ = 0;
  interval_write_response_ns_ = 0;

  if (opt_.progress) {
    const auto wall = std::chrono::steady_clock::now();
    if (wall - wall_start_ > std::chrono::seconds(2) && wall - last_progress_ > std::chrono::seconds(1)) {
      last_progress_ = wall;
      progress_shown_ = true;
      fmt::print(stderr, "\r  simulated {:.1f} s of {:.1f} s, {} host writes, {:.0f} s wall   ", now.s(),
                 sc_.duration_s, host_writes_, std::chrono::duration<double>(wall - wall_start_).count());
    }
  }

  if (now >= duration_ && workloads_done() && pair_quiet()) {
    finish("");
    return;
  }
  if (now >= duration_ + Time::from_s(kDrainMaxS)) {
    // With both controllers up, a link and no operator suspension, the pair
    // must drain: not draining is a liveness failure (a stuck indicator).
    const bool could_drain = !sides_[0].ctl->crashed() && !sides_[1].ctl->crashed() && any_link_up() &&
                             !side(host_side()).ctl->operator_suspended() &&
                             std::none_of(sides_[0].disk_failed.begin(), sides_[0].disk_failed.end(), [](bool f) { return f; }) &&
                             std::none_of(sides_[1].disk_failed.begin(), sides_[1].disk_failed.end(), [](bool f) { return f; });
    result_.drain_failed = could_drain;
    finish(fmt::format("{} s after the end of host I/O the pair has not drained{}", kDrainMaxS,
                       could_drain ? " although nothing stops it (liveness failure)" : ""));
    return;
  }
  schedule(sides_[0], now + Time::from_s(interval_s), [this] { sample(); });
}

void Simulation::finish(std::string end_state) {
  finished_ = true;
  result_.end_state = std::move(end_state);
  for (SideState& s : sides_) s.wake->release();
}

RunResult Simulation::run() {
  wall_start_ = last_progress_ = std::chrono::steady_clock::now();
  int argc = 1;
  char name[] = "mirrorsim";
  char* argv[] = {name, nullptr};
  engine_ = std::make_unique<sg::Engine>(&argc, argv);
  xbt_log_control_set("root.thres:critical");
  // Exact latency + size/bandwidth unless the scenario asks for SimGrid's
  // TCP-flavoured default (which inflates latency about 13-fold). The TCP
  // window cap (gamma) is set so large that it never binds: in 3.32 a gamma
  // of 0 also disables the per-comm rates the FIFO transmitter relies on.
  if (sc_.link.network_model == "cm02") {
    result_.engine_config = {"network/model:CM02", "network/TCP-gamma:1e18", "network/crosstraffic:0"};
  } else {
    result_.engine_config = {"network/model:LV08"};
  }
  for (const auto& c : result_.engine_config) sg::Engine::set_config(c);
  sg::Engine::on_deadlock_cb([this] { deadlocked_ = true; });

  warmup_ = Time::from_s(sc_.measurement.warmup_s);
  duration_ = Time::from_s(sc_.duration_s);
  for (int i = 0; i < 2; ++i) {
    SideState& s = sides_[i];
    s.side = i == 0 ? Side::A : Side::B;
    s.cfg = i == 0 ? &sc_.primary : &sc_.secondary;
    s.ctl = std::make_unique<Controller>(s.side, i == 0 ? Role::Primary : Role::Secondary, controller_config(sc_, s.side));
    s.cache_store = Time::from_us(s.cfg->cache_store_us);
    for (const auto& v : sc_.volumes) s.disk_content.emplace_back(v.tracks, 0);
    s.disk_failed.assign(s.cfg->disks, false);
    s.disk_free.assign(s.cfg->disks, Time{});
    s.disk_busy_s.assign(s.cfg->disks, 0);
  }
  observer_ = std::make_unique<Observer>(*sides_[0].ctl, *sides_[1].ctl, opt_.violation_trace_length);
  for (const auto& v : sc_.volumes) {
    VolumeResult vr;
    vr.name = v.name;
    vr.mode = v.mode;
    vr.writes.samples = SampleReservoir(100'000, sc_.seed * 2 + 1);
    vr.reads.samples = SampleReservoir(100'000, sc_.seed * 2 + 2);
    volumes_.push_back(std::move(vr));
  }
  build_platform();
  start_actors();
  for (uint32_t i = 0; i < sc_.workloads.size(); ++i) {
    WorkloadState w;
    w.cfg = &sc_.workloads[i];
    w.index = i;
    w.rng.seed(sc_.seed * 1'000'003 + i);
    workloads_.push_back(std::move(w));
  }
  for (WorkloadState& w : workloads_) start_workload(w);
  schedule_failures();
  schedule(sides_[0], Time::from_s(sc_.measurement.timeseries_interval_s), [this] { sample(); });

  engine_->run();
  if (progress_shown_) fmt::print(stderr, "\n");
  if (deadlocked_) throw std::runtime_error("the simulation deadlocked (actors blocked with no event left)");
  return collect();
}

RunResult Simulation::collect() {
  RunResult& r = result_;
  r.driver = "sim";
  r.mirrorsim_version = MIRRORSIM_VERSION;
  r.engine_version = "SimGrid " + simgrid_version();
  r.seed = sc_.seed;
  r.scenario_toml = sc_.resolved_toml;
  r.scenario = to_json(sc_);
  r.simulated_s = sg::Engine::get_clock();
  r.measured_s = sc_.duration_s - sc_.measurement.warmup_s;
  r.percentiles = sc_.measurement.percentiles;
  r.volumes = std::move(volumes_);
  // The last interval up to the end of the window.
  if (occupancy_last_ < duration_) {
    const Time from = std::max(occupancy_last_, warmup_);
    occupancy_slot_s_ += occupancy_wp_slots_ * (duration_ - from).s();
    if (in_sync_) in_sync_s_ += (duration_ - from).s();
  }
  r.mean_wp_slots = occupancy_slot_s_ / r.measured_s;
  r.in_sync_fraction = in_sync_s_ / r.measured_s;
  r.wp_episodes_per_s = static_cast<double>(wp_episodes_) / r.measured_s;
  r.wp_residence_mean_ms = wp_episodes_ ? wp_residence_s_ / static_cast<double>(wp_episodes_) * 1e3 : 0;
  const double link_s = sc_.link.links * r.measured_s;
  r.link_utilisation_to_secondary = sides_[0].transmit_busy_measured_s / link_s;
  r.link_utilisation_to_primary = sides_[1].transmit_busy_measured_s / link_s;
  for (int i = 0; i < 2; ++i) {
    const auto& busy = sides_[i].disk_busy_s;
    double sum = 0, mx = 0;
    for (double b : busy) {
      sum += b / r.measured_s;
      mx = std::max(mx, b / r.measured_s);
    }
    (i == 0 ? r.disk_utilisation_r1_mean : r.disk_utilisation_r2_mean) = busy.empty() ? 0 : sum / busy.size();
    (i == 0 ? r.disk_utilisation_r1_max : r.disk_utilisation_r2_max) = mx;
    r.copies_sent += sides_[i].ctl->counters().copies_sent;
    r.disk_errors += sides_[i].ctl->counters().disk_errors;
  }
  for (const LossEvent& l : observer_->losses()) {
    LossResult lr;
    lr.cause = std::string(to_string(l.cause));
    lr.at_s = l.at.s();
    lr.acked_by = l.acked_by == Side::A ? "r1" : "r2";
    lr.writes = l.writes;
    lr.bytes = l.bytes;
    lr.writes_acked_while_mirrored = l.writes_acked_while_mirrored;
    lr.writes_by_volume = l.writes_by_volume;
    r.losses.push_back(lr);
  }
  // I9 at the end, when the pair could drain: nothing owed, R2 == R1.
  const Controller& a = *sides_[0].ctl;
  const Controller& b = *sides_[1].ctl;
  if (r.end_state.empty()) {
    if (a.crashed() || b.crashed())
      r.end_state = fmt::format("{} crashed at the end", a.crashed() ? "R1" : "R2");
    else if (!any_link_up())
      r.end_state = "link down at the end";
    else if (side(host_side()).ctl->operator_suspended())
      r.end_state = "suspended by the operator at the end";
    else if (a.role() == b.role())
      r.end_state = "no single primary at the end";
  }
  if (r.end_state.empty()) {
    observer_->check_quiesced(now_time());
    r.quiesced_at_end = true;
  }
  r.invariant_violations = observer_->violation_count();
  if (r.invariant_violations) r.violation_report = observer_->report();
  r.engine_activities = activities_;
  r.host_writes = host_writes_;
  if (opt_.trace) r.trace_json = trace_.to_json();
  return std::move(r);
}

}  // namespace

RunResult simulate(const Scenario& scenario, const SimOptions& options) {
  Simulation sim(scenario, options);
  return sim.run();
}

}  // namespace mirrorsim
