#include "real/controller_server.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <tuple>
#include <unordered_map>

#include <fmt/format.h>

#include "config/scenario.hpp"
#include "model/controller.hpp"
#include "real/checksum.hpp"
#include "real/clock.hpp"
#include "real/connection.hpp"
#include "real/cpu.hpp"
#include "real/disk.hpp"
#include "real/event_loop.hpp"
#include "real/link.hpp"
#include "real/messages.hpp"
#include "real/protocol.hpp"
#include "real/state_file.hpp"
#include "real/track_image.hpp"

namespace mirrorsim::real {

namespace {

namespace fs = std::filesystem;

constexpr const char* kConfigureFile = "configure.bin";

// A broken promise between the driver and the model (the data of a version
// the model says it holds is not where the driver keeps it). Never expected;
// the process reports it and exits rather than write wrong data.
class DriverError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

std::string side_tag(Side s) { return std::string(to_string(s)); }

uint64_t config_hash(const Configure& c) {
  const uint32_t a = crc32c(c.scenario_toml.data(), c.scenario_toml.size());
  return (static_cast<uint64_t>(a) << 32) | static_cast<uint64_t>(index_of(c.side));
}

void write_file_atomically(const std::string& path, std::span<const uint8_t> bytes) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error(fmt::format("cannot write {}: {}", tmp, std::strerror(errno)));
  const bool ok = ::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0)
    throw std::runtime_error(fmt::format("cannot write {}: {}", path, std::strerror(errno)));
}

std::optional<std::vector<uint8_t>> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

// ---------------------------------------------------------------------------
// Node: the configured controller

class Node {
 public:
  using Log = std::function<void(const std::string&)>;

  // A fresh controller (recover = false) or one rebuilt from its state.
  // `outsider`: bytes on the link that did not come from the key holder.
  Node(EventLoop& loop, const Configure& cfg, const ServeOptions& opt, bool recover, Log log, Log outsider);
  ~Node();

  uint64_t run_id() const { return cfg_.run_id; }
  Side side() const { return cfg_.side; }
  bool recovered() const { return recovered_; }
  uint64_t seq() const { return seq_; }
  const Geometry& geometry() const { return g_; }
  std::string congestion_control() const { return link_->congestion_control(); }
  bool direct_reads() const { return disks_->direct_reads(); }

  bool accepts_peer(const Hello& h, std::string* why) const;
  void adopt_peer(std::shared_ptr<Connection> c) { link_->adopt(std::move(c)); }

  void host_request(const HostRequest& r, const std::shared_ptr<Connection>& from);
  void operator_action(OperatorAction a);
  void link_fault(const LinkFault& f);
  void disk_fault(const DiskFault& f);
  [[noreturn]] void power_loss();
  Status status() const;
  Digest digest(const DigestRequest& r);
  LogChunk log_chunk(const LogRequest& r) const;
  void end_run();
  void note_refusal(const std::string& why) {
    ++frames_refused_;
    last_refusal_ = why;
  }

 private:
  struct OpenRequest {
    std::weak_ptr<Connection> from;
    Time arrived;
    std::optional<Time> delayed_since;
    Time delayed;
  };
  // A track image this step may take into the cache, where it already is.
  struct ImageView {
    TrackKey key;
    Version version = 0;
    std::span<const uint8_t> image;
  };
  struct StagedCopy {
    Epoch epoch = 0;
    std::vector<uint8_t> image;
  };
  // Async, R2: a received CycleData's image, kept until its receive set is
  // applied (the apply's cache stores copy it into payload slots) or discarded.
  struct ReceivedImage {
    Version version = 0;
    std::vector<uint8_t> image;
  };

  Time model_now() const { return monotonic_now() - base_; }
  // Ends everything that could call back into this node: timers, the link
  // and its connections, the disk workers (joined), the loop's wake-up.
  void shut_down();
  void start(bool recover);
  void step(const Input& in);
  void apply(const Input& in);
  void persist(const Input& in, Time now);
  void fill_payload(int32_t slot, TrackKey k, Version v);
  // A payload the table no longer points at: free, or (async, R1) kept for
  // the transmit set that still owes R2 that version.
  void retire_payload(int32_t slot, TrackKey k, Version v, bool cached, std::vector<int32_t>& to_free);
  void release_payload(int32_t slot);
  // Async, R2: keeps a CycleData's image before the model steps it; false
  // (and the link refused) beyond what the peer's delta sets can hold.
  bool stage_cycle_image(const CycleData& m, std::span<const uint8_t> image);
  const ReceivedImage* received_image(TrackKey k, Version v) const;
  // Async: frees the images of delta sets the model no longer holds (applied,
  // acknowledged as applied, discarded, dropped). After every step.
  void release_delta_set_images();
  void unpin_payload(int32_t slot);
  std::span<const uint8_t> image_of(TrackKey k, Version v) const;
  void execute(const Commands& out);
  void rearm_deadline();  // the controller's one timer, at its next_deadline()
  // A disk I/O's submission CPU, taken out of the step and added to its completion's.
  void carve_submission(bool write, TrackKey k, Version v, int64_t ns);
  void on_disk_completions();
  void answer_host(RequestId req, bool ok, Version version, RejectReason reason);

  EventLoop& loop_;
  TimerGroup timers_;  // every timer this node arms: none outlives it
  Configure cfg_;
  ServeOptions opt_;
  Log log_;
  Log outsider_;
  Scenario scenario_;
  ControllerConfig ccfg_;
  Geometry g_;
  Time base_;
  std::unique_ptr<DiskSet> disks_;
  std::optional<StateFile> state_;
  std::optional<Controller> ctl_;
  std::unique_ptr<PeerLink> link_;
  bool recovered_ = false;
  bool notified_up_ = true;  // what the model was last told (a fresh controller starts reachable)
  uint64_t seq_ = 0;
  Commands out_;
  std::vector<int32_t> free_payloads_;
  std::unordered_map<RequestId, OpenRequest> requests_;
  std::vector<uint32_t> host_bytes_;  // per track index: bytes of its last host write, the size of its image (0: none)
  std::optional<ImageView> incoming_;  // the copy this step receives, still in the link's buffer
  // Copies received earlier that the model keeps waiting for a slot (its
  // pending stores), by track and version: they stay until stored, or until
  // the model's session moves to another epoch (it then drops every pending
  // store of the old one, and would refuse them).
  std::map<std::pair<TrackKey, Version>, StagedCopy> staged_copies_;
  std::optional<ImageView> read_;  // the disk read this step completes
  // Async, R1: payloads of versions a transmit set still owes R2 after the
  // track's cache slot moved on to a newer version (copy-on-write left the
  // old payload behind): out of the free list until the set is applied or
  // dropped. By (track, version), and the same by transmit set.
  std::map<std::pair<TrackKey, Version>, int32_t> transmit_payloads_;
  std::map<std::pair<uint16_t, uint64_t>, std::vector<std::pair<TrackKey, Version>>> transmit_payload_sets_;
  // Async, R2: received images by receive set (group, cycle), then track index.
  std::map<std::pair<uint16_t, uint64_t>, std::unordered_map<uint64_t, ReceivedImage>> received_images_;
  uint64_t received_images_count_ = 0;
  uint64_t received_images_max_ = 0;  // the peer's delta-set limit: more would be a broken peer
  uint64_t delta_set_image_bytes_ = 0;       // both kinds, what they hold now
  uint64_t delta_set_image_bytes_peak_ = 0;
  // Payload slots a disk write is reading from: freed only when it is done
  // (destages go straight from the cache to the disk, without a copy).
  std::vector<uint32_t> payload_pins_;
  std::vector<bool> payload_parked_;
  uint64_t disk_in_flight_ = 0;
  uint64_t disk_io_errors_ = 0;
  uint64_t frames_refused_ = 0;
  std::string last_refusal_;
  std::optional<EventLoop::TimerId> deadline_timer_;  // the controller's one timer (in timers_)
  Time deadline_at_;
  bool persist_all_ = false;
  bool stepping_ = false;
  std::deque<Input> deferred_;
  // The step's CPU spans (cpu.hpp): its own first, then each copy sent.
  std::vector<CpuSpan> spans_;
  int64_t carved_ns_ = 0;  // CPU of this step's commands counted elsewhere
  // The loop's wake-up for the next step's input (on_disk_completions), logged with it.
  std::optional<uint32_t> wakeup_ns_;
  std::map<std::tuple<bool, uint64_t, Version>, int64_t> submit_cpu_;  // disk I/Os in flight: their submission CPU
};

