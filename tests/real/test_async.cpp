// Async mode through the real pair: cycles between the two processes, each
// transmit set's track images on the link (an older version kept at R1
// when the host rewrote the track meanwhile), R2's receive sets kept until
// applied; after a disaster R2 is at one cycle boundary of the consistency
// group, checked on its disks against the hosts' log of acknowledged writes.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>

#include "helpers.hpp"
#include "real/cycle_boundaries.hpp"
#include "tests/cli/run_mirrorsim.hpp"

using namespace mirrorsim;
using namespace mirrorsim::real;
using namespace mirrorsim::real::test;
namespace fs = std::filesystem;

namespace {

struct AsyncPair {
  double duration_s = 1.3;
  double cycle_time_min_s = 0.5;
  std::string stop = {};        // the workloads' stop_s line, verbatim
  std::string async_extra = {};  // more [async] keys
  std::string failures = {};
};

// Two volumes in one consistency group, 0.5 s cycles, a 0.08 Gbit/s link
// (a cycle's folded tracks take a few tenths of a second to transmit, so a
// transmit set is on the link for much of each cycle), enough cache that
// the delta sets never reach their limit.
std::string async_toml(const AsyncPair& a) {
  return fmt::format(R"(
seed = 5
duration_s = {duration}

[primary]
cache_slots = 4096
track_bytes = 16384
disks = 2
disk_retry_ms = 2

[link]
distance_km = 0
bandwidth_gbit_per_s = 0.08
links = 1
failure_detection_ms = 100

[[volume]]
name = "db"
tracks = 1024
mode = "async"

[[volume]]
name = "log"
tracks = 1024
mode = "async"

[[consistency_group]]
name = "app"
volumes = ["db", "log"]

[async]
cycle_time_min_s = {cycle_min}
coordination_max_ms = 2
link_limbo_s = 5
{async_extra}

[[workload]]
volume = "db"
arrival = "poisson"
rate_iops = 700
write_fraction = 0.9
block_bytes = 8192
addresses = "uniform"
{stop}

[[workload]]
volume = "log"
arrival = "poisson"
rate_iops = 500
write_fraction = 1.0
block_bytes = 4096
addresses = "uniform"
{stop}

[measurement]
warmup_s = 0.1
{failures}
)",
                     fmt::arg("duration", a.duration_s), fmt::arg("cycle_min", a.cycle_time_min_s), fmt::arg("async_extra", a.async_extra), fmt::arg("stop", a.stop),
                     fmt::arg("failures", a.failures));
}

RealRun run(const AsyncPair& a) { return run_real(parse_scenario(async_toml(a), "async test"), quiet_options()); }

void show(const RealRun& r) {
  UNSCOPED_INFO(r.result.violation_report);
  UNSCOPED_INFO(verification_text(r.verification));
  UNSCOPED_INFO("end: " << r.result.end_state);
}

}  // namespace

TEST_CASE("async on loopback: cycles run between the processes, the pair drains to R1's last boundary and R2 == R1") {
  const RealRun r = run(AsyncPair{});
  show(r);
  REQUIRE(r.result.invariant_violations == 0);
  REQUIRE(r.verification.ok());
  REQUIRE(r.result.quiesced_at_end);
  REQUIRE(r.verification.disks_compared);
  CHECK(r.verification.tracks_differing == 0);
  CHECK(r.verification.tracks_compared > 500);
  CHECK(r.verification.writes_acked > 1000);
  CHECK(r.verification.writes_acked_lost == 0);
  REQUIRE(r.result.async);
  CHECK(r.result.async->cycles >= 2);
  CHECK(r.result.async->bytes_transmitted > 0);
  CHECK(r.result.async->writes_folded > 0);
  CHECK(r.result.async->drops.empty());
  // Each transmit-set track is a copy sent at R1 and received at R2 (CPU
  // per operation kind), its acknowledgement one received at R1 (in the
  // measured window: the link's emulated bandwidth takes the last set's
  // arrivals past its end).
  const uint64_t sent = r.cpu[0].of(CpuKind::CopySend).operations;
  CHECK(sent > 300);
  CHECK(r.cpu[1].of(CpuKind::CopyReceive).operations > sent / 2);
  CHECK(r.cpu[0].of(CpuKind::AckReceive).operations > sent / 2);
  // R2 ends at R1's last boundary, both volumes of the group at it.
  REQUIRE(r.verification.async_groups.size() == 1);
  const GroupBoundary& g = r.verification.async_groups[0];
  REQUIRE(g.checked);
  REQUIRE(g.boundary);
  CHECK(*g.boundary == g.cycles_switched);
  CHECK(g.model_applied_cycle == g.boundary);
  CHECK(g.tracks_at_boundary == 2048);
  CHECK(g.writes_after_boundary == 0);
  // R2 staged every transmit set's images until it applied the set, R1 kept
  // older versions that the host rewrote while their set was transmitted;
  // nothing of either is left once the pair has drained.
  CHECK(r.verification.delta_set_image_bytes_peak[0] > 0);
  CHECK(r.verification.delta_set_image_bytes_peak[1] > 0);
  CHECK(r.verification.delta_set_images_at_end[0] == 0);
  CHECK(r.verification.delta_set_images_at_end[1] == 0);
}

