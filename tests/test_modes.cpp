// Each mode's acknowledgement rule, the write-pending indicators' reset
// rules, the write-pending limit and the cache.
#include <catch2/catch.hpp>

#include "tests/harness.hpp"

using namespace mirrorsim;
using namespace mirrorsim::test;

namespace {
const TrackKey T0{0, 0};
const TrackKey T1{0, 1};

bool copy_queued(const World& w) { return queued(w, Side::B) > 0; }
}  // namespace

TEST_CASE("sync mode: the host is acknowledged only after the secondary acknowledges the copy") {
  World w(make_config({.mode = Mode::Sync}));
  const RequestId r = w.write(T0);
  const Controller& a = w.controller(Side::A);
  CHECK_FALSE(w.acked(r));
  CHECK(a.track(T0).local_wp);
  CHECK(a.track(T0).remote_wp);
  REQUIRE(copy_queued(w));
  deliver_all(w, Side::B);  // the copy reaches R2, which stores it and acknowledges
  CHECK_FALSE(w.acked(r));  // the acknowledgement is still on the way back
  CHECK(w.controller(Side::B).content_version(T0) == a.track(T0).version);
  deliver_all(w, Side::A);
  CHECK(w.acked(r));
  CHECK_FALSE(a.track(T0).remote_wp);
  CHECK(a.track(T0).local_wp);  // the local destage has not completed yet
  drain(w);
  CHECK(w.check_quiesced() == 0);
  CHECK(w.observer().violation_count() == 0);
}

TEST_CASE("sync mode with two round trips: write command, transfer ready, data, acknowledgement") {
  World w(make_config({.mode = Mode::Sync, .round_trips = 2}));
  const RequestId r = w.write(T0);
  int legs = 0;
  while (!w.acked(r) && legs < 10) {
    if (deliver_all(w, Side::B) + deliver_all(w, Side::A) == 0) break;
    ++legs;
  }
  CHECK(w.acked(r));
  CHECK(legs == 2);  // B←A command, A←B ready, B←A data, A←B ack: two round trips
  CHECK(w.controller(Side::A).counters().copies_sent == 1);
  drain(w);
  CHECK(w.check_quiesced() == 0);
}

TEST_CASE("semi-sync mode: the host is acknowledged at the cache store") {
  World w(make_config({.mode = Mode::SemiSync}));
  const RequestId r = w.write(T0);
  CHECK(w.acked(r));
  CHECK(w.controller(Side::A).track(T0).remote_wp);
  CHECK(w.controller(Side::A).semi_sync_outstanding(0) == 1);
  drain(w);
  CHECK(w.controller(Side::A).semi_sync_outstanding(0) == 0);
  CHECK(w.check_quiesced() == 0);
}

TEST_CASE("semi-sync mode: the next write to the volume waits for the previous remote acknowledgement") {
  World w(make_config({.mode = Mode::SemiSync}));
  const RequestId r1 = w.write(T0);
  const RequestId r2 = w.write(T1);
  CHECK(w.acked(r1));
  CHECK_FALSE(w.acked(r2));  // held before the cache store: at most one outstanding
  CHECK_FALSE(w.controller(Side::A).track(T1).local_wp);
  deliver_all(w, Side::B);
  CHECK_FALSE(w.acked(r2));
  deliver_all(w, Side::A);  // the first write's acknowledgement releases the second
  CHECK(w.acked(r2));
  CHECK(w.controller(Side::A).semi_sync_outstanding(0) == 1);
  drain(w);
  CHECK(w.observer().violation_count() == 0);
}

TEST_CASE("semi-sync mode: writes to different volumes do not wait for each other") {
  World w(make_config({.mode = Mode::SemiSync, .volumes = 2}));
  const RequestId r1 = w.write(TrackKey{0, 0});
  const RequestId r2 = w.write(TrackKey{1, 0});
  CHECK(w.acked(r1));
  CHECK(w.acked(r2));
  drain(w);
  CHECK(w.check_quiesced() == 0);
}

