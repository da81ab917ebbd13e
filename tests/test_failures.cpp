// Failures and operations: link outage and resync, domino, crashes with
// volatile and non-volatile caches, disk errors, disaster, failover, failback.
#include <catch2/catch.hpp>

#include "tests/harness.hpp"

using namespace mirrorsim;
using namespace mirrorsim::test;

namespace {
const TrackKey T0{0, 0};
const TrackKey T1{0, 1};
const TrackKey T2{0, 2};

void notify(World& w, Side s) {
  REQUIRE(apply_first(w, [&](const WorldEvent& e) { return e.kind == Kind::Notify && e.side == s; }));
}
void link_down_and_notify(World& w) {
  w.apply({Kind::LinkDown});
  notify(w, Side::A);
  notify(w, Side::B);
}
uint64_t lost_at(const World& w, LossEvent::Cause cause) {
  uint64_t n = 0;
  for (const auto& l : w.observer().losses())
    if (l.cause == cause) n += l.writes;
  return n;
}
}  // namespace

TEST_CASE("link outage: writes mark invalid tracks, the resync copies them, then R2 == R1") {
  World w(make_config({.mode = Mode::Sync}));
  w.write(T0);
  drain(w);
  link_down_and_notify(w);
  const Controller& a = w.controller(Side::A);
  CHECK(a.pair_state() == PairState::Suspended);
  const RequestId r1 = w.write(T1);
  const RequestId r2 = w.write(T0);
  CHECK(w.acked(r1));  // not mirrored: acknowledged at the cache store
  CHECK(w.acked(r2));
  CHECK(a.invalid_remote(T1));
  CHECK(a.invalid_remote(T0));
  CHECK(a.invalid_remote_tracks() == 2);
  CHECK(w.observer().writes_at_risk() == 2);
  w.apply({Kind::LinkUp});
  drain(w);
  CHECK(a.pair_state() == PairState::Synchronized);
  CHECK(a.invalid_remote_tracks() == 0);
  CHECK(a.counters().establishes == 1);
  CHECK(w.observer().writes_at_risk() == 0);
  CHECK(w.controller(Side::B).content_version(T1) == a.content_version(T1));
  CHECK(w.check_quiesced() == 0);
  CHECK(w.observer().violation_count() == 0);
}

TEST_CASE("link outage under a sync write: the waiting write is acknowledged locally and its track goes invalid") {
  World w(make_config({.mode = Mode::Sync}));
  const RequestId r = w.write(T0);
  CHECK_FALSE(w.acked(r));
  w.apply({Kind::LinkDown});  // the copy is lost on the cut link
  CHECK_FALSE(w.acked(r));
  notify(w, Side::A);
  CHECK(w.acked(r));
  CHECK(w.controller(Side::A).invalid_remote(T0));
  CHECK_FALSE(w.controller(Side::A).track(T0).remote_wp);
  REQUIRE(w.quiesce());
  CHECK(w.check_quiesced() == 0);
}

TEST_CASE("domino: host writes are rejected while the secondary is unreachable") {
  World w(make_config({.mode = Mode::SemiSync, .domino = true}));
  link_down_and_notify(w);
  const RequestId r = w.write(T0);
  CHECK(w.reject_reason(r) == RejectReason::Domino);
  CHECK(w.controller(Side::A).content_version(T0) == 0);
  w.apply({Kind::LinkUp});
  drain(w);
  const RequestId r2 = w.write(T0);
  CHECK(w.acked(r2));
  drain(w);
  CHECK(w.observer().violation_count() == 0);
}

TEST_CASE("domino: a sync write waiting when the secondary becomes unreachable is rejected, not acknowledged") {
  World w(make_config({.mode = Mode::Sync, .domino = true}));
  const RequestId r = w.write(T0);
  w.apply({Kind::LinkDown});
  notify(w, Side::A);
  CHECK(w.reject_reason(r) == RejectReason::Domino);
  REQUIRE(w.quiesce());
  CHECK(w.check_quiesced() == 0);  // the data was in cache: it reaches both sides anyway
  CHECK(w.observer().violation_count() == 0);
}

TEST_CASE("operator suspend and resume: writes are tracked as invalid tracks and resynchronised on resume") {
  World w(make_config({.mode = Mode::Sync}));
  w.apply({Kind::Suspend, Side::A});
  const Controller& a = w.controller(Side::A);
  CHECK(a.pair_state() == PairState::Suspended);
  CHECK(a.operator_suspended());
  const RequestId r = w.write(T0);
  CHECK(w.acked(r));
  drain(w);
  CHECK(a.pair_state() == PairState::Suspended);  // stays suspended with the link up
  CHECK(a.invalid_remote(T0));
  w.apply({Kind::Resume, Side::A});
  drain(w);
  CHECK(a.pair_state() == PairState::Synchronized);
  CHECK(w.check_quiesced() == 0);
}

