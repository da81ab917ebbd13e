#include "real/messages.hpp"
#include "model/overloaded.hpp"

#include <fmt/format.h>

namespace mirrorsim::real {
namespace {


constexpr size_t kKeyBytes = 6;

void put_key(ByteWriter& w, TrackKey k) {
  w.u16(k.volume);
  w.u32(k.track);
}

TrackKey get_key(ByteReader& r, const Geometry& g, const char* field) {
  TrackKey k;
  k.volume = r.u16(field);
  k.track = r.u32(field);
  if (r.ok() && !g.contains(k)) r.fail(fmt::format("{}: no track {}", field, to_string(k)));
  return k;
}

void put_keys(ByteWriter& w, const std::vector<TrackKey>& ks) {
  w.u32(static_cast<uint32_t>(ks.size()));
  for (TrackKey k : ks) put_key(w, k);
}

std::vector<TrackKey> get_keys(ByteReader& r, const Geometry& g, const char* field) {
  const uint32_t n = r.count(field, kKeyBytes, g.total_tracks);
  std::vector<TrackKey> ks;
  ks.reserve(n);
  for (uint32_t i = 0; i < n && r.ok(); ++i) ks.push_back(get_key(r, g, field));
  return ks;
}

uint32_t get_bytes_field(ByteReader& r, const Geometry& g, const char* field) {
  const uint32_t b = r.u32(field);
  if (r.ok() && b > g.track_bytes) r.fail(fmt::format("{}: {} bytes exceeds the track size {}", field, b, g.track_bytes));
  return b;
}

enum class MessageTag : uint8_t {
  Establish = 1, EstablishAck, WriteCommand, TransferReady, CopyData, CopyAck, Takeover,
  CycleData, CycleDataAck, CycleEnd, CycleApplied
};
enum class InputTag : uint8_t {
  HostWrite = 1, HostRead, DiskWriteDone, DiskReadDone, Received, LinkStateChanged, Timeout, Crash, Restart,
  Suspend, Resume, Failover, Failback
};

}  // namespace

void encode_message(ByteWriter& w, const Message& m) {
  std::visit(overloaded{
                 [&](const Establish& x) {
                   w.u8(static_cast<uint8_t>(MessageTag::Establish));
                   w.u32(x.epoch);
                   w.u32(x.generation);
                   put_keys(w, x.wanted);
                   w.boolean(x.async_resume);
                 },
                 [&](const EstablishAck& x) {
                   w.u8(static_cast<uint8_t>(MessageTag::EstablishAck));
                   w.u32(x.epoch);
                   put_keys(w, x.owed);
                   w.u32(static_cast<uint32_t>(x.applied_cycles.size()));
                   for (uint64_t c : x.applied_cycles) w.u64(c);
                 },
                 [&](const WriteCommand& x) {
                   w.u8(static_cast<uint8_t>(MessageTag::WriteCommand));
                   w.u32(x.epoch);
                   put_key(w, x.key);
                   w.u64(x.version);
                   w.u32(x.bytes);
                 },
                 [&](const TransferReady& x) {
                   w.u8(static_cast<uint8_t>(MessageTag::TransferReady));
                   w.u32(x.epoch);
                   put_key(w, x.key);
                   w.u64(x.version);
                   w.u32(x.bytes);
                 },
                 [&](const CopyData& x) {
                   w.u8(static_cast<uint8_t>(MessageTag::CopyData));
                   w.u32(x.epoch);
                   put_key(w, x.key);
                   w.u64(x.version);
                   w.u32(x.bytes);
                   w.boolean(x.fetch);
                 },
                 [&](const CopyAck& x) {
                   w.u8(static_cast<uint8_t>(MessageTag::CopyAck));
                   w.u32(x.epoch);
                   put_key(w, x.key);
                   w.u64(x.version);
                 },
                 [&](const Takeover& x) {
                   w.u8(static_cast<uint8_t>(MessageTag::Takeover));
                   w.u32(x.epoch);
                   w.u32(x.generation);
                 },
                 [&](const CycleData& x) {
                   w.u8(static_cast<uint8_t>(MessageTag::CycleData));
                   w.u32(x.epoch);
                   w.u16(x.group);
                   w.u64(x.cycle);
                   put_key(w, x.key);
                   w.u64(x.version);
                   w.u32(x.bytes);
                 },
                 [&](const CycleDataAck& x) {
                   w.u8(static_cast<uint8_t>(MessageTag::CycleDataAck));
                   w.u32(x.epoch);
                   w.u16(x.group);
                   w.u64(x.cycle);
                   put_key(w, x.key);
                 },
                 [&](const CycleEnd& x) {
                   w.u8(static_cast<uint8_t>(MessageTag::CycleEnd));
                   w.u32(x.epoch);
                   w.u16(x.group);
                   w.u64(x.cycle);
                   w.u64(x.entries);
                   w.u64(x.previous);
                 },
                 [&](const CycleApplied& x) {
                   w.u8(static_cast<uint8_t>(MessageTag::CycleApplied));
                   w.u32(x.epoch);
                   w.u16(x.group);
                   w.u64(x.cycle);
                 },
             },
             m);
}

std::optional<Message> decode_message(ByteReader& r, const Geometry& g) {
  const auto tag = static_cast<MessageTag>(r.u8("message tag"));
  if (!r.ok()) return std::nullopt;
  Message m;
  switch (tag) {
    case MessageTag::Establish: {
      Establish x;
      x.epoch = r.u32("Establish.epoch");
      x.generation = r.u32("Establish.generation");
      x.wanted = get_keys(r, g, "Establish.wanted");
      x.async_resume = r.boolean("Establish.async_resume");
      m = std::move(x);
      break;
    }
    case MessageTag::EstablishAck: {
      EstablishAck x;
      x.epoch = r.u32("EstablishAck.epoch");
      x.owed = get_keys(r, g, "EstablishAck.owed");
      // One per consistency group; a group has at least one volume.
      const uint32_t groups = r.count("EstablishAck.applied_cycles", 8, g.tracks.size());
      for (uint32_t i = 0; i < groups && r.ok(); ++i) x.applied_cycles.push_back(r.u64("EstablishAck.applied_cycles"));
      m = std::move(x);
      break;
    }
    case MessageTag::WriteCommand: {
      WriteCommand x;
      x.epoch = r.u32("WriteCommand.epoch");
      x.key = get_key(r, g, "WriteCommand.key");
      x.version = r.u64("WriteCommand.version");
      x.bytes = get_bytes_field(r, g, "WriteCommand.bytes");
      m = x;
      break;
    }
    case MessageTag::TransferReady: {
      TransferReady x;
      x.epoch = r.u32("TransferReady.epoch");
      x.key = get_key(r, g, "TransferReady.key");
      x.version = r.u64("TransferReady.version");
      x.bytes = get_bytes_field(r, g, "TransferReady.bytes");
      m = x;
      break;
    }
    case MessageTag::CopyData: {
      CopyData x;
      x.epoch = r.u32("CopyData.epoch");
      x.key = get_key(r, g, "CopyData.key");
      x.version = r.u64("CopyData.version");
      x.bytes = get_bytes_field(r, g, "CopyData.bytes");
      x.fetch = r.boolean("CopyData.fetch");
      m = x;
      break;
    }
    case MessageTag::CopyAck: {
      CopyAck x;
      x.epoch = r.u32("CopyAck.epoch");
      x.key = get_key(r, g, "CopyAck.key");
      x.version = r.u64("CopyAck.version");
      m = x;
      break;
    }
    case MessageTag::Takeover: {
      Takeover x;
      x.epoch = r.u32("Takeover.epoch");
      x.generation = r.u32("Takeover.generation");
      m = x;
      break;
    }
    case MessageTag::CycleData: {
      CycleData x;
      x.epoch = r.u32("CycleData.epoch");
      x.group = r.u16("CycleData.group");
      x.cycle = r.u64("CycleData.cycle");
      x.key = get_key(r, g, "CycleData.key");
      x.version = r.u64("CycleData.version");
      x.bytes = get_bytes_field(r, g, "CycleData.bytes");
      m = x;
      break;
    }
    case MessageTag::CycleDataAck: {
      CycleDataAck x;
      x.epoch = r.u32("CycleDataAck.epoch");
      x.group = r.u16("CycleDataAck.group");
      x.cycle = r.u64("CycleDataAck.cycle");
      x.key = get_key(r, g, "CycleDataAck.key");
      m = x;
      break;
    }
    case MessageTag::CycleEnd: {
      CycleEnd x;
      x.epoch = r.u32("CycleEnd.epoch");
      x.group = r.u16("CycleEnd.group");
      x.cycle = r.u64("CycleEnd.cycle");
      x.entries = r.u64("CycleEnd.entries");
      x.previous = r.u64("CycleEnd.previous");
      if (r.ok() && x.entries > g.total_tracks)
        r.fail(fmt::format("CycleEnd.entries: {} tracks exceeds the pair's {}", x.entries, g.total_tracks));
      m = x;
      break;
    }
    case MessageTag::CycleApplied: {
      CycleApplied x;
      x.epoch = r.u32("CycleApplied.epoch");
      x.group = r.u16("CycleApplied.group");
      x.cycle = r.u64("CycleApplied.cycle");
      m = x;
      break;
    }
    default: r.fail(fmt::format("unknown message tag {}", static_cast<int>(tag))); return std::nullopt;
  }
  if (!r.ok()) return std::nullopt;
  return m;
}

void encode_input(ByteWriter& w, const Input& in) {
  auto tag = [&](InputTag t) { w.u8(static_cast<uint8_t>(t)); };
  std::visit(overloaded{
                 [&](const HostWrite& x) {
                   tag(InputTag::HostWrite);
                   w.u64(x.req);
                   put_key(w, x.key);
                   w.u32(x.bytes);
                 },
                 [&](const HostRead& x) {
                   tag(InputTag::HostRead);
                   w.u64(x.req);
                   put_key(w, x.key);
                   w.u32(x.bytes);
                 },
                 [&](const DiskWriteDone& x) {
                   tag(InputTag::DiskWriteDone);
                   put_key(w, x.key);
                   w.u64(x.version);
                   w.boolean(x.ok);
                 },
                 [&](const DiskReadDone& x) {
                   tag(InputTag::DiskReadDone);
                   put_key(w, x.key);
                   w.u64(x.version);
                   w.boolean(x.ok);
                 },
                 [&](const Received& x) {
                   tag(InputTag::Received);
                   encode_message(w, x.msg);
                 },
                 [&](const LinkStateChanged& x) {
                   tag(InputTag::LinkStateChanged);
                   w.boolean(x.up);
                 },
                 [&](const Timeout&) { tag(InputTag::Timeout); },
                 [&](const Crash&) { tag(InputTag::Crash); },
                 [&](const Restart&) { tag(InputTag::Restart); },
                 [&](const Suspend&) { tag(InputTag::Suspend); },
                 [&](const Resume&) { tag(InputTag::Resume); },
                 [&](const Failover&) { tag(InputTag::Failover); },
                 [&](const Failback&) { tag(InputTag::Failback); },
             },
             in);
}

std::optional<Input> decode_input(ByteReader& r, const Geometry& g) {
  const auto tag = static_cast<InputTag>(r.u8("input tag"));
  if (!r.ok()) return std::nullopt;
  Input in;
  switch (tag) {
    case InputTag::HostWrite: {
      HostWrite x;
      x.req = r.u64("HostWrite.req");
      x.key = get_key(r, g, "HostWrite.key");
      x.bytes = get_bytes_field(r, g, "HostWrite.bytes");
      in = x;
      break;
    }
    case InputTag::HostRead: {
      HostRead x;
      x.req = r.u64("HostRead.req");
      x.key = get_key(r, g, "HostRead.key");
      x.bytes = get_bytes_field(r, g, "HostRead.bytes");
      in = x;
      break;
    }
    case InputTag::DiskWriteDone: {
      DiskWriteDone x;
      x.key = get_key(r, g, "DiskWriteDone.key");
      x.version = r.u64("DiskWriteDone.version");
      x.ok = r.boolean("DiskWriteDone.ok");
      in = x;
      break;
    }
    case InputTag::DiskReadDone: {
      DiskReadDone x;
      x.key = get_key(r, g, "DiskReadDone.key");
      x.version = r.u64("DiskReadDone.version");
      x.ok = r.boolean("DiskReadDone.ok");
      in = x;
      break;
    }
    case InputTag::Received: {
      auto m = decode_message(r, g);
      if (!m) return std::nullopt;
      in = Received{std::move(*m)};
      break;
    }
    case InputTag::LinkStateChanged: in = LinkStateChanged{r.boolean("LinkStateChanged.up")}; break;
    case InputTag::Timeout: in = Timeout{}; break;
    case InputTag::Crash: in = Crash{}; break;
    case InputTag::Restart: in = Restart{}; break;
    case InputTag::Suspend: in = Suspend{}; break;
    case InputTag::Resume: in = Resume{}; break;
    case InputTag::Failover: in = Failover{}; break;
    case InputTag::Failback: in = Failback{}; break;
    default: r.fail(fmt::format("unknown input tag {}", static_cast<int>(tag))); return std::nullopt;
  }
  if (!r.ok()) return std::nullopt;
  return in;
}

}  // namespace mirrorsim::real