Node::Node(EventLoop& loop, const Configure& cfg, const ServeOptions& opt, bool recover, Log log, Log outsider)
    : loop_(loop), timers_(loop), cfg_(cfg), opt_(opt), log_(std::move(log)), outsider_(std::move(outsider)) {
  try {
    start(recover);
  } catch (...) {
    // No destructor runs for a node that never finished its constructor.
    shut_down();
    throw;
  }
}

void Node::start(bool recover) {
  const Configure& cfg = cfg_;
  const ServeOptions& opt = opt_;
  scenario_ = parse_scenario(cfg.scenario_toml, "the orchestrator's scenario");
  ccfg_ = controller_config(scenario_, cfg.side);
  g_ = Geometry::of(ccfg_);
  if (cfg.o_direct && g_.track_bytes % 4096 != 0)
    throw std::runtime_error(fmt::format("O_DIRECT needs track_bytes in multiples of 4096, the scenario has {}", g_.track_bytes));
  fs::create_directories(opt.dir);
  DiskOptions dopt;
  dopt.o_direct = cfg.o_direct;
  dopt.failure_errno = cfg.disk_failure_errno;
  dopt.added_latency = Time::from_ns(cfg.disk_added_latency_ns);
  dopt.undo_unsynced = cfg.undo_unsynced;
  dopt.seed = scenario_.seed;
  dopt.page_cache_reads = cfg.page_cache_reads;
  disks_ = std::make_unique<DiskSet>(g_, opt.dir, dopt, [this] { loop_.wake(); });
  loop_.on_wake([this] { on_disk_completions(); });
  const std::string state_path = state_file_path(opt.state_dir, opt.dir, opt.state_owner);
  const uint32_t payload_slots = real::payload_slots(ccfg_);
  if (ccfg_.is_async()) {
    // R2's receive sets hold what R1's transmit sets hold, at most the
    // peer's delta-set limit (spill pools are refused in real mode).
    const ControllerConfig peer = controller_config(scenario_, peer_of(cfg.side));
    received_images_max_ = peer.async.delta_set_slots_max(peer.cache_slots);
  }
  payload_pins_.assign(payload_slots, 0);
  host_bytes_.assign(g_.total_tracks, 0);
  payload_parked_.assign(payload_slots, false);

  PeerLink::Callbacks cb;
  cb.on_up = [this] {
    if (!notified_up_) {
      notified_up_ = true;
      step(LinkStateChanged{true});
    }
  };
  cb.on_down = [this](const std::string& reason, CloseCause cause) {
    log_("link down: " + reason);
    if (cause == CloseCause::Malformed) note_refusal(reason);
    if (cause == CloseCause::Unauthenticated) outsider_("link: " + reason);
    if (notified_up_) {
      notified_up_ = false;
      step(LinkStateChanged{false});
    }
  };
  cb.on_message = [this](Message& m, std::span<const uint8_t> image) {
    if (const auto* d = std::get_if<CycleData>(&m)) {
      // Applied with its whole receive set, possibly much later: kept now.
      if (stage_cycle_image(*d, image)) step(Received{std::move(m)});
      return;
    }
    const auto* c = std::get_if<CopyData>(&m);
    if (!c) return step(Received{std::move(m)});
    const TrackKey key = c->key;
    const Version version = c->version;
    const Epoch epoch = c->epoch;
    if (stepping_) {
      // Stepped later: the link's buffer will not hold the image by then.
      staged_copies_[{key, version}] = StagedCopy{epoch, {image.begin(), image.end()}};
      return step(Received{std::move(m)});
    }
    incoming_ = ImageView{key, version, image};
    step(Received{std::move(m)});
    if (incoming_) {
      // The model could not store it yet (no free slot): keep the bytes.
      staged_copies_[{key, version}] = StagedCopy{epoch, {image.begin(), image.end()}};
      incoming_.reset();
    }
  };
  link_ = std::make_unique<PeerLink>(loop_, cfg.side, cfg.run_id, g_, cfg.link, opt.peer_key.value_or(opt.key), std::move(cb));

  if (recover) {
    std::string why;
    state_ = StateFile::open(state_path, g_, &why);
    if (!state_) throw std::runtime_error("cannot recover: " + why);
    disks_->open_existing();
    base_ = Time::from_ns(state_->identity().time_base_ns);
    const DurableState durable = state_->durable_state();
    ctl_.emplace(Controller::recovered(cfg.side, ccfg_, durable));
    seq_ = state_->committed_seq();
    std::vector<bool> used(state_->payload_slots(), false);
    if (state_->nonvolatile_payloads()) {
      for (uint64_t i = 0; i < g_.total_tracks; ++i) {
        const TrackRecord rec = state_->record(i);
        if (rec.payload_slot < 0) continue;
        // Pair the table's promise with the bytes: the payload must name the track and version.
        const auto h = peek_image_header(state_->payload(rec.payload_slot));
        if (!rec.durable.cached || !h || h->key != g_.key_of(i) || h->version != rec.durable.cached_version)
          throw DriverError(fmt::format("state file: the payload of track {} does not hold v{}", to_string(g_.key_of(i)),
                                        to_string(rec.durable.cached_version)));
        used[static_cast<size_t>(rec.payload_slot)] = true;
      }
    }
    for (int32_t s = static_cast<int32_t>(used.size()) - 1; s >= 0; --s)
      if (!used[static_cast<size_t>(s)]) free_payloads_.push_back(s);
    std::vector<uint8_t> hash(8);
    const uint64_t h = durable_hash(durable);
    std::memcpy(hash.data(), &h, 8);
    state_->append_log(LogKind::Recovered, seq_, model_now(), hash);
    recovered_ = true;
    notified_up_ = false;  // a restarted controller waits to hear the peer is reachable
    disks_->start();
    // The restart may change tracks it does not list as touched (a volatile
    // cache forgets clean tracks wholesale): persist every track this once.
    persist_all_ = true;
    step(Restart{});
    persist_all_ = false;
    log_(fmt::format("recovered from {} at step {} ({} cache)", state_path, seq_,
                     ccfg_.cache_nonvolatile ? "non-volatile" : "volatile"));
  } else {
    base_ = !cfg.boot_id.empty() && cfg.boot_id == boot_id() ? Time::from_ns(cfg.time_base_ns)
                                                             : monotonic_now() - Time::from_ns(cfg.run_elapsed_ns);
    write_file_atomically(opt.dir + "/" + kConfigureFile, encode(cfg));
    disks_->format();
    StateIdentity id{cfg.run_id, config_hash(cfg), cfg.side, base_.ns, scenario_.seed};
    state_.emplace(StateFile::create(state_path, g_, id, payload_slots, ccfg_.cache_nonvolatile, cfg.log_bytes));
    for (int32_t s = static_cast<int32_t>(payload_slots) - 1; s >= 0; --s) free_payloads_.push_back(s);
    ctl_.emplace(cfg.side, cfg.side == Side::A ? Role::Primary : Role::Secondary, ccfg_);
    state_->append_log(LogKind::Start, 0, model_now(), {});
    disks_->start();
  }

  if (cfg.side == Side::A && !cfg.peer.empty()) {
    std::string why;
    const auto peer = parse_endpoint(cfg.peer, &why);
    if (!peer) throw std::runtime_error("Configure.peer: " + why);
    link_->dial(*peer);
    // A fresh model starts out believing the peer reachable; if no
    // connection comes up within the detection time, it must hear otherwise.
    timers_.at(monotonic_now() + Time::from_ns(4 * cfg.link.failure_detection_ns), [this] {
      if (!link_->connected() && notified_up_) {
        notified_up_ = false;
        step(LinkStateChanged{false});
      }
    });
  }
}