TEST_CASE("secondary crash with a volatile cache: the tracks it lost are reported and sent again") {
  World w(make_config({.mode = Mode::Sync, .cache_nonvolatile = false}));
  const RequestId r = w.write(T0);
  deliver_all(w, Side::B);
  deliver_all(w, Side::A);
  REQUIRE(w.acked(r));
  CHECK_FALSE(w.controller(Side::A).track(T0).remote_wp);
  w.apply({Kind::Crash, Side::B, 0, {}, false});  // R2's destage of T0 had not landed
  CHECK(w.disk_version(Side::B, T0) == 0);
  w.apply({Kind::Restart, Side::B});
  CHECK(w.controller(Side::B).track(T0).invalid_local);
  drain(w);
  CHECK(w.controller(Side::B).content_version(T0) == w.controller(Side::A).content_version(T0));
  CHECK(w.check_quiesced() == 0);
  CHECK(w.observer().writes_lost() == 0);
  CHECK(w.observer().violation_count() == 0);
}

TEST_CASE("secondary crash with a non-volatile cache: its owed destages resume after the restart") {
  World w(make_config({.mode = Mode::Sync}));
  w.write(T0);
  deliver_all(w, Side::B);
  deliver_all(w, Side::A);
  w.apply({Kind::Crash, Side::B, 0, {}, false});
  w.apply({Kind::Restart, Side::B});
  CHECK(w.controller(Side::B).track(T0).local_wp);
  CHECK_FALSE(w.controller(Side::B).track(T0).invalid_local);
  drain(w);
  CHECK(w.disk_version(Side::B, T0) == w.controller(Side::A).content_version(T0));
  CHECK(w.check_quiesced() == 0);
}

TEST_CASE("primary crash with a non-volatile cache: owed destages and copies resume") {
  World w(make_config({.mode = Mode::SemiSync}));
  const RequestId r = w.write(T0);
  REQUIRE(w.acked(r));
  w.apply({Kind::LinkDown});  // the copy is lost
  w.apply({Kind::Crash, Side::A, 0, {}, false});
  w.apply({Kind::Restart, Side::A});
  const Controller& a = w.controller(Side::A);
  CHECK(a.track(T0).local_wp);
  CHECK(a.invalid_remote(T0));  // the remote WP became an invalid track
  w.apply({Kind::LinkUp});
  drain(w);
  CHECK(w.check_quiesced() == 0);
  CHECK(w.observer().writes_lost() == 0);
  CHECK(w.observer().violation_count() == 0);
}

TEST_CASE("primary crash with a volatile cache in sync mode: no acknowledged write is lost") {
  World w(make_config({.mode = Mode::Sync, .cache_nonvolatile = false}));
  const RequestId r = w.write(T0);
  deliver_all(w, Side::B);
  deliver_all(w, Side::A);
  REQUIRE(w.acked(r));
  const Version v = w.controller(Side::A).track(T0).version;
  w.apply({Kind::Crash, Side::A, 0, {}, false});  // the local destage never landed
  w.apply({Kind::Restart, Side::A});
  const Controller& a = w.controller(Side::A);
  CHECK(a.track(T0).invalid_local);
  const RequestId during = w.write(T0);  // not ready until the track is back
  CHECK(w.reject_reason(during) == RejectReason::NotReady);
  drain(w);  // recovery read finds the old version, the track is fetched back from R2
  CHECK_FALSE(a.track(T0).invalid_local);
  CHECK(a.content_version(T0) == v);
  CHECK(w.observer().writes_lost() == 0);
  CHECK(w.check_quiesced() == 0);
  CHECK(w.observer().violation_count() == 0);
}

TEST_CASE("primary crash with a volatile cache: a destage that landed unconfirmed is found by the recovery read") {
  World w(make_config({.mode = Mode::AdaptiveCopyWp, .cache_nonvolatile = false, .skew_tracks = 4}));
  w.apply({Kind::LinkDown});
  const RequestId r = w.write(T0);
  REQUIRE(w.acked(r));
  w.apply({Kind::Crash, Side::A, 0, {}, true});  // the destage lands as the controller dies
  w.apply({Kind::Restart, Side::A});
  REQUIRE(w.quiesce());
  CHECK(w.observer().writes_lost() == 0);
  CHECK(w.controller(Side::B).content_version(T0) == w.controller(Side::A).track(T0).version);
  CHECK(w.check_quiesced() == 0);
}

