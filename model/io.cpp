#include "model/io.hpp"
#include "model/overloaded.hpp"

#include <fmt/format.h>

namespace mirrorsim {

namespace {

std::string tracks_to_string(const std::vector<TrackKey>& ks) {
  std::string s = "[";
  for (size_t i = 0; i < ks.size(); ++i) {
    if (i) s += ' ';
    if (i == 8) {
      s += fmt::format("… {} in all", ks.size());
      break;
    }
    s += to_string(ks[i]);
  }
  return s + "]";
}
}  // namespace

uint32_t wire_bytes(const Message& m) {
  return std::visit(overloaded{
                        [](const Establish& x) { return kMessageHeaderBytes + 8u * static_cast<uint32_t>(x.wanted.size()); },
                        [](const EstablishAck& x) {
                          return kMessageHeaderBytes + 8u * static_cast<uint32_t>(x.owed.size() + x.applied_cycles.size());
                        },
                        [](const CopyData& x) { return kMessageHeaderBytes + x.bytes; },
                        [](const CycleData& x) { return kMessageHeaderBytes + x.bytes; },
                        [](const auto&) { return kMessageHeaderBytes; },
                    },
                    m);
}

bool is_answer(const Message& m) {
  if (std::holds_alternative<CopyAck>(m) || std::holds_alternative<TransferReady>(m) ||
      std::holds_alternative<EstablishAck>(m) || std::holds_alternative<CycleDataAck>(m) ||
      std::holds_alternative<CycleApplied>(m))
    return true;
  if (const auto* c = std::get_if<CopyData>(&m)) return c->fetch;
  return false;
}

std::string to_string(const TrackKey& k) { return fmt::format("{}/{}", k.volume, k.track); }

std::string to_string(Version v) { return fmt::format("{}.{}", version_generation(v), version_sequence(v)); }

std::string to_string(const Message& m) {
  return std::visit(
      overloaded{
          [](const Establish& x) {
            return fmt::format("Establish(epoch {}, generation {}, wanted {}{})", x.epoch, x.generation,
                               tracks_to_string(x.wanted), x.async_resume ? ", async resume" : "");
          },
          [](const EstablishAck& x) {
            std::string applied;
            for (uint64_t c : x.applied_cycles) applied += fmt::format("{}{}", applied.empty() ? "" : " ", c);
            return fmt::format("EstablishAck(epoch {}, owed {}{})", x.epoch, tracks_to_string(x.owed),
                               x.applied_cycles.empty() ? "" : ", applied cycles [" + applied + "]");
          },
          [](const WriteCommand& x) {
            return fmt::format("WriteCommand(epoch {}, track {}, v{}, {} B)", x.epoch, to_string(x.key),
                               to_string(x.version), x.bytes);
          },
          [](const TransferReady& x) {
            return fmt::format("TransferReady(epoch {}, track {}, v{})", x.epoch, to_string(x.key), to_string(x.version));
          },
          [](const CopyData& x) {
            return fmt::format("{}(epoch {}, track {}, v{}, {} B)", x.fetch ? "FetchData" : "CopyData", x.epoch,
                               to_string(x.key), to_string(x.version), x.bytes);
          },
          [](const CopyAck& x) {
            return fmt::format("CopyAck(epoch {}, track {}, v{})", x.epoch, to_string(x.key), to_string(x.version));
          },
          [](const Takeover& x) { return fmt::format("Takeover(epoch {}, generation {})", x.epoch, x.generation); },
          [](const CycleData& x) {
            return fmt::format("CycleData(epoch {}, group {}, cycle {}, track {}, v{}, {} B)", x.epoch, x.group, x.cycle,
                               to_string(x.key), to_string(x.version), x.bytes);
          },
          [](const CycleDataAck& x) {
            return fmt::format("CycleDataAck(epoch {}, group {}, cycle {}, track {})", x.epoch, x.group, x.cycle,
                               to_string(x.key));
          },
          [](const CycleEnd& x) {
            return fmt::format("CycleEnd(epoch {}, group {}, cycle {} after {}, {} tracks)", x.epoch, x.group, x.cycle,
                               x.previous, x.entries);
          },
          [](const CycleApplied& x) {
            return fmt::format("CycleApplied(epoch {}, group {}, cycle {})", x.epoch, x.group, x.cycle);
          },
      },
      m);
}

std::string to_string(const Input& in) {
  return std::visit(
      overloaded{
          [](const HostWrite& x) { return fmt::format("HostWrite(req {}, track {}, {} B)", x.req, to_string(x.key), x.bytes); },
          [](const HostRead& x) { return fmt::format("HostRead(req {}, track {}, {} B)", x.req, to_string(x.key), x.bytes); },
          [](const DiskWriteDone& x) {
            return fmt::format("DiskWriteDone(track {}, v{}, {})", to_string(x.key), to_string(x.version),
                               x.ok ? "ok" : "I/O error");
          },
          [](const DiskReadDone& x) {
            return fmt::format("DiskReadDone(track {}, v{}, {})", to_string(x.key), to_string(x.version),
                               x.ok ? "ok" : "I/O error");
          },
          [](const Received& x) { return fmt::format("Received {}", to_string(x.msg)); },
          [](const LinkStateChanged& x) { return fmt::format("LinkStateChanged({})", x.up ? "up" : "down"); },
          [](const Timeout&) { return std::string("Timeout"); },
          [](const Crash&) { return std::string("Crash"); },
          [](const Restart&) { return std::string("Restart"); },
          [](const Suspend&) { return std::string("Suspend"); },
          [](const Resume&) { return std::string("Resume"); },
          [](const Failover&) { return std::string("Failover"); },
          [](const Failback&) { return std::string("Failback"); },
      },
      in);
}

std::string to_string(const Command& c) {
  return std::visit(
      overloaded{
          [](const DiskWrite& x) {
            return fmt::format("DiskWrite(disk {}, track {}, v{}, {} B)", x.disk, to_string(x.key), to_string(x.version),
                               x.bytes);
          },
          [](const DiskRead& x) { return fmt::format("DiskRead(disk {}, track {})", x.disk, to_string(x.key)); },
          [](const Send& x) { return fmt::format("Send {}", to_string(x.msg)); },
          [](const AckHost& x) {
            return fmt::format("AckHost(req {}, {} track {}, v{})", x.req, x.write ? "write" : "read", to_string(x.key),
                               to_string(x.version));
          },
          [](const RejectHost& x) {
            return fmt::format("RejectHost(req {}, {} track {}, {})", x.req, x.write ? "write" : "read",
                               to_string(x.key), to_string(x.reason));
          },
          [](const HostRequestDelayed& x) { return fmt::format("HostRequestDelayed(req {})", x.req); },
          [](const HostRequestAdmitted& x) { return fmt::format("HostRequestAdmitted(req {})", x.req); },
          [](const CycleSwitched& x) {
            return fmt::format("CycleSwitched(group {}, cycle {} transmits {} tracks, {} B)", x.group, x.cycle, x.entries,
                               x.bytes);
          },
          [](const DeltaSetApplied& x) {
            return fmt::format("DeltaSetApplied(group {}, cycle {}, {} tracks)", x.group, x.cycle, x.entries);
          },
          [](const CyclesStarted& x) { return fmt::format("CyclesStarted(group {}, cycle {})", x.group, x.cycle); },
          [](const SessionDropped& x) {
            return fmt::format("SessionDropped({}, {} tracks invalid)", to_string(x.reason), x.tracks);
          },
          [](const HostWriteHeld& x) {
            return fmt::format("HostWriteHeld(req {}, {}, {} us)", x.req, to_string(x.reason), x.delay.us());
          },
      },
      c);
}

}  // namespace mirrorsim