Node::~Node() { shut_down(); }

void Node::shut_down() {
  timers_.cancel_all();
  loop_.on_wake(nullptr);
  link_.reset();
  // Before the state file (its payloads are what the workers write from).
  disks_.reset();
}

bool Node::accepts_peer(const Hello& h, std::string* why) const {
  if (h.run_id != cfg_.run_id) {
    *why = fmt::format("peer of run {:016x}, this controller serves run {:016x}", h.run_id, cfg_.run_id);
    return false;
  }
  if (h.side == cfg_.side) {
    *why = fmt::format("peer claims side {}, which is this controller's", to_string(h.side));
    return false;
  }
  if (link_->is_cut()) {
    *why = "the link is cut (fault injection)";
    return false;
  }
  return true;
}

// ---- stepping -------------------------------------------------------------

void Node::step(const Input& in) {
  // Executing a step's commands can produce an input (a send that finds the
  // connection broken reports the link down): it waits for this step to end.
  if (stepping_) {
    deferred_.push_back(in);
    return;
  }
  stepping_ = true;
  apply(in);
  while (!deferred_.empty()) {
    const Input next = std::move(deferred_.front());
    deferred_.pop_front();
    apply(next);
  }
  stepping_ = false;
  // Only now: an image staged for a deferred input has been stepped too.
  if (!received_images_.empty() || !transmit_payload_sets_.empty()) release_delta_set_images();
}

void Node::apply(const Input& in) {
  // The thread's CPU over the step and its commands' system calls (cpu.hpp).
  const int64_t cpu_start = thread_cpu_ns();
  const Time wall_start = monotonic_now();
  const int64_t received_ns = take_frame_cpu_ns();
  spans_.clear();
  carved_ns_ = 0;
  const Time now = model_now();
  out_.clear();
  ctl_->step(now, in, out_);
  persist(in, now);
  execute(out_);
  rearm_deadline();
  const int64_t cpu_ns = thread_cpu_ns() - cpu_start;
  // What the step took beyond its thread's CPU: the loop was off its
  // processor in the middle of it (preempted; the step blocks on nothing).
  const int64_t preempted_ns = std::max<int64_t>((monotonic_now() - wall_start).ns - cpu_ns, 0);
  int64_t own_ns = cpu_ns - carved_ns_ + received_ns;
  // A disk I/O is one operation: its submission and its completion.
  auto submitted = [&](bool write, TrackKey k, Version v) {
    const auto it = submit_cpu_.find({write, g_.index(k), write ? v : 0});
    if (it == submit_cpu_.end()) return;
    own_ns += it->second;
    submit_cpu_.erase(it);
  };
  if (const auto* d = std::get_if<DiskWriteDone>(&in)) submitted(true, d->key, d->version);
  if (const auto* d = std::get_if<DiskReadDone>(&in)) submitted(false, d->key, 0);
  spans_.insert(spans_.begin(), CpuSpan{cpu_kind_of(in), static_cast<uint32_t>(std::clamp<int64_t>(own_ns, 0, UINT32_MAX))});
  // When the commands took effect (host answers sent, I/O submitted): what
  // the replay's metrics time a step's results by; and the step's CPU.
  state_->append_log(LogKind::Executed, seq_, model_now(), encode_executed(spans_, wakeup_ns_, static_cast<uint32_t>(std::min<int64_t>(preempted_ns, UINT32_MAX))));
  wakeup_ns_.reset();
  if (!staged_copies_.empty())
    std::erase_if(staged_copies_, [&](const auto& e) { return e.second.epoch != ctl_->epoch(); });
}

void Node::persist(const Input& in, Time now) {
  // The durable part of every track the step touched, and the cache payload
  // behind it, committed atomically with the input (state_file.hpp).
  StepChanges c;
  c.seq = ++seq_;
  c.at = now;
  ByteWriter w(c.input);
  encode_input(w, in);
  c.role = ctl_->role();
  c.generation = ctl_->generation();
  c.epoch = ctl_->epoch();
  c.operator_suspended = ctl_->operator_suspended();
  std::vector<int32_t> to_free;
  std::vector<TrackKey> all;
  if (persist_all_)
    for (uint64_t i = 0; i < g_.total_tracks; ++i) all.push_back(g_.key_of(i));
  for (const TrackKey k : persist_all_ ? std::span<const TrackKey>(all) : ctl_->touched()) {
    const uint64_t index = g_.index(k);
    const TrackRecord old = state_->record(index);
    TrackRecord now_rec;
    now_rec.durable = ctl_->durable_track(k);
    now_rec.payload_slot = old.payload_slot;
    const bool have = old.payload_slot >= 0 && old.durable.cached;
    const bool want = now_rec.durable.cached;
    if (want && (!have || old.durable.cached_version != now_rec.durable.cached_version)) {
      if (free_payloads_.empty()) throw DriverError("no free payload slot (the cache holds more tracks than it has slots)");
      const int32_t s = free_payloads_.back();
      free_payloads_.pop_back();
      fill_payload(s, k, now_rec.durable.cached_version);
      now_rec.payload_slot = s;
      if (old.payload_slot >= 0) retire_payload(old.payload_slot, k, old.durable.cached_version, old.durable.cached, to_free);
    } else if (!want && old.payload_slot >= 0) {
      now_rec.payload_slot = -1;
      retire_payload(old.payload_slot, k, old.durable.cached_version, old.durable.cached, to_free);
    }
    if (!(now_rec == old)) c.tracks.emplace_back(index, now_rec);
  }
  state_->commit(c);
  // Only now, with the table pointing elsewhere, may the old payloads be reused.
  for (int32_t s : to_free) release_payload(s);
}