TEST_CASE("adaptive-copy-wp: writes are acknowledged early up to the skew, then as in sync") {
  World w(make_config({.mode = Mode::AdaptiveCopyWp, .skew_tracks = 2}));
  const RequestId r0 = w.write(TrackKey{0, 0});
  const RequestId r1 = w.write(TrackKey{0, 1});
  const RequestId r2 = w.write(TrackKey{0, 2});
  CHECK(w.acked(r0));
  CHECK(w.acked(r1));
  CHECK_FALSE(w.acked(r2));  // three remote-WP tracks: above the skew of two
  CHECK(w.controller(Side::A).remote_wp_tracks(0) == 3);
  const RequestId r0b = w.write(TrackKey{0, 0});  // a track already owed does not add to the skew...
  CHECK_FALSE(w.acked(r0b));                      // ...but the volume is above it, so it waits too
  deliver_all(w, Side::B);
  deliver_all(w, Side::A);
  CHECK(w.acked(r2));
  drain(w);
  CHECK(w.acked(r0b));
  CHECK(w.observer().violation_count() == 0);
  CHECK(w.check_quiesced() == 0);
}

TEST_CASE("adaptive-copy-wp: back under the skew, writes are acknowledged early again") {
  World w(make_config({.mode = Mode::AdaptiveCopyWp, .skew_tracks = 1}));
  w.write(TrackKey{0, 0});
  const RequestId r1 = w.write(TrackKey{0, 1});
  CHECK_FALSE(w.acked(r1));
  drain(w);
  CHECK(w.controller(Side::A).remote_wp_tracks(0) == 0);
  const RequestId r2 = w.write(TrackKey{0, 2});
  CHECK(w.acked(r2));
  drain(w);
  CHECK(w.check_quiesced() == 0);
}

TEST_CASE("adaptive-copy-disk: writes are acknowledged at once and the copier moves the invalid track") {
  World w(make_config({.mode = Mode::AdaptiveCopyDisk}));
  w.apply({Kind::Suspend, Side::A});
  w.apply({Kind::Resume, Side::A});
  const Controller& a = w.controller(Side::A);
  REQUIRE(a.pair_state() == PairState::Establishing);  // the copier cannot run yet
  const RequestId r = w.write(T0);
  CHECK(w.acked(r));
  CHECK(a.invalid_remote(T0));  // owed through the track table, not the cache
  CHECK_FALSE(a.track(T0).remote_wp);
  deliver_all(w, Side::B);
  deliver_all(w, Side::A);  // session open: the copier takes the invalid track
  CHECK_FALSE(a.invalid_remote(T0));
  CHECK(a.track(T0).remote_wp);
  drain(w);
  CHECK(w.controller(Side::B).content_version(T0) == a.content_version(T0));
  CHECK(a.pair_state() == PairState::Synchronized);
  CHECK(w.check_quiesced() == 0);
}

TEST_CASE("adaptive-copy-disk: a track evicted before the copier reaches it is copied from the disk") {
  World w(make_config({.mode = Mode::AdaptiveCopyDisk, .tracks = 8, .cache_slots = 2, .write_pending_limit = 1.0}));
  // Fill the cache and let destages finish while the copier is blocked by a down link.
  w.apply({Kind::LinkDown});
  drain(w);
  w.write(TrackKey{0, 0});
  w.write(TrackKey{0, 1});
  complete_disks(w, Side::A);
  w.write(TrackKey{0, 2});  // evicts track 0, which is still owed to R2
  complete_disks(w, Side::A);
  CHECK(w.controller(Side::A).slot_of(TrackKey{0, 0}) == nullptr);
  CHECK(w.controller(Side::A).invalid_remote(TrackKey{0, 0}));
  REQUIRE(w.quiesce());
  CHECK(w.controller(Side::B).content_version(TrackKey{0, 0}) == w.controller(Side::A).content_version(TrackKey{0, 0}));
  CHECK(w.check_quiesced() == 0);
}

TEST_CASE("local WP is reset only when the destage of the slot's current version completes") {
  World w(make_config({.mode = Mode::SemiSync}));
  w.write(T0);
  drain(w);
  const Controller& a = w.controller(Side::A);
  CHECK_FALSE(a.track(T0).local_wp);
  CHECK(w.disk_version(Side::A, T0) == a.track(T0).version);
}

