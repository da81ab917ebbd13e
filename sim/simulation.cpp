// The SimGrid driver: transport and clock for the mirrored pair, nothing
// else. SimGrid's clock is the clock; model commands become SimGrid
// activities or kernel timers, and their completions become model inputs:
//
//   Send       a host-to-host comm on one of the remote links. Each link
//              direction has a concurrency limit of 1: SimGrid itself
//              transmits one message at a time, in send order (FIFO, like
//              one TCP connection or FC exchange), so queueing on a link is
//              M/D/1, and a link turned off fails what it carries.
//   DiskWrite  a FIFO server per disk (latency + bytes/bandwidth, one I/O at
//   DiskRead   a time), computed here; its completion is a kernel timer
//   deadlines  one kernel timer per controller, re-armed after every step
//              to the controller's next_deadline() (it owns its timers)
//
// There are no actors: every callback (timers, comm completions) runs in
// SimGrid's maestro and steps a controller directly — a context switch per
// event would cost more than the rest of the event (sim/README.md).
//
// Processors and service times (service/): each controller's front-end,
// remote-adapter and back-end processors are FIFO pools computed here, as
// the disks are — an arrival learns its start and end at once, so a piece
// of work costs one kernel timer, not an actor (sim/README.md says why).
// A host request reaches the model when the front end has stored it; a
// copy or command leaves when a remote adapter has sent it, an answer
// (acknowledgement, transfer-ready, establish answer, fetched track) when
// the responder's remote adapter has stored what it answers; an answer
// reaches the model when the receiver's remote adapter has taken it; a
// destage or disk read waits for a back-end processor, then for its disk
// (and with disk_device_servers, then for the one device under every disk
// of both sides: that many servers, taken best fit at the disk's turn,
// disk_device_take).
// Messages keep their send order through all of it: nothing overtakes.
// Unloaded with fixed times, a synchronous write costs exactly front-end
// store + round trips + transfers + the secondary's store.
//
// What the pair does — which side the hosts address, what each controller
// hears of its peer, what a failure entry does, when the pair is quiet, how
// the run ends — is model/pair.hpp's; every metric is report/metrics.hpp's.
#include "sim/simulation.hpp"

#include <simgrid/kernel/Timer.hpp>
#include <simgrid/s4u.hpp>
#include <simgrid/version.h>
#include <xbt/log.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <fstream>
#include <map>
#include <memory>
#include <new>
#include <random>
#include <set>
#include <type_traits>
#include <unordered_map>

#include <fmt/format.h>

#include "config/scenario_json.hpp"
#include "model/controller.hpp"
#include "model/id_window.hpp"
#include "model/invariants.hpp"
#include "model/pair.hpp"
#include "report/metrics.hpp"
#include "report/trace.hpp"
#include "service/processor_pool.hpp"
#include "service/service_time.hpp"
#include "workload/stream.hpp"

#ifndef MIRRORSIM_VERSION
#define MIRRORSIM_VERSION "0.0.0"
#endif

namespace mirrorsim {

std::string simgrid_version() { return fmt::format("{}.{}", SIMGRID_VERSION_MAJOR, SIMGRID_VERSION_MINOR); }

namespace {

namespace sg = simgrid::s4u;
namespace kt = simgrid::kernel::timer;

constexpr double kDrainMaxS = 600;  // simulated seconds allowed after duration_s for the pair to drain


class Simulation;

// A message on the wire: the comm that carries it holds it as its data.
struct Envelope {
  Message msg;
  int to = 0;         // receiving side
  uint32_t link = 0;
  sg::CommPtr comm;   // kept until its completion callback has run
};

struct Request {
  uint32_t workload = 0;
  bool write = true;
  TrackKey key;
  Time issued;          // when the host sent it (before the cache store)
  int64_t traced = -1;  // row in the trace, when traced
};

class Simulation {
 public:
  Simulation(const Scenario& sc, const SimOptions& opt)
      : sc_(sc), opt_(opt), tracing_(opt.trace && opt.trace_writes > 0) {}
  ~Simulation() {
    for (Envelope* e : spare_envelopes_) delete e;
  }
  Simulation(const Simulation&) = delete;
  Simulation& operator=(const Simulation&) = delete;
  RunResult run();

 private:
  struct DiskIo {
    bool write = true;
    TrackKey key;
    Version version = 0;
    Time issued;
  };
  struct SideState {
    Side side = Side::A;
    const ControllerScenario* cfg = nullptr;
    std::unique_ptr<Controller> ctl;
    // Processors (pools_ of the plan; shared pools are one object) and the
    // service-time streams of this controller.
    std::array<ProcessorPool*, kPools> pool{};
    ServiceStream front_end_write, front_end_read, copy_send, copy_receive, ack_receive, destage, back_end_read,
        disk_write, disk_first_write, disk_read, disk_unwritten_read, link_overhead;
    double front_end_per_kib_us = 0, remote_adapter_per_kib_us = 0, back_end_per_kib_us = 0;
    bool link_overhead_varies = false;
    std::vector<sg::Host*> ports;  // this side's end of each remote link
    SessionNotice notice;
    Time loop_wakes_at;  // its event loop's pending wake-up (processors_wakeup_us)
    // Its event loop is off its processor over each [from, until), in the
    // middle of a step (processors_preemption_us): work that reaches it then
    // waits. In no order, possibly overlapping; those over before now are
    // dropped as the next is added. A step's window is known when its work is taken,
    // before it begins: several can lie ahead (one per processor at most,
    // and the completions').
    struct Preempted {
      Time from, until;
    };
    std::vector<Preempted> loop_preempted;
    // The end of the last front-end or remote-adapter work taken for it:
    // until then its loop is awake (busy, or queued for a processor) and
    // needs no wake-up for what arrives. (Back-end work is mostly its disk
    // workers' CPU, not the loop's.)
    Time loop_busy_until;
    // The controller's deadline timer.
    kt::Timer* deadline_timer = nullptr;
    Time deadline_at;
    // Disks: FIFO servers; what each holds, per volume and track.
    std::vector<double> disk_bandwidth_bytes_per_s;
    std::vector<Time> disk_free;
    std::vector<std::vector<Version>> disk_content;
    // With disk_first_write_us or disk_unwritten_read_us: the tracks a write
    // has gone to (allocated on the disk); the first write of each is
    // charged disk_first_write_us, a read of one not yet written
    // disk_unwritten_read_us.
    std::vector<std::vector<bool>> disk_allocated;
    bool first_write_on = false, unwritten_read_on = false;
    std::vector<bool> disk_failed;
    // Work of the current incarnation: what a crash loses.
    uint64_t incarnation = 0;
    // Messages waiting for their sender's cache store, in send order.
    struct Waiting {
      Time ready;
      Message msg;
      uint32_t bytes = 0;
    };
    std::deque<Waiting> outbox;
    bool outbox_armed = false;
    // Answers received, waiting for a remote adapter, in arrival order.
    struct Arrived {
      Time ready;
      Message msg;
      uint32_t link = 0;
    };
    std::deque<Arrived> inbox;
    bool inbox_armed = false;
    uint32_t next_link = 0;
  };
  struct WorkloadState {
    const WorkloadScenario* cfg = nullptr;
    uint32_t index = 0;
    std::unique_ptr<WorkloadStream> stream;  // what the hosts draw, as in every driver
    Time stop;
    uint64_t issued = 0;
    uint64_t outstanding = 0;
    bool stopped = false;
  };