TEST_CASE("async disaster on loopback: R1 killed and the link cut, R2 fails over at one cycle boundary of both volumes, "
          "and the writes lost are exactly the acknowledged writes after it") {
  // The hosts stop with the disaster: every track R2 holds then is R1's
  // data, comparable with R1's cycles.
  const RealRun r = run(AsyncPair{.duration_s = 1.5,
                                  .stop = "stop_s = 1.2",
                                  .failures = failure(1.2, "disaster") + failure(1.25, "failover")});
  show(r);
  // The observer's I10 (async: nothing at or before R2's boundary lost),
  // I12 (R2 applies whole cycles, one boundary for the group), I13 and I14
  // over the replay of both processes' logs, and the verification below.
  CHECK(r.result.invariant_violations == 0);
  CHECK(r.verification.ok());
  CHECK(r.verification.survivor == "R2");
  REQUIRE(r.verification.async_groups.size() == 1);
  const GroupBoundary& g = r.verification.async_groups[0];
  REQUIRE(g.checked);
  REQUIRE(g.boundary);
  CHECK(*g.boundary >= 1);         // R2 applied cycles before the disaster
  CHECK(g.cycles_switched >= 2);
  // Both volumes' images are the boundary's, every track of them.
  REQUIRE(g.volumes.size() == 2);
  for (const auto& v : g.volumes) {
    INFO("volume " << v.name);
    REQUIRE(v.boundaries);
    CHECK(v.boundaries->first <= *g.boundary);
    CHECK(*g.boundary <= v.boundaries->last);
  }
  CHECK(g.tracks_at_boundary == 2048);
  CHECK(g.tracks_rewritten == 0);
  CHECK(g.model_applied_cycle == g.boundary);
  // The loss: the writes captured after the boundary, all of them, no other.
  CHECK(g.writes_acked == r.verification.writes_acked);
  CHECK(g.writes_after_boundary > 0);
  CHECK(g.writes_lost == g.writes_after_boundary);
  CHECK(r.verification.writes_acked_lost == g.writes_after_boundary);
  // The model lost at least these (also writes whose acknowledgement died
  // with R1 on its way to the host).
  CHECK(r.verification.writes_lost_by_model >= r.verification.writes_acked_lost);
  REQUIRE(r.result.async);
  REQUIRE(r.result.async->rpo_at_failover_s);
  CHECK(*r.result.async->rpo_at_failover_s > 0.15);
  CHECK(*r.result.async->rpo_at_failover_s < 2.0);
  // R2 staged receive sets, and freed what it held of an unfinished one at the failover.
  CHECK(r.verification.delta_set_image_bytes_peak[1] > 0);
  CHECK(r.verification.delta_set_images_at_end[1] == 0);
  CHECK(r.result.end_state == "R1 is down at the end");
}

