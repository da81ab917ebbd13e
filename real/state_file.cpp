#include "real/state_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

#include "real/checksum.hpp"
#include "real/wire.hpp"

namespace mirrorsim::real {

namespace {

constexpr char kMagic[8] = {'M', 'S', 'I', 'M', 'N', 'V', 'S', '1'};
constexpr uint32_t kLayout = 1;
constexpr uint64_t kHeaderBytes = 4096;
constexpr uint64_t kJournalHeaderBytes = 64;

struct NvTrack {
  uint64_t version;
  uint64_t disk_version;
  uint64_t cached_version;
  uint32_t flags;
  int32_t payload_slot;
};
static_assert(sizeof(NvTrack) == 32);

constexpr uint32_t kLocalWp = 1, kRemoteWp = 2, kInvalidLocal = 4, kDivergent = 8, kInvalidRemote = 16, kCached = 32;

NvTrack to_nv(const TrackRecord& r) {
  const DurableTrack& d = r.durable;
  NvTrack n{d.version, d.disk_version, d.cached_version, 0, r.payload_slot};
  n.flags = (d.local_wp ? kLocalWp : 0) | (d.remote_wp ? kRemoteWp : 0) | (d.invalid_local ? kInvalidLocal : 0) |
            (d.divergent ? kDivergent : 0) | (d.invalid_remote ? kInvalidRemote : 0) | (d.cached ? kCached : 0);
  return n;
}

TrackRecord from_nv(const NvTrack& n) {
  TrackRecord r;
  r.durable.version = n.version;
  r.durable.disk_version = n.disk_version;
  r.durable.cached_version = n.cached_version;
  r.durable.local_wp = n.flags & kLocalWp;
  r.durable.remote_wp = n.flags & kRemoteWp;
  r.durable.invalid_local = n.flags & kInvalidLocal;
  r.durable.divergent = n.flags & kDivergent;
  r.durable.invalid_remote = n.flags & kInvalidRemote;
  r.durable.cached = n.flags & kCached;
  r.payload_slot = n.payload_slot;
  return r;
}

template <class T>
T load(const T& x) {
  return std::atomic_ref<T>(const_cast<T&>(x)).load(std::memory_order_acquire);
}
template <class T>
void store(T& x, T v) {
  std::atomic_ref<T>(x).store(v, std::memory_order_release);
}

uint64_t round_up(uint64_t n, uint64_t to) { return (n + to - 1) / to * to; }

}  // namespace

struct StateFile::Header {
  char magic[8];
  uint32_t layout;
  uint32_t side;
  uint64_t run_id;
  uint64_t config_hash;
  uint64_t seed;
  int64_t time_base_ns;
  uint64_t total_tracks;
  uint32_t track_bytes;
  uint32_t payload_slots;
  uint32_t nonvolatile;
  uint32_t reserved;
  uint64_t journal_offset, journal_bytes, table_offset, payload_offset, log_offset, log_bytes, file_bytes;
  // Changed while running (atomically):
  uint64_t applied_seq;
  uint64_t log_end;
  uint64_t log_last_seq;
  uint32_t log_truncated;
  // The controller-wide durable fields, as of applied_seq.
  uint32_t role;
  uint32_t generation;
  uint32_t epoch;
  uint32_t operator_suspended;
};

namespace {
struct JournalHeader {
  uint64_t committed_seq;
  uint32_t body_bytes;
  uint32_t crc;
};
}  // namespace

StateFile::Header* StateFile::header() const {
  static_assert(sizeof(Header) <= kHeaderBytes);
  return reinterpret_cast<Header*>(base_);
}

StateFile StateFile::create(const std::string& path, const Geometry& g, const StateIdentity& id, uint32_t payload_slots,
                            bool nonvolatile_payloads, uint64_t log_bytes) {
  StateFile s;
  s.path_ = path;
  s.g_ = g;
  s.id_ = id;
  s.payload_slots_ = payload_slots;
  s.nonvolatile_ = nonvolatile_payloads;
  // The journal holds one step: an input (at most an EstablishAck naming
  // every track) and a record per touched track (at most every track).
  const uint64_t journal = round_up(kJournalHeaderBytes + 4096 + g.total_tracks * (6 + 8 + sizeof(NvTrack) + 8), 4096);
  const uint64_t table = round_up(g.total_tracks * sizeof(NvTrack), 4096);
  const uint64_t payloads = nonvolatile_payloads ? static_cast<uint64_t>(payload_slots) * g.track_bytes : 0;
  Header h{};
  std::memcpy(h.magic, kMagic, 8);
  h.layout = kLayout;
  h.side = static_cast<uint32_t>(index_of(id.side));
  h.run_id = id.run_id;
  h.config_hash = id.config_hash;
  h.seed = id.seed;
  h.time_base_ns = id.time_base_ns;
  h.total_tracks = g.total_tracks;
  h.track_bytes = g.track_bytes;
  h.payload_slots = payload_slots;
  h.nonvolatile = nonvolatile_payloads;
  h.journal_offset = kHeaderBytes;
  h.journal_bytes = journal;
  h.table_offset = h.journal_offset + journal;
  h.payload_offset = h.table_offset + table;
  h.log_offset = round_up(h.payload_offset + payloads, 4096);
  h.log_bytes = round_up(log_bytes, 4096);
  h.file_bytes = h.log_offset + h.log_bytes;
  h.role = static_cast<uint32_t>(id.side == Side::A ? Role::Primary : Role::Secondary);
  h.generation = 1;
  h.epoch = 1;

  ::unlink(path.c_str());
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error(fmt::format("cannot create the state file {}: {}", path, std::strerror(errno)));
  if (::ftruncate(fd, static_cast<off_t>(h.file_bytes)) != 0) {
    const int err = errno;
    ::close(fd);
    throw std::runtime_error(fmt::format("cannot size the state file {} to {} bytes: {}", path, h.file_bytes, std::strerror(err)));
  }
  s.map(fd, h.file_bytes, true);
  // The table starts as a fresh controller's: every track at version 0.
  auto* t = reinterpret_cast<NvTrack*>(s.base_ + h.table_offset);
  for (uint64_t i = 0; i < g.total_tracks; ++i) t[i] = NvTrack{0, 0, 0, 0, -1};
  // The header last: a file without a magic is no state.
  Header staged = h;
  std::memset(staged.magic, 0, 8);
  std::memcpy(s.base_, &staged, sizeof staged);
  std::atomic_thread_fence(std::memory_order_release);
  std::memcpy(s.base_, kMagic, 8);
  return s;
}

std::optional<StateIdentity> StateFile::peek(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  Header h{};
  const ssize_t n = ::pread(fd, &h, sizeof h, 0);
  ::close(fd);
  if (n != static_cast<ssize_t>(sizeof h) || std::memcmp(h.magic, kMagic, 8) != 0 || h.layout != kLayout)
    return std::nullopt;
  return StateIdentity{h.run_id, h.config_hash, h.side == 0 ? Side::A : Side::B, h.time_base_ns, h.seed};
}

std::optional<StateFile> StateFile::open(const std::string& path, const Geometry& g, std::string* why) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    *why = fmt::format("no state file {}: {}", path, std::strerror(errno));
    return std::nullopt;
  }
  struct stat st{};
  fstat(fd, &st);
  Header h{};
  if (st.st_size < static_cast<off_t>(kHeaderBytes) || ::pread(fd, &h, sizeof h, 0) != static_cast<ssize_t>(sizeof h) ||
      std::memcmp(h.magic, kMagic, 8) != 0 || h.layout != kLayout) {
    ::close(fd);
    *why = fmt::format("{} is not a mirrorsim state file of layout {}", path, kLayout);
    return std::nullopt;
  }
  if (h.total_tracks != g.total_tracks || h.track_bytes != g.track_bytes ||
      static_cast<uint64_t>(st.st_size) != h.file_bytes) {
    ::close(fd);
    *why = fmt::format("{} was made for {} tracks of {} bytes, the configuration has {} of {}", path, h.total_tracks,
                       h.track_bytes, g.total_tracks, g.track_bytes);
    return std::nullopt;
  }
  StateFile s;
  s.path_ = path;
  s.g_ = g;
  s.id_ = StateIdentity{h.run_id, h.config_hash, h.side == 0 ? Side::A : Side::B, h.time_base_ns, h.seed};
  s.payload_slots_ = h.payload_slots;
  s.nonvolatile_ = h.nonvolatile;
  s.map(fd, h.file_bytes, false);
  s.apply_journal();
  if (!s.nonvolatile_) {
    // The volatile cache died with the process: no table entry may point at
    // a payload any more (the durable flags stay until the restart clears them).
    auto* t = reinterpret_cast<NvTrack*>(s.base_ + s.header()->table_offset);
    for (uint64_t i = 0; i < g.total_tracks; ++i) t[i].payload_slot = -1;
  }
  // The last committed step's input may not have reached the log.
  Header* hp = s.header();
  const auto* jh = reinterpret_cast<const JournalHeader*>(s.base_ + hp->journal_offset);
  const uint64_t committed = load(jh->committed_seq);
  if (committed > 0 && load(hp->log_last_seq) < committed) {
    ByteReader r(std::span<const uint8_t>(s.base_ + hp->journal_offset + kJournalHeaderBytes, jh->body_bytes));
    const uint64_t seq = r.u64("seq");
    const int64_t at = r.i64("at");
    r.u32("role");
    r.u32("generation");
    r.u32("epoch");
    r.u8("operator_suspended");
    const uint32_t n = r.u32("input bytes");
    const auto input = r.bytes("input", n);
    if (r.ok() && seq == committed) s.append_log(LogKind::Input, seq, Time::from_ns(at), input);
  }
  return s;
}