  SideState& side(Side s) { return sides_[index_of(s)]; }
  SideState& peer(const SideState& s) { return sides_[1 - index_of(s.side)]; }
  ControllerView view(const SideState& s) const { return view_of(*s.ctl); }

  // the clock
  // A kernel timer keeps its callback in place only up to 16 bytes (the
  // small buffer of xbt::Task) and allocates for anything larger. The
  // driver's larger callbacks (a disk completion, an arrival, a waiting
  // outbox) are parked instead in cells reused from timer to timer, so
  // setting a timer allocates nothing of the driver's; the timer holds the
  // cell only.
  static constexpr size_t kParkedBytes = 96;
  struct Parked {
    alignas(std::max_align_t) unsigned char bytes[kParkedBytes];
    void (*run)(Simulation*, Parked*) = nullptr;
    Parked* next_free = nullptr;
  };
  template <class F>
  void at(Time t, F&& fn) {
    ++activities_;
    using Fn = std::decay_t<F>;
    if constexpr (sizeof(Fn) <= 16 || sizeof(Fn) > kParkedBytes || alignof(Fn) > alignof(std::max_align_t) ||
                  !std::is_trivially_destructible_v<Fn>) {
      kt::Timer::set(t.s(), std::forward<F>(fn));
    } else {
      Parked* p = park();
      ::new (static_cast<void*>(p->bytes)) Fn(std::forward<F>(fn));
      p->run = [](Simulation* sim, Parked* cell) {
        Fn f = *std::launder(reinterpret_cast<Fn*>(cell->bytes));
        sim->unpark(cell);  // before the call: the callback may set timers of its own
        f();
      };
      kt::Timer::set(t.s(), [this, p] { p->run(this, p); });
    }
  }
  Parked* park() {
    if (!parked_free_) {
      constexpr size_t kCells = 256;
      parked_chunks_.push_back(std::make_unique<Parked[]>(kCells));
      for (size_t i = 0; i < kCells; ++i) unpark(&parked_chunks_.back()[i]);
    }
    Parked* p = parked_free_;
    parked_free_ = p->next_free;
    return p;
  }
  void unpark(Parked* p) {
    p->next_free = parked_free_;
    parked_free_ = p;
  }
  void release_retired() { retired_.clear(); }

  void build_platform();
  void on_comm_done(const sg::Activity& a);

  void step(SideState& s, const Input& in);
  void execute(SideState& s, Commands& out);
  void rearm_deadline(SideState& s);
  // `demand` of one processor of `pool` at `s`, arriving now (or at
  // `arrived`): when it ends (now, for no demand: it takes no processor).
  // The work of a step of an operation (`Step::Starts`: a host request's
  // front-end work, a received message's remote-adapter work) draws the
  // step's preemption, which keeps the loop off its processor after the
  // step's messages and answers have left (a real step sends before it
  // submits its disk I/O, whose worker's wake-up is what preempts the loop
  // most). Front-end and remote-adapter work waits for a preempted loop first.
  enum class Step : bool { Continues, Starts };
  Time use_processor(SideState& s, Pool pool, Time arrived, Time demand, Step step = Step::Continues);
  static Time with_bytes(Time demand, double per_kib_us, uint32_t bytes) {
    return per_kib_us > 0 ? demand + Time::from_us(per_kib_us * bytes / 1024.0) : demand;
  }
  void post(SideState& s, Message m, uint32_t bytes);
  void flush_inbox(SideState& s);
  void flush_outbox(SideState& s);
  // One timer for the front of a waiting queue, if it has none (a crash's
  // incarnation drops it).
  void arm_outbox(SideState& s);
  void arm_inbox(SideState& s);
  void transmit(SideState& s, Message m, uint32_t bytes);
  void disk_io(SideState& s, DiskIo io, uint32_t bytes);
  void disk_done(SideState& s, uint64_t incarnation, uint32_t disk, DiskIo io);
  void complete_request(RequestId req, Time now);

  bool any_link_up() const { return std::find(link_up_.begin(), link_up_.end(), true) != link_up_.end(); }
  bool reachable_from(const SideState& s) { return peer_reachable(any_link_up(), view(peer(s))); }
  void break_session(Time detect_at);
  void notify(SideState& s);
  void crash(SideState& s);
  void restart(SideState& s);
  void set_links(std::optional<uint32_t> link, bool up);
  void degrade_links(const FailureScenario& f);
  void apply_failure(const FailureScenario& f);
  Side host_side() const { return mirrorsim::host_side(view_of(*sides_[0].ctl), view_of(*sides_[1].ctl)); }

  void start_workload(WorkloadState& w);
  void issue(WorkloadState& w, Time arrival);
  void arrive(WorkloadState& w, Time arrival);
  void apply_request(WorkloadState& w, Time arrival, Side target, bool write, TrackKey key, uint32_t bytes);

  void check_end(Time now);
  bool workloads_done() const;
  bool any_disk_failed() const;
  void finish(Time now, bool drained, double waited_s);
  RunResult collect(RunResult r);

  // the trace of the first writes
  void trace_step_versions(const Commands& out);
  void trace_delivered(SideState& s, const Message& m, uint32_t link, Time now);