void Node::retire_payload(int32_t slot, TrackKey k, Version v, bool cached, std::vector<int32_t>& to_free) {
  // The table points elsewhere after this step's commit; the old version's
  // bytes are still owed to R2 if a transmit set holds that version (the
  // host rewrote the track in the next cycle): they stay where they are.
  if (cached && ccfg_.is_async()) {
    if (const auto cycle = ctl_->transmit_cycle_of(k, v)) {
      if (transmit_payloads_.emplace(std::pair{k, v}, slot).second) {
        transmit_payload_sets_[{ctl_->consistency_group_of(k.volume), *cycle}].emplace_back(k, v);
        delta_set_image_bytes_ += g_.track_bytes;
        delta_set_image_bytes_peak_ = std::max(delta_set_image_bytes_peak_, delta_set_image_bytes_);
        return;
      }
    }
  }
  to_free.push_back(slot);
}

bool Node::stage_cycle_image(const CycleData& m, std::span<const uint8_t> image) {
  auto& set = received_images_[{m.group, m.cycle}];
  const uint64_t index = g_.index(m.key);
  auto it = set.find(index);
  if (it == set.end()) {
    if (received_images_count_ >= received_images_max_) {
      if (set.empty()) received_images_.erase({m.group, m.cycle});
      link_->refuse(ccfg_.is_async() ? fmt::format("CycleData of track {} (cycle {} of group {}) beyond the {} tracks "
                                                   "the peer's delta sets can hold",
                                                   to_string(m.key), m.cycle, m.group, received_images_max_)
                                     : fmt::format("CycleData of track {} on a pair that is not async", to_string(m.key)));
      return false;
    }
    it = set.emplace(index, ReceivedImage{}).first;
    ++received_images_count_;
  } else if (it->second.version > m.version) {
    return true;  // the receive set keeps its newer version (the model's rule too)
  }
  delta_set_image_bytes_ -= it->second.image.size();
  it->second.version = m.version;
  it->second.image.assign(image.begin(), image.end());
  delta_set_image_bytes_ += it->second.image.size();
  delta_set_image_bytes_peak_ = std::max(delta_set_image_bytes_peak_, delta_set_image_bytes_);
  return true;
}

const Node::ReceivedImage* Node::received_image(TrackKey k, Version v) const {
  const uint16_t g = ctl_->consistency_group_of(k.volume);
  const uint64_t index = g_.index(k);
  for (auto it = received_images_.lower_bound({g, 0}); it != received_images_.end() && it->first.first == g; ++it)
    if (const auto e = it->second.find(index); e != it->second.end() && e->second.version == v) return &e->second;
  return nullptr;
}

void Node::release_delta_set_images() {
  // A handful of sets at a time (transmit_sets_max and the set being
  // received): one look at the model per set.
  for (auto it = received_images_.begin(); it != received_images_.end();) {
    if (ctl_->has_receive_set(it->first.first, it->first.second)) {
      ++it;
      continue;
    }
    received_images_count_ -= it->second.size();
    for (const auto& [index, r] : it->second) delta_set_image_bytes_ -= r.image.size();
    it = received_images_.erase(it);
  }
  for (auto it = transmit_payload_sets_.begin(); it != transmit_payload_sets_.end();) {
    if (ctl_->has_transmit_set(it->first.first, it->first.second)) {
      ++it;
      continue;
    }
    for (const auto& kv : it->second) {
      const auto p = transmit_payloads_.find(kv);
      if (p == transmit_payloads_.end()) continue;
      release_payload(p->second);
      transmit_payloads_.erase(p);
      delta_set_image_bytes_ -= g_.track_bytes;
    }
    it = transmit_payload_sets_.erase(it);
  }
}

void Node::release_payload(int32_t slot) {
  if (payload_pins_[static_cast<size_t>(slot)] > 0) payload_parked_[static_cast<size_t>(slot)] = true;
  else free_payloads_.push_back(slot);
}

void Node::unpin_payload(int32_t slot) {
  const auto i = static_cast<size_t>(slot);
  if (--payload_pins_[i] == 0 && payload_parked_[i]) {
    payload_parked_[i] = false;
    free_payloads_.push_back(slot);
  }
}

void Node::fill_payload(int32_t slot, TrackKey k, Version v) {
  const std::span<uint8_t> dst = state_->payload(slot);
  auto copy = [&](const std::vector<uint8_t>& image) {
    const auto h = peek_image_header(image);
    std::memcpy(dst.data(), image.data(), std::min<size_t>(h ? h->length : image.size(), dst.size()));
  };
  auto copy_view = [&](std::span<const uint8_t> image) {
    const auto h = peek_image_header(image);
    std::memcpy(dst.data(), image.data(), std::min<size_t>(h ? h->length : image.size(), dst.size()));
  };
  if (incoming_ && incoming_->key == k && incoming_->version == v) {
    copy_view(incoming_->image);  // a copy (or a fetched track) from the peer, from the link's buffer
    incoming_.reset();
    return;
  }
  if (auto it = staged_copies_.find({k, v}); it != staged_copies_.end()) {
    copy(it->second.image);
    staged_copies_.erase(it);
    return;
  }
  if (read_ && read_->key == k && read_->version == v) {
    copy_view(read_->image);  // the track as the disk read it
    return;
  }
  if (const ReceivedImage* r = received_image(k, v)) {
    copy(r->image);  // an applied receive set's track (freed with the set after this step)
    return;
  }
  if (ctl_->role() == Role::Primary && ctl_->track(k).version == v) {
    // A host write accepted into the cache: the host's data for this
    // version, generated here (the cache store).
    const uint32_t bytes = host_bytes_[g_.index(k)] ? host_bytes_[g_.index(k)] : g_.track_bytes;
    write_image(dst, k, v, std::clamp<uint32_t>(bytes, kImageHeaderBytes, g_.track_bytes), scenario_.seed);
    return;
  }
  throw DriverError(fmt::format("the cache holds track {} v{} but the driver has no data for that version",
                                to_string(k), to_string(v)));
}

std::span<const uint8_t> Node::image_of(TrackKey k, Version v) const {
  const TrackRecord rec = state_->record(g_.index(k));
  if (rec.payload_slot >= 0 && rec.durable.cached && rec.durable.cached_version == v)
    return const_cast<StateFile&>(*state_).payload(rec.payload_slot);
  if (read_ && read_->key == k && read_->version == v) return read_->image;
  if (const auto it = transmit_payloads_.find({k, v}); it != transmit_payloads_.end())
    return const_cast<StateFile&>(*state_).payload(it->second);  // a transmit set's older version
  throw DriverError(fmt::format("the model sends or destages track {} v{}, which neither the cache nor the last read holds",
                                to_string(k), to_string(v)));
}

