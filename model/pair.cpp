#include "model/pair.hpp"

#include <fmt/format.h>

#include "model/controller.hpp"

namespace mirrorsim {

ControllerView view_of(const Controller& c) {
  ControllerView v;
  v.role = c.role();
  v.crashed = c.crashed();
  v.generation = c.generation();
  v.pair_state = c.pair_state();
  v.operator_suspended = c.operator_suspended();
  v.wp_slots = c.wp_slots();
  v.copies_in_flight = c.copies_in_flight() + c.cycle_copies_in_flight();
  v.delayed_requests = c.delayed_requests() + c.held_writes();
  v.invalid_remote_tracks = c.invalid_remote_tracks();
  v.invalid_local_tracks = c.invalid_local_tracks();
  v.deadline_pending = c.next_deadline().has_value();
  v.told_reachable = c.reachable();
  return v;
}

Side host_side(const ControllerView& a, const ControllerView& b) {
  const bool sa = a.role == Role::Primary && !a.crashed;
  const bool sb = b.role == Role::Primary && !b.crashed;
  if (sa && sb) return b.generation > a.generation ? Side::B : Side::A;
  if (sb) return Side::B;
  if (sa) return Side::A;
  return b.role == Role::Primary && a.role != Role::Primary ? Side::B : Side::A;
}

Side failover_target(const ControllerView& a, const ControllerView& b, std::optional<Side> named) {
  if (named) return *named;
  return b.role == Role::Secondary && !b.crashed ? Side::B : Side::A;
}

std::optional<LinkStateChanged> SessionNotice::next(bool reachable) {
  if (!owed(reachable)) return std::nullopt;
  if (broken_ && told_up_) {
    broken_ = false;
    told_up_ = false;
    return LinkStateChanged{false};
  }
  broken_ = false;
  told_up_ = reachable;
  return LinkStateChanged{reachable};
}

FailureAction failure_action(FailureEvent event, std::optional<Side> controller, const ControllerView& a,
                             const ControllerView& b) {
  using L = FailureAction::Links;
  FailureAction act;
  const Side hosts = host_side(a, b);
  switch (event) {
    case FailureEvent::LinkDown: act.links = L::Cut; break;
    case FailureEvent::LinkUp: act.links = L::Restore; break;
    case FailureEvent::LinkDegrade: act.links = L::Degrade; break;
    case FailureEvent::Crash: act.crash = controller; break;
    case FailureEvent::Restart: act.restart = controller; break;
    case FailureEvent::DiskFailure:
    case FailureEvent::DiskRepair:
      act.disk_side = controller;
      act.disk_failed = event == FailureEvent::DiskFailure;
      break;
    case FailureEvent::Disaster:
      // The primary's site goes at once: its links and its controller.
      act.links = L::Cut;
      act.crash = hosts;
      act.site_lost = true;
      break;
    case FailureEvent::Failover:
      act.step_side = failover_target(a, b, controller);
      act.step_input = Failover{};
      break;
    case FailureEvent::Failback:
      act.step_side = hosts;
      act.step_input = Failback{};
      break;
    case FailureEvent::Suspend:
      act.step_side = hosts;
      act.step_input = Suspend{};
      break;
    case FailureEvent::Resume:
      act.step_side = hosts;
      act.step_input = Resume{};
      break;
  }
  return act;
}

bool pair_quiet(const ControllerView& a, const ControllerView& b, bool link_up) {
  const ControllerView* sides[2] = {&a, &b};
  for (int i = 0; i < 2; ++i) {
    const ControllerView& c = *sides[i];
    const ControllerView& peer = *sides[1 - i];
    if (c.crashed) continue;
    if (c.wp_slots || c.copies_in_flight || c.delayed_requests || c.deadline_pending || c.disk_ios_in_flight ||
        c.host_requests_open)
      return false;
    const bool reachable = peer_reachable(link_up, peer);
    if (reachable && !c.told_reachable) return false;
    if (c.role == Role::Primary && reachable && !c.operator_suspended &&
        (c.pair_state != PairState::Synchronized || c.invalid_remote_tracks))
      return false;
    if (c.invalid_local_tracks && reachable) return false;
  }
  return true;
}

PairEnd pair_end(const ControllerView& a, const ControllerView& b, bool link_up, bool disk_failed, bool drained,
                 double waited_s) {
  PairEnd e;
  const ControllerView& hosts = host_side(a, b) == Side::A ? a : b;
  if (a.crashed || b.crashed)
    e.end_state = fmt::format("{} is down at the end", a.crashed ? "R1" : "R2");
  else if (!link_up)
    e.end_state = "link down at the end";
  else if (a.operator_suspended || b.operator_suspended || hosts.operator_suspended)
    e.end_state = "suspended by the operator at the end";
  else if (a.role == b.role)
    e.end_state = "no single primary at the end";
  else if (!drained && disk_failed)
    e.end_state = fmt::format("{:.0f} s after the end of host I/O the pair has not drained: a disk is still failed",
                              waited_s);
  else if (!drained) {
    e.drain_failed = true;
    e.end_state = fmt::format(
        "{:.0f} s after the end of host I/O the pair has not drained although nothing stops it (liveness failure)",
        waited_s);
  }
  return e;
}

}  // namespace mirrorsim
