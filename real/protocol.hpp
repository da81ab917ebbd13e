// The frames between the orchestrator (`mirrorsim real`), the controller
// processes and the two controllers' link, as typed structs with their
// encodings. Every decode checks lengths and ranges and names the first bad
// field (ByteReader::error); a frame that fails is refused, never used.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "model/pair.hpp"
#include "model/types.hpp"
#include "real/wire.hpp"

namespace mirrorsim::real {

// Bodies of frames before a controller knows its geometry: a Hello, a
// Configure with its scenario, status and control requests.
constexpr uint32_t kControlFrameMaxBytes = 16u << 20;
constexpr uint32_t kHelloFrameMaxBytes = 4096;

enum class ConnectionKind : uint8_t { Peer = 1, Control = 2 };

struct Hello {
  uint16_t protocol_version = kProtocolVersion;
  ConnectionKind kind = ConnectionKind::Control;
  uint64_t run_id = 0;  // Peer: the run the dialling controller belongs to
  Side side = Side::A;  // Peer: the dialling controller's side
};

// The link as the run wants it: fault injection on top of the real
// transport. Rates of 0 mean unlimited.
struct LinkShaping {
  int64_t delay_ns = 0;              // one-way, added to every frame
  int64_t jitter_ns = 0;             // uniform in [0, jitter) on top, order kept
  double bandwidth_bytes_per_s = 0;  // token bucket on frames sent
  double loss_probability = 0;       // per frame; a loss breaks the connection (TCP cannot lose one frame)
  int64_t failure_detection_ns = 50'000'000;  // heartbeat timeout and TCP_USER_TIMEOUT
};

struct Configure {
  uint64_t run_id = 0;
  Side side = Side::A;
  std::string scenario_toml;  // resolved: the controller builds its configuration from it
  // Model time 0. On the orchestrator's machine (same boot id) its
  // CLOCK_MONOTONIC reading; elsewhere the orchestrator's time since then,
  // when sent (exact to the transit time).
  std::string boot_id;
  int64_t time_base_ns = 0;
  int64_t run_elapsed_ns = 0;
  std::string peer;            // side A: HOST:PORT of side B's controller
  LinkShaping link;
  bool o_direct = false;
  bool page_cache_reads = false;   // where the file system refuses O_DIRECT, read through the page cache
  int32_t disk_failure_errno = 5;
  int64_t disk_added_latency_ns = 0;
  bool undo_unsynced = false;      // a power loss is scheduled: keep undo data for unsynced writes
  uint64_t log_bytes = 1ull << 30;  // input log capacity (sparse in /dev/shm)
};

struct Configured {
  bool recovered = false;     // it was already running this run (restarted from its state)
  uint64_t seq = 0;           // steps committed so far
  std::string congestion_control;
  bool direct_reads = true;   // its disk reads bypass the page cache (O_DIRECT)
};

struct HostRequest {
  RequestId req = 0;
  bool write = true;
  TrackKey key;
  uint32_t bytes = 0;
};

struct HostDone {
  RequestId req = 0;
  bool ok = false;
  Version version = 0;
  RejectReason reason = RejectReason::NotReady;
  int64_t response_ns = 0;  // at the controller: from the request's arrival to its answer
  int64_t delayed_ns = 0;   // of which waiting at the write-pending limit
};

enum class OperatorAction : uint8_t { Suspend = 1, Resume, Failover, Failback };

struct LinkFault {
  enum class Kind : uint8_t { Cut = 1, Restore, Shape };
  Kind kind = Kind::Cut;
  LinkShaping shaping;  // Shape
};

struct DiskFault {
  enum class Kind : uint8_t { Fail = 1, Repair, Latency };
  Kind kind = Kind::Fail;
  uint32_t disk = 0;
  int64_t latency_ns = 0;
};

struct Status {
  bool configured = false;
  Side side = Side::A;
  // What the pair's rules see of the controller (model/pair.hpp): its role,
  // generation and pair state, what it holds and owes, what it was told of
  // its peer, and the host requests and disk I/O this process holds for it.
  ControllerView controller;
  bool link_connected = false;  // a link connection is up now
  bool link_cut = false;        // by fault injection
  uint32_t local_wp_slots = 0;
  uint32_t remote_wp_tracks = 0;
  uint64_t steps = 0;
  std::vector<uint64_t> disk_busy_ns;  // cumulative per disk
  uint64_t disk_ios = 0;
  uint64_t disk_io_errors = 0;
  uint64_t link_bytes_sent = 0;
  uint64_t link_connections = 0;
  uint64_t frames_refused = 0;        // malformed or unexpected authenticated frames (a bug on the other side)
  std::string last_refusal;
  uint64_t copies_sent = 0;
  uint64_t copies_stored = 0;
  bool log_truncated = false;
  uint64_t log_bytes = 0;
  // Outsiders, for the life of the process: connections that did not prove
  // the key (or sent a frame failing its tag), or came over the limit.
  // Not the run's doing, so never a finding of it.
  uint64_t connections_refused = 0;
  std::string last_connection_refusal;
  uint64_t connections_open = 0;  // held by the listener, beside the link
  // Async: track images held apart from the cache for delta sets — R1's
  // older versions that transmit sets still owe, R2's received sets not yet
  // applied — now, and the most at once (bytes).
  uint64_t delta_set_images = 0;
  uint64_t delta_set_image_bytes = 0;
  uint64_t delta_set_image_bytes_peak = 0;
};

struct DigestRequest {
  uint64_t first = 0;
  uint32_t count = 0;
};
struct DigestEntry {
  uint8_t check = 0;  // ImageCheck
  Version version = 0;
  uint32_t length = 0;
  uint32_t checksum = 0;
  Version cached_version = 0;  // a non-volatile cache's payload for the track, 0 if none
};
struct Digest {
  uint64_t first = 0;
  std::vector<DigestEntry> entries;
};
constexpr uint32_t kDigestChunkTracks = 65536;

struct LogRequest {
  uint64_t offset = 0;
  uint32_t max_bytes = 0;
};
struct LogChunk {
  uint64_t offset = 0;
  bool end = false;  // nothing after this chunk
  bool truncated = false;
  std::vector<uint8_t> bytes;
};
constexpr uint32_t kLogChunkMaxBytes = 8u << 20;

std::vector<uint8_t> encode(const Hello&);
std::vector<uint8_t> encode(const Configure&);
std::vector<uint8_t> encode(const Configured&);
std::vector<uint8_t> encode(const HostRequest&);
std::vector<uint8_t> encode(const HostDone&);
std::vector<uint8_t> encode(OperatorAction);
std::vector<uint8_t> encode(const LinkFault&);
std::vector<uint8_t> encode(const DiskFault&);
std::vector<uint8_t> encode(const Status&);
std::vector<uint8_t> encode(const DigestRequest&);
std::vector<uint8_t> encode(const Digest&);
std::vector<uint8_t> encode(const LogRequest&);
std::vector<uint8_t> encode(const LogChunk&);
std::vector<uint8_t> encode_refusal(const std::string& reason);

// Each decode reads a whole body; nullopt with the reader's error on
// anything malformed.
std::optional<Hello> decode_hello(ByteReader& r);
std::optional<Configure> decode_configure(ByteReader& r);
std::optional<Configured> decode_configured(ByteReader& r);
std::optional<HostRequest> decode_host_request(ByteReader& r);
std::optional<HostDone> decode_host_done(ByteReader& r);
std::optional<OperatorAction> decode_operator(ByteReader& r);
std::optional<LinkFault> decode_link_fault(ByteReader& r);
std::optional<DiskFault> decode_disk_fault(ByteReader& r);
std::optional<Status> decode_status(ByteReader& r);
std::optional<DigestRequest> decode_digest_request(ByteReader& r);
std::optional<Digest> decode_digest(ByteReader& r);
std::optional<LogRequest> decode_log_request(ByteReader& r);
std::optional<LogChunk> decode_log_chunk(ByteReader& r);
std::string decode_refusal(ByteReader& r);

}  // namespace mirrorsim::real
