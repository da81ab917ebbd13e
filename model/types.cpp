#include "model/types.hpp"

#include <stdexcept>

#include <fmt/format.h>

namespace mirrorsim {

void time_out_of_range(double value, const char* unit) {
  throw std::out_of_range(fmt::format("a time of {} {} is beyond what Time holds (±2^63 ns, ±292 years)", value, unit));
}

std::string_view to_string(Side s) { return s == Side::A ? "R1" : "R2"; }

std::string_view to_string(DropReason r) { return r == DropReason::CacheLimit ? "cache-limit" : "link-limbo"; }
std::string_view to_string(HoldReason r) { return r == HoldReason::Pacing ? "pacing" : "coordination"; }

std::string_view to_string(Pool p) {
  switch (p) {
    case Pool::FrontEnd: return "front_end";
    case Pool::RemoteAdapter: return "remote_adapter";
    case Pool::BackEnd: return "back_end";
  }
  return "?";
}

std::string_view to_string(Role r) { return r == Role::Primary ? "primary" : "secondary"; }

std::string_view to_string(Mode m) {
  switch (m) {
    case Mode::Sync: return "sync";
    case Mode::SemiSync: return "semi-sync";
    case Mode::AdaptiveCopyWp: return "adaptive-copy-wp";
    case Mode::AdaptiveCopyDisk: return "adaptive-copy-disk";
    case Mode::Async: return "async";
  }
  return "?";
}

bool parse_mode(std::string_view text, Mode& out) {
  for (Mode m : {Mode::Sync, Mode::SemiSync, Mode::AdaptiveCopyWp, Mode::AdaptiveCopyDisk, Mode::Async})
    if (to_string(m) == text) {
      out = m;
      return true;
    }
  return false;
}

std::string_view to_string(PairState s) {
  switch (s) {
    case PairState::Suspended: return "suspended";
    case PairState::Establishing: return "establishing";
    case PairState::Syncing: return "syncing";
    case PairState::Synchronized: return "synchronized";
  }
  return "?";
}

std::string_view to_string(RejectReason r) {
  switch (r) {
    case RejectReason::WriteDisabled: return "write-disabled";
    case RejectReason::NotReady: return "not-ready";
    case RejectReason::Domino: return "domino";
    case RejectReason::IoError: return "io-error";
    case RejectReason::Crashed: return "crashed";
    case RejectReason::QueueFull: return "queue-full";
    case RejectReason::BadAddress: return "bad-address";
  }
  return "?";
}

std::string_view to_string(FailureEvent e) {
  switch (e) {
    case FailureEvent::LinkDown: return "link-down";
    case FailureEvent::LinkUp: return "link-up";
    case FailureEvent::LinkDegrade: return "link-degrade";
    case FailureEvent::Crash: return "crash";
    case FailureEvent::Restart: return "restart";
    case FailureEvent::DiskFailure: return "disk-failure";
    case FailureEvent::DiskRepair: return "disk-repair";
    case FailureEvent::Disaster: return "disaster";
    case FailureEvent::Failover: return "failover";
    case FailureEvent::Failback: return "failback";
    case FailureEvent::Suspend: return "suspend";
    case FailureEvent::Resume: return "resume";
  }
  return "?";
}

}  // namespace mirrorsim