TEST_CASE("primary crash with a volatile cache in adaptive-copy mode: the observer counts the lost writes") {
  World w(make_config({.mode = Mode::AdaptiveCopyWp, .cache_nonvolatile = false, .skew_tracks = 4}));
  w.apply({Kind::LinkDown});  // copies are lost; R1 has not noticed yet
  const RequestId r0 = w.write(T0);
  const RequestId r1 = w.write(T1);
  REQUIRE(w.acked(r0));
  REQUIRE(w.acked(r1));
  w.apply({Kind::Crash, Side::A, 0, {}, false});
  w.apply({Kind::Restart, Side::A});
  REQUIRE(w.quiesce());
  CHECK(lost_at(w, LossEvent::Cause::VolatileCache) == 2);
  CHECK(w.check_quiesced() == 0);
  CHECK(w.observer().violation_count() == 0);  // within the skew of 4
}

TEST_CASE("local disk I/O error: the local WP stays set and the destage is retried after the interval") {
  World w(make_config({.mode = Mode::Sync, .disks = 1}));
  w.apply({Kind::DiskFailure, Side::A, 0});
  w.write(T0);
  complete_disks(w, Side::A);
  const Controller& a = w.controller(Side::A);
  CHECK(a.track(T0).local_wp);
  CHECK(a.counters().disk_io_errors == 1);
  REQUIRE(a.next_deadline().has_value());
  w.apply({Kind::DiskRepair, Side::A, 0});
  drain(w);  // the timer fires, the destage is reissued and lands
  CHECK_FALSE(a.track(T0).local_wp);
  CHECK(a.counters().destages == 2);
  CHECK(w.check_quiesced() == 0);
}

TEST_CASE("disaster in sync mode: failover loses no acknowledged write") {
  World w(make_config({.mode = Mode::Sync}));
  for (TrackNo t = 0; t < 4; ++t) w.write(TrackKey{0, t});
  deliver_all(w, Side::B);
  deliver_all(w, Side::A);
  w.write(TrackKey{0, 5});  // in flight at the disaster: not acknowledged
  w.apply({Kind::Disaster});
  w.apply({Kind::Failover, Side::B});
  REQUIRE(w.observer().losses().size() == 1);
  CHECK(w.observer().losses()[0].cause == LossEvent::Cause::Failover);
  CHECK(w.observer().losses()[0].writes == 0);
  CHECK(w.host_stats().writes_acked == 4);
  CHECK(w.observer().violation_count() == 0);
}

TEST_CASE("disaster in semi-sync mode: failover loses at most one write per volume") {
  World w(make_config({.mode = Mode::SemiSync, .volumes = 2}));
  w.write(TrackKey{0, 0});
  w.write(TrackKey{1, 0});
  drain(w);
  w.write(TrackKey{0, 1});  // acknowledged, copy in flight
  w.write(TrackKey{1, 1});
  w.write(TrackKey{0, 2});  // waits behind the outstanding write
  w.apply({Kind::Disaster});
  w.apply({Kind::Failover, Side::B});
  REQUIRE(w.observer().losses().size() == 1);
  const LossEvent& l = w.observer().losses()[0];
  CHECK(l.writes == 2);
  CHECK(l.writes_by_volume == std::vector<uint64_t>{1, 1});
  CHECK(w.observer().violation_count() == 0);
}

TEST_CASE("disaster in adaptive-copy-wp mode: the loss is bounded by the skew") {
  World w(make_config({.mode = Mode::AdaptiveCopyWp, .skew_tracks = 2}));
  for (TrackNo t = 0; t < 5; ++t) w.write(TrackKey{0, t});
  CHECK(w.host_stats().writes_acked == 2);
  w.apply({Kind::Disaster});
  w.apply({Kind::Failover, Side::B});
  REQUIRE(w.observer().losses().size() == 1);
  CHECK(w.observer().losses()[0].writes == 2);
  CHECK(w.observer().violation_count() == 0);
}

TEST_CASE("disaster in adaptive-copy-disk mode: every write not yet copied is lost and reported") {
  World w(make_config({.mode = Mode::AdaptiveCopyDisk}));
  w.apply({Kind::LinkDown});
  for (TrackNo t = 0; t < 6; ++t) w.write(TrackKey{0, t});
  w.apply({Kind::Disaster});
  w.apply({Kind::Failover, Side::B});
  REQUIRE(w.observer().losses().size() == 1);
  CHECK(w.observer().losses()[0].writes == 6);
  CHECK(w.observer().violation_count() == 0);
}