  const Scenario& sc_;
  const SimOptions& opt_;
  std::unique_ptr<sg::Engine> engine_;
  SideState sides_[2];
  // Per remote link: [0] towards R2 (side B), [1] towards R1 (side A).
  std::vector<std::array<sg::Link*, 2>> links_;
  std::vector<double> link_base_latency_s_;
  std::vector<bool> link_up_;
  std::vector<ProcessorPool> pools_;  // one per group of the scenario's processor plan
  // disk_device_servers: one device under every disk of both sides. Each
  // server's free time; an I/O takes the server that fell free last at or
  // before the I/O's turn (best fit), else the first to fall free. An I/O
  // is handed to it when its disk's turn comes, which can be ahead of an
  // I/O handed to it later: best fit keeps the servers free for those.
  std::multiset<Time> disk_device_free_;
  Time disk_device_take(Time turn, Time service) {
    auto it = disk_device_free_.upper_bound(turn);
    if (it != disk_device_free_.begin()) --it;
    const Time start = std::max(turn, *it);
    disk_device_free_.erase(it);
    disk_device_free_.insert(start + service);
    return start + service;
  }
  std::vector<double> link_bandwidth_bytes_per_s_;
  std::unique_ptr<Observer> observer_;
  std::unique_ptr<RunMetrics> metrics_;
  std::vector<WorkloadState> workloads_;
  IdWindow<Request> requests_;
  std::vector<sg::CommPtr> retired_;  // comms whose callback ran, released at the next event
  // Envelopes of delivered messages, for the next ones (one allocation per
  // message otherwise).
  std::vector<Envelope*> spare_envelopes_;
  std::vector<std::unique_ptr<Parked[]>> parked_chunks_;  // the cells of parked timer callbacks
  Parked* parked_free_ = nullptr;
  Envelope* take_envelope() {
    if (spare_envelopes_.empty()) return new Envelope{};
    Envelope* e = spare_envelopes_.back();
    spare_envelopes_.pop_back();
    return e;
  }
  RequestId next_req_ = 1;
  Commands out_;
  uint32_t stepping_ = 0;             // steps in progress (executing one never steps another)
  std::vector<Commands> spare_commands_;
  bool finished_ = false;
  Time end_;
  PairEnd end_state_;
  Time warmup_, duration_;
  Time other_per_request_;  // processors_other_per_request_us
  // processors_wakeup_us: how long a controller's event loop takes to start
  // on a completion from its disks (not a message from the link: the link's
  // overhead holds its receiver's wake-up; not host requests: a real pair's
  // read hits show none); off (no draws) when it is a fixed 0.
  ServiceStream wakeup_;
  bool wakeup_on_ = false;
  // When the loop of `s` starts on work that arrives now: after a wake-up
  // pending (what arrives while the loop wakes is served by that wake-up, as
  // a woken loop serves every ready event) or a preemption; for a disk's
  // completion to an idle loop, after a wake-up drawn now. A loop still at
  // its front-end or remote-adapter work is awake and takes a completion
  // without one (what calibrate samples: completions that found it idle).
  enum class From : bool { Link, Disk };
  Time woken(SideState& s, Time now, From from) {
    if (preemption_on_)
      if (const Time until = preempted_until(s, now); until > now) return until;  // awake, off its processor
    if (!wakeup_on_) return now;
    if (now < s.loop_wakes_at) return s.loop_wakes_at;
    if (from == From::Link || now < s.loop_busy_until) return now;  // awake: it takes the arrival after its current work
    return s.loop_wakes_at = now + wakeup_.draw();
  }
  // processors_preemption_us: how long a controller's event loop is off its
  // processor in the middle of a step of an operation; off (no draws) when
  // it is a fixed 0. A preempted loop is awake: what reaches it meanwhile
  // needs no wake-up and waits for the preemption to end.
  ServiceStream preemption_;
  bool preemption_on_ = false;
  // A step of `s` whose work ends at `end`: the loop is off its processor
  // from `end` for the preemption drawn — only then: work that reached the
  // loop earlier (queued for a processor, or on another processor of its
  // pool) does not wait for it.
  void preempted(SideState& s, Time end) {
    const Time p = preemption_.draw();
    if (p.ns == 0) return;
    const Time now = Time::from_s(sg::Engine::get_clock());
    std::erase_if(s.loop_preempted, [now](const SideState::Preempted& w) { return w.until <= now; });
    s.loop_preempted.push_back({end, end + p});
    s.loop_busy_until = std::max(s.loop_busy_until, end + p);
  }
  // When the loop of `s` runs again if work reaches it at `t`: `t`, or the
  // end of the preemptions `t` falls in (overlapping or touching ones are
  // one preemption).
  static Time preempted_until(const SideState& s, Time t) {
    for (bool moved = true; moved;) {
      moved = false;
      for (const SideState::Preempted& w : s.loop_preempted)
        if (t >= w.from && t < w.until) {
          t = w.until;
          moved = true;
        }
    }
    return t;
  }
  uint64_t activities_ = 0;

  TraceRecorder trace_;
  bool tracing_ = false;
  uint64_t traced_writes_ = 0;
  std::map<std::tuple<int, TrackKey, Version>, Time> trace_pending_;  // phase starts by (side, track, version)
  std::map<std::pair<TrackKey, Version>, int64_t> trace_rows_;         // traced writes by track and version
  std::optional<std::pair<TrackKey, int64_t>> trace_applying_;          // the traced write being stepped in