TEST_CASE("a new write to a slot whose destage is in flight: the older completion does not reset the local WP") {
  World w(make_config({.mode = Mode::AdaptiveCopyWp, .skew_tracks = 4}));
  w.write(T0);
  drain(w);
  w.write(T0);  // v2, destage of v2 starts
  const Controller& a = w.controller(Side::A);
  const Version v2 = a.track(T0).version;
  drain(w);
  w.write(T0);  // v3
  // Issue the destage of v3, then land v4 in the slot before it completes.
  const Version v3 = a.track(T0).version;
  REQUIRE(a.slot_of(T0)->destaging == v3);
  w.write(T0);  // v4 while v3 is being destaged
  const Version v4 = a.track(T0).version;
  REQUIRE(v4 > v3);
  REQUIRE(v3 > v2);
  REQUIRE(apply_first(w, [](const WorldEvent& e) { return e.kind == Kind::CompleteDisk && e.side == Side::A; }));
  CHECK(w.disk_version(Side::A, T0) == v3);
  CHECK(a.track(T0).local_wp);  // v3 landed, the slot holds v4: still owed
  CHECK(a.slot_of(T0)->destaging == v4);  // and the destage of v4 was issued at once
  drain(w);
  CHECK_FALSE(a.track(T0).local_wp);
  CHECK(w.disk_version(Side::A, T0) == v4);
  CHECK(w.observer().violation_count() == 0);
}

TEST_CASE("a new write to a slot whose copy is in flight: the older acknowledgement does not reset the remote WP") {
  World w(make_config({.mode = Mode::AdaptiveCopyWp, .skew_tracks = 4}));
  const Controller& a = w.controller(Side::A);
  w.write(T0);  // v1 copy in flight
  const Version v1 = a.track(T0).version;
  deliver_all(w, Side::B);  // R2 stores v1 and acknowledges; the ack is on the way
  w.write(T0);            // v2 lands in the slot
  const Version v2 = a.track(T0).version;
  REQUIRE(v2 > v1);
  // Deliver only the acknowledgement of v1.
  REQUIRE(apply_first(w, [](const WorldEvent& e) { return e.kind == Kind::Deliver && e.side == Side::A; }));
  CHECK(a.track(T0).remote_wp);  // v1 acknowledged, v2 still owed
  drain(w);
  CHECK_FALSE(a.track(T0).remote_wp);
  CHECK(w.controller(Side::B).content_version(T0) == v2);
  CHECK(w.observer().violation_count() == 0);
}

TEST_CASE("two versions of one track delivered out of order: the secondary keeps the newer") {
  World w(make_config({.mode = Mode::AdaptiveCopyWp, .links = 2, .skew_tracks = 4}));
  w.write(T0);  // v1 goes on link 0
  w.write(T0);  // v2 goes on link 1
  const Version v2 = w.controller(Side::A).track(T0).version;
  REQUIRE(queued(w, Side::B) == 2);
  // Deliver link 1 (v2) before link 0 (v1).
  REQUIRE(apply_first(w, [](const WorldEvent& e) { return e.kind == Kind::Deliver && e.side == Side::B && e.index == 1; }));
  CHECK(w.controller(Side::B).content_version(T0) == v2);
  REQUIRE(apply_first(w, [](const WorldEvent& e) { return e.kind == Kind::Deliver && e.side == Side::B && e.index == 0; }));
  CHECK(w.controller(Side::B).content_version(T0) == v2);  // v1 arrived late and was not applied
  drain(w);
  CHECK(w.disk_version(Side::B, T0) == v2);
  CHECK(w.observer().violation_count() == 0);
  CHECK(w.check_quiesced() == 0);
}

TEST_CASE("write-pending limit reached: host writes are delayed, then released in order") {
  // 4 slots, limit 0.5: two slots may hold write-pending data.
  World w(make_config({.mode = Mode::SemiSync, .volumes = 3, .cache_slots = 4, .write_pending_limit = 0.5}));
  const RequestId r0 = w.write(TrackKey{0, 0});
  const RequestId r1 = w.write(TrackKey{1, 0});
  const RequestId r2 = w.write(TrackKey{2, 0});  // a third WP slot: over the limit
  const RequestId r3 = w.write(TrackKey{0, 0});  // semi-sync gate of volume 0 (r0 outstanding)
  const Controller& a = w.controller(Side::A);
  CHECK(w.acked(r0));
  CHECK(w.acked(r1));
  CHECK_FALSE(w.acked(r2));
  CHECK(a.counters().host_writes_delayed == 1);
  CHECK(a.delayed_requests() == 1);
  CHECK(a.wp_slots() == 2);
  // Destaging alone does not free the slots: the remote WP still pins them.
  complete_disks(w, Side::A);
  CHECK_FALSE(w.acked(r2));
  deliver_all(w, Side::B);
  deliver_all(w, Side::A);  // acknowledgements reset remote WP: a slot frees up
  CHECK(w.acked(r2));
  drain(w);
  CHECK(w.acked(r3));
  CHECK(a.delayed_requests() == 0);
  CHECK(w.observer().violation_count() == 0);
  CHECK(w.check_quiesced() == 0);
}