TEST_CASE("async on loopback: a link cut shorter than the limbo time is ridden through, the transmit set goes again "
          "from R1's kept images, and R2 == R1") {
  const RealRun r = run(AsyncPair{.duration_s = 1.4, .failures = failure(0.6, "link-down") + failure(0.9, "link-up")});
  show(r);
  REQUIRE(r.result.invariant_violations == 0);
  REQUIRE(r.verification.ok());
  REQUIRE(r.result.quiesced_at_end);
  CHECK(r.verification.tracks_differing == 0);
  CHECK(r.verification.link_connections > 1);
  REQUIRE(r.result.async);
  CHECK(r.result.async->drops.empty());  // no drop: the session resumed
  REQUIRE(r.verification.async_groups.size() == 1);
  CHECK(r.verification.async_groups[0].checked);
  CHECK(r.verification.async_groups[0].boundary == r.verification.async_groups[0].cycles_switched);
  CHECK(r.verification.delta_set_image_bytes_peak[0] > 0);
  CHECK(r.verification.delta_set_images_at_end[0] == 0);
  CHECK(r.verification.delta_set_images_at_end[1] == 0);
}

TEST_CASE("mirrorsim real refuses, by name and exit 2, an async spill pool and a drain timeout no longer than the minimum "
          "cycle time") {
  const fs::path dir = cli_test::make_temp_dir("real-async");
  std::string text;
  SECTION("a spill pool") {
    const fs::path scenario = dir / "spill.toml";
    std::ofstream(scenario) << async_toml(AsyncPair{.async_extra = "spill_bytes_max = 1000000"});
    CHECK(cli_test::run_combined("real " + scenario.string() + " -q", dir, &text) == 2);
    CHECK_THAT(text, Catch::Contains("async.spill_bytes_max = 1000000: real mode keeps delta sets in the controllers' "
                                     "caches and has no spill pool"));
  }
  SECTION("a drain timeout the last capture set cannot switch in") {
    const fs::path scenario = dir / "drain.toml";
    std::ofstream(scenario) << async_toml(AsyncPair{});
    CHECK(cli_test::run_combined("real " + scenario.string() + " -q --drain-timeout-s 0.4", dir, &text) == 2);
    CHECK_THAT(text, Catch::Contains("--drain-timeout-s 0.4 cannot drain an async pair") &&
                         Catch::Contains("async.cycle_time_min_s = 0.5 s") && Catch::Contains("30.5 s"));
  }
  SECTION("the default drain timeout covers the minimum cycle time") {
    const Scenario s = parse_scenario(async_toml(AsyncPair{.cycle_time_min_s = 40}), "t");
    CHECK(default_drain_timeout_s(s) == 70);
    RealOptions o = quiet_options();
    o.drain_timeout_s.reset();
    CHECK_NOTHROW(check_real_support(s, o));
    o.drain_timeout_s = 40;
    CHECK_THROWS_WITH(check_real_support(s, o), Catch::Contains("--drain-timeout-s 40 cannot drain an async pair"));
    CHECK(default_drain_timeout_s(small_scenario(Small{})) == 30);  // other modes: as before
  }
  fs::remove_all(dir);
}