  std::chrono::steady_clock::time_point wall_start_, last_progress_;
  bool progress_shown_ = false;
};

// ---------------------------------------------------------------------------
// platform

void Simulation::build_platform() {
  auto* zone = sg::create_full_zone("pair");
  const LinkScenario& L = sc_.link;
  const double bandwidth = L.bandwidth_gbit_per_s * 1e9 / 8.0;
  // A fixed overhead is part of the link's latency; one that varies is
  // drawn per message before it enters the link (SimGrid's latency is one number).
  const double latency_s =
      (L.overhead_us.distribution == Distribution::Fixed ? L.one_way_latency_us() : 5.0 * L.distance_km) * 1e-6;
  for (int i = 0; i < 2; ++i) {
    const std::string tag(to_string(i == 0 ? Side::A : Side::B));
    for (uint32_t l = 0; l < L.links; ++l) sides_[i].ports.push_back(zone->create_host(fmt::format("{}-port{}", tag, l), 1e9));
  }
  for (uint32_t l = 0; l < L.links; ++l) {
    std::array<sg::Link*, 2> dirs;
    for (int d = 0; d < 2; ++d) {
      dirs[d] = zone->create_link(fmt::format("link{}-{}", l, d == 0 ? "R1-to-R2" : "R2-to-R1"), bandwidth)->set_latency(latency_s);
      // One message at a time, in send order: SimGrid is the link's FIFO.
      dirs[d]->set_concurrency_limit(1);
    }
    zone->add_route(sides_[0].ports[l]->get_netpoint(), sides_[1].ports[l]->get_netpoint(), nullptr, nullptr,
                    {sg::LinkInRoute(dirs[0])}, false);
    zone->add_route(sides_[1].ports[l]->get_netpoint(), sides_[0].ports[l]->get_netpoint(), nullptr, nullptr,
                    {sg::LinkInRoute(dirs[1])}, false);
    links_.push_back(dirs);
    link_base_latency_s_.push_back(latency_s);
    link_up_.push_back(true);
    link_bandwidth_bytes_per_s_.push_back(bandwidth);
  }
  zone->seal();
}

// ---------------------------------------------------------------------------
// stepping the model

void Simulation::step(SideState& s, const Input& in) {
  if (finished_) return;
  const Time now = Time::from_s(sg::Engine::get_clock());
  // Executing a step never steps a controller, but a step's input can come
  // from inside another step's execution (a message to a side whose deadline
  // timer is due at once): each step has a command buffer of its own.
  Commands out;
  if (!spare_commands_.empty()) {
    out = std::move(spare_commands_.back());
    spare_commands_.pop_back();
  }
  s.ctl->step(now, in, out);
  observer_->after_step(s.side, now, in, out);
  metrics_->after_step(s.side, now, in, out);
  if (tracing_) trace_step_versions(out);
  execute(s, out);
  rearm_deadline(s);
  out.clear();
  spare_commands_.push_back(std::move(out));
}

void Simulation::rearm_deadline(SideState& s) {
  const std::optional<Time> d = s.ctl->next_deadline();
  if (s.deadline_timer && d && *d == s.deadline_at) return;
  if (s.deadline_timer) {
    s.deadline_timer->remove();
    s.deadline_timer = nullptr;
  }
  if (!d) return;
  s.deadline_at = *d;
  ++activities_;
  s.deadline_timer = kt::Timer::set(d->s(), [this, &s] {
    s.deadline_timer = nullptr;
    release_retired();
    step(s, Timeout{});
  });
}

void Simulation::execute(SideState& s, Commands& out) {
  const Time now = Time::from_s(sg::Engine::get_clock());
  for (Command& cmd : out) {
    if (const auto* w = std::get_if<DiskWrite>(&cmd)) {
      disk_io(s, DiskIo{true, w->key, w->version, now}, w->bytes);
    } else if (const auto* r = std::get_if<DiskRead>(&cmd)) {
      disk_io(s, DiskIo{false, r->key, 0, now}, r->bytes);
    } else if (auto* snd = std::get_if<Send>(&cmd)) {
      post(s, std::move(snd->msg), snd->bytes);
    } else if (const auto* a = std::get_if<AckHost>(&cmd)) {
      complete_request(a->req, now);
    } else if (const auto* rj = std::get_if<RejectHost>(&cmd)) {
      complete_request(rj->req, now);
    }
  }
}

// ---------------------------------------------------------------------------
// the link

void Simulation::post(SideState& s, Message m, uint32_t bytes) {
  const Time now = Time::from_s(sg::Engine::get_clock());
  if (tracing_) {
    if (const auto* c = std::get_if<CopyData>(&m); c && !c->fetch && trace_rows_.count({c->key, c->version}))
      trace_pending_[{index_of(s.side), c->key, c->version}] = now;
  }
  const bool answer = is_answer(m);
  // An answer's remote-adapter work is the received message's step (in the
  // real pair: the copy's receipt, its store and the answer sent).
  Time ready = use_processor(s, Pool::RemoteAdapter, now,
                             with_bytes((answer ? s.copy_receive : s.copy_send).draw(), s.remote_adapter_per_kib_us, bytes),
                             answer ? Step::Starts : Step::Continues);
  if (s.link_overhead_varies) ready += s.link_overhead.draw();
  if (s.outbox.empty() && ready <= now) return transmit(s, std::move(m), bytes);
  // Behind what waits already: nothing overtakes a response being stored.
  const Time when = s.outbox.empty() ? ready : std::max(ready, s.outbox.back().ready);
  s.outbox.push_back({when, std::move(m), bytes});
  arm_outbox(s);
}

void Simulation::flush_outbox(SideState& s) {
  s.outbox_armed = false;
  const Time now = Time::from_s(sg::Engine::get_clock());
  while (!s.outbox.empty() && s.outbox.front().ready <= now) {
    SideState::Waiting w = std::move(s.outbox.front());
    s.outbox.pop_front();
    transmit(s, std::move(w.msg), w.bytes);
  }
  arm_outbox(s);
}

void Simulation::arm_outbox(SideState& s) {
  if (s.outbox_armed || s.outbox.empty()) return;
  s.outbox_armed = true;
  const uint64_t incarnation = s.incarnation;
  at(s.outbox.front().ready, [this, &s, incarnation] {
    release_retired();
    if (incarnation == s.incarnation) flush_outbox(s);
  });
}

Time Simulation::use_processor(SideState& s, Pool pool, Time arrived, Time demand, Step step) {
  const bool loop = pool != Pool::BackEnd;
  if (preemption_on_ && loop) arrived = preempted_until(s, arrived);
  Time end = arrived;
  if (demand.ns != 0) {
    const ProcessorPool::Slot slot = s.pool[index_of(pool)]->take(arrived, demand);
    if (loop) s.loop_busy_until = std::max(s.loop_busy_until, slot.end);
    metrics_->processor_work(s.side, pool, arrived, slot.start, slot.end, slot.queue_length);
    end = slot.end;
  }
  if (preemption_on_ && step == Step::Starts) preempted(s, end);
  return end;
}

void Simulation::flush_inbox(SideState& s) {
  s.inbox_armed = false;
  const Time now = Time::from_s(sg::Engine::get_clock());
  while (!s.inbox.empty() && s.inbox.front().ready <= now) {
    SideState::Arrived a = std::move(s.inbox.front());
    s.inbox.pop_front();
    if (tracing_) trace_delivered(s, a.msg, a.link, now);
    step(s, Received{std::move(a.msg)});
    if (s.ctl->crashed() || finished_) return;
  }
  arm_inbox(s);
}

void Simulation::arm_inbox(SideState& s) {
  if (s.inbox_armed || s.inbox.empty()) return;
  s.inbox_armed = true;
  const uint64_t incarnation = s.incarnation;
  at(s.inbox.front().ready, [this, &s, incarnation] {
    release_retired();
    if (incarnation == s.incarnation) flush_inbox(s);
  });
}

void Simulation::transmit(SideState& s, Message m, uint32_t bytes) {
  SideState& p = peer(s);
  if (p.ctl->crashed() || finished_) return;  // nobody answers at a dead controller
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
  Envelope* env = take_envelope();
  env->msg = std::move(m);
  env->to = index_of(p.side);
  env->link = static_cast<uint32_t>(link);
  // A 0-byte comm never starts; every message has a header anyway.
  env->comm = sg::Comm::sendto_init(s.ports[link], p.ports[link]);
  env->comm->set_payload_size(std::max<uint32_t>(bytes, 1));
  env->comm->set_data(env);
  env->comm->start();
  ++activities_;
}

void Simulation::on_comm_done(const sg::Activity& a) {
  Envelope* env = a.get_data<Envelope>();
  if (!env) return;
  release_retired();
  // The comm is released after this callback returns, the envelope reused.
  retired_.push_back(std::move(env->comm));
  struct GiveBack {
    Simulation* sim;
    Envelope* env;
    ~GiveBack() { sim->spare_envelopes_.push_back(env); }
  } give_back{this, env};
  Envelope* owned = env;
  if (finished_) return;
  const Time now = Time::from_s(sg::Engine::get_clock());
  if (a.get_state() == sg::Activity::State::FAILED) {
    // A message died with its link: the session it belonged to is broken.
    break_session(now + Time::from_s(sc_.link.failure_detection_ms * 1e-3));
    return;
  }
  SideState& s = sides_[owned->to];
  if (s.ctl->crashed()) return;  // lost at a dead controller
  const bool answer = is_answer(owned->msg);
  if (wakeup_on_ || preemption_on_ || (answer && (!s.ack_receive.is_zero() || !s.inbox.empty()))) {
    // An answer waits for a remote adapter, behind the answers before it;
    // every message waits for a loop waking for a disk's completion, in
    // order; with preemptions, for a preempted loop to run again.
    const Time done = answer ? use_processor(s, Pool::RemoteAdapter, woken(s, now, From::Link),
                                             with_bytes(s.ack_receive.draw(), s.remote_adapter_per_kib_us, 0), Step::Starts)
                             : woken(s, now, From::Link);
    const Time ready = s.inbox.empty() ? done : std::max(done, s.inbox.back().ready);
    // Nothing to wait for (a wake-up that rounds to none): at once below, no timer in the past.
    if (!s.inbox.empty() || ready > now) {
      s.inbox.push_back({ready, std::move(owned->msg), owned->link});
      arm_inbox(s);
      return;
    }
  }
  if (tracing_) trace_delivered(s, owned->msg, owned->link, now);
  step(s, Received{std::move(owned->msg)});
}

// ---------------------------------------------------------------------------
// disks

void Simulation::disk_io(SideState& s, DiskIo io, uint32_t bytes) {
  // One I/O at a time per disk, in arrival order: latency + bytes/bandwidth.
  // First a back-end processor, then the disk.
  const Time handed = use_processor(s, Pool::BackEnd, io.issued,
                                    with_bytes((io.write ? s.destage : s.back_end_read).draw(), s.back_end_per_kib_us, bytes));
  const uint32_t d = s.ctl->disk_of(io.key);
  const Time start = std::max(handed, s.disk_free[d]);
  ServiceStream* fixed_part = io.write ? &s.disk_write : &s.disk_read;
  if (!s.disk_allocated.empty()) {
    std::vector<bool>::reference allocated = s.disk_allocated[io.key.volume][io.key.track];
    if (io.write) {
      if (!allocated && s.first_write_on) fixed_part = &s.disk_first_write;
      allocated = true;
    } else if (!allocated && s.unwritten_read_on) {
      fixed_part = &s.disk_unwritten_read;
    }
  }
  const Time service = fixed_part->draw() + Time::from_s(std::max<uint32_t>(bytes, 1) / s.disk_bandwidth_bytes_per_s[d]);
  // On a shared device the disk's turn comes first, then the device's.
  const Time done = disk_device_free_.empty() ? start + service : disk_device_take(start, service);
  s.disk_free[d] = done;
  metrics_->disk_busy(s.side, d, start, done);
  const uint64_t incarnation = s.incarnation;
  auto complete = [this, &s, incarnation, d, io] {
    release_retired();
    disk_done(s, incarnation, d, io);
  };
  if (!wakeup_on_ && !preemption_on_) return at(done, complete);
  // The completion reaches the controller when its loop wakes for it (or
  // runs again, preempted).
  at(done, [this, &s, complete] {
    const Time now = Time::from_s(sg::Engine::get_clock());
    if (const Time w = woken(s, now, From::Disk); w > now) return at(w, complete);
    complete();
  });
}

void Simulation::disk_done(SideState& s, uint64_t incarnation, uint32_t disk, DiskIo io) {
  if (incarnation != s.incarnation || s.ctl->crashed()) return;  // lost with a crash
  const bool ok = !s.disk_failed[disk];
  Version& on_disk = s.disk_content[io.key.volume][io.key.track];
  if (io.write) {
    if (tracing_) {
      auto it = trace_rows_.find({io.key, io.version});
      if (it != trace_rows_.end())
        trace_.add(fmt::format("destage v{}", to_string(io.version)), s.side == Side::A ? "R1" : "R2", it->second,
                   io.issued, Time::from_s(sg::Engine::get_clock()));
    }
    if (ok) on_disk = io.version;
    step(s, DiskWriteDone{io.key, io.version, ok});
  } else {
    step(s, DiskReadDone{io.key, ok ? on_disk : 0, ok});
  }
  // The completion's step is preempted after its commands (none of them
  // waits on it: a destage's answer is the track table's).
  if (preemption_on_ && !s.ctl->crashed()) preempted(s, Time::from_s(sg::Engine::get_clock()));
}

// ---------------------------------------------------------------------------
// sessions and failures

void Simulation::break_session(Time detect_at) {
  for (SideState& s : sides_) {
    s.notice.session_ended();
    at(detect_at, [this, &s] {
      release_retired();
      notify(s);
    });
  }
}

void Simulation::notify(SideState& s) {
  if (s.ctl->crashed()) return;
  while (const auto n = s.notice.next(reachable_from(s))) step(s, *n);
}

void Simulation::crash(SideState& s) {
  if (s.ctl->crashed()) return;
  step(s, Crash{});
  rearm_deadline(s);
  ++s.incarnation;  // its disk I/O and its waiting messages are lost with it
  s.outbox.clear();
  s.outbox_armed = false;
  s.inbox.clear();
  s.inbox_armed = false;
  s.loop_wakes_at = Time{};  // its loop's pending wake-up died with it
  s.loop_busy_until = Time{};
  s.loop_preempted.clear();
  SideState& p = peer(s);
  p.notice.session_ended();
  at(Time::from_s(sg::Engine::get_clock()) + Time::from_s(sc_.link.failure_detection_ms * 1e-3), [this, &p] {
    release_retired();
    notify(p);
  });
}

void Simulation::restart(SideState& s) {
  if (!s.ctl->crashed()) return;
  step(s, Restart{});
  s.notice.restarted();
  notify(s);
  SideState& p = peer(s);
  at(Time::from_s(sg::Engine::get_clock()), [this, &p] {
    release_retired();
    notify(p);
  });
}

void Simulation::set_links(std::optional<uint32_t> link, bool up) {
  const bool was_up = any_link_up();
  for (uint32_t l = 0; l < sc_.link.links; ++l) {
    if ((link && *link != l) || link_up_[l] == up) continue;
    link_up_[l] = up;
    for (sg::Link* d : links_[l]) up ? d->turn_on() : d->turn_off();
  }
  const Time now = Time::from_s(sg::Engine::get_clock());
  if (was_up && !any_link_up()) break_session(now + Time::from_s(sc_.link.failure_detection_ms * 1e-3));
  if (!was_up && any_link_up())
    for (SideState& s : sides_)
      at(now, [this, &s] {
        release_retired();
        notify(s);
      });
}

void Simulation::degrade_links(const FailureScenario& f) {
  double sum = 0;
  for (uint32_t l = 0; l < sc_.link.links; ++l) {
    if (!f.link || *f.link == l) {
      if (f.bandwidth_gbit_per_s) link_bandwidth_bytes_per_s_[l] = *f.bandwidth_gbit_per_s * 1e9 / 8.0;
      for (sg::Link* d : links_[l]) {
        d->set_bandwidth(link_bandwidth_bytes_per_s_[l]);
        if (f.added_latency_us) d->set_latency(link_base_latency_s_[l] + *f.added_latency_us * 1e-6);
      }
    }
    sum += link_bandwidth_bytes_per_s_[l];
  }
  // The metrics charge every message at the links' mean bandwidth.
  metrics_->link_bandwidth(Time::from_s(sg::Engine::get_clock()), sum / sc_.link.links);
}

void Simulation::apply_failure(const FailureScenario& f) {
  using L = FailureAction::Links;
  const FailureAction act = failure_action(f.event, f.controller, view(sides_[0]), view(sides_[1]));
  if (act.links == L::Cut) set_links(act.site_lost ? std::nullopt : f.link, false);
  if (act.links == L::Restore) set_links(f.link, true);
  if (act.links == L::Degrade) degrade_links(f);
  if (act.crash) crash(side(*act.crash));
  if (act.restart) restart(side(*act.restart));
  if (act.disk_side) side(*act.disk_side).disk_failed[*f.disk] = act.disk_failed;
  if (act.step_side) step(side(*act.step_side), act.step_input);
}

// ---------------------------------------------------------------------------
// hosts

void Simulation::start_workload(WorkloadState& w) {
  const WorkloadScenario& c = *w.cfg;
  w.stop = Time::from_s(c.stop_s ? *c.stop_s : sc_.duration_s);
  const Time start = Time::from_s(c.start_s);
  if (c.arrival == Arrival::Intervals || c.arrival == Arrival::Trace) {
    issue(w, w.stream->next_arrival_after(start));
  } else if (c.arrival == Arrival::Poisson) {
    issue(w, start + w.stream->next_gap());
  } else {
    for (uint32_t q = 0; q < c.queue_depth; ++q) issue(w, start);
  }
}

void Simulation::issue(WorkloadState& w, Time arrival) {
  if (w.stopped || finished_) return;
  if (arrival >= w.stop || (w.cfg->requests && w.issued >= *w.cfg->requests)) {
    w.stopped = true;
    return;
  }
  // A request meets the front end when it arrives (whose processors are
  // busy then, and which side the hosts address then).
  if (arrival > Time::from_s(sg::Engine::get_clock())) {
    at(arrival, [this, &w, arrival] {
      release_retired();
      arrive(w, arrival);
    });
    return;
  }
  arrive(w, arrival);
}

void Simulation::arrive(WorkloadState& w, Time arrival) {
  if (w.stopped || finished_) return;
  ++w.issued;
  ++w.outstanding;
  const Side target = host_side();
  SideState& s = side(target);
  // The stream is drawn in its fixed order: write or read, track, then the
  // gap to the next arrival.
  const bool write = w.stream->next_is_write(arrival);
  const TrackKey key{w.cfg->volume_index, w.stream->next_track()};
  const uint32_t bytes = w.stream->block_bytes(arrival, write);
  const Time stored = use_processor(s, Pool::FrontEnd, arrival,
                                    with_bytes((write ? s.front_end_write : s.front_end_read).draw(),
                                               s.front_end_per_kib_us, bytes),
                                    Step::Starts);
  if (other_per_request_.ns > 0) {
    // The machine's other work for this request: it holds a processor after
    // the request's own front-end work and delays what queues behind it.
    const ProcessorPool::Slot slot = s.pool[index_of(Pool::FrontEnd)]->take(arrival, other_per_request_);
    metrics_->processor_other_work(s.side, Pool::FrontEnd, arrival, slot.start, slot.end);
  }
  at(stored, [this, &w, arrival, target, write, key, bytes] {
    release_retired();
    apply_request(w, arrival, target, write, key, bytes);
  });
  if (w.cfg->arrival == Arrival::Poisson) issue(w, arrival + w.stream->next_gap());
  if (w.cfg->arrival == Arrival::Intervals || w.cfg->arrival == Arrival::Trace)
    issue(w, w.stream->next_arrival_after(arrival));
}

void Simulation::apply_request(WorkloadState& w, Time arrival, Side target, bool write, TrackKey key, uint32_t bytes) {
  if (finished_) return;
  const Time now = Time::from_s(sg::Engine::get_clock());
  const RequestId id = next_req_++;
  Request r{w.index, write, key, arrival, -1};
  if (write && tracing_ && traced_writes_ < opt_.trace_writes) r.traced = static_cast<int64_t>(traced_writes_++);
  requests_.insert(id, r);
  metrics_->host_issued(id, arrival, arrival, key, write, bytes);
  SideState& s = side(target);
  if (r.traced >= 0) trace_.add("cache store", s.side == Side::A ? "R1" : "R2", static_cast<uint64_t>(r.traced), arrival, now);
  if (s.ctl->crashed()) {
    // Nobody answers at a dead controller.
    metrics_->host_unanswered(id, now);
    complete_request(id, now);
  } else if (write) {
    if (r.traced >= 0) trace_applying_ = std::make_pair(key, r.traced);
    step(s, HostWrite{id, key, bytes});
    trace_applying_.reset();
  } else {
    step(s, HostRead{id, key, bytes});
  }
}

void Simulation::complete_request(RequestId id, Time now) {
  const Request* found = requests_.find(id);
  if (!found) return;
  const Request r = *found;
  requests_.erase(id);
  if (r.traced >= 0) trace_.add("host write", "hosts", static_cast<uint64_t>(r.traced), r.issued, now);
  WorkloadState& w = workloads_[r.workload];
  --w.outstanding;
  if (w.cfg->arrival == Arrival::Closed) issue(w, now + Time::from_us(w.cfg->think_us));
}

// ---------------------------------------------------------------------------
// the end of the run

bool Simulation::workloads_done() const {
  for (const WorkloadState& w : workloads_)
    if (!w.stopped || w.outstanding) return false;
  return requests_.empty();
}

bool Simulation::any_disk_failed() const {
  for (const SideState& s : sides_)
    if (std::find(s.disk_failed.begin(), s.disk_failed.end(), true) != s.disk_failed.end()) return true;
  return false;
}

void Simulation::check_end(Time now) {
  if (finished_) return;
  if (opt_.progress) {
    const auto wall = std::chrono::steady_clock::now();
    if (wall - wall_start_ > std::chrono::seconds(2) && wall - last_progress_ > std::chrono::seconds(1)) {
      last_progress_ = wall;
      progress_shown_ = true;
      fmt::print(stderr, "\r  simulated {:.1f} s of {:.1f} s, {} host writes, {:.0f} s wall   ", now.s(),
                 sc_.duration_s, metrics_->host_writes(), std::chrono::duration<double>(wall - wall_start_).count());
    }
  }
  if (now >= duration_ && workloads_done() && pair_quiet(view(sides_[0]), view(sides_[1]), any_link_up()))
    return finish(now, true, (now - duration_).s());
  if (now >= duration_ + Time::from_s(kDrainMaxS)) return finish(now, false, kDrainMaxS);
  at(now + Time::from_s(sc_.measurement.timeseries_interval_s), [this, next = now + Time::from_s(sc_.measurement.timeseries_interval_s)] {
    release_retired();
    check_end(next);
  });
}

void Simulation::finish(Time now, bool drained, double waited_s) {
  end_state_ = pair_end(view(sides_[0]), view(sides_[1]), any_link_up(), any_disk_failed(), drained, waited_s);
  end_ = now;
  finished_ = true;
  for (SideState& s : sides_)
    if (s.deadline_timer) {
      s.deadline_timer->remove();
      s.deadline_timer = nullptr;
    }
}

RunResult Simulation::run() {
  wall_start_ = last_progress_ = std::chrono::steady_clock::now();
  int argc = 1;
  char name[] = "mirrorsim";
  char* argv[] = {name, nullptr};
  engine_ = std::make_unique<sg::Engine>(&argc, argv);
  xbt_log_control_set("root.thres:critical");
  RunResult result;
  // Exact latency + size/bandwidth unless the scenario asks for SimGrid's
  // TCP-flavoured default (which inflates latency about 13-fold).
  if (sc_.link.network_model == "cm02")
    result.engine_config = {"network/model:CM02", "network/TCP-gamma:0", "network/crosstraffic:0"};
  else
    result.engine_config = {"network/model:LV08"};
  for (const auto& c : result.engine_config) sg::Engine::set_config(c);
  sg::Activity::on_completion_cb([this](const sg::Activity& a) { on_comm_done(a); });

  warmup_ = Time::from_s(sc_.measurement.warmup_s);
  duration_ = Time::from_s(sc_.duration_s);
  other_per_request_ = Time::from_us(sc_.processors_other_per_request_us);
  wakeup_ = ServiceStream(sc_.processors_wakeup_us, sc_.seed, "processors_wakeup_us");
  wakeup_on_ = !wakeup_.is_zero();
  preemption_ = ServiceStream(sc_.processors_preemption_us, sc_.seed, "processors_preemption_us");
  preemption_on_ = !preemption_.is_zero();
  const ProcessorPlan plan = processor_plan(sc_);
  for (uint32_t n : plan.processors) pools_.emplace_back(n);
  for (uint32_t i = 0; i < sc_.disk_device_servers; ++i) disk_device_free_.insert(Time{});
  for (int i = 0; i < 2; ++i) {
    SideState& s = sides_[i];
    s.side = i == 0 ? Side::A : Side::B;
    for (int p = 0; p < kPools; ++p) s.pool[static_cast<size_t>(p)] = &pools_[plan.group[static_cast<size_t>(3 * i + p)]];
    s.cfg = i == 0 ? &sc_.primary : &sc_.secondary;
    s.ctl = std::make_unique<Controller>(s.side, i == 0 ? Role::Primary : Role::Secondary, controller_config(sc_, s.side));
    const ControllerScenario& cs = *s.cfg;
    const std::string tag(to_string(s.side));
    auto stream = [&](const ServiceTime& t, std::string_view key) {
      return ServiceStream(t, sc_.seed, fmt::format("{}.{}", tag, key));
    };
    s.front_end_write = stream(cs.front_end_write_us, "front_end_write_us");
    s.front_end_read = stream(cs.front_end_read(), "front_end_read_us");
    s.copy_send = stream(cs.remote_adapter_copy_send_us, "remote_adapter_copy_send_us");
    s.copy_receive = stream(cs.remote_adapter_copy_receive_us, "remote_adapter_copy_receive_us");
    s.ack_receive = stream(cs.remote_adapter_ack_receive_us, "remote_adapter_ack_receive_us");
    s.destage = stream(cs.back_end_destage_us, "back_end_destage_us");
    s.back_end_read = stream(cs.back_end_disk_read_us, "back_end_disk_read_us");
    s.disk_write = stream(cs.disk_write_us, "disk_write_us");
    s.first_write_on = cs.disk_first_write_us.has_value();
    s.unwritten_read_on = cs.disk_unwritten_read_us.has_value();
    if (s.first_write_on) s.disk_first_write = stream(*cs.disk_first_write_us, "disk_first_write_us");
    s.disk_read = stream(cs.disk_read_us, "disk_read_us");
    if (s.unwritten_read_on) s.disk_unwritten_read = stream(*cs.disk_unwritten_read_us, "disk_unwritten_read_us");
    if (s.first_write_on || s.unwritten_read_on)
      for (const auto& v : sc_.volumes) s.disk_allocated.emplace_back(v.tracks, false);
    s.link_overhead = stream(sc_.link.overhead_us, "link.overhead_us");
    s.link_overhead_varies = sc_.link.overhead_us.distribution != Distribution::Fixed;
    s.front_end_per_kib_us = cs.front_end_per_kib_us;
    s.remote_adapter_per_kib_us = cs.remote_adapter_per_kib_us;
    s.back_end_per_kib_us = cs.back_end_per_kib_us;
    for (const auto& v : sc_.volumes) s.disk_content.emplace_back(v.tracks, 0);
    s.disk_failed.assign(s.cfg->disks, false);
    s.disk_free.assign(s.cfg->disks, Time{});
    s.disk_bandwidth_bytes_per_s.assign(s.cfg->disks, s.cfg->disk_bandwidth_mb_per_s * 1e6);
  }
  observer_ = std::make_unique<Observer>(*sides_[0].ctl, *sides_[1].ctl, opt_.violation_trace_length);
  metrics_ = std::make_unique<RunMetrics>(sc_, RunMetrics::window_of(sc_, Time{}), *sides_[0].ctl, *sides_[1].ctl, *observer_);
  build_platform();
  for (uint32_t i = 0; i < sc_.workloads.size(); ++i) {
    WorkloadState w;
    w.cfg = &sc_.workloads[i];
    w.index = i;
    w.stream = std::make_unique<WorkloadStream>(sc_, i);
    workloads_.push_back(std::move(w));
  }
  for (WorkloadState& w : workloads_) start_workload(w);
  for (const FailureScenario& f : sc_.failures)
    at(Time::from_s(f.at_s), [this, &f] {
      release_retired();
      if (!finished_) apply_failure(f);
    });
  const Time first_check = Time::from_s(sc_.measurement.timeseries_interval_s);
  at(first_check, [this, first_check] {
    release_retired();
    check_end(first_check);
  });

  engine_->run();
  release_retired();
  if (progress_shown_) fmt::print(stderr, "\n");
  if (!finished_) throw std::runtime_error("the simulation ran out of events before the pair could end (a driver bug)");
  result.end_state = end_state_.end_state;
  result.drain_failed = end_state_.drain_failed;
  return collect(std::move(result));
}

RunResult Simulation::collect(RunResult r) {
  r.driver = "sim";
  r.mirrorsim_version = MIRRORSIM_VERSION;
  r.engine_version = "SimGrid " + simgrid_version();
  r.seed = sc_.seed;
  r.scenario_toml = sc_.resolved_toml;
  r.scenario = to_json(sc_);
  r.ended_s = end_.s();
  for (const SideState& s : sides_) s.ctl->audit();  // its counts against its track table, once a run
  metrics_->finish(end_, r);
  // I9 at the end, when the pair drained with nothing in the way: nothing owed, R2 == R1.
  if (end_state_.quiesced()) {
    observer_->check_quiesced(end_);
    r.quiesced_at_end = true;
  }
  r.invariant_violations = observer_->violation_count();
  if (r.invariant_violations) r.violation_report = observer_->report();
  r.engine_activities = activities_;
  for (const WorkloadState& w : workloads_) r.trace_requests_split += w.stream->requests_split();
  if (opt_.trace) r.trace_json = trace_.to_json();
  return r;
}

// ---------------------------------------------------------------------------
// the trace of the first writes: one row of phases per write

void Simulation::trace_step_versions(const Commands& out) {
  if (!trace_applying_) return;
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

void Simulation::trace_delivered(SideState& s, const Message& m, uint32_t link, Time now) {
  if (const auto* c = std::get_if<CopyData>(&m); c && !c->fetch) {
    auto it = trace_rows_.find({c->key, c->version});
    auto start = trace_pending_.find({index_of(peer_of(s.side)), c->key, c->version});
    if (it != trace_rows_.end() && start != trace_pending_.end()) {
      trace_.add(fmt::format("copy v{} on link {}", to_string(c->version), link), "link", it->second, start->second, now);
      trace_pending_.erase(start);
      trace_pending_[{index_of(s.side), c->key, c->version}] = now;  // stored at the secondary
    }
  } else if (const auto* a = std::get_if<CopyAck>(&m)) {
    auto it = trace_rows_.find({a->key, a->version});
    auto stored = trace_pending_.find({index_of(peer_of(s.side)), a->key, a->version});
    if (it != trace_rows_.end() && stored != trace_pending_.end()) {
      trace_.add(fmt::format("secondary store, acknowledgement v{}", to_string(a->version)), "link", it->second,
                 stored->second, now);
      trace_pending_.erase(stored);
    }
  }
}

}  // namespace

RunResult simulate(const Scenario& scenario, const SimOptions& options) {
  Simulation sim(scenario, options);
  return sim.run();
}

}  // namespace mirrorsim