void StateFile::map(int fd, uint64_t bytes, bool fresh) {
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  const int err = errno;
  ::close(fd);
  if (p == MAP_FAILED) throw std::runtime_error(fmt::format("cannot map the state file {}: {}", path_, std::strerror(err)));
  base_ = static_cast<uint8_t*>(p);
  bytes_ = bytes;
  if (!nonvolatile_) {
    volatile_bytes_ = std::max<uint64_t>(static_cast<uint64_t>(payload_slots_) * g_.track_bytes, 4096);
    void* v = ::mmap(nullptr, volatile_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (v == MAP_FAILED)
      throw std::runtime_error(fmt::format("cannot map a volatile cache of {} bytes: {}", volatile_bytes_, std::strerror(errno)));
    volatile_payloads_ = static_cast<uint8_t*>(v);
  }
  (void)fresh;
}

StateFile::StateFile(StateFile&& o) noexcept { *this = std::move(o); }

StateFile& StateFile::operator=(StateFile&& o) noexcept {
  if (this != &o) {
    if (base_) ::munmap(base_, bytes_);
    if (volatile_payloads_) ::munmap(volatile_payloads_, volatile_bytes_);
    path_ = std::move(o.path_);
    g_ = std::move(o.g_);
    id_ = o.id_;
    base_ = o.base_;
    bytes_ = o.bytes_;
    payload_slots_ = o.payload_slots_;
    nonvolatile_ = o.nonvolatile_;
    volatile_payloads_ = o.volatile_payloads_;
    volatile_bytes_ = o.volatile_bytes_;
    o.volatile_payloads_ = nullptr;
    o.base_ = nullptr;
    o.bytes_ = 0;
  }
  return *this;
}

StateFile::~StateFile() {
  if (base_) ::munmap(base_, bytes_);
  if (volatile_payloads_) ::munmap(volatile_payloads_, volatile_bytes_);
}

void StateFile::unlink() { ::unlink(path_.c_str()); }

uint64_t StateFile::committed_seq() const { return load(header()->applied_seq); }

TrackRecord StateFile::record(uint64_t index) const {
  return from_nv(reinterpret_cast<const NvTrack*>(base_ + header()->table_offset)[index]);
}

std::span<uint8_t> StateFile::payload(int32_t slot) {
  uint8_t* p = nonvolatile_ ? base_ + header()->payload_offset : volatile_payloads_;
  return {p + static_cast<uint64_t>(slot) * g_.track_bytes, g_.track_bytes};
}

DurableState StateFile::durable_state() const {
  const Header* h = header();
  DurableState s;
  s.role = static_cast<Role>(h->role);
  s.generation = h->generation;
  s.epoch = h->epoch;
  s.operator_suspended = h->operator_suspended != 0;
  const auto* t = reinterpret_cast<const NvTrack*>(base_ + h->table_offset);
  s.tracks.resize(g_.tracks.size());
  for (VolumeId v = 0; v < g_.tracks.size(); ++v) {
    s.tracks[v].reserve(g_.tracks[v]);
    for (TrackNo k = 0; k < g_.tracks[v]; ++k) s.tracks[v].push_back(from_nv(t[g_.index({v, k})]).durable);
  }
  return s;
}

void StateFile::commit(const StepChanges& c) {
  Header* h = header();
  thread_local std::vector<uint8_t> body;
  body.clear();
  ByteWriter w(body);
  w.u64(c.seq);
  w.i64(c.at.ns);
  w.u32(static_cast<uint32_t>(c.role));
  w.u32(c.generation);
  w.u32(c.epoch);
  w.u8(c.operator_suspended ? 1 : 0);
  w.u32(static_cast<uint32_t>(c.input.size()));
  w.bytes(c.input);
  w.u32(static_cast<uint32_t>(c.tracks.size()));
  for (const auto& [index, rec] : c.tracks) {
    w.u64(index);
    const NvTrack n = to_nv(rec);
    w.raw(&n, sizeof n);
  }
  if (kJournalHeaderBytes + body.size() > h->journal_bytes)
    throw std::runtime_error(fmt::format("a step of {} bytes overflows the journal of {}", body.size(), h->journal_bytes));
  auto* jh = reinterpret_cast<JournalHeader*>(base_ + h->journal_offset);
  std::memcpy(base_ + h->journal_offset + kJournalHeaderBytes, body.data(), body.size());
  jh->body_bytes = static_cast<uint32_t>(body.size());
  jh->crc = crc32c(body.data(), body.size());
  store(jh->committed_seq, c.seq);  // the commit point
  auto* t = reinterpret_cast<NvTrack*>(base_ + h->table_offset);
  for (const auto& [index, rec] : c.tracks) t[index] = to_nv(rec);
  h->role = static_cast<uint32_t>(c.role);
  h->generation = c.generation;
  h->epoch = c.epoch;
  h->operator_suspended = c.operator_suspended ? 1 : 0;
  store(h->applied_seq, c.seq);
  append_log(LogKind::Input, c.seq, c.at, c.input);
}

void StateFile::apply_journal() {
  Header* h = header();
  const auto* jh = reinterpret_cast<const JournalHeader*>(base_ + h->journal_offset);
  const uint64_t committed = load(jh->committed_seq);
  if (committed <= load(h->applied_seq)) return;
  const std::span<const uint8_t> body(base_ + h->journal_offset + kJournalHeaderBytes, jh->body_bytes);
  if (jh->body_bytes > h->journal_bytes - kJournalHeaderBytes || crc32c(body.data(), body.size()) != jh->crc)
    throw std::runtime_error(fmt::format("{}: the committed journal entry {} fails its checksum", path_, committed));
  ByteReader r(body);
  const uint64_t seq = r.u64("seq");
  r.i64("at");
  const uint32_t role = r.u32("role");
  const uint32_t generation = r.u32("generation");
  const uint32_t epoch = r.u32("epoch");
  const uint8_t suspended = r.u8("operator_suspended");
  r.bytes("input", r.u32("input bytes"));
  const uint32_t n = r.count("tracks", 8 + sizeof(NvTrack), g_.total_tracks);
  auto* t = reinterpret_cast<NvTrack*>(base_ + h->table_offset);
  for (uint32_t i = 0; i < n && r.ok(); ++i) {
    const uint64_t index = r.u64("index");
    const auto raw = r.bytes("record", sizeof(NvTrack));
    if (!r.ok() || index >= g_.total_tracks) break;
    std::memcpy(&t[index], raw.data(), sizeof(NvTrack));
  }
  if (!r.finish("journal") || seq != committed)
    throw std::runtime_error(fmt::format("{}: the committed journal entry {} does not parse: {}", path_, committed, r.error()));
  h->role = role;
  h->generation = generation;
  h->epoch = epoch;
  h->operator_suspended = suspended;
  store(h->applied_seq, seq);
}

bool StateFile::append_log(LogKind kind, uint64_t seq, Time at, std::span<const uint8_t> body) {
  Header* h = header();
  if (load(h->log_truncated)) return false;
  const uint64_t end = load(h->log_end);
  const uint64_t rest = 1 + 8 + 8 + body.size();
  const uint64_t record = 8 + rest;
  if (end + record > h->log_bytes) {
    store(h->log_truncated, 1u);
    return false;
  }
  uint8_t* p = base_ + h->log_offset + end;
  const uint32_t length = static_cast<uint32_t>(rest);
  const uint8_t k = static_cast<uint8_t>(kind);
  const int64_t at_ns = at.ns;
  std::memcpy(p + 8, &k, 1);
  std::memcpy(p + 9, &seq, 8);
  std::memcpy(p + 17, &at_ns, 8);
  if (!body.empty()) std::memcpy(p + 25, body.data(), body.size());
  const uint32_t crc = crc32c(p + 8, rest);
  std::memcpy(p, &length, 4);
  std::memcpy(p + 4, &crc, 4);
  store(h->log_end, end + record);
  store(h->log_last_seq, std::max(load(h->log_last_seq), seq));
  return true;
}

bool StateFile::log_truncated() const { return load(header()->log_truncated) != 0; }
uint64_t StateFile::log_bytes_used() const { return load(header()->log_end); }

std::span<const uint8_t> StateFile::log_bytes(uint64_t offset, uint64_t max) const {
  const uint64_t end = log_bytes_used();
  if (offset >= end) return {};
  return {base_ + header()->log_offset + offset, std::min(max, end - offset)};
}

std::vector<LogRecord> parse_log(std::span<const uint8_t> bytes, bool* complete) {
  std::vector<LogRecord> out;
  size_t pos = 0;
  while (pos + 8 + 17 <= bytes.size()) {
    uint32_t length, crc;
    std::memcpy(&length, bytes.data() + pos, 4);
    std::memcpy(&crc, bytes.data() + pos + 4, 4);
    if (length < 17 || pos + 8 + length > bytes.size() || crc32c(bytes.data() + pos + 8, length) != crc) break;
    const uint8_t* p = bytes.data() + pos + 8;
    LogRecord r;
    r.kind = static_cast<LogKind>(p[0]);
    std::memcpy(&r.seq, p + 1, 8);
    int64_t at;
    std::memcpy(&at, p + 9, 8);
    r.at = Time::from_ns(at);
    r.body.assign(p + 17, p + length);
    out.push_back(std::move(r));
    pos += 8 + length;
  }
  if (complete) *complete = pos == bytes.size();
  return out;
}

uint64_t durable_hash(const DurableState& s) {
  // FNV-1a over the fields, in a fixed order.
  uint64_t h = 0xcbf29ce484222325ull;
  auto mix = [&](uint64_t v) {
    for (int i = 0; i < 8; ++i) {
      h ^= (v >> (8 * i)) & 0xFF;
      h *= 0x100000001b3ull;
    }
  };
  mix(static_cast<uint64_t>(s.role));
  mix(s.generation);
  mix(s.epoch);
  mix(s.operator_suspended);
  for (const auto& vol : s.tracks)
    for (const DurableTrack& d : vol) {
      mix(d.version);
      mix(d.disk_version);
      mix(d.cached ? d.cached_version : 0);
      mix((d.local_wp ? 1 : 0) | (d.remote_wp ? 2 : 0) | (d.invalid_local ? 4 : 0) | (d.divergent ? 8 : 0) |
          (d.invalid_remote ? 16 : 0) | (d.cached ? 32 : 0));
    }
  return h;
}

}  // namespace mirrorsim::real