TEST_CASE("the boundary check bites: R2 at a boundary passes, a partial cycle, volumes at different boundaries, a "
          "version of the open cycle and a write no cycle captured are findings") {
  const Scenario sc = parse_scenario(async_toml(AsyncPair{}), "t");
  const ControllerConfig cfg = controller_config(sc, Side::A);
  const Geometry geo = Geometry::of(cfg);
  const Controller r1(Side::A, Role::Primary, cfg);
  CycleHistory h(cfg);
  const TrackKey db0{0, 0}, db1{0, 1}, log0{1, 0};
  auto v = [](uint32_t n) { return make_version(1, n); };
  auto steps = [&](Commands c) { h.after_step(Side::A, r1, Time{}, c); };
  // Cycle 1: db0 v1, log0 v1, db0 v2 (folded); cycle 2: db1 v1, log0 v2; cycle 3 (open): db0 v3.
  steps({AckHost{1, db0, v(1), true}, AckHost{2, log0, v(1), true}});
  steps({AckHost{3, db0, v(2), true}, CycleSwitched{0, 1, 2, 0}});
  steps({AckHost{4, db1, v(1), true}, AckHost{5, log0, v(2), true}, CycleSwitched{0, 2, 2, 0}});
  steps({AckHost{6, db0, v(3), true}});
  REQUIRE(h.group(0).known);
  CHECK(h.group(0).last_switched == 2);
  std::vector<std::vector<Version>> acked(geo.total_tracks);
  acked[geo.index(db0)] = {v(1), v(2), v(3)};
  acked[geo.index(db1)] = {v(1)};
  acked[geo.index(log0)] = {v(1), v(2)};
  std::vector<std::string> findings;
  auto check = [&](std::map<TrackKey, Version> image) {
    findings.clear();
    auto held = [&](Side s, uint64_t i) -> std::optional<Version> {
      if (s != Side::B) return std::nullopt;
      const auto it = image.find(geo.key_of(i));
      return it == image.end() ? 0 : it->second;
    };
    const auto out = check_boundaries(h, cfg, geo, held, acked, [&](std::string f) { findings.push_back(std::move(f)); });
    REQUIRE(out.size() == 1);
    return out[0];
  };
  SECTION("at the boundary of cycle 1: the writes of cycles 2 and 3 are lost, no other") {
    const GroupBoundary g = check({{db0, v(2)}, {log0, v(1)}});
    CHECK(findings.empty());
    CHECK(g.boundary == 1u);
    CHECK(g.tracks_at_boundary == 2048);
    CHECK(g.writes_acked == 6);
    CHECK(g.writes_after_boundary == 3);
    CHECK(g.writes_lost == 3);
  }
  SECTION("at the boundary of cycle 2: the open cycle's write is lost") {
    const GroupBoundary g = check({{db0, v(2)}, {db1, v(1)}, {log0, v(2)}});
    CHECK(findings.empty());
    CHECK(g.boundary == 2u);
    CHECK(g.writes_after_boundary == 1);
  }
  SECTION("db at cycle 2, log at cycle 1: the group's volumes at different boundaries") {
    const GroupBoundary g = check({{db0, v(2)}, {db1, v(1)}, {log0, v(1)}});
    CHECK_FALSE(g.boundary);
    REQUIRE(findings.size() == 1);
    CHECK_THAT(findings[0], Catch::Contains("R2's volumes are at different cycle boundaries: db at 2, log at 1"));
  }
  SECTION("part of cycle 2 within one volume") {
    const GroupBoundary g = check({{db1, v(1)}, {log0, v(2)}});
    CHECK_FALSE(g.boundary);
    REQUIRE(findings.size() == 1);
    CHECK_THAT(findings[0], Catch::Contains("R2's volume db is at no cycle boundary"));
  }
  SECTION("an older version of a cycle that wrote the track twice") {
    check({{db0, v(1)}, {log0, v(1)}});
    REQUIRE(findings.size() == 1);
    CHECK_THAT(findings[0], Catch::Contains("track 0/0 holds v") && Catch::Contains("captured in cycle 1 but not its newest"));
  }
  SECTION("a version of the cycle still open") {
    check({{db0, v(3)}, {db1, v(1)}, {log0, v(2)}});
    REQUIRE(findings.size() == 1);
    CHECK_THAT(findings[0], Catch::Contains("R2's volume db is at no cycle boundary"));
  }
  SECTION("an acknowledged write that no cycle captured") {
    acked[geo.index(db1)].push_back(v(9));
    const GroupBoundary g = check({{db0, v(2)}, {log0, v(1)}});
    CHECK(g.boundary == 1u);
    REQUIRE(findings.size() == 1);
    CHECK_THAT(findings[0], Catch::Contains("acknowledged writes that none of R1's cycles captured"));
  }
  SECTION("after a drop the cycles are unknown until they start again; a write lost before their start is not theirs") {
    steps({SessionDropped{DropReason::CacheLimit, 3}});
    GroupBoundary g = check({{db0, v(2)}, {log0, v(1)}});
    CHECK_FALSE(g.checked);
    CHECK_THAT(g.not_checked_why, Catch::Contains("the session dropped"));
    // They start again from R1's content, which a volatile cache's crash
    // left without db0 v3 (its loss is the observer's to account for).
    steps({CyclesStarted{0, 5}});
    g = check({{db0, Version{0}}, {db1, Version{0}}, {log0, Version{0}}});
    for (const auto& f : findings) UNSCOPED_INFO(f);
    CHECK(findings.empty());
    REQUIRE(g.checked);
    CHECK(g.boundary == 4u);
    CHECK(g.writes_before_cycles == 6);
    CHECK(g.writes_acked == 0);
  }
}
