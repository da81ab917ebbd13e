// What a controller process keeps across its own death: a file in /dev/shm
// mapped shared, so a SIGKILL leaves it intact the way a battery-backed
// cache survives a controller crash (not a power loss of the machine:
// tmpfs is memory).
//
//   header      run identity, layout, the model-time base, the log's end
//   journal     the last step's changes, committed by one final store
//   table       per track: the model's DurableTrack and the cache payload slot
//   payloads    non-volatile cache: track images, one per payload slot
//   log         every input the controller stepped, for the observer's replay
//
// A step's changes become durable atomically: they are written to the
// journal, the journal is committed (its sequence number is the last store),
// then applied to the table. A process killed anywhere in between recovers
// the last committed step, never half of one. Cache payloads are written
// copy-on-write into free slots before the commit that points the table at
// them, so a committed payload is never overwritten in place.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "model/controller.hpp"
#include "real/geometry.hpp"

namespace mirrorsim::real {

struct StateIdentity {
  uint64_t run_id = 0;
  uint64_t config_hash = 0;  // the configuration the controller was built from
  Side side = Side::A;
  int64_t time_base_ns = 0;  // monotonic clock at model time 0
  uint64_t seed = 0;
};

// One entry of the journal / table.
struct TrackRecord {
  DurableTrack durable;
  int32_t payload_slot = -1;  // -1: no cache payload
  bool operator==(const TrackRecord&) const = default;
};

struct StepChanges {
  uint64_t seq = 0;
  Time at;
  std::vector<uint8_t> input;  // encoded (messages.hpp)
  Role role = Role::Primary;
  Generation generation = 1;
  Epoch epoch = 1;
  bool operator_suspended = false;
  std::vector<std::pair<uint64_t, TrackRecord>> tracks;  // track index → new record
};

// Log record kinds.
enum class LogKind : uint8_t {
  Start = 1,      // a fresh controller: body empty
  Recovered = 2,  // rebuilt from the state: body = u64 hash of the durable state it recovered
  Input = 3,      // body = the encoded input
  Executed = 4,   // the step `seq` has executed its commands (at = when): body empty
};

struct LogRecord {
  LogKind kind = LogKind::Input;
  uint64_t seq = 0;
  Time at;
  std::vector<uint8_t> body;
};

class StateFile {
 public:
  // Creates (replacing any earlier file) a state for a fresh controller.
  static StateFile create(const std::string& path, const Geometry& g, const StateIdentity& id, uint32_t payload_slots,
                          bool nonvolatile_payloads, uint64_t log_bytes);
  // Opens an existing state and finishes its last committed step. nullopt
  // (with `why`) when there is none or it does not match the geometry.
  static std::optional<StateFile> open(const std::string& path, const Geometry& g, std::string* why);
  // The identity stored in a state file, without opening it fully.
  static std::optional<StateIdentity> peek(const std::string& path);

  StateFile(StateFile&&) noexcept;
  StateFile& operator=(StateFile&&) noexcept;
  ~StateFile();

  const StateIdentity& identity() const { return id_; }
  uint64_t committed_seq() const;
  DurableState durable_state() const;
  TrackRecord record(uint64_t index) const;
  std::span<uint8_t> payload(int32_t slot);
  uint32_t payload_slots() const { return payload_slots_; }
  bool nonvolatile_payloads() const { return nonvolatile_; }

  // Writes the journal, commits it, applies it to the table, appends the
  // input to the log.
  void commit(const StepChanges& c);
  // Appends a record to the log (Start, Recovered); Input records come from
  // commit(). False when the log is full (it stops; the run is told).
  bool append_log(LogKind kind, uint64_t seq, Time at, std::span<const uint8_t> body);
  bool log_truncated() const;
  uint64_t log_bytes_used() const;
  // Raw log bytes [offset, offset + max) for shipping to the orchestrator.
  std::span<const uint8_t> log_bytes(uint64_t offset, uint64_t max) const;

  // Removes the file (the run is over).
  void unlink();
  const std::string& path() const { return path_; }

 private:
  StateFile() = default;
  void map(int fd, uint64_t bytes, bool fresh);
  void apply_journal();
  struct Header;
  Header* header() const;

  std::string path_;
  Geometry g_;
  StateIdentity id_;
  uint8_t* base_ = nullptr;
  uint64_t bytes_ = 0;
  uint32_t payload_slots_ = 0;
  bool nonvolatile_ = false;
  // The volatile cache's payloads: anonymous memory of this process, mapped
  // without reserve so that only slots in use cost memory.
  uint8_t* volatile_payloads_ = nullptr;
  uint64_t volatile_bytes_ = 0;
};

// Parses log bytes into records; stops at the first record that does not
// check (a torn tail). `complete` tells whether every byte was consumed.
std::vector<LogRecord> parse_log(std::span<const uint8_t> bytes, bool* complete);
// Hash of a durable state, to prove a restarted controller recovered what
// the replay expects.
uint64_t durable_hash(const DurableState& s);

}  // namespace mirrorsim::real