TEST_CASE("failback: the old primary discards its divergent tracks, is resynchronised from R2, and takes the primary role back") {
  World w(make_config({.mode = Mode::SemiSync}));
  w.write(T0);
  drain(w);
  w.write(T1);  // acknowledged at R1, never reaches R2
  w.apply({Kind::Disaster});
  notify(w, Side::B);
  w.apply({Kind::Failover, Side::B});
  CHECK(w.observer().writes_lost() == 1);
  REQUIRE(w.controller(Side::B).role() == Role::Primary);
  // Production runs at the secondary site.
  const RequestId at_b = w.write(T2);
  CHECK(w.acked(at_b));
  CHECK(w.controller(Side::B).invalid_remote(T2));
  // The primary site comes back: R1 restarts, sees a newer primary, steps down.
  w.apply({Kind::Restart, Side::A});
  w.apply({Kind::LinkUp});
  drain(w);
  CHECK(w.controller(Side::A).role() == Role::Secondary);
  CHECK(w.controller(Side::A).content_version(T1) == w.controller(Side::B).content_version(T1));
  CHECK(w.controller(Side::A).content_version(T2) == w.controller(Side::B).content_version(T2));
  // Failback: R2 hands the primary role back once R1 is in sync.
  w.apply({Kind::Failback, Side::B});
  drain(w);
  CHECK(w.controller(Side::A).role() == Role::Primary);
  CHECK(w.controller(Side::B).role() == Role::Secondary);
  CHECK(w.controller(Side::A).generation() == 3);
  const RequestId after = w.write(T0);
  drain(w);
  CHECK(w.acked(after));
  CHECK(w.check_quiesced() == 0);
  CHECK(w.observer().violation_count() == 0);
}

TEST_CASE("failover while the old primary is alive: it is demoted when the link returns and its divergent writes are discarded") {
  World w(make_config({.mode = Mode::Sync}));
  link_down_and_notify(w);
  w.apply({Kind::Failover, Side::B});
  w.apply({Kind::HostWrite, Side::A, 0, T0, false});  // hosts still at side A: split brain
  CHECK(w.host_stats().writes_acked == 1);
  w.apply({Kind::HostWrite, Side::B, 0, T1, false});
  w.apply({Kind::LinkUp});
  drain(w);
  CHECK(w.controller(Side::A).role() == Role::Secondary);
  CHECK(w.controller(Side::B).role() == Role::Primary);
  CHECK(w.controller(Side::A).content_version(T0) == 0);  // A's write was discarded
  CHECK(lost_at(w, LossEvent::Cause::Discard) == 1);
  CHECK(w.check_quiesced() == 0);
  CHECK(w.observer().violation_count() == 0);
}

TEST_CASE("messages of an old link session are dropped") {
  auto cfg = make_config({});
  Controller b(Side::B, Role::Secondary, cfg.side_b);
  Commands out;
  b.step(Time::from_us(1), Received{CopyData{99, TrackKey{0, 0}, make_version(1, 1), 4096, false}}, out);
  CHECK(out.empty());
  CHECK(b.content_version(TrackKey{0, 0}) == 0);
  CHECK(b.counters().stale_messages == 1);
  b.step(Time::from_us(2), Received{CopyData{b.epoch(), TrackKey{0, 0}, make_version(1, 1), 4096, false}}, out);
  CHECK(b.content_version(TrackKey{0, 0}) == make_version(1, 1));
}

TEST_CASE("a crashed controller aborts the host requests it held") {
  World w(make_config({.mode = Mode::Sync}));
  const RequestId r = w.write(T0);
  w.apply({Kind::Crash, Side::A, 0, {}, false});
  CHECK(w.reject_reason(r) == RejectReason::Crashed);
  CHECK(w.requests_in_progress() == 0);
}

TEST_CASE("a primary demoted with copies in flight keeps its per-volume remote-WP count equal to its track table") {
  // Found by Controller::audit: the demotion reset the count, then counted
  // each remote WP it cleared down past zero, and the adaptive-copy-wp skew
  // of the volume read 4294967295 tracks.
  World w(make_config({.mode = Mode::AdaptiveCopyWp, .skew_tracks = 4}));
  const RequestId r0 = w.write(T0);
  const RequestId r1 = w.write(T1);
  CHECK(w.acked(r0));
  CHECK(w.acked(r1));
  CHECK(w.controller(Side::A).remote_wp_tracks(0) == 2);  // both copies still on the link
  w.apply({Kind::Failover, Side::B});
  // B's Establish of the newer generation demotes A while A's copies are unacknowledged.
  drain(w);
  const Controller& a = w.controller(Side::A);
  CHECK(a.role() == Role::Secondary);
  CHECK(a.remote_wp_tracks(0) == 0);
  CHECK(a.remote_wp_tracks() == 0);
  a.audit();
  CHECK(w.observer().violation_count() == 0);
}
