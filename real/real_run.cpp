#include "real/real_run.hpp"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <unordered_map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "config/scenario_json.hpp"
#include "real/clock.hpp"
#include "real/connection.hpp"
#include "real/controller_server.hpp"
#include "real/disk.hpp"
#include "real/event_loop.hpp"
#include "real/geometry.hpp"
#include "real/interrupt.hpp"
#include "real/protocol.hpp"
#include "real/replay.hpp"
#include "real/run_files.hpp"
#include "real/spawn.hpp"
#include "real/state_file.hpp"
#include "real/track_image.hpp"
#include "workload/stream.hpp"
#include "model/pair.hpp"

#ifndef MIRRORSIM_VERSION
#define MIRRORSIM_VERSION "0.0.0"
#endif

namespace mirrorsim::real {

namespace {

namespace fs = std::filesystem;

constexpr Time kStartTimeout = Time::from_s(60);  // a controller creates its backing files and state file
constexpr Time kCallTimeout = Time::from_s(30);
constexpr Time kLinkUpTimeout = Time::from_s(10);
constexpr Time kUnreachableBackoff = Time::from_us(1000);
constexpr Time kCatchUpMax = Time::from_us(10'000);  // how late a host's last arrivals may still go out
constexpr Time kStatusInterval = Time::from_us(20'000);
constexpr size_t kFindingsKept = 20;

std::string side_name(Side s) { return std::string(to_string(s)); }

std::string bytes_text(uint64_t b) {
  if (b >= (1ull << 30)) return fmt::format("{:.1f} GiB", static_cast<double>(b) / (1ull << 30));
  return fmt::format("{:.1f} MiB", static_cast<double>(b) / (1ull << 20));
}

bool is_async(const Scenario& s) {
  return std::any_of(s.volumes.begin(), s.volumes.end(), [](const VolumeScenario& v) { return v.mode == Mode::Async; });
}

uint64_t total_tracks(const Scenario& s) {
  uint64_t n = 0;
  for (const auto& v : s.volumes) n += v.tracks;
  return n;
}

// What a run can write to one controller's disks, from its workloads: each
// issues at most its request budget, or (Poisson) its rate over its time
// plus 6 standard deviations; a closed workload without a budget is bounded
// by its volume only. A written track takes at most the volume's largest
// request, rounded up to 4 KiB file-system blocks (every write of a track
// starts at its first byte).
struct WriteBound {
  uint64_t tracks_written = 0;
  uint64_t bytes_per_track = 0;  // the largest over the volumes
  uint64_t disk_bytes = 0;
  uint64_t requests = 0;         // reads and writes, saturating
};

WriteBound write_bound(const Scenario& s) {
  constexpr uint64_t kUnbounded = UINT64_MAX / 4;
  std::vector<uint64_t> writes(s.volumes.size(), 0);
  std::vector<uint64_t> block(s.volumes.size(), 0);
  WriteBound b;
  for (const WorkloadScenario& w : s.workloads) {
    uint64_t n = kUnbounded;
    if (w.arrival == Arrival::Poisson) {
      const double span = std::max(0.0, (w.stop_s ? *w.stop_s : s.duration_s) - w.start_s);
      const double mean = w.rate_iops * span;
      n = static_cast<uint64_t>(std::ceil(mean + 6 * std::sqrt(mean) + 16));
    }
    if (w.requests) n = std::min(n, *w.requests);
    b.requests = std::min(kUnbounded, b.requests + n);
    if (w.write_fraction <= 0) continue;
    const uint64_t nw = w.write_fraction >= 1 || n == kUnbounded
                            ? n
                            : std::min(n, static_cast<uint64_t>(std::ceil(n * w.write_fraction + 6 * std::sqrt(n) + 16)));
    writes[w.volume_index] = std::min(kUnbounded, writes[w.volume_index] + nw);
    block[w.volume_index] = std::max<uint64_t>(block[w.volume_index], (w.block_bytes + 4095ull) / 4096 * 4096);
  }
  for (size_t v = 0; v < s.volumes.size(); ++v) {
    const uint64_t tracks = std::min<uint64_t>(writes[v], s.volumes[v].tracks);
    const uint64_t per_track = std::min<uint64_t>(block[v], (s.primary.track_bytes + 4095ull) / 4096 * 4096);
    b.tracks_written += tracks;
    b.bytes_per_track = std::max(b.bytes_per_track, per_track);
    b.disk_bytes += tracks * per_track;
  }
  return b;
}

LinkShaping base_shaping(const Scenario& s, const RealOptions& o) {
  LinkShaping l;
  if (o.emulate_link) {
    l.delay_ns = Time::from_us(5.0 * s.link.distance_km).ns;
    if (o.emulate_link_bandwidth) l.bandwidth_bytes_per_s = s.link.bandwidth_gbit_per_s * 1e9 / 8.0 * s.link.links;
  }
  l.jitter_ns = Time::from_us(o.link_jitter_us).ns;
  l.loss_probability = o.link_loss;
  // The heartbeat timeout stands for the scenario's failure detection; a
  // floor of 20 ms keeps scheduling hiccups of a busy machine from passing
  // for a dead link.
  l.failure_detection_ns = std::max<int64_t>(Time::from_us(s.link.failure_detection_ms * 1e3).ns, 20'000'000);
  return l;
}

// Runs a command (ip, tc) and waits; throws with its output on failure.
void run_command(const std::vector<std::string>& argv) {
  std::string line;
  for (const auto& a : argv) line += (line.empty() ? "" : " ") + a;
  const std::string cmd = line + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) throw std::runtime_error(fmt::format("cannot run {}: {}", line, std::strerror(errno)));
  std::string out;
  char buf[256];
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  const int status = ::pclose(p);
  if (status != 0) throw std::runtime_error(fmt::format("{} failed: {}", line, out));
}

uint64_t new_run_id() {
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ rd() ^ static_cast<uint64_t>(monotonic_now().ns);
}

// ---------------------------------------------------------------------------

class Orchestrator {
 public:
  Orchestrator(const Scenario& s, const RealOptions& o) : sc_(s), opt_(o) {}
  ~Orchestrator();
  RealRun run();

 private:
  struct Proc {
    Side side = Side::A;
    std::string dir;
    std::optional<LocalController> local;  // forked here
    Endpoint endpoint;
    std::shared_ptr<Connection> control;
    std::deque<std::function<void(Frame&)>> replies;  // answers come in request order
    bool alive = false;
    Status last_status;
    bool status_pending = false;
    bool killed = false;  // by the failure schedule: its control connection's end is expected
  };
  // What this process proves to side s's controller.
  const Key& key_of(Side s) const { return s == Side::B && opt_.secondary ? opt_.secondary_key : run_key_; }
  std::string state_path(const Proc& p) const { return state_file_path(opt_.state_dir, p.dir, owner_); }
  struct Request {
    uint32_t workload = 0;
    bool write = true;
    TrackKey key;
    uint32_t bytes = 0;
    Side to = Side::A;
  };
  struct WorkloadRun {
    std::unique_ptr<WorkloadStream> stream;
    Time stop;
    uint64_t issued = 0;
    uint64_t outstanding = 0;
    bool stopped = false;
  };

  Proc& proc(Side s) { return procs_[index_of(s)]; }
  void start_controller(Proc& p, bool restart);
  void connect_control(Proc& p);
  void on_control_frame(Proc& p, const FrameView& f);
  void on_control_closed(Proc& p, const std::string& reason);
  void request(Proc& p, FrameType type, const std::vector<uint8_t>& body, std::function<void(Frame&)> reply);
  Frame call(Proc& p, FrameType type, const std::vector<uint8_t>& body, FrameType expect, Time timeout);
  Configure configure_for(Side s) const;
  void configure(Proc& p);
  Status status_now(Proc& p);
  void poll_status();

  void start_workloads();
  void issue(uint32_t w, Time at);
  void on_host_done(Proc& p, const HostDone& d);
  // `unreachable`: no controller answered (it is down); the host backs off.
  // `reached`: with unreachable, whether a controller had the request.
  void complete(RequestId id, bool ok, Version version, bool unreachable = false, bool reached = false);
  bool workloads_done() const;

  void schedule_failures();
  void apply_failure(const FailureScenario& f);
  void send_both(FrameType type, const std::vector<uint8_t>& body);
  void kill(Side s, bool power_loss);
  Side host_side() const { return host_side_; }
  // What the pair's rules see of a controller: its last status, or a dead one.
  ControllerView view(const Proc& p) const;
  void update_host_side() { host_side_ = mirrorsim::host_side(view(procs_[0]), view(procs_[1])); }


  void drain(RunResult& r);
  void snapshot(std::array<Status, 2>& into);
  // nullopt when nobody can read it (a remote R2 that is down).
  std::optional<std::vector<LogRecord>> collect_log(Proc& p, bool* truncated);
  std::vector<DigestEntry> collect_digest(Proc& p);
  void verify(LogReplay& replay, RealRun& out);
  void shut_down();
  Time run_time(double s) const { return ws_ + Time::from_s(s); }
  void progress();

  const Scenario& sc_;
  RealOptions opt_;
  EventLoop loop_;
  std::string run_dir_;
  bool remove_run_dir_ = false;
  uint64_t run_id_ = new_run_id();
  Key run_key_ = random_key();           // this run's controllers, forked here
  std::string owner_ = run_owner_tag();  // names the run directory and the state files
  Time t0_;  // monotonic time of model time 0
  Time ws_;  // monotonic time of the run's second 0 (host I/O starts)
  Proc procs_[2];
  Side host_side_ = Side::A;
  LinkShaping shaping_;
  std::string congestion_control_;
  std::set<std::string> page_cache_reads_;  // sides whose file system refused O_DIRECT reads (accepted by option)

  std::vector<WorkloadRun> workloads_;
  std::unordered_map<RequestId, Request> requests_;
  RequestId next_req_ = 1;
  std::vector<Time> sent_at_;                 // model time each request was issued, by id − 1
  std::vector<UnansweredRequest> unanswered_;  // requests the hosts saw fail without an answer, by time
  uint64_t host_writes_ = 0;
  uint64_t requests_issued_ = 0;
  Time last_request_;
  std::vector<std::vector<Version>> acked_;  // per track index: versions acknowledged to the hosts
  Geometry geometry_;
  std::vector<bool> disk_failed_[2];
  bool link_cut_ = false;
  std::array<Status, 2> at_warmup_{}, at_end_{};
  // The pair's processes' CPU (RealRun::machine_cpu_s) and the requests issued, at the same moments.
  std::optional<double> machine_cpu_now() const;
  std::optional<double> cpu_at_warmup_, cpu_at_end_;
  // The controllers' event-loop threads' runnable wait (ns) and switches in
  // (/proc/PID/task/PID/schedstat), at the same moments.
  struct LoopSchedstat {
    uint64_t waited_ns = 0;
    uint64_t switches = 0;
  };
  std::optional<LoopSchedstat> loop_schedstat_now() const;
  std::optional<LoopSchedstat> loops_at_warmup_, loops_at_end_;
  uint64_t requests_at_warmup_ = 0, requests_at_end_ = 0;
  bool ended_ = false;
  std::vector<std::string> unexpected_;  // controllers that died without the schedule killing them
  Time last_progress_;
  std::optional<EventLoop::TimerId> status_timer_;
};

Orchestrator::~Orchestrator() {
  // After a failed run as after a good one: no process, no state file left.
  for (Proc& p : procs_) {
    if (p.local) kill_controller(*p.local, SIGKILL);
    if (!p.dir.empty() && !(opt_.secondary && p.side == Side::B)) ::unlink(state_path(p).c_str());
  }
  if (remove_run_dir_) {
    std::error_code ec;
    fs::remove_all(run_dir_, ec);
  }
}

// ---- controller processes and their control connections -----------------

void Orchestrator::start_controller(Proc& p, bool restart) {
  if (opt_.secondary && p.side == Side::B) {
    p.endpoint = *opt_.secondary;
  } else {
    ServeOptions so;
    so.dir = p.dir;
    so.exit_after_run = true;  // one run, then gone with it
    so.state_dir = opt_.state_dir;
    so.quiet = !opt_.controller_logs;
    so.key = run_key_;
    so.peer_key = key_of(Side::B);
    so.state_owner = owner_;
    // A restarted controller takes its old port again, where its peer redials.
    so.listen = Endpoint{"127.0.0.1", restart ? p.endpoint.port : static_cast<uint16_t>(0)};
    if (opt_.kernel_link && p.side == Side::B) {
      so.netns = opt_.kernel_link->netns;
      so.listen.host = opt_.kernel_link->r2_address;
    }
    p.local = spawn_controller(so, Time::from_s(10));
    p.endpoint = p.local->endpoint;
  }
  connect_control(p);
  configure(p);
}

void Orchestrator::connect_control(Proc& p) {
  std::string why;
  int fd = -1;
  for (int attempt = 0; attempt < 50 && fd < 0; ++attempt) {
    fd = connect_blocking(p.endpoint, 1000, &why);
    if (fd < 0) ::usleep(20'000);
  }
  if (fd < 0) throw std::runtime_error(fmt::format("{}: {}", side_name(p.side), why));
  p.control = Connection::make(loop_, fd, kControlFrameMaxBytes, side_name(p.side) + " control", Party::Client,
                               key_of(p.side));
  p.replies.clear();
  p.control->on_frame([this, &p](const FrameView& f) { on_control_frame(p, f); });
  p.control->on_closed([this, &p](const std::string& reason) { on_control_closed(p, reason); });
  Hello h;
  h.kind = ConnectionKind::Control;
  h.run_id = run_id_;
  call(p, FrameType::Hello, encode(h), FrameType::HelloAck, kCallTimeout);
  p.alive = true;
}

void Orchestrator::on_control_frame(Proc& p, const FrameView& f) {
  if (f.type == FrameType::HostDone) {
    ByteReader r(f.body);
    const auto d = decode_host_done(r);
    if (!d) throw std::runtime_error(fmt::format("{} sent a malformed HostDone: {}", side_name(p.side), r.error()));
    on_host_done(p, *d);
    return;
  }
  if (p.replies.empty())
    throw std::runtime_error(fmt::format("{} sent an unexpected {} frame", side_name(p.side), to_string(f.type)));
  auto reply = std::move(p.replies.front());
  p.replies.pop_front();
  Frame owned = f.copy();
  reply(owned);
}

void Orchestrator::on_control_closed(Proc& p, const std::string& reason) {
  p.alive = false;
  p.control.reset();
  if (!p.killed && !ended_) {
    int status = 0;
    if (p.local) status = reap_controller(*p.local, Time::from_s(2));
    p.local.reset();
    unexpected_.push_back(fmt::format("{}'s controller went away during the run ({}{})", side_name(p.side), reason,
                                      status > 0 && WIFEXITED(status) ? fmt::format(", exit status {}", WEXITSTATUS(status))
                                      : status > 0 && WIFSIGNALED(status) ? fmt::format(", signal {}", WTERMSIG(status))
                                                                          : ""));
  }
  // Requests in progress there die with the controller: the hosts see them fail.
  std::vector<RequestId> lost;
  for (const auto& [id, r] : requests_)
    if (r.to == p.side) lost.push_back(id);
  for (RequestId id : lost) complete(id, false, 0, true, true);
  Frame closed{FrameType::Refused, encode_refusal("connection closed: " + reason), 0};
  while (!p.replies.empty()) {
    auto reply = std::move(p.replies.front());
    p.replies.pop_front();
    reply(closed);
  }
}

void Orchestrator::request(Proc& p, FrameType type, const std::vector<uint8_t>& body, std::function<void(Frame&)> reply) {
  if (!p.control) {
    Frame closed{FrameType::Refused, encode_refusal("not connected"), 0};
    reply(closed);
    return;
  }
  p.replies.push_back(std::move(reply));
  p.control->send(type, body);
}

Frame Orchestrator::call(Proc& p, FrameType type, const std::vector<uint8_t>& body, FrameType expect, Time timeout) {
  // Shared with the reply: an answer that comes after the timeout must not
  // land in this call's frame, long gone.
  auto answer = std::make_shared<std::optional<Frame>>();
  request(p, type, body, [answer](Frame& f) { *answer = std::move(f); });
  loop_.run_until([&] { return answer->has_value(); }, monotonic_now() + timeout);
  std::optional<Frame>& got = *answer;
  if (!got) throw std::runtime_error(fmt::format("{} did not answer a {} within {:.0f} s", side_name(p.side),
                                                 to_string(type), timeout.s()));
  if (got->type == FrameType::Refused) {
    ByteReader r(got->body);
    throw std::runtime_error(fmt::format("{} refused a {}: {}", side_name(p.side), to_string(type), decode_refusal(r)));
  }
  if (got->type != expect)
    throw std::runtime_error(fmt::format("{} answered a {} with a {} frame", side_name(p.side), to_string(type),
                                         to_string(got->type)));
  return std::move(*got);
}

Configure Orchestrator::configure_for(Side s) const {
  Configure c;
  c.run_id = run_id_;
  c.side = s;
  c.scenario_toml = sc_.resolved_toml;
  c.boot_id = boot_id();
  c.time_base_ns = t0_.ns;
  c.run_elapsed_ns = (monotonic_now() - t0_).ns;
  if (s == Side::A) c.peer = procs_[1].endpoint.text();
  c.link = shaping_;
  c.o_direct = opt_.o_direct;
  c.page_cache_reads = opt_.page_cache_reads;
  c.disk_failure_errno = opt_.disk_failure_errno;
  c.disk_added_latency_ns = Time::from_us(opt_.disk_added_latency_us).ns;
  c.undo_unsynced = std::any_of(sc_.failures.begin(), sc_.failures.end(),
                                [](const FailureScenario& f) { return f.event == FailureEvent::Disaster; });
  c.log_bytes = opt_.log_bytes;
  return c;
}

void Orchestrator::configure(Proc& p) {
  const Frame f = call(p, FrameType::Configure, encode(configure_for(p.side)), FrameType::Configured, kStartTimeout);
  ByteReader r(f.body);
  const auto c = decode_configured(r);
  if (!c) throw std::runtime_error(fmt::format("{} sent a malformed Configured: {}", side_name(p.side), r.error()));
  if (!c->congestion_control.empty()) congestion_control_ = c->congestion_control;
  if (!c->direct_reads) page_cache_reads_.insert(side_name(p.side));
}

Status Orchestrator::status_now(Proc& p) {
  const Frame f = call(p, FrameType::StatusRequest, {}, FrameType::Status, kCallTimeout);
  ByteReader r(f.body);
  const auto s = decode_status(r);
  if (!s) throw std::runtime_error(fmt::format("{} sent a malformed Status: {}", side_name(p.side), r.error()));
  p.last_status = *s;
  return *s;
}

void Orchestrator::poll_status() {
  // Hosts follow the primary personality (after a failover or a failback).
  status_timer_.reset();
  for (Proc& p : procs_) {
    if (!p.alive || p.status_pending) continue;
    p.status_pending = true;
    request(p, FrameType::StatusRequest, {}, [this, &p](Frame& f) {
      p.status_pending = false;
      if (f.type != FrameType::Status) return;
      ByteReader r(f.body);
      if (auto s = decode_status(r)) p.last_status = *s;
      update_host_side();
    });
  }
  if (!ended_) status_timer_ = loop_.at(monotonic_now() + kStatusInterval, [this] { poll_status(); });
}

// ---- host workloads --------------------------------------------------------

void Orchestrator::start_workloads() {
  for (uint32_t i = 0; i < sc_.workloads.size(); ++i) {
    WorkloadRun w;
    w.stream = std::make_unique<WorkloadStream>(sc_, i);
    const WorkloadScenario& c = w.stream->config();
    w.stop = run_time(c.stop_s ? *c.stop_s : sc_.duration_s);
    workloads_.push_back(std::move(w));
  }
  for (uint32_t i = 0; i < workloads_.size(); ++i) {
    const WorkloadScenario& c = workloads_[i].stream->config();
    const Time start = run_time(c.start_s);
    if (c.arrival == Arrival::Poisson) {
      const Time at = start + workloads_[i].stream->next_gap();
      loop_.at(at, [this, i, at] { issue(i, at); });
    } else {
      for (uint32_t q = 0; q < c.queue_depth; ++q) loop_.at(start, [this, i, start] { issue(i, start); });
    }
  }
}

void Orchestrator::issue(uint32_t wi, Time at) {
  WorkloadRun& w = workloads_[wi];
  const WorkloadScenario& c = w.stream->config();
  if (w.stopped) return;
  // Late timers catch up (below), but not without end: once the clock has
  // passed the host's stop, a request still due goes out only if it is less
  // than kCatchUpMax late. At a rate the loop cannot keep up with, arrival
  // times fall ever further behind the clock, and the host stops with the
  // clock; at any other, the last arrivals are the simulator's.
  const Time now = monotonic_now();
  if (at >= w.stop || (now >= w.stop && now - at > kCatchUpMax) || (c.requests && w.issued >= *c.requests)) {
    w.stopped = true;
    return;
  }
  ++w.issued;
  ++w.outstanding;
  // The simulator's order of draws: write or read, then the track, then the next gap.
  const bool write = w.stream->next_is_write();
  const TrackKey key{c.volume_index, w.stream->next_track()};
  const RequestId id = next_req_++;
  const Side to = host_side();
  requests_[id] = Request{wi, write, key, c.block_bytes, to};
  sent_at_.push_back(at - t0_);  // the host's time: what decides the measured window
  if (write) ++host_writes_;
  ++requests_issued_;
  last_request_ = now;
  Proc& p = proc(to);
  if (p.alive && p.control) {
    p.control->send(FrameType::HostRequest, encode(HostRequest{id, write, key, c.block_bytes}));
  } else {
    complete(id, false, 0, true, false);  // nobody answers at a dead controller
  }
  if (c.arrival == Arrival::Poisson) {
    // Open arrivals: late timers do not thin the stream, they catch up.
    const Time next = at + w.stream->next_gap();
    loop_.at(std::max(next, now), [this, wi, next] { issue(wi, next); });
  }
}

void Orchestrator::on_host_done(Proc& p, const HostDone& d) {
  auto it = requests_.find(d.req);
  if (it == requests_.end() || it->second.to != p.side) return;
  complete(d.req, d.ok, d.version);
}

void Orchestrator::complete(RequestId id, bool ok, Version version, bool unreachable, bool reached) {
  auto it = requests_.find(id);
  if (it == requests_.end()) return;
  const Request r = it->second;
  requests_.erase(it);
  // The response times come from the replay of the controllers' logs (the
  // metrics observer, as in the simulator); what only the hosts saw is told it.
  if (unreachable) unanswered_.push_back(UnansweredRequest{id, monotonic_now() - t0_, r.key, r.write, r.bytes, reached});
  if (ok && r.write) acked_[geometry_.index(r.key)].push_back(version);
  WorkloadRun& w = workloads_[r.workload];
  --w.outstanding;
  if (w.stream->config().arrival == Arrival::Closed) {
    // A host whose controller is unreachable retries after a short backoff
    // rather than spinning.
    const Time think = Time::from_us(w.stream->config().think_us);
    const Time next = monotonic_now() + (unreachable ? std::max(think, kUnreachableBackoff) : think);
    const uint32_t wi = r.workload;
    loop_.at(next, [this, wi, next] { issue(wi, next); });
  }
}

bool Orchestrator::workloads_done() const {
  for (const WorkloadRun& w : workloads_)
    if (!w.stopped || w.outstanding) return false;
  return requests_.empty();
}

// ---- the failure schedule --------------------------------------------------

void Orchestrator::schedule_failures() {
  for (const FailureScenario& f : sc_.failures) loop_.at(run_time(f.at_s), [this, &f] { apply_failure(f); });
}

void Orchestrator::send_both(FrameType type, const std::vector<uint8_t>& body) {
  for (Proc& p : procs_)
    if (p.alive && p.control) p.control->send(type, body);
}

void Orchestrator::kill(Side s, bool power_loss) {
  Proc& p = proc(s);
  if (!p.local || !p.alive) return;
  if (power_loss && p.control) {
    // The controller drops its unsynced writes and exits by itself.
    p.control->send(FrameType::PowerLoss, {});
    reap_controller(*p.local, Time::from_s(10));
  } else {
    kill_controller(*p.local, SIGKILL);
  }
  p.local.reset();
  p.killed = true;
  if (p.control) p.control->close("killed");
  p.alive = false;
}

ControllerView Orchestrator::view(const Proc& p) const {
  ControllerView v = p.last_status.controller;
  v.crashed = v.crashed || !p.alive;
  // Told its peer is reachable, and on a connection that is up now.
  v.told_reachable = v.told_reachable && p.last_status.link_connected;
  return v;
}

void Orchestrator::apply_failure(const FailureScenario& f) {
  using L = FailureAction::Links;
  if (opt_.progress) fmt::print(stderr, "\r  {:.3f} s: {}                     \n", (monotonic_now() - ws_).s(), to_string(f.event));
  const auto& k = opt_.kernel_link;
  const FailureAction act = failure_action(f.event, f.controller, view(procs_[0]), view(procs_[1]));
  if (act.links == L::Cut || act.links == L::Restore) {
    link_cut_ = act.links == L::Cut;
    if (k) run_command({"ip", "link", "set", "dev", k->device, link_cut_ ? "down" : "up"});
    else send_both(FrameType::LinkFault, encode(LinkFault{link_cut_ ? LinkFault::Kind::Cut : LinkFault::Kind::Restore, {}}));
  }
  if (act.links == L::Degrade) {
    if (k) {
      // Refused up front when it asks for an added latency (no netem here).
      const double bits = *f.bandwidth_gbit_per_s * 1e9 * sc_.link.links;
      run_command({"tc", "qdisc", "replace", "dev", k->device, "root", "tbf", "rate", fmt::format("{:.0f}bit", bits),
                   "burst", "64kb", "latency", "50ms"});
    } else {
      if (f.bandwidth_gbit_per_s) shaping_.bandwidth_bytes_per_s = *f.bandwidth_gbit_per_s * 1e9 / 8.0 * sc_.link.links;
      if (f.added_latency_us)
        shaping_.delay_ns = base_shaping(sc_, opt_).delay_ns + Time::from_us(*f.added_latency_us).ns;
      send_both(FrameType::LinkFault, encode(LinkFault{LinkFault::Kind::Shape, shaping_}));
    }
  }
  // A disaster is a power loss of the primary's site: its unsynced writes go with it.
  if (act.crash) kill(*act.crash, act.site_lost);
  if (act.restart) {
    Proc& p = proc(*act.restart);
    if (!p.alive) {
      p.killed = false;
      start_controller(p, true);
      // It comes back with the faults of the moment.
      if (link_cut_) p.control->send(FrameType::LinkFault, encode(LinkFault{LinkFault::Kind::Cut, {}}));
      p.control->send(FrameType::LinkFault, encode(LinkFault{LinkFault::Kind::Shape, shaping_}));
      for (uint32_t d = 0; d < disk_failed_[index_of(p.side)].size(); ++d)
        if (disk_failed_[index_of(p.side)][d]) p.control->send(FrameType::DiskFault, encode(DiskFault{DiskFault::Kind::Fail, d, 0}));
    }
  }
  if (act.disk_side) {
    disk_failed_[index_of(*act.disk_side)][*f.disk] = act.disk_failed;
    Proc& p = proc(*act.disk_side);
    if (p.alive && p.control)
      p.control->send(FrameType::DiskFault,
                      encode(DiskFault{act.disk_failed ? DiskFault::Kind::Fail : DiskFault::Kind::Repair, *f.disk, 0}));
  }
  if (act.step_side) {
    const OperatorAction a = std::holds_alternative<Failover>(act.step_input)   ? OperatorAction::Failover
                             : std::holds_alternative<Failback>(act.step_input) ? OperatorAction::Failback
                             : std::holds_alternative<Suspend>(act.step_input)  ? OperatorAction::Suspend
                                                                                : OperatorAction::Resume;
    Proc& p = proc(*act.step_side);
    if (p.alive && p.control) {
      p.control->send(FrameType::Operator, encode(a));
      // Hosts follow the primary personality at once: the controller has
      // stepped the command before it answers this.
      status_now(p);
      update_host_side();
    }
  }
}

// ---- the end of the run ----------------------------------------------------

std::optional<double> Orchestrator::machine_cpu_now() const {
  rusage self{};
  if (::getrusage(RUSAGE_SELF, &self) != 0) return std::nullopt;
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  double cpu = seconds(self.ru_utime) + seconds(self.ru_stime);
  const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
  for (const Proc& p : procs_) {
    if (!p.local || !p.alive || tick <= 0) return std::nullopt;
    std::ifstream f(fmt::format("/proc/{}/stat", p.local->pid));
    std::string stat((std::istreambuf_iterator<char>(f)), {});
    // After the command's closing parenthesis: state (field 3) … utime (14), stime (15).
    const size_t close = stat.rfind(')');
    if (close == std::string::npos) return std::nullopt;
    std::istringstream fields(stat.substr(close + 1));
    std::string field;
    double utime = -1, stime = -1;
    for (int i = 3; i <= 15 && fields >> field; ++i) {
      if (i == 14) utime = std::strtod(field.c_str(), nullptr);
      if (i == 15) stime = std::strtod(field.c_str(), nullptr);
    }
    if (utime < 0 || stime < 0) return std::nullopt;
    cpu += (utime + stime) / tick;
  }
  return cpu;
}

std::optional<Orchestrator::LoopSchedstat> Orchestrator::loop_schedstat_now() const {
  LoopSchedstat sum;
  for (const Proc& p : procs_) {
    if (!p.local || !p.alive) return std::nullopt;
    // The main thread is the event loop: "on-CPU ns, runnable-wait ns, switches in".
    std::ifstream f(fmt::format("/proc/{0}/task/{0}/schedstat", p.local->pid));
    uint64_t on_cpu = 0, waited = 0, switches = 0;
    if (!(f >> on_cpu >> waited >> switches)) return std::nullopt;
    sum.waited_ns += waited;
    sum.switches += switches;
  }
  return sum;
}

void Orchestrator::snapshot(std::array<Status, 2>& into) {
  for (Proc& p : procs_) {
    if (!p.alive) continue;
    request(p, FrameType::StatusRequest, {}, [&into, &p](Frame& f) {
      if (f.type != FrameType::Status) return;
      ByteReader r(f.body);
      if (auto s = decode_status(r)) into[index_of(p.side)] = *s;
    });
  }
}

void Orchestrator::drain(RunResult& r) {
  const double timeout_s = opt_.drain_timeout_s.value_or(default_drain_timeout_s(sc_));
  const Time deadline = monotonic_now() + Time::from_s(timeout_s);
  bool drained = false;
  while (monotonic_now() < deadline) {
    for (Proc& p : procs_)
      if (p.alive) status_now(p);
    // The link counts as up unless the schedule cut it: a connection that
    // broke by itself (a loss, a timeout) is coming back, and the resync
    // after it is still owed.
    if (pair_quiet(view(procs_[0]), view(procs_[1]), !link_cut_)) {
      drained = true;
      break;
    }
    loop_.run(monotonic_now() + Time::from_us(2000));
  }
  r.ended_s = (monotonic_now() - ws_).s();
  const bool disk_failed = std::find(disk_failed_[0].begin(), disk_failed_[0].end(), true) != disk_failed_[0].end() ||
                           std::find(disk_failed_[1].begin(), disk_failed_[1].end(), true) != disk_failed_[1].end();
  const PairEnd end = pair_end(view(procs_[0]), view(procs_[1]), !link_cut_, disk_failed, drained, timeout_s);
  r.end_state = end.end_state;
  r.drain_failed = end.drain_failed;
}

std::optional<std::vector<LogRecord>> Orchestrator::collect_log(Proc& p, bool* truncated) {
  std::vector<uint8_t> bytes;
  *truncated = false;
  if (p.alive) {
    for (uint64_t offset = 0;;) {
      const Frame f = call(p, FrameType::LogRequest, encode(LogRequest{offset, kLogChunkMaxBytes}), FrameType::LogChunk,
                           kCallTimeout);
      ByteReader r(f.body);
      const auto c = decode_log_chunk(r);
      if (!c) throw std::runtime_error(fmt::format("{} sent a malformed LogChunk: {}", side_name(p.side), r.error()));
      bytes.insert(bytes.end(), c->bytes.begin(), c->bytes.end());
      offset += c->bytes.size();
      *truncated = c->truncated;
      if (c->end || c->bytes.empty()) break;
    }
  } else if (opt_.secondary && p.side == Side::B) {
    return std::nullopt;
  } else {
    // A dead local controller: its state file is still there (opening it
    // finishes its last step, as its restart would).
    std::string why;
    auto state = StateFile::open(state_path(p), Geometry::of(controller_config(sc_, p.side)), &why);
    if (!state) throw std::runtime_error(fmt::format("{} is down and its state cannot be read: {}", side_name(p.side), why));
    const auto all = state->log_bytes(0, UINT64_MAX);
    bytes.assign(all.begin(), all.end());
    *truncated = state->log_truncated();
  }
  bool complete = true;
  auto records = parse_log(bytes, &complete);
  if (!complete) *truncated = true;
  if (!remove_run_dir_) {
    // A kept run directory keeps the input logs too, for a later look.
    std::ofstream out(fmt::format("{}/{}.inputs", run_dir_, side_name(p.side)), std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  return records;
}

std::vector<DigestEntry> Orchestrator::collect_digest(Proc& p) {
  std::vector<DigestEntry> out;
  const Geometry g = Geometry::of(controller_config(sc_, p.side));
  if (p.alive) {
    for (uint64_t first = 0; first < g.total_tracks; first += kDigestChunkTracks) {
      const uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(kDigestChunkTracks, g.total_tracks - first));
      const Frame f = call(p, FrameType::DigestRequest, encode(DigestRequest{first, n}), FrameType::Digest, kCallTimeout);
      ByteReader r(f.body);
      const auto d = decode_digest(r);
      if (!d || d->entries.size() != n)
        throw std::runtime_error(fmt::format("{} sent a malformed Digest: {}", side_name(p.side), r.error()));
      out.insert(out.end(), d->entries.begin(), d->entries.end());
    }
    return out;
  }
  if (opt_.secondary && p.side == Side::B) return out;
  // A dead local controller: read its backing files and state directly.
  DiskSet disks(g, p.dir, DiskOptions{}, [] {});
  disks.open_existing();
  std::string why;
  auto state = StateFile::open(state_path(p), g, &why);
  for (const TrackDigest& t : disks.digest(0, static_cast<uint32_t>(g.total_tracks))) {
    DigestEntry e;
    e.check = static_cast<uint8_t>(t.check);
    e.version = t.version;
    e.length = t.length;
    e.checksum = t.checksum;
    const uint64_t i = out.size();
    if (state && state->nonvolatile_payloads()) {
      const TrackRecord rec = state->record(i);
      if (rec.payload_slot >= 0 && rec.durable.cached) e.cached_version = rec.durable.cached_version;
    }
    out.push_back(e);
  }
  return out;
}

void Orchestrator::verify(LogReplay& replay, RealRun& out) {
  Verification& v = out.verification;
  RunResult& r = out.result;
  auto finding = [&](std::string what) {
    if (v.findings.size() < kFindingsKept) v.findings.push_back(std::move(what));
    else if (v.findings.size() == kFindingsKept) v.findings.push_back("(further findings not listed)");
  };
  std::array<std::vector<DigestEntry>, 2> digest{collect_digest(procs_[0]), collect_digest(procs_[1])};

  // R2 == R1, track by track, and both as the model and the generator say.
  // A track never written on either side (a hole: the digest needs no read
  // for it) holds version 0 by definition; the model must say so too.
  const auto unwritten = static_cast<uint8_t>(ImageCheck::Unwritten);
  if (r.quiesced_at_end && !digest[0].empty() && digest[0].size() == digest[1].size()) {
    v.disks_compared = true;
    for (uint64_t i = 0; i < geometry_.total_tracks; ++i) {
      const TrackKey k = geometry_.key_of(i);
      const DigestEntry& a = digest[0][i];
      const DigestEntry& b = digest[1][i];
      bool damaged = false;
      auto like_model = [&](Version on_disk, Side s) {
        if (on_disk == replay.controller(s).content_version(k)) return;
        ++v.tracks_unlike_model;
        finding(fmt::format("track {} on {}: the disk holds v{}{}, the replayed model says v{}", to_string(k), side_name(s),
                            to_string(on_disk), on_disk == 0 ? " (never written)" : "",
                            to_string(replay.controller(s).content_version(k))));
      };
      if (a.check == unwritten && b.check == unwritten) {
        ++v.tracks_unwritten;
        like_model(0, Side::A);
        like_model(0, Side::B);
        continue;
      }
      ++v.tracks_compared;
      auto check_side = [&](const DigestEntry& e, Side s) {
        if (e.check == unwritten) {
          like_model(0, s);
        } else if (e.check != static_cast<uint8_t>(ImageCheck::Ok)) {
          damaged = true;
          finding(fmt::format("track {} on {}: {}", to_string(k), side_name(s), to_string(static_cast<ImageCheck>(e.check))));
        } else if (e.checksum != expected_checksum(k, e.version, e.length, sc_.seed)) {
          damaged = true;
          finding(fmt::format("track {} on {}: v{} is not the data generated for that version", to_string(k), side_name(s),
                              to_string(e.version)));
        } else {
          like_model(e.version, s);
        }
      };
      check_side(a, Side::A);
      check_side(b, Side::B);
      if (damaged) ++v.tracks_damaged;
      // One side never written: the other must hold version 0 (written
      // there, e.g. a fetched track), whatever its length.
      const bool one_unwritten = a.check == unwritten || b.check == unwritten;
      if (one_unwritten ? a.version != b.version
                        : a.version != b.version || a.length != b.length || a.checksum != b.checksum) {
        ++v.tracks_differing;
        finding(fmt::format("track {}: R1 holds v{} ({}), R2 holds v{} ({})", to_string(k), to_string(a.version),
                            a.check == unwritten ? "never written" : fmt::format("{} bytes, checksum {:08x}", a.length, a.checksum),
                            to_string(b.version),
                            b.check == unwritten ? "never written" : fmt::format("{} bytes, checksum {:08x}", b.length, b.checksum)));
      }
    }
  }

  // Every acknowledged write against what survives at the primary.
  const Side survivor = procs_[index_of(host_side_)].alive || !procs_[1 - index_of(host_side_)].alive
                            ? host_side_
                            : (host_side_ == Side::A ? Side::B : Side::A);
  const auto& held = digest[index_of(survivor)];
  v.survivor = side_name(survivor);
  v.writes_lost_by_model = replay.observer().writes_lost();
  if (!held.empty()) {
    for (uint64_t i = 0; i < geometry_.total_tracks; ++i) {
      const Version has = std::max(held[i].version, held[i].cached_version);
      Version newest_acked = 0;
      for (Version a : acked_[i]) {
        ++v.writes_acked;
        newest_acked = std::max(newest_acked, a);
        if (a > has) ++v.writes_acked_lost;
      }
      if (has > newest_acked && version_sequence(has) > 0) ++v.tracks_durable_unacked;
    }
    if (v.writes_acked_lost > v.writes_lost_by_model)
      finding(fmt::format("{} acknowledged writes are missing at {}, the model accounts for {} lost",
                          v.writes_acked_lost, v.survivor, v.writes_lost_by_model));
  } else {
    for (const auto& a : acked_) v.writes_acked += a.size();
  }
  // Async: R2 at a cycle boundary of each group, the same for all its
  // volumes, and the writes lost exactly those captured after it.
  if (is_async(sc_)) {
    auto has = [&](Side s, uint64_t i) -> std::optional<Version> {
      const auto& d = digest[index_of(s)];
      if (i >= d.size()) return std::nullopt;
      return std::max(d[i].version, d[i].cached_version);
    };
    v.async_groups = check_boundaries(replay.cycles(), replay.controller(Side::A).config(), geometry_, has, acked_, finding);
    // The model's view of the same: the boundary the replayed R2 applied last.
    for (uint16_t g = 0; g < v.async_groups.size(); ++g) {
      GroupBoundary& b = v.async_groups[g];
      if (!b.checked) continue;
      b.model_applied_cycle = replay.controller(b.secondary).applied_cycle(g);
      // Nothing applied since the cycles (re)started (a new session counts
      // from 0): R2 is at their base.
      const uint64_t at = std::max(*b.model_applied_cycle, b.base_cycle);
      if (b.boundaries && (at < b.boundaries->first || at > b.boundaries->last))
        finding(fmt::format("async group {}: R2's disks hold the image of boundary {}, the replayed model says R2 "
                            "applied cycle {}",
                            b.group, span_text(b.boundaries), at));
    }
    for (const Proc& p : procs_) {
      const size_t i = index_of(p.side);
      v.delta_set_image_bytes_peak[i] = p.last_status.delta_set_image_bytes_peak;
      v.delta_set_images_at_end[i] = p.last_status.delta_set_images;
      if (r.quiesced_at_end && p.alive && p.last_status.delta_set_images)
        finding(fmt::format("{} still holds {} delta-set track images ({}) after the pair drained", side_name(p.side),
                            p.last_status.delta_set_images, bytes_text(p.last_status.delta_set_image_bytes)));
    }
  }
  for (const std::string& p : replay.problems()) finding("replay: " + p);
  for (const std::string& u : unexpected_) finding(u);
  // Between two controllers of one run no frame is ever refused: a refusal
  // is a bug on one side or the other.
  for (const Proc& p : procs_)
    if (p.alive && p.last_status.frames_refused)
      finding(fmt::format("{} refused {} frames during the run, the last: {}", side_name(p.side),
                          p.last_status.frames_refused, p.last_status.last_refusal));
}

void Orchestrator::shut_down() {
  for (Proc& p : procs_) {
    if (p.alive && p.control) {
      try {
        call(p, FrameType::EndRun, {}, FrameType::EndRun, Time::from_s(10));
      } catch (const std::exception&) {
      }
    }
    if (p.local) reap_controller(*p.local, Time::from_s(5));
    p.local.reset();
    if (!(opt_.secondary && p.side == Side::B)) ::unlink(state_path(p).c_str());
  }
}

void Orchestrator::progress() {
  if (!opt_.progress) return;
  const Time now = monotonic_now();
  if (now - last_progress_ < Time::from_s(1)) return;
  last_progress_ = now;
  fmt::print(stderr, "\r  {:.1f} s of {:.1f} s, {} host writes   ", (now - ws_).s(), sc_.duration_s, host_writes_);
}

RealRun Orchestrator::run() {
  check_real_support(sc_, opt_);
  // SIGINT, SIGTERM: the loop throws, and unwinding (~Orchestrator) stops
  // the controllers and removes the run's files.
  struct WatchInterrupts {
    EventLoop& loop;
    InterruptScope scope;
    explicit WatchInterrupts(EventLoop& l) : loop(l) { loop.add(scope.fd(), EPOLLIN, [](uint32_t) { throw_if_interrupted(); }); }
    ~WatchInterrupts() { loop.remove(scope.fd()); }
  };
  std::optional<WatchInterrupts> interrupts;
  if (opt_.stop_on_signals) interrupts.emplace(loop_);
  const char* tmp = std::getenv("TMPDIR");
  const std::string parent = !opt_.temp_parent.empty() ? opt_.temp_parent : tmp && *tmp ? tmp : "/tmp";
  for (const std::string& gone : remove_abandoned_run_files(parent, opt_.state_dir))
    if (opt_.progress) fmt::print(stderr, "  removed {}, left by a run whose process is gone\n", gone);
  if (opt_.run_dir.empty()) {
    std::string templ = fmt::format("{}/mirrorsim-{}-XXXXXX", parent, owner_);
    if (!::mkdtemp(templ.data())) throw std::runtime_error(fmt::format("cannot create a run directory: {}", std::strerror(errno)));
    run_dir_ = templ;
    remove_run_dir_ = !opt_.keep_run_dir;
  } else {
    run_dir_ = opt_.run_dir;
    fs::create_directories(run_dir_);
  }
  procs_[0].side = Side::A;
  procs_[0].dir = run_dir_ + "/r1";
  procs_[1].side = Side::B;
  procs_[1].dir = run_dir_ + "/r2";
  geometry_ = Geometry::of(controller_config(sc_, Side::A));
  acked_.resize(geometry_.total_tracks);
  disk_failed_[0].assign(sc_.primary.disks, false);
  disk_failed_[1].assign(sc_.secondary.disks, false);
  shaping_ = base_shaping(sc_, opt_);

  t0_ = monotonic_now();
  start_controller(procs_[1], false);
  start_controller(procs_[0], false);
  // Host I/O starts once the pair is established.
  const Time link_deadline = monotonic_now() + kLinkUpTimeout;
  for (;;) {
    const Status a = status_now(procs_[0]);
    if (a.link_connected && a.controller.pair_state == PairState::Synchronized) break;
    if (monotonic_now() > link_deadline)
      throw std::runtime_error(fmt::format("the link from R1 to R2 at {} did not come up within {:.0f} s",
                                           procs_[1].endpoint.text(), kLinkUpTimeout.s()));
    loop_.run(monotonic_now() + Time::from_us(2000));
  }
  ws_ = monotonic_now();
  last_progress_ = ws_;
  start_workloads();
  schedule_failures();
  loop_.at(run_time(sc_.measurement.warmup_s), [this] {
    snapshot(at_warmup_);
    cpu_at_warmup_ = machine_cpu_now();
    loops_at_warmup_ = loop_schedstat_now();
    requests_at_warmup_ = requests_issued_;
  });
  loop_.at(run_time(sc_.duration_s), [this] {
    snapshot(at_end_);
    cpu_at_end_ = machine_cpu_now();
    loops_at_end_ = loop_schedstat_now();
    requests_at_end_ = requests_issued_;
  });
  poll_status();
  loop_.run_until(
      [this] {
        progress();
        return monotonic_now() >= run_time(sc_.duration_s) && workloads_done();
      },
      Time::max());
  if (opt_.progress) fmt::print(stderr, "\n");

  RealRun out;
  out.requests_issued = requests_issued_;
  out.last_request_s = requests_issued_ ? (last_request_ - ws_).s() : 0;
  RunResult& r = out.result;
  drain(r);
  ended_ = true;
  if (status_timer_) loop_.cancel(*status_timer_);

  // The observer, over both controllers' logs.
  std::array<std::vector<LogRecord>, 2> logs;
  bool logs_complete = true;
  for (Proc& p : procs_) {
    bool truncated = false;
    auto log = collect_log(p, &truncated);
    if (log) logs[index_of(p.side)] = std::move(*log);
    else logs_complete = false;
    out.verification.log_truncated |= truncated;
  }
  ReplayWindow w;
  w.workload_start = ws_ - t0_;
  w.warmup_end = w.workload_start + Time::from_s(sc_.measurement.warmup_s);
  w.duration_end = w.workload_start + Time::from_s(sc_.duration_s);
  w.timeseries_interval_s = sc_.measurement.timeseries_interval_s;
  LogReplay replay(sc_, w);
  if (logs_complete) replay.run(std::move(logs), {!procs_[0].alive, !procs_[1].alive}, sent_at_, unanswered_);
  else out.verification.findings.push_back("the observer could not replay the run: R2 is remote and down, its log unread");
  if (opt_.stop_on_signals) throw_if_interrupted();  // the replay is not the loop: look now
  out.verification.replay_steps = replay.steps();
  out.verification.link_connections = procs_[0].last_status.link_connections;
  out.verification.restarts_checked = replay.restarts_checked();
  out.cpu = {replay.cpu(Side::A), replay.cpu(Side::B)};
  if (cpu_at_warmup_ && cpu_at_end_) {
    out.machine_cpu_s = std::max(0.0, *cpu_at_end_ - *cpu_at_warmup_);
    out.window_requests = requests_at_end_ - requests_at_warmup_;
  }
  if (loops_at_warmup_ && loops_at_end_ && loops_at_end_->switches > loops_at_warmup_->switches) {
    out.loop_switches = loops_at_end_->switches - loops_at_warmup_->switches;
    const uint64_t waited_ns = loops_at_end_->waited_ns - std::min(loops_at_end_->waited_ns, loops_at_warmup_->waited_ns);
    out.loop_wakeup_mean_us = static_cast<double>(waited_ns) / static_cast<double>(out.loop_switches) / 1e3;
  }
  if (r.end_state.empty()) {
    replay.observer().check_quiesced(replay.last_time());
    r.quiesced_at_end = true;
  }
  verify(replay, out);

  r.driver = "real";
  r.mirrorsim_version = MIRRORSIM_VERSION;
  utsname u{};
  ::uname(&u);
  r.engine_version = fmt::format("Linux {}", u.release);
  r.engine_config = {fmt::format("link: TCP {} {}, TCP_NODELAY, congestion control {}",
                                 opt_.kernel_link ? "over a veth pair, faults by ip and tc, to"
                                 : opt_.secondary ? "to"
                                                  : "loopback",
                                 procs_[1].endpoint.text(), congestion_control_.empty() ? "default" : congestion_control_),
                     fmt::format("link shaping: delay {:.1f} us, jitter {:.1f} us, bandwidth {}, loss {}",
                                 base_shaping(sc_, opt_).delay_ns / 1e3, opt_.link_jitter_us,
                                 shaping_.bandwidth_bytes_per_s > 0 ? fmt::format("{:.3f} Gbit/s", shaping_.bandwidth_bytes_per_s * 8 / 1e9) : "unlimited",
                                 opt_.link_loss),
                     fmt::format("disks: sparse backing files, pwrite + fdatasync{}, reads {}", opt_.o_direct ? ", O_DIRECT" : "",
                                 page_cache_reads_.empty()
                                     ? "O_DIRECT"
                                     : fmt::format("through the page cache at {} (its file system refuses O_DIRECT; "
                                                   "--page-cache-reads)",
                                                   fmt::join(page_cache_reads_, " and "))),
                     fmt::format("cache: {}", sc_.primary.cache_nonvolatile ? "non-volatile (mapped file in " + opt_.state_dir + ")"
                                                                            : "volatile (process memory)"),
                     "response time: at R1, from a request's arrival to its answer",
                     "processors: each controller one event-loop thread serving its three pools; their work is each "
                     "step's thread CPU time (CLOCK_THREAD_CPUTIME_ID), no wait; a back_end operation's also holds its "
                     "disk worker thread's CPU for the I/O"};
  r.seed = sc_.seed;
  r.scenario_toml = sc_.resolved_toml;
  r.scenario = to_json(sc_);
  // The disks' busy time over the measured window, from the controllers'
  // counters (what only the devices know); every other metric from the replay.
  for (int i = 0; i < 2; ++i) {
    const Status& a = at_warmup_[i];
    const Status& b = at_end_[i];
    for (size_t d = 0; d < b.disk_busy_ns.size() && d < a.disk_busy_ns.size(); ++d)
      replay.metrics().disk_busy_in_window(i == 0 ? Side::A : Side::B, static_cast<uint32_t>(d),
                                           static_cast<double>(b.disk_busy_ns[d] - a.disk_busy_ns[d]) / 1e9);
  }
  replay.fill(r);
  // One processor per pool, and the same one for all three: a controller
  // process is one event-loop thread.
  for (ProcessorPoolResult& p : r.processor_pools) {
    std::string others;
    for (int i = 0; i < kPools; ++i)
      if (to_string(static_cast<Pool>(i)) != p.pool) others += (others.empty() ? "" : ", ") + std::string(to_string(static_cast<Pool>(i)));
    p.shared_with = others + ": one event-loop thread per controller" +
                    (p.pool == to_string(Pool::BackEnd) ? "; with its disk workers' CPU for each I/O" : "");
  }
  // Verification findings are invariant violations of the run.
  r.invariant_violations = replay.observer().violation_count() + out.verification.findings.size();
  r.violation_report = replay.observer().violation_count() ? replay.observer().report() : "";
  if (!out.verification.ok()) {
    r.violation_report += "verification of the real run:\n";
    for (const auto& f : out.verification.findings) r.violation_report += "  " + f + "\n";
  }
  shut_down();
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------

void check_real_support(const Scenario& s, const RealOptions& o) {
  for (size_t i = 0; i < s.workloads.size(); ++i)
    if (s.workloads[i].arrival == Arrival::Intervals || s.workloads[i].arrival == Arrival::Trace)
      throw ScenarioError(s.source, fmt::format("workload.{}: real mode plays poisson and closed workloads; interval "
                                                "statistics and traces (arrival = \"{}\") run in the simulator",
                                                i, to_string(s.workloads[i].arrival)));
  for (const FailureScenario& f : s.failures) {
    if (f.link)
      throw ScenarioError(f.where, fmt::format("{} of link {} alone: real mode carries the scenario's {} links on one "
                                               "TCP connection, so only events on all links exist",
                                               to_string(f.event), *f.link, s.link.links));
    if (o.kernel_link && f.event == FailureEvent::LinkDegrade && f.added_latency_us)
      throw ScenarioError(f.where, "link-degrade with added_latency_us: kernel-level faults have no netem on this "
                                   "kernel, only a bandwidth limit (tbf)");
    if (o.kernel_link && f.event == FailureEvent::LinkDegrade && !f.bandwidth_gbit_per_s)
      throw ScenarioError(f.where, "link-degrade without bandwidth_gbit_per_s has nothing for the kernel to do");
    const bool remote_r2 = o.secondary.has_value();
    const bool at_r2 = f.controller && *f.controller == Side::B;
    if (remote_r2 && at_r2 && (f.event == FailureEvent::Crash || f.event == FailureEvent::Restart))
      throw ScenarioError(f.where, fmt::format("{} of r2: R2 runs elsewhere (--secondary), so this process cannot kill "
                                               "or restart it; run it under your own supervision instead",
                                               to_string(f.event)));
  }
  if (o.kernel_link && o.secondary)
    throw ScenarioError(s.source, "kernel-level link faults need R2 here, in its network namespace: not with --secondary");
  if (is_async(s)) {
    if (s.async.spill_bytes_max > 0)
      throw ScenarioError(s.source, fmt::format("async.spill_bytes_max = {}: real mode keeps delta sets in the controllers' "
                                                "caches and has no spill pool (delta set extension); set it to 0 for "
                                                "real runs (the simulator models the pool)",
                                                s.async.spill_bytes_max));
    const double drain_s = o.drain_timeout_s.value_or(default_drain_timeout_s(s));
    if (drain_s <= s.async.cycle_time_min_s)
      throw ScenarioError(s.source, fmt::format("--drain-timeout-s {} cannot drain an async pair: its last capture set "
                                                "switches only async.cycle_time_min_s = {} s after the previous switch, "
                                                "and must then be transmitted and applied; give more than that (the "
                                                "default is 30 s + cycle_time_min_s = {} s)",
                                                drain_s, s.async.cycle_time_min_s, default_drain_timeout_s(s)));
  }
  // The backing files are sparse: what counts is what the run can write.
  const WriteBound bound = write_bound(s);
  if (bound.disk_bytes > o.disk_bytes_max)
    throw ScenarioError(s.source, fmt::format("real mode: the workloads can write {} tracks (of {} in volume.*.tracks) "
                                              "of up to {} bytes each (workload.*.block_bytes in file-system blocks): {} "
                                              "of backing files per controller, above the limit of {} (--disk-mib-max); "
                                              "raise it, or shorten the run or lower its rates with --set",
                                              bound.tracks_written, total_tracks(s), bound.bytes_per_track,
                                              bytes_text(bound.disk_bytes), bytes_text(o.disk_bytes_max)));
  {
    const char* tmp = std::getenv("TMPDIR");
    const std::string parent = !o.run_dir.empty()       ? o.run_dir
                               : !o.temp_parent.empty() ? o.temp_parent
                               : tmp && *tmp            ? tmp
                                                        : "/tmp";
    struct statvfs st{};
    const uint64_t here = (o.secondary ? 1 : 2) * bound.disk_bytes;
    if (::statvfs(parent.c_str(), &st) == 0 && here > static_cast<uint64_t>(st.f_bavail) * st.f_frsize)
      throw ScenarioError(s.source, fmt::format("real mode: the workloads can write {} of backing files on this machine, "
                                                "{} has {} free",
                                                bytes_text(here), parent,
                                                bytes_text(static_cast<uint64_t>(st.f_bavail) * st.f_frsize)));
  }
  if (o.o_direct && s.primary.track_bytes % 4096 != 0)
    throw ScenarioError(s.source, fmt::format("real mode with --o-direct: primary.track_bytes = {} is not a multiple of "
                                              "4096 bytes",
                                              s.primary.track_bytes));
  // Payload slots are touched only as the cache fills: at most one per
  // request (a write's new version, a read miss's track) beyond the slots.
  uint64_t shm = 0;
  for (const Side side : {Side::A, Side::B}) {
    const ControllerConfig c = controller_config(s, side);
    if (c.cache_nonvolatile) shm += std::min<uint64_t>(payload_slots(c), bound.requests) * c.track_bytes;
  }
  struct statvfs st{};
  if (shm > 0 && ::statvfs(o.state_dir.c_str(), &st) == 0) {
    const uint64_t avail = static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
    if (shm > avail / 2)
      throw ScenarioError(s.source, fmt::format("real mode: non-volatile caches (3 × cache_slots × track_bytes, async: "
                                                "plus the delta-set limit; or one track per request if fewer) need up "
                                                "to {} "
                                                "in {}, which has {} free; use fewer cache slots or a volatile cache",
                                                bytes_text(shm), o.state_dir, bytes_text(avail)));
  }
  if (s.workloads.empty()) throw ScenarioError(s.source, "real mode: the scenario has no [[workload]]");
}

double default_drain_timeout_s(const Scenario& s) { return 30 + (is_async(s) ? s.async.cycle_time_min_s : 0); }

RealRun run_real(const Scenario& s, const RealOptions& o) {
  Orchestrator orchestrator(s, o);
  return orchestrator.run();
}

std::string verification_text(const Verification& v) {
  std::string s = "\nverification\n";
  if (v.disks_compared)
    s += fmt::format("  R2 == R1: {} written tracks compared, {} differ, {} damaged, {} unlike the replayed model; "
                     "{} never written on either side (holes, version 0 as the model says)\n",
                     v.tracks_compared, v.tracks_differing, v.tracks_damaged, v.tracks_unlike_model, v.tracks_unwritten);
  else
    s += "  R2 == R1: not compared (the pair did not drain)\n";
  s += fmt::format("  acknowledged writes: {} checked against {}, {} missing ({} lost as the model accounts), "
                   "{} tracks hold durable unacknowledged data\n",
                   v.writes_acked, v.survivor.empty() ? "nobody" : v.survivor, v.writes_acked_lost, v.writes_lost_by_model,
                   v.tracks_durable_unacked);
  if (v.link_connections > 1) s += fmt::format("  link: R1 connected {} times (the link broke in between)\n", v.link_connections);
  s += boundaries_text(v.async_groups);
  if (!v.async_groups.empty())
    s += fmt::format("  delta-set images held apart from the cache: at most {} at R1, {} at R2; at the end {} and {}\n",
                     bytes_text(v.delta_set_image_bytes_peak[0]), bytes_text(v.delta_set_image_bytes_peak[1]),
                     v.delta_set_images_at_end[0], v.delta_set_images_at_end[1]);
  s += fmt::format("  observer: {} steps of both controllers replayed, {} restarts checked against their state{}\n",
                   v.replay_steps, v.restarts_checked, v.log_truncated ? " (input log full: part of the run only)" : "");
  s += v.ok() ? "  verified\n" : fmt::format("  FAILED: {} findings\n", v.findings.size());
  for (const auto& f : v.findings) s += "    " + f + "\n";
  return s;
}

nlohmann::json to_json(const Verification& v) {
  nlohmann::json j;
  j["disks_compared"] = v.disks_compared;
  j["tracks_compared"] = v.tracks_compared;
  j["tracks_unwritten"] = v.tracks_unwritten;
  j["tracks_differing"] = v.tracks_differing;
  j["tracks_damaged"] = v.tracks_damaged;
  j["tracks_unlike_model"] = v.tracks_unlike_model;
  j["survivor"] = v.survivor;
  j["writes_acked"] = v.writes_acked;
  j["writes_acked_lost"] = v.writes_acked_lost;
  j["writes_lost_by_model"] = v.writes_lost_by_model;
  j["tracks_durable_unacked"] = v.tracks_durable_unacked;
  j["link_connections"] = v.link_connections;
  j["replay_steps"] = v.replay_steps;
  j["restarts_checked"] = v.restarts_checked;
  j["log_truncated"] = v.log_truncated;
  if (!v.async_groups.empty()) {
    j["async_groups"] = to_json(v.async_groups);
    j["delta_set_image_bytes_peak"] = {{"r1", v.delta_set_image_bytes_peak[0]}, {"r2", v.delta_set_image_bytes_peak[1]}};
    j["delta_set_images_at_end"] = {{"r1", v.delta_set_images_at_end[0]}, {"r2", v.delta_set_images_at_end[1]}};
  }
  j["findings"] = v.findings;
  j["verified"] = v.ok();
  return j;
}

double RealRun::other_cpu_us_per_request() const {
  if (machine_cpu_s < 0) return -1;
  double operations_s = 0;
  for (const CpuStats& c : cpu)
    for (Pool p : {Pool::FrontEnd, Pool::RemoteAdapter, Pool::BackEnd}) operations_s += c.pool_cpu_s(p);
  return window_requests ? std::max(0.0, machine_cpu_s - operations_s) * 1e6 / static_cast<double>(window_requests) : 0.0;
}

std::string machine_cpu_text(const RealRun& r) {
  if (r.machine_cpu_s < 0 || r.result.measured_s <= 0) return "";
  const double operations_s = r.machine_cpu_s - r.other_cpu_us_per_request() * static_cast<double>(r.window_requests) / 1e6;
  return fmt::format("machine CPU (the pair's processes: both controllers with their disk workers, and the hosts)\n"
                     "  {:.3f} processors busy over the window: the controllers' operations {:.3f}, other {:.3f} "
                     "({:.1f} us per host request: the hosts, the event loops between steps)\n",
                     r.machine_cpu_s / r.result.measured_s, operations_s / r.result.measured_s,
                     (r.machine_cpu_s - operations_s) / r.result.measured_s, r.other_cpu_us_per_request());
}

nlohmann::json machine_cpu_json(const RealRun& r) {
  if (r.machine_cpu_s < 0) return nullptr;
  return {{"machine_cpu_s", r.machine_cpu_s},
          {"window_requests", r.window_requests},
          {"other_cpu_per_request_us", r.other_cpu_us_per_request()}};
}

}  // namespace mirrorsim::real