void Node::execute(const Commands& out) {
  const Time now = model_now();
  for (const Command& cmd : out) {
    if (const auto* w = std::get_if<DiskWrite>(&cmd)) {
      if (w->disk != g_.disk_of(w->key))
        throw DriverError(fmt::format("the model destages track {} to disk {}, the backing files place it on disk {}",
                                      to_string(w->key), w->disk, g_.disk_of(w->key)));
      // The model destages only what a cache slot holds.
      const TrackRecord rec = state_->record(g_.index(w->key));
      if (rec.payload_slot < 0 || !rec.durable.cached || rec.durable.cached_version != w->version)
        throw DriverError(fmt::format("the model destages track {} v{}, which its cache slot does not hold",
                                      to_string(w->key), to_string(w->version)));
      const auto image = state_->payload(rec.payload_slot);
      const auto h = peek_image_header(image);
      const uint32_t bytes = std::min(g_.track_bytes, std::max(w->bytes, h ? h->length : g_.track_bytes));
      ++payload_pins_[static_cast<size_t>(rec.payload_slot)];
      const int64_t t = thread_cpu_ns();
      disks_->submit_write(w->disk, w->key, w->version, image, bytes, rec.payload_slot);
      carve_submission(true, w->key, w->version, thread_cpu_ns() - t);
      ++disk_in_flight_;
    } else if (const auto* r = std::get_if<DiskRead>(&cmd)) {
      const int64_t t = thread_cpu_ns();
      disks_->submit_read(r->disk, r->key);
      carve_submission(false, r->key, 0, thread_cpu_ns() - t);
      ++disk_in_flight_;
    } else if (const auto* s = std::get_if<Send>(&cmd)) {
      const auto* c = std::get_if<CopyData>(&s->msg);
      const auto* d = std::get_if<CycleData>(&s->msg);
      if (c || d) {
        // A copy, or a transmit set's track: its image follows the message.
        const int64_t t = thread_cpu_ns();
        const TrackKey key = c ? c->key : d->key;
        const auto image = image_of(key, c ? c->version : d->version);
        const auto h = peek_image_header(image);
        const uint32_t bytes = std::min(g_.track_bytes, std::max(c ? c->bytes : d->bytes, h ? h->length : g_.track_bytes));
        link_->send(s->msg, image.subspan(0, std::min<size_t>(bytes, image.size())));
        const int64_t spent = thread_cpu_ns() - t;
        carved_ns_ += spent;
        spans_.push_back(CpuSpan{CpuKind::CopySend, static_cast<uint32_t>(std::clamp<int64_t>(spent, 0, UINT32_MAX))});
      } else {
        link_->send(s->msg);
      }
    } else if (const auto* a = std::get_if<AckHost>(&cmd)) {
      answer_host(a->req, true, a->version, RejectReason::NotReady);
    } else if (const auto* rj = std::get_if<RejectHost>(&cmd)) {
      answer_host(rj->req, false, 0, rj->reason);
    } else if (const auto* d = std::get_if<HostRequestDelayed>(&cmd)) {
      if (auto it = requests_.find(d->req); it != requests_.end()) it->second.delayed_since = now;
    } else if (const auto* ad = std::get_if<HostRequestAdmitted>(&cmd)) {
      if (auto it = requests_.find(ad->req); it != requests_.end() && it->second.delayed_since) {
        it->second.delayed += now - *it->second.delayed_since;
        it->second.delayed_since.reset();
      }
    }
  }
}

void Node::carve_submission(bool write, TrackKey k, Version v, int64_t ns) {
  carved_ns_ += ns;
  // Bounded: an I/O whose completion never comes (a power loss) leaves its entry.
  if (submit_cpu_.size() < 1'000'000) submit_cpu_[{write, g_.index(k), write ? v : 0}] += ns;
}

void Node::rearm_deadline() {
  const std::optional<Time> d = ctl_->next_deadline();
  if (deadline_timer_ && d && *d == deadline_at_) return;
  if (deadline_timer_) timers_.cancel(*deadline_timer_);
  deadline_timer_.reset();
  if (!d) return;
  deadline_at_ = *d;
  deadline_timer_ = timers_.at(base_ + *d, [this] {
    deadline_timer_.reset();
    step(Timeout{});
  });
}

void Node::answer_host(RequestId req, bool ok, Version version, RejectReason reason) {
  auto it = requests_.find(req);
  if (it == requests_.end()) return;  // from before a restart: its host saw the connection fail
  const Time now = model_now();
  OpenRequest r = it->second;
  requests_.erase(it);
  if (r.delayed_since) r.delayed += now - *r.delayed_since;
  auto conn = r.from.lock();
  if (!conn || !conn->open()) return;
  HostDone d;
  d.req = req;
  d.ok = ok;
  d.version = version;
  d.reason = reason;
  d.response_ns = (now - r.arrived).ns;
  d.delayed_ns = r.delayed.ns;
  conn->send(FrameType::HostDone, encode(d));
}

void Node::on_disk_completions() {
  std::vector<DiskCompletion> done = disks_->take_completions();
  // The first completion (they come in posting order) woke the loop if it
  // found the loop idle: the wait from its posting to the loop running is a
  // sample of the loop's wake-up, logged with its step. One posted while
  // the loop was busy waited for the loop's work, not for a processor.
  if (!done.empty() && done.front().posted >= loop_.idle_since() && loop_.woke_at() >= done.front().posted)
    wakeup_ns_ = static_cast<uint32_t>(std::min<int64_t>((loop_.woke_at() - done.front().posted).ns, UINT32_MAX));
  for (DiskCompletion& c : done) {
    --disk_in_flight_;
    // The worker's CPU for the I/O belongs to the same operation as its
    // submission and completion (cpu.hpp): the back end's.
    if (c.cpu_ns > 0 && submit_cpu_.size() < 1'000'000)
      submit_cpu_[{c.write, g_.index(c.key), c.write ? c.version : 0}] += c.cpu_ns;
    if (!c.ok) {
      ++disk_io_errors_;
      if (disk_io_errors_ <= 20 || disk_io_errors_ % 1000 == 0)
        log_(fmt::format("disk {} {} of track {} failed: {} ({} disk errors so far)", c.disk, c.write ? "write" : "read",
                         to_string(c.key), c.error, disk_io_errors_));
    }
    if (c.write) {
      if (c.tag >= 0) unpin_payload(static_cast<int32_t>(c.tag));
      step(DiskWriteDone{c.key, c.version, c.ok});
    } else {
      if (c.ok) read_ = ImageView{c.key, c.version, c.data.span()};
      step(DiskReadDone{c.key, c.ok ? c.version : 0, c.ok});
      read_.reset();
    }
  }
  wakeup_ns_.reset();  // taken by the first completion's step
}