TEST_CASE("write-pending limit: a delayed write is not overtaken by later writes") {
  World w(make_config({.mode = Mode::AdaptiveCopyWp, .tracks = 8, .cache_slots = 4, .write_pending_limit = 0.5,
                       .skew_tracks = 8}));
  w.write(TrackKey{0, 0});
  w.write(TrackKey{0, 1});
  const RequestId delayed = w.write(TrackKey{0, 2});
  const RequestId later_hit = w.write(TrackKey{0, 0});  // a hit on a WP slot would fit, but must queue behind
  CHECK_FALSE(w.acked(delayed));
  CHECK_FALSE(w.acked(later_hit));
  bool overtaken = false;
  while (!w.internal_events().empty()) {
    w.apply(w.internal_events().front());
    if (w.acked(later_hit) && !w.acked(delayed)) overtaken = true;
  }
  CHECK_FALSE(overtaken);
  CHECK(w.acked(delayed));
  CHECK(w.acked(later_hit));
}

TEST_CASE("a slot holding write-pending data is never evicted, clean slots are, least recently used first") {
  World w(make_config({.mode = Mode::SemiSync, .volumes = 4, .cache_slots = 2, .write_pending_limit = 1.0}));
  const Controller& a = w.controller(Side::A);
  w.write(TrackKey{0, 0});
  drain(w);
  w.write(TrackKey{1, 0});
  drain(w);
  w.read(TrackKey{0, 0});  // touch track 0/0: track 1/0 is now least recently used
  w.write(TrackKey{2, 0});  // needs a slot: evicts 1/0
  CHECK(a.slot_of(TrackKey{1, 0}) == nullptr);
  CHECK(a.slot_of(TrackKey{0, 0}) != nullptr);
  // Both slots now pinned? 2/0 holds WP data; 0/0 is clean and goes next.
  const RequestId r = w.write(TrackKey{3, 0});  // 0/0 evicted, 2/0 kept
  CHECK(a.slot_of(TrackKey{2, 0}) != nullptr);
  CHECK(a.slot_of(TrackKey{0, 0}) == nullptr);
  CHECK(w.acked(r));  // its slot came from evicting 0/0
  drain(w);
  CHECK(a.counters().evictions == 2);
  CHECK(w.observer().violation_count() == 0);
}

TEST_CASE("read hit is served from cache, read miss reads the disk") {
  World w(make_config({.mode = Mode::Sync, .cache_slots = 4}));
  w.write(T0);
  drain(w);
  const RequestId hit = w.read(T0);
  CHECK(w.acked(hit));
  const RequestId miss = w.read(T1);
  CHECK_FALSE(w.acked(miss));
  complete_disks(w, Side::A);
  CHECK(w.acked(miss));
  CHECK(w.controller(Side::A).counters().read_hits == 1);
  CHECK(w.controller(Side::A).counters().read_misses == 1);
}

TEST_CASE("the secondary refuses host writes: write disabled while mirrored") {
  World w(make_config({}));
  w.apply({Kind::HostWrite, Side::B, 0, T0, false});
  CHECK(w.host_stats().writes_rejected == 1);
  CHECK(w.controller(Side::B).content_version(T0) == 0);
}

TEST_CASE("a host write to a track that does not exist is rejected as a bad address") {
  World w(make_config({.tracks = 4}));
  const RequestId r = w.write(TrackKey{0, 99});
  CHECK(w.reject_reason(r) == RejectReason::BadAddress);
  const RequestId r2 = w.write(TrackKey{7, 0});
  CHECK(w.reject_reason(r2) == RejectReason::BadAddress);
}
