#include "real/protocol.hpp"

#include <cmath>

#include <fmt/format.h>

namespace mirrorsim::real {
namespace {

constexpr size_t kTextMaxBytes = 8u << 20;

Side get_side(ByteReader& r, const char* field) {
  const uint8_t v = r.u8(field);
  if (v > 1) r.fail(fmt::format("{}: {} is not a side (0 or 1)", field, v));
  return v == 1 ? Side::B : Side::A;
}

void put_shaping(ByteWriter& w, const LinkShaping& s) {
  w.i64(s.delay_ns);
  w.i64(s.jitter_ns);
  w.f64(s.bandwidth_bytes_per_s);
  w.f64(s.loss_probability);
  w.i64(s.failure_detection_ns);
}

LinkShaping get_shaping(ByteReader& r) {
  LinkShaping s;
  s.delay_ns = r.i64("link.delay_ns");
  s.jitter_ns = r.i64("link.jitter_ns");
  s.bandwidth_bytes_per_s = r.f64("link.bandwidth_bytes_per_s");
  s.loss_probability = r.f64("link.loss_probability");
  s.failure_detection_ns = r.i64("link.failure_detection_ns");
  if (!r.ok()) return s;
  if (s.delay_ns < 0 || s.jitter_ns < 0 || s.failure_detection_ns <= 0 || !std::isfinite(s.bandwidth_bytes_per_s) ||
      s.bandwidth_bytes_per_s < 0 || !(s.loss_probability >= 0 && s.loss_probability <= 1))
    r.fail("link shaping out of range");
  return s;
}

template <class T>
std::optional<T> finish(ByteReader& r, const char* what, T v) {
  if (!r.finish(what)) return std::nullopt;
  return v;
}

}  // namespace

std::vector<uint8_t> encode(const Hello& h) {
  std::vector<uint8_t> b;
  ByteWriter w(b);
  w.u16(h.protocol_version);
  w.u8(static_cast<uint8_t>(h.kind));
  w.u64(h.run_id);
  w.u8(static_cast<uint8_t>(index_of(h.side)));
  return b;
}

std::optional<Hello> decode_hello(ByteReader& r) {
  Hello h;
  h.protocol_version = r.u16("Hello.protocol_version");
  const uint8_t kind = r.u8("Hello.kind");
  h.run_id = r.u64("Hello.run_id");
  h.side = get_side(r, "Hello.side");
  if (r.ok() && kind != 1 && kind != 2) r.fail(fmt::format("Hello.kind: {} is neither peer (1) nor control (2)", kind));
  h.kind = static_cast<ConnectionKind>(kind);
  return finish(r, "Hello", h);
}

std::vector<uint8_t> encode(const Configure& c) {
  std::vector<uint8_t> b;
  ByteWriter w(b);
  w.u64(c.run_id);
  w.u8(static_cast<uint8_t>(index_of(c.side)));
  w.string(c.scenario_toml);
  w.string(c.boot_id);
  w.i64(c.time_base_ns);
  w.i64(c.run_elapsed_ns);
  w.string(c.peer);
  put_shaping(w, c.link);
  w.boolean(c.o_direct);
  w.boolean(c.page_cache_reads);
  w.u32(static_cast<uint32_t>(c.disk_failure_errno));
  w.i64(c.disk_added_latency_ns);
  w.boolean(c.undo_unsynced);
  w.u64(c.log_bytes);
  return b;
}

std::optional<Configure> decode_configure(ByteReader& r) {
  Configure c;
  c.run_id = r.u64("Configure.run_id");
  c.side = get_side(r, "Configure.side");
  c.scenario_toml = r.string("Configure.scenario_toml", kTextMaxBytes);
  c.boot_id = r.string("Configure.boot_id", 64);
  c.time_base_ns = r.i64("Configure.time_base_ns");
  c.run_elapsed_ns = r.i64("Configure.run_elapsed_ns");
  c.peer = r.string("Configure.peer", 1024);
  c.link = get_shaping(r);
  c.o_direct = r.boolean("Configure.o_direct");
  c.page_cache_reads = r.boolean("Configure.page_cache_reads");
  c.disk_failure_errno = static_cast<int32_t>(r.u32("Configure.disk_failure_errno"));
  c.disk_added_latency_ns = r.i64("Configure.disk_added_latency_ns");
  c.undo_unsynced = r.boolean("Configure.undo_unsynced");
  c.log_bytes = r.u64("Configure.log_bytes");
  if (r.ok() && (c.log_bytes < 4096 || c.log_bytes > (64ull << 30))) r.fail("Configure.log_bytes out of range");
  if (r.ok() && c.disk_added_latency_ns < 0) r.fail("Configure.disk_added_latency_ns is negative");
  return finish(r, "Configure", c);
}

std::vector<uint8_t> encode(const Configured& c) {
  std::vector<uint8_t> b;
  ByteWriter w(b);
  w.boolean(c.recovered);
  w.u64(c.seq);
  w.string(c.congestion_control);
  w.boolean(c.direct_reads);
  return b;
}

std::optional<Configured> decode_configured(ByteReader& r) {
  Configured c;
  c.recovered = r.boolean("Configured.recovered");
  c.seq = r.u64("Configured.seq");
  c.congestion_control = r.string("Configured.congestion_control", 64);
  c.direct_reads = r.boolean("Configured.direct_reads");
  return finish(r, "Configured", c);
}

std::vector<uint8_t> encode(const HostRequest& h) {
  std::vector<uint8_t> b;
  ByteWriter w(b);
  w.u64(h.req);
  w.boolean(h.write);
  w.u16(h.key.volume);
  w.u32(h.key.track);
  w.u32(h.bytes);
  return b;
}

std::optional<HostRequest> decode_host_request(ByteReader& r) {
  HostRequest h;
  h.req = r.u64("HostRequest.req");
  h.write = r.boolean("HostRequest.write");
  h.key.volume = r.u16("HostRequest.volume");
  h.key.track = r.u32("HostRequest.track");
  h.bytes = r.u32("HostRequest.bytes");
  return finish(r, "HostRequest", h);
}

std::vector<uint8_t> encode(const HostDone& h) {
  std::vector<uint8_t> b;
  ByteWriter w(b);
  w.u64(h.req);
  w.boolean(h.ok);
  w.u64(h.version);
  w.u8(static_cast<uint8_t>(h.reason));
  w.i64(h.response_ns);
  w.i64(h.delayed_ns);
  return b;
}

std::optional<HostDone> decode_host_done(ByteReader& r) {
  HostDone h;
  h.req = r.u64("HostDone.req");
  h.ok = r.boolean("HostDone.ok");
  h.version = r.u64("HostDone.version");
  const uint8_t reason = r.u8("HostDone.reason");
  if (r.ok() && reason > static_cast<uint8_t>(RejectReason::BadAddress)) r.fail("HostDone.reason out of range");
  h.reason = static_cast<RejectReason>(reason);
  h.response_ns = r.i64("HostDone.response_ns");
  h.delayed_ns = r.i64("HostDone.delayed_ns");
  return finish(r, "HostDone", h);
}

std::vector<uint8_t> encode(OperatorAction a) { return {static_cast<uint8_t>(a)}; }

std::optional<OperatorAction> decode_operator(ByteReader& r) {
  const uint8_t a = r.u8("Operator.action");
  if (r.ok() && (a < 1 || a > 4)) r.fail(fmt::format("Operator.action: {} is not an operator action", a));
  return finish(r, "Operator", static_cast<OperatorAction>(a));
}

std::vector<uint8_t> encode(const LinkFault& f) {
  std::vector<uint8_t> b;
  ByteWriter w(b);
  w.u8(static_cast<uint8_t>(f.kind));
  put_shaping(w, f.shaping);
  return b;
}

std::optional<LinkFault> decode_link_fault(ByteReader& r) {
  LinkFault f;
  const uint8_t k = r.u8("LinkFault.kind");
  if (r.ok() && (k < 1 || k > 3)) r.fail(fmt::format("LinkFault.kind: {} is not a link fault", k));
  f.kind = static_cast<LinkFault::Kind>(k);
  f.shaping = get_shaping(r);
  return finish(r, "LinkFault", f);
}

std::vector<uint8_t> encode(const DiskFault& f) {
  std::vector<uint8_t> b;
  ByteWriter w(b);
  w.u8(static_cast<uint8_t>(f.kind));
  w.u32(f.disk);
  w.i64(f.latency_ns);
  return b;
}

std::optional<DiskFault> decode_disk_fault(ByteReader& r) {
  DiskFault f;
  const uint8_t k = r.u8("DiskFault.kind");
  if (r.ok() && (k < 1 || k > 3)) r.fail(fmt::format("DiskFault.kind: {} is not a disk fault", k));
  f.kind = static_cast<DiskFault::Kind>(k);
  f.disk = r.u32("DiskFault.disk");
  f.latency_ns = r.i64("DiskFault.latency_ns");
  if (r.ok() && f.latency_ns < 0) r.fail("DiskFault.latency_ns is negative");
  return finish(r, "DiskFault", f);
}

std::vector<uint8_t> encode(const Status& s) {
  std::vector<uint8_t> b;
  ByteWriter w(b);
  w.boolean(s.configured);
  w.u8(static_cast<uint8_t>(index_of(s.side)));
  const ControllerView& v = s.controller;
  w.u8(static_cast<uint8_t>(v.role));
  w.u32(v.generation);
  w.u8(static_cast<uint8_t>(v.pair_state));
  w.boolean(v.told_reachable);
  w.boolean(v.operator_suspended);
  w.boolean(v.crashed);
  w.u64(v.wp_slots);
  w.u64(v.invalid_remote_tracks);
  w.u64(v.invalid_local_tracks);
  w.u64(v.copies_in_flight);
  w.u64(v.delayed_requests);
  w.boolean(v.deadline_pending);
  w.u64(v.host_requests_open);
  w.u64(v.disk_ios_in_flight);
  w.boolean(s.link_connected);
  w.boolean(s.link_cut);
  w.u32(s.local_wp_slots);
  w.u32(s.remote_wp_tracks);
  w.u64(s.steps);
  w.u32(static_cast<uint32_t>(s.disk_busy_ns.size()));
  for (uint64_t b2 : s.disk_busy_ns) w.u64(b2);
  w.u64(s.disk_ios);
  w.u64(s.disk_io_errors);
  w.u64(s.link_bytes_sent);
  w.u64(s.link_connections);
  w.u64(s.frames_refused);
  w.string(s.last_refusal);
  w.u64(s.copies_sent);
  w.u64(s.copies_stored);
  w.boolean(s.log_truncated);
  w.u64(s.log_bytes);
  w.u64(s.connections_refused);
  w.string(s.last_connection_refusal);
  w.u64(s.connections_open);
  w.u64(s.delta_set_images);
  w.u64(s.delta_set_image_bytes);
  w.u64(s.delta_set_image_bytes_peak);
  return b;
}

std::optional<Status> decode_status(ByteReader& r) {
  Status s;
  s.configured = r.boolean("Status.configured");
  s.side = get_side(r, "Status.side");
  ControllerView& v = s.controller;
  const uint8_t role = r.u8("Status.role");
  v.generation = r.u32("Status.generation");
  const uint8_t pair = r.u8("Status.pair_state");
  if (r.ok() && (role > 1 || pair > 3)) r.fail("Status.role or pair_state out of range");
  v.role = static_cast<Role>(role);
  v.pair_state = static_cast<PairState>(pair);
  v.told_reachable = r.boolean("Status.told_reachable");
  v.operator_suspended = r.boolean("Status.operator_suspended");
  v.crashed = r.boolean("Status.crashed");
  v.wp_slots = r.u64("Status.wp_slots");
  v.invalid_remote_tracks = r.u64("Status.invalid_remote_tracks");
  v.invalid_local_tracks = r.u64("Status.invalid_local_tracks");
  v.copies_in_flight = r.u64("Status.copies_in_flight");
  v.delayed_requests = r.u64("Status.delayed_requests");
  v.deadline_pending = r.boolean("Status.deadline_pending");
  v.host_requests_open = r.u64("Status.host_requests_open");
  v.disk_ios_in_flight = r.u64("Status.disk_ios_in_flight");
  s.link_connected = r.boolean("Status.link_connected");
  s.link_cut = r.boolean("Status.link_cut");
  s.local_wp_slots = r.u32("Status.local_wp_slots");
  s.remote_wp_tracks = r.u32("Status.remote_wp_tracks");
  s.steps = r.u64("Status.steps");
  const uint32_t disks = r.count("Status.disk_busy_ns", 8, 1u << 16);
  for (uint32_t i = 0; i < disks; ++i) s.disk_busy_ns.push_back(r.u64("Status.disk_busy_ns"));
  s.disk_ios = r.u64("Status.disk_ios");
  s.disk_io_errors = r.u64("Status.disk_io_errors");
  s.link_bytes_sent = r.u64("Status.link_bytes_sent");
  s.link_connections = r.u64("Status.link_connections");
  s.frames_refused = r.u64("Status.frames_refused");
  s.last_refusal = r.string("Status.last_refusal", 4096);
  s.copies_sent = r.u64("Status.copies_sent");
  s.copies_stored = r.u64("Status.copies_stored");
  s.log_truncated = r.boolean("Status.log_truncated");
  s.log_bytes = r.u64("Status.log_bytes");
  s.connections_refused = r.u64("Status.connections_refused");
  s.last_connection_refusal = r.string("Status.last_connection_refusal", 4096);
  s.connections_open = r.u64("Status.connections_open");
  s.delta_set_images = r.u64("Status.delta_set_images");
  s.delta_set_image_bytes = r.u64("Status.delta_set_image_bytes");
  s.delta_set_image_bytes_peak = r.u64("Status.delta_set_image_bytes_peak");
  return finish(r, "Status", s);
}

std::vector<uint8_t> encode(const DigestRequest& d) {
  std::vector<uint8_t> b;
  ByteWriter w(b);
  w.u64(d.first);
  w.u32(d.count);
  return b;
}

std::optional<DigestRequest> decode_digest_request(ByteReader& r) {
  DigestRequest d;
  d.first = r.u64("DigestRequest.first");
  d.count = r.u32("DigestRequest.count");
  if (r.ok() && d.count > kDigestChunkTracks) r.fail("DigestRequest.count exceeds a chunk");
  return finish(r, "DigestRequest", d);
}

std::vector<uint8_t> encode(const Digest& d) {
  std::vector<uint8_t> b;
  ByteWriter w(b);
  w.u64(d.first);
  w.u32(static_cast<uint32_t>(d.entries.size()));
  for (const DigestEntry& e : d.entries) {
    w.u8(e.check);
    w.u64(e.version);
    w.u32(e.length);
    w.u32(e.checksum);
    w.u64(e.cached_version);
  }
  return b;
}

std::optional<Digest> decode_digest(ByteReader& r) {
  Digest d;
  d.first = r.u64("Digest.first");
  const uint32_t n = r.count("Digest.entries", 25, kDigestChunkTracks);
  for (uint32_t i = 0; i < n && r.ok(); ++i) {
    DigestEntry e;
    e.check = r.u8("Digest.check");
    e.version = r.u64("Digest.version");
    e.length = r.u32("Digest.length");
    e.checksum = r.u32("Digest.checksum");
    e.cached_version = r.u64("Digest.cached_version");
    d.entries.push_back(e);
  }
  return finish(r, "Digest", d);
}

std::vector<uint8_t> encode(const LogRequest& l) {
  std::vector<uint8_t> b;
  ByteWriter w(b);
  w.u64(l.offset);
  w.u32(l.max_bytes);
  return b;
}

std::optional<LogRequest> decode_log_request(ByteReader& r) {
  LogRequest l;
  l.offset = r.u64("LogRequest.offset");
  l.max_bytes = r.u32("LogRequest.max_bytes");
  if (r.ok() && l.max_bytes > kLogChunkMaxBytes) r.fail("LogRequest.max_bytes exceeds a chunk");
  return finish(r, "LogRequest", l);
}

std::vector<uint8_t> encode(const LogChunk& l) {
  std::vector<uint8_t> b;
  ByteWriter w(b);
  w.u64(l.offset);
  w.boolean(l.end);
  w.boolean(l.truncated);
  w.u32(static_cast<uint32_t>(l.bytes.size()));
  w.bytes(l.bytes);
  return b;
}

std::optional<LogChunk> decode_log_chunk(ByteReader& r) {
  LogChunk l;
  l.offset = r.u64("LogChunk.offset");
  l.end = r.boolean("LogChunk.end");
  l.truncated = r.boolean("LogChunk.truncated");
  const uint32_t n = r.u32("LogChunk.bytes");
  if (r.ok() && n > kLogChunkMaxBytes) r.fail("LogChunk.bytes exceeds a chunk");
  const auto b = r.bytes("LogChunk.bytes", n);
  l.bytes.assign(b.begin(), b.end());
  return finish(r, "LogChunk", l);
}

std::vector<uint8_t> encode_refusal(const std::string& reason) {
  std::vector<uint8_t> b;
  ByteWriter w(b);
  w.string(reason);
  return b;
}

std::string decode_refusal(ByteReader& r) {
  std::string s = r.string("Refused.reason", 4096);
  return r.ok() && r.finish("Refused") ? s : "(unreadable refusal: " + r.error() + ")";
}

}  // namespace mirrorsim::real