// ---- requests from the orchestrator --------------------------------------

void Node::host_request(const HostRequest& r, const std::shared_ptr<Connection>& from) {
  auto refuse = [&](RejectReason why) {
    HostDone d;
    d.req = r.req;
    d.reason = why;
    from->send(FrameType::HostDone, encode(d));
  };
  if (!g_.contains(r.key) || r.bytes == 0 || r.bytes > g_.track_bytes) return refuse(RejectReason::BadAddress);
  if (requests_.count(r.req)) return refuse(RejectReason::NotReady);  // a request id already in progress
  requests_[r.req] = OpenRequest{from, model_now(), std::nullopt, Time{}};
  if (r.write) {
    host_bytes_[g_.index(r.key)] = r.bytes;
    step(HostWrite{r.req, r.key, r.bytes});
  } else {
    step(HostRead{r.req, r.key, r.bytes});
  }
}

void Node::operator_action(OperatorAction a) {
  switch (a) {
    case OperatorAction::Suspend: step(Suspend{}); break;
    case OperatorAction::Resume: step(Resume{}); break;
    case OperatorAction::Failover: step(Failover{}); break;
    case OperatorAction::Failback: step(Failback{}); break;
  }
}

void Node::link_fault(const LinkFault& f) {
  switch (f.kind) {
    case LinkFault::Kind::Cut: link_->cut(); break;
    case LinkFault::Kind::Restore: link_->restore(); break;
    case LinkFault::Kind::Shape: link_->shape(f.shaping); break;
  }
}

void Node::disk_fault(const DiskFault& f) {
  if (f.kind == DiskFault::Kind::Latency) {
    disks_->set_added_latency(Time::from_ns(f.latency_ns));
    return;
  }
  if (f.disk >= g_.disks) {
    log_(fmt::format("DiskFault names disk {}, this controller has {}", f.disk, g_.disks));
    return;
  }
  disks_->set_failed(f.disk, f.kind == DiskFault::Kind::Fail);
}

void Node::power_loss() {
  log_("simulated power loss: dropping unsynced writes and stopping");
  disks_->power_loss();
  // The state file (the battery-backed cache) stays; everything else stops
  // here, with no goodbye on any connection.
  ::_exit(137);
}

Status Node::status() const {
  Status s;
  s.configured = true;
  s.side = cfg_.side;
  s.controller = view_of(*ctl_);
  s.controller.host_requests_open = requests_.size();
  s.controller.disk_ios_in_flight = disk_in_flight_;
  s.link_connected = link_->connected();
  s.link_cut = link_->is_cut();
  s.local_wp_slots = ctl_->local_wp_slots();
  s.remote_wp_tracks = ctl_->remote_wp_tracks();
  s.steps = seq_;
  for (uint32_t d = 0; d < g_.disks; ++d) s.disk_busy_ns.push_back(disks_->busy_ns(d));
  s.disk_ios = disks_->ios();
  s.disk_io_errors = disk_io_errors_;
  s.link_bytes_sent = link_->bytes_sent();
  s.link_connections = link_->connections();
  s.frames_refused = frames_refused_;
  s.last_refusal = last_refusal_;
  s.copies_sent = ctl_->counters().copies_sent;
  s.copies_stored = ctl_->counters().copies_stored;
  s.log_truncated = state_->log_truncated();
  s.log_bytes = state_->log_bytes_used();
  s.delta_set_images = received_images_count_ + transmit_payloads_.size();
  s.delta_set_image_bytes = delta_set_image_bytes_;
  s.delta_set_image_bytes_peak = delta_set_image_bytes_peak_;
  return s;
}

Digest Node::digest(const DigestRequest& r) {
  Digest d;
  d.first = r.first;
  const auto tracks = disks_->digest(r.first, r.count);
  for (size_t i = 0; i < tracks.size(); ++i) {
    DigestEntry e;
    e.check = static_cast<uint8_t>(tracks[i].check);
    e.version = tracks[i].version;
    e.length = tracks[i].length;
    e.checksum = tracks[i].checksum;
    const TrackRecord rec = state_->record(r.first + i);
    if (state_->nonvolatile_payloads() && rec.payload_slot >= 0 && rec.durable.cached) e.cached_version = rec.durable.cached_version;
    d.entries.push_back(e);
  }
  return d;
}

LogChunk Node::log_chunk(const LogRequest& r) const {
  LogChunk c;
  c.offset = r.offset;
  const auto bytes = state_->log_bytes(r.offset, r.max_bytes);
  c.bytes.assign(bytes.begin(), bytes.end());
  c.end = r.offset + bytes.size() >= state_->log_bytes_used();
  c.truncated = state_->log_truncated();
  return c;
}

void Node::end_run() {
  state_->unlink();
  std::error_code ec;
  fs::remove(opt_.dir + "/" + kConfigureFile, ec);
}

// ---------------------------------------------------------------------------
// Server: the listener, the connections, the protocol

class Server {
 public:
  explicit Server(const ServeOptions& o) : opt_(o) {}
  int run();

 private:
  // A connection the server holds (the link's belongs to the node).
  struct Held {
    std::shared_ptr<Connection> c;
    Time accepted;
    Time last_frame;
    bool said_hello = false;
  };
  void log(const std::string& line) const {
    if (!opt_.quiet) fmt::print(stderr, "mirrorsim controller {}: {}\n", tag_, line);
  }
  void accept_all();
  void listen_again();
  void refuse_at_once(int fd, const std::string& why);
  void on_frame(const Connection* raw, const FrameView& f);
  void on_closed(const Connection* raw, const std::string& reason);
  void sweep();
  void note_outsider(const std::string& why);
  void on_first_frame(const std::shared_ptr<Connection>& c, const FrameView& f);
  void on_control_frame(const std::shared_ptr<Connection>& c, const FrameView& f);
  // `bad_frame`: the peer sent something malformed or unexpected (counted);
  // otherwise a well-formed request this controller declines (a peer while
  // the link is cut, of another run, before a Configure).
  void refuse(const std::shared_ptr<Connection>& c, const std::string& why, bool bad_frame = true);
  void try_recover();
  void configure(const std::shared_ptr<Connection>& c, const Configure& cfg);
  void finish_run(const std::shared_ptr<Connection>& c);
  std::unique_ptr<Node> make_node(const Configure& cfg, bool recover);

  ServeOptions opt_;
  EventLoop loop_;
  TimerGroup timers_{loop_};
  int listen_fd_ = -1;
  std::string tag_ = "(unconfigured)";
  std::unordered_map<const Connection*, Held> connections_;
  std::unique_ptr<Node> node_;
  std::weak_ptr<Connection> orchestrator_;
  uint64_t refusals_before_node_ = 0;
  // Outsiders: connections that did not prove the key, frames failing
  // their tags, connections over the limit. Counted for the life of the
  // process, never a finding of a run (they are not the run's doing).
  uint64_t connections_refused_ = 0;
  std::string last_connection_refusal_;
  uint64_t descriptor_shortages_ = 0;
  int exit_code_ = 0;
  bool done_ = false;
};

int Server::run() {
  if (is_public(opt_.key) && !is_loopback(opt_.listen))
    throw std::runtime_error(fmt::format("will not listen on {} without a key: anyone who can reach it could control "
                                         "this controller",
                                         opt_.listen.text()));
  Endpoint bound;
  listen_fd_ = listen_on(opt_.listen, &bound);
  listen_again();
  sweep();
  try_recover();
  if (opt_.announce_fd >= 0) {
    const std::string line = fmt::format("listening on {}\n", bound.text());
    [[maybe_unused]] const ssize_t n = ::write(opt_.announce_fd, line.data(), line.size());
    if (opt_.announce_fd > 2) ::close(opt_.announce_fd);
  }
  log(fmt::format("listening on {}, directory {}{}", bound.text(), opt_.dir,
                  is_public(opt_.key) ? " (no key: any local process may connect)" : ""));
  try {
    loop_.run_until([this] { return done_; }, Time::max());
  } catch (const DriverError& e) {
    // Never quiet: the driver broke its promise to the model.
    fmt::print(stderr, "mirrorsim controller {}: driver error: {}\n", tag_, e.what());
    return 3;
  }
  return exit_code_;
}

std::unique_ptr<Node> Server::make_node(const Configure& cfg, bool recover) {
  return std::make_unique<Node>(
      loop_, cfg, opt_, recover, [this](const std::string& l) { log(l); },
      [this](const std::string& why) { note_outsider(why); });
}

void Server::try_recover() {
  // A controller that died mid-run comes back by itself from its directory
  // and state file, as a rebooted array does.
  const auto stored = read_file(opt_.dir + "/" + kConfigureFile);
  if (!stored) return;
  ByteReader r(*stored);
  const auto cfg = decode_configure(r);
  const auto id = StateFile::peek(state_file_path(opt_.state_dir, opt_.dir, opt_.state_owner));
  if (!cfg || !id || id->run_id != cfg->run_id) return;  // a finished or foreign run: wait for a Configure
  try {
    tag_ = side_tag(cfg->side);
    node_ = make_node(*cfg, true);
  } catch (const std::exception& e) {
    log(fmt::format("cannot recover the run in {}: {}", opt_.dir, e.what()));
    node_.reset();
  }
}

void Server::note_outsider(const std::string& why) {
  ++connections_refused_;
  last_connection_refusal_ = why;
  // A flood must not become a flood of log lines.
  if (connections_refused_ <= 20 || connections_refused_ % 1000 == 0)
    log(fmt::format("refused a connection ({} so far): {}", connections_refused_, why));
}

void Server::listen_again() { loop_.add(listen_fd_, EPOLLIN, [this](uint32_t) { accept_all(); }); }

void Server::refuse_at_once(int fd, const std::string& why) {
  // Before any handshake: a Refused in the clear says why, then the socket goes.
  std::vector<uint8_t> frame;
  append_frame(frame, FrameType::Refused, encode_refusal(why));
  [[maybe_unused]] const ssize_t n = ::send(fd, frame.data(), frame.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  ::close(fd);
  note_outsider(why);
}

void Server::accept_all() {
  for (int n = 0; n < 64; ++n) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO || errno == ENETDOWN || errno == ENOPROTOOPT ||
          errno == EHOSTDOWN || errno == ENONET || errno == EHOSTUNREACH || errno == ENETUNREACH)
        continue;  // that one connection failed (accept(2) says: treat as EAGAIN and retry)
      // Out of descriptors (EMFILE, ENFILE) or memory: the connection stays
      // in the backlog, and a level-triggered listener would report it again
      // at once, forever. Rest instead: take the listener out of the loop for
      // a while (measured against keeping a spare descriptor to accept and
      // refuse with: README.md, "Limits").
      const int err = errno;
      ++descriptor_shortages_;
      if (descriptor_shortages_ <= 20 || descriptor_shortages_ % 1000 == 0)
        log(fmt::format("accept: {} ({} connections held): not accepting for {:.0f} ms ({} times so far)",
                        std::strerror(err), connections_.size(), opt_.accept_backoff.us() / 1e3, descriptor_shortages_));
      loop_.remove(listen_fd_);
      timers_.at(monotonic_now() + opt_.accept_backoff, [this] { listen_again(); });
      return;
    }
    if (connections_.size() >= opt_.connections_max) {
      refuse_at_once(fd, fmt::format("too many connections (the limit is {})", opt_.connections_max));
      continue;
    }
    const int one = 1;  // host requests and their answers are small: no Nagle delay
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto c = Connection::make(loop_, fd, kHelloFrameMaxBytes, "connection", Party::Server, opt_.key);
    const Connection* raw = c.get();
    const Time now = monotonic_now();
    connections_.emplace(raw, Held{c, now, now, false});
    c->on_frame([this, raw](const FrameView& f) { on_frame(raw, f); });
    c->on_closed([this, raw](const std::string& reason) { on_closed(raw, reason); });
  }
}

void Server::on_frame(const Connection* raw, const FrameView& f) {
  auto it = connections_.find(raw);
  if (it == connections_.end()) return;
  auto c = it->second.c;  // alive through whatever the frame does to the map
  it->second.last_frame = monotonic_now();
  if (!it->second.said_hello) {
    it->second.said_hello = true;
    on_first_frame(c, f);
  } else {
    on_control_frame(c, f);
  }
}

void Server::on_closed(const Connection* raw, const std::string& reason) {
  auto it = connections_.find(raw);
  if (it == connections_.end()) return;
  const CloseCause cause = it->second.c->close_cause();
  const std::string name = it->second.c->name();
  connections_.erase(it);
  if (cause == CloseCause::Unauthenticated) {
    note_outsider(reason);
  } else if (cause == CloseCause::Malformed) {
    // An authenticated client sent something the decoder refused.
    log(fmt::format("{}: {}", name, reason));
    if (node_) node_->note_refusal(reason);
    else ++refusals_before_node_;
  }
}

void Server::sweep() {
  // The connections' deadlines, checked a few times per shortest timeout.
  const Time every = Time::from_ns(
      std::clamp<int64_t>(std::min(opt_.unauthenticated_timeout, opt_.idle_timeout).ns / 4, 10'000'000, 250'000'000));
  timers_.at(monotonic_now() + every, [this] { sweep(); });
  const Time now = monotonic_now();
  const auto orchestrator = orchestrator_.lock();
  std::vector<std::pair<std::shared_ptr<Connection>, std::string>> late, idle;
  for (const auto& [raw, h] : connections_) {
    if (!h.said_hello && now - h.accepted >= opt_.unauthenticated_timeout)
      late.emplace_back(h.c, fmt::format("no authenticated Hello within {:.1f} s", opt_.unauthenticated_timeout.s()));
    else if (h.said_hello && h.c != orchestrator && now - h.last_frame >= opt_.idle_timeout)
      idle.emplace_back(h.c, fmt::format("idle for {:.1f} s and not part of the run", opt_.idle_timeout.s()));
  }
  for (auto& [c, why] : late) {
    c->on_closed(nullptr);
    c->close(why, CloseCause::Unauthenticated);
    connections_.erase(c.get());
    note_outsider(why);
  }
  for (auto& [c, why] : idle) {
    log(fmt::format("{}: closed: {}", c->name(), why));
    c->send(FrameType::Refused, encode_refusal(why));
    c->on_closed(nullptr);
    c->close(why);
    connections_.erase(c.get());
  }
}

void Server::refuse(const std::shared_ptr<Connection>& c, const std::string& why, bool bad_frame) {
  log(fmt::format("{}: refused: {}", c->name(), why));
  if (bad_frame && node_) node_->note_refusal(why);
  else if (bad_frame) ++refusals_before_node_;
  c->send(FrameType::Refused, encode_refusal(why));
  c->on_closed(nullptr);
  c->close(why);
  connections_.erase(c.get());
}

void Server::on_first_frame(const std::shared_ptr<Connection>& c, const FrameView& f) {
  // The first frame after the handshake (the connection authenticated it).
  if (f.type != FrameType::Hello) return refuse(c, fmt::format("expected Hello, got a {} frame", to_string(f.type)));
  ByteReader r(f.body);
  const auto h = decode_hello(r);
  if (!h) return refuse(c, "malformed Hello: " + r.error());
  if (h->protocol_version != kProtocolVersion)
    return refuse(c, fmt::format("protocol version {}, this controller speaks {}", h->protocol_version, kProtocolVersion));
  if (h->kind == ConnectionKind::Peer) {
    std::string why = "not configured for a run yet";
    if (!node_ || !node_->accepts_peer(*h, &why)) return refuse(c, why, false);
    connections_.erase(c.get());  // the link owns it from now on
    c->send(FrameType::HelloAck, {});
    node_->adopt_peer(c);
    return;
  }
  c->set_max_body_bytes(kControlFrameMaxBytes);
  c->send(FrameType::HelloAck, {});
}

void Server::on_control_frame(const std::shared_ptr<Connection>& c, const FrameView& f) {
  ByteReader r(f.body);
  auto malformed = [&](const char* what) { refuse(c, fmt::format("malformed {}: {}", what, r.error())); };
  if (f.type == FrameType::Configure) {
    const auto cfg = decode_configure(r);
    if (!cfg) return malformed("Configure");
    return configure(c, *cfg);
  }
  if (f.type == FrameType::StatusRequest) {
    if (!r.finish("StatusRequest")) return malformed("StatusRequest");
    Status s;
    if (node_) s = node_->status();
    else s.frames_refused = refusals_before_node_;
    s.connections_refused = connections_refused_;
    s.last_connection_refusal = last_connection_refusal_;
    s.connections_open = connections_.size();
    c->send(FrameType::Status, encode(s));
    return;
  }
  if (f.type == FrameType::EndRun) return finish_run(c);
  if (!node_) return refuse(c, fmt::format("{} before Configure", to_string(f.type)));
  switch (f.type) {
    case FrameType::HostRequest: {
      const auto h = decode_host_request(r);
      if (!h) return malformed("HostRequest");
      node_->host_request(*h, c);
      return;
    }
    case FrameType::Operator: {
      const auto a = decode_operator(r);
      if (!a) return malformed("Operator");
      node_->operator_action(*a);
      return;
    }
    case FrameType::LinkFault: {
      const auto lf = decode_link_fault(r);
      if (!lf) return malformed("LinkFault");
      node_->link_fault(*lf);
      return;
    }
    case FrameType::DiskFault: {
      const auto df = decode_disk_fault(r);
      if (!df) return malformed("DiskFault");
      node_->disk_fault(*df);
      return;
    }
    case FrameType::PowerLoss:
      if (!r.finish("PowerLoss")) return malformed("PowerLoss");
      node_->power_loss();
    case FrameType::DigestRequest: {
      const auto d = decode_digest_request(r);
      if (!d) return malformed("DigestRequest");
      c->send(FrameType::Digest, encode(node_->digest(*d)));
      return;
    }
    case FrameType::LogRequest: {
      const auto l = decode_log_request(r);
      if (!l) return malformed("LogRequest");
      c->send(FrameType::LogChunk, encode(node_->log_chunk(*l)));
      return;
    }
    default: return refuse(c, fmt::format("unexpected {} frame on a control connection", to_string(f.type)));
  }
}

void Server::configure(const std::shared_ptr<Connection>& c, const Configure& cfg) {
  orchestrator_ = c;
  if (opt_.exit_after_run) {
    // The orchestrator that configured this process owns it: without it
    // nobody would ever end the run.
    const Connection* raw = c.get();
    c->on_closed([this, raw](const std::string& reason) {
      connections_.erase(raw);
      log("the orchestrator went away (" + reason + "): stopping");
      done_ = true;
      loop_.stop();
    });
  }
  try {
    if (node_ && node_->run_id() == cfg.run_id && node_->side() == cfg.side) {
      // Restarted within this run: already serving from its state.
    } else {
      node_.reset();
      tag_ = side_tag(cfg.side);
      node_ = make_node(cfg, false);
    }
  } catch (const std::exception& e) {
    node_.reset();
    return refuse(c, fmt::format("cannot configure: {}", e.what()), false);
  }
  Configured done;
  done.recovered = node_->recovered();
  done.seq = node_->seq();
  done.congestion_control = node_->congestion_control();
  done.direct_reads = node_->direct_reads();
  c->send(FrameType::Configured, encode(done));
}

void Server::finish_run(const std::shared_ptr<Connection>& c) {
  if (node_) {
    node_->end_run();
    node_.reset();
  }
  tag_ = "(unconfigured)";
  c->send(FrameType::EndRun, {});
  if (opt_.exit_after_run) {
    done_ = true;
    loop_.stop();
  }
}

}  // namespace

uint32_t payload_slots(const ControllerConfig& c) {
  // Three per cache slot, so a free one is always at hand: at most one
  // payload per cached track is current, at most one more per track is an
  // older version a destage still reads from (pinned), and a step can need
  // at most one new payload per cached track, written before the step that
  // needs it commits (copy-on-write). Async adds the older versions that
  // transmit sets still owe R2 (Node::transmit_payloads_): at most the delta
  // sets' slot limit, which the model keeps after every step (or drops the
  // session).
  return 3 * c.cache_slots + (c.is_async() ? c.async.delta_set_slots_max(c.cache_slots) : 0);
}

std::string state_file_path(const std::string& state_dir, const std::string& dir, const std::string& owner) {
  std::error_code ec;
  const std::string canonical = fs::weakly_canonical(dir, ec).string();
  const uint32_t h = crc32c(canonical.data(), canonical.size());
  if (owner.empty()) return fmt::format("{}/mirrorsim-{:08x}.state", state_dir, h);
  return fmt::format("{}/mirrorsim-{}-{:08x}.state", state_dir, owner, h);
}

int serve_controller(const ServeOptions& options) {
  // Timers at their time: the default slack of 50 µs would hold every
  // emulated link delay and deadline up to 50 µs longer than asked.
  ::prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  Server s(options);
  return s.run();
}

}  // namespace mirrorsim::real
