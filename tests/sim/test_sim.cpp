// The SimGrid driver against closed forms: unloaded response times, the
// vendor's worked example, M/D/1 queueing on a link, Little's law on the
// cache; determinism; every shipped scenario free of invariant violations.
// SimGrid allows one engine per process: every run here is a forked child.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include <filesystem>

#include <fmt/format.h>

#include "model/analytic.hpp"
#include "report/serialize.hpp"
#include "sim/fork.hpp"

using namespace mirrorsim;

namespace {

// One volume, one closed-loop host with a single request outstanding: no
// queueing anywhere, every write costs the same.
const char* kUnloaded = R"(
seed = 7
duration_s = 1.0

[primary]
cache_slots = 4096
front_end_write_us = 250
disks = 4
disk_write_us = 100
disk_read_us = 100
disk_bandwidth_mb_per_s = 1000

[secondary]
remote_adapter_copy_receive_us = 50

[link]
distance_km = 0
overhead_us = 25
bandwidth_gbit_per_s = 10
links = 1
round_trips_per_write = 1

[[volume]]
name = "db"
tracks = 10000
mode = "sync"

[[workload]]
volume = "db"
arrival = "closed"
queue_depth = 1
write_fraction = 1.0
block_bytes = 512
addresses = "uniform"

[measurement]
warmup_s = 0.1
)";

RunResult run(const std::string& toml, const std::vector<std::pair<std::string, std::string>>& sets = {}) {
  Scenario s = parse_scenario(toml, "test");
  for (const auto& [k, v] : sets) set_value(s, k, v, "test --set " + k);
  SimOptions o;
  o.progress = false;
  return simulate_in_child(s, o);
}

double mean_write_ms(const RunResult& r) { return r.volumes.at(0).writes.response.mean_ns() / 1e6; }

// Closed form of an unloaded synchronous write, in ms: the primary's cache
// store, then per round trip a message each way (latency = 5 us/km x d +
// overhead), each response after the secondary's cache store, plus the time
// to transmit every message (64-byte headers, the data once).
double unloaded_sync_ms(double d_km, int round_trips, double block_bytes, double c1_us = 250, double c2_us = 50,
                        double overhead_us = 25, double gbit = 10) {
  const double latency_us = 5.0 * d_km + overhead_us;
  const double us_per_byte = 8.0 / (gbit * 1e3);
  const double transfers_us = (64 + block_bytes) * us_per_byte + (2 * round_trips - 1) * 64 * us_per_byte;
  return (c1_us + round_trips * c2_us + round_trips * 2 * latency_us + transfers_us) / 1e3;
}

}  // namespace

TEST_CASE("an unloaded sync write costs cache stores, round trips and transfers (one round trip), within 1 %") {
  for (double d : {0.0, 100.0, 300.0}) {
    const RunResult r = run(kUnloaded, {{"link.distance_km", fmt::format("{}", d)}});
    const double expected = unloaded_sync_ms(d, 1, 512);
    INFO(fmt::format("{} km: simulated {:.4f} ms, formula {:.4f} ms", d, mean_write_ms(r), expected));
    CHECK(r.volumes[0].writes.completed > 100);
    CHECK(mean_write_ms(r) == Approx(expected).epsilon(0.01));
    CHECK(r.invariant_violations == 0);
  }
}

TEST_CASE("an unloaded sync write with plain FCP pays two round trips, within 1 %") {
  for (double d : {0.0, 100.0, 300.0}) {
    const RunResult r = run(kUnloaded, {{"link.distance_km", fmt::format("{}", d)}, {"link.round_trips_per_write", "2"}});
    const double expected = unloaded_sync_ms(d, 2, 512);
    INFO(fmt::format("{} km: simulated {:.4f} ms, formula {:.4f} ms", d, mean_write_ms(r), expected));
    CHECK(mean_write_ms(r) == Approx(expected).epsilon(0.01));
    CHECK(r.invariant_violations == 0);
  }
}

TEST_CASE("the vendor's worked example: 0.25 ms unreplicated, 0.35 ms synchronous at 0 km, 1.35 ms at 100 km") {
  // A 1-block write; "unreplicated" = acknowledged at the cache store with
  // copies trailing (adaptive-copy-disk).
  const RunResult local = run(kUnloaded, {{"volume.db.mode", "adaptive-copy-disk"}});
  const RunResult sync0 = run(kUnloaded, {{"link.distance_km", "0"}});
  const RunResult sync100 = run(kUnloaded, {{"link.distance_km", "100"}});
  CHECK(mean_write_ms(local) == Approx(0.25).epsilon(0.01));
  CHECK(mean_write_ms(sync0) == Approx(0.35).epsilon(0.01));
  CHECK(mean_write_ms(sync100) == Approx(1.35).epsilon(0.01));
  CHECK(local.volumes[0].writes.response.percentile_ns(99) / 1e6 == Approx(0.25).epsilon(0.01));
}

TEST_CASE("a link under Poisson writes queues like M/D/1 at rho = 0.5 and 0.8, within 5 %") {
  // 1 Gbit/s, one link, no distance, near-zero service elsewhere: the copy's
  // transmission is the only server. Fixed-size writes: deterministic service.
  const double gbit = 1.0;
  const double block = 8192;
  const double service_s = (64 + block) * 8 / (gbit * 1e9);
  for (double rho : {0.5, 0.8}) {
    const double rate = rho / service_s;
    const RunResult r = run(kUnloaded, {{"duration_s", "12"},
                                        {"measurement.warmup_s", "1"},
                                        {"primary.front_end_write_us", "1"},
                                        {"secondary.remote_adapter_copy_receive_us", "1"},
                                        {"primary.cache_slots", "65536"},
                                        {"link.overhead_us", "0"},
                                        {"link.bandwidth_gbit_per_s", fmt::format("{}", gbit)},
                                        {"volume.db.tracks", "1000000"},
                                        {"workload.0.arrival", "poisson"},
                                        {"workload.0.rate_iops", fmt::format("{}", rate)},
                                        {"workload.0.block_bytes", fmt::format("{}", block)}});
    // M/D/1 sojourn: S + rho S / (2 (1 - rho)); plus both cache stores and the
    // acknowledgement's own transmission (it never waits: tiny, other direction).
    const double md1_us = (service_s + rho * service_s / (2 * (1 - rho))) * 1e6;
    const double expected_ms = (md1_us + 1 + 1 + 64 * 8 / (gbit * 1e3)) / 1e3;
    INFO(fmt::format("rho {}: {} writes, simulated mean {:.4f} ms, M/D/1 {:.4f} ms", rho,
                     r.volumes[0].writes.completed, mean_write_ms(r), expected_ms));
    CHECK(r.volumes[0].writes.completed > 50'000);
    CHECK(mean_write_ms(r) == Approx(expected_ms).epsilon(0.05));
    CHECK(r.link_utilisation_R1_to_R2_mean == Approx(rho).epsilon(0.03));
    CHECK(r.invariant_violations == 0);
  }
}

TEST_CASE("Little's law holds for the primary's cache occupancy") {
  const RunResult r = run(kUnloaded, {{"duration_s", "6"},
                                      {"measurement.warmup_s", "1"},
                                      {"link.distance_km", "100"},
                                      {"volume.db.tracks", "1000000"},
                                      {"workload.0.arrival", "poisson"},
                                      {"workload.0.rate_iops", "4000"},
                                      {"workload.0.block_bytes", "8192"}});
  const double writes_per_s = static_cast<double>(r.volumes[0].writes.completed) / r.measured_s;
  const double little = r.wp_episodes_per_s * r.wp_residence_mean_ms / 1e3;
  INFO(fmt::format("mean WP slots {:.3f}; episodes {:.1f}/s x residence {:.4f} ms = {:.3f}; writes {:.1f}/s",
                   r.wp_slots_mean, r.wp_episodes_per_s, r.wp_residence_mean_ms, little, writes_per_s));
  CHECK(r.wp_slots_mean > 1.0);
  CHECK(r.wp_slots_mean == Approx(little).epsilon(0.02));
  // Distinct tracks: each host write is one write-pending episode.
  CHECK(r.wp_episodes_per_s == Approx(writes_per_s).epsilon(0.02));
}

TEST_CASE("read hits: a clean LRU cache of C slots over N uniformly read tracks hits C/N of the reads, and every read once the cache holds them all") {
  // Reads only (nothing is write-pending, every slot can be replaced),
  // uniform addresses: under independent references an LRU cache of C
  // slots holds C of the N tracks whatever the order, so a read hits with
  // probability C/N once the cache is full (it fills in the warm-up).
  auto reads = [](const std::string& tracks) {
    return run(kUnloaded, {{"duration_s", "5"},
                           {"measurement.warmup_s", "2"},
                           {"primary.cache_slots", "10000"},
                           {"volume.db.tracks", tracks},
                           {"workload.0.queue_depth", "4"},
                           {"workload.0.write_fraction", "0"}});
  };
  const RunResult some = reads("100000");
  const VolumeResult& v = some.volumes.at(0);
  INFO(fmt::format("{} reads, {} hits, mean {:.1f} us", v.reads.completed, v.read_hits, v.reads.response.mean_ns() / 1e3));
  REQUIRE(v.reads.completed > 10000);
  CHECK(static_cast<double>(v.read_hits) / static_cast<double>(v.reads.completed) == Approx(0.1).margin(0.01));
  CHECK(summary_text(some).find(fmt::format("read hits {} ", v.read_hits)) != std::string::npos);
  CHECK(to_json(some)["metrics"]["volumes"][0]["read_hits"] == v.read_hits);

  const RunResult all = reads("1000");
  INFO(fmt::format("{} reads, {} hits, mean {:.1f} us", all.volumes.at(0).reads.completed, all.volumes.at(0).read_hits,
                   all.volumes.at(0).reads.response.mean_ns() / 1e3));
  REQUIRE(all.volumes.at(0).reads.completed > 10000);
  CHECK(all.volumes.at(0).read_hits == all.volumes.at(0).reads.completed);
  // A hit costs the front end's read (front_end_read_us defaults to the
  // write's 250 us); a miss adds its disk read: 100 us + 64 KiB at 1,000 MB/s.
  CHECK(all.volumes.at(0).reads.response.mean_ns() == Approx(250e3));
  const double miss_fraction = 1 - static_cast<double>(v.read_hits) / static_cast<double>(v.reads.completed);
  CHECK(v.reads.response.mean_ns() >= 250e3 + miss_fraction * (100e3 + 65536.0 / 1000e6 * 1e9));
}

TEST_CASE("the same seed gives byte-identical results, another seed differs") {
  const std::string toml = std::string(kUnloaded) + R"(
[[workload]]
volume = "db"
arrival = "poisson"
rate_iops = 3000
write_fraction = 0.6
addresses = "zipf"
)";
  const auto a = to_json(run(toml)).dump();
  const auto b = to_json(run(toml)).dump();
  const auto c = to_json(run(toml, {{"seed", "8"}})).dump();
  CHECK(a == b);
  CHECK(a != c);
  CHECK(serialize(run(toml)) == serialize(run(toml)));
}

TEST_CASE("every shipped scenario runs with zero invariant violations") {
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(MIRRORSIM_SCENARIOS_DIR))
    if (e.path().extension() == ".toml") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  REQUIRE(files.size() >= 10);
  for (const auto& f : files) {
    Scenario s = load_scenario_file(f.string());
    SimOptions o;
    o.progress = false;
    const RunResult r = simulate_in_child(s, o);
    INFO(fmt::format("{}: {} host writes, {} violations, end: {}\n{}", f.filename().string(), r.host_writes,
                     r.invariant_violations, r.quiesced_at_end ? "drained" : r.end_state, r.violation_report));
    CHECK(r.invariant_violations == 0);
    CHECK_FALSE(r.drain_failed);
    CHECK(r.host_writes > 0);
  }
}

TEST_CASE("the simulated delay probability and response time match the write-pending CTMC, within 5 %") {
  // R1 with one slow disk and a write-pending limit of K slots; every write
  // needs a slot of its own (uniform over a million tracks) until its destage
  // completes. Adaptive copy acknowledges at the cache store, so a write's
  // response is the cache store plus its wait for a slot. R2 is fast and
  // roomy, so remote WP never outlives the destage.
  const char* toml = R"(
seed = 11
duration_s = 200
[primary]
cache_slots = 100
write_pending_limit = 0.02
front_end_write_us = 10
disks = 1
disk_write_us = 800
disk_read_us = 800
disk_bandwidth_mb_per_s = 1000
[secondary]
cache_slots = 65536
write_pending_limit = 0.8
remote_adapter_copy_receive_us = 10
disks = 8
disk_write_us = 50
disk_read_us = 50
[link]
distance_km = 0
overhead_us = 10
[[volume]]
name = "db"
tracks = 1000000
mode = "adaptive-copy-wp"
skew_tracks = 1000000
[[workload]]
volume = "db"
arrival = "poisson"
rate_iops = 500
write_fraction = 1.0
block_bytes = 8192
[measurement]
warmup_s = 5
)";
  const double service_s = 800e-6 + 8192 / 1e9;
  for (int slots : {2, 4}) {
    for (double rho : {0.5, 0.8}) {
      const double rate = rho / service_s;
      const RunResult r = run(toml, {{"primary.write_pending_limit", fmt::format("{}", slots / 100.0)},
                                     {"workload.0.rate_iops", fmt::format("{}", rate)}});
      const auto q = analytic::write_pending_queue(rate, service_s, slots);
      const VolumeResult& v = r.volumes[0];
      const double p_delay = static_cast<double>(v.delayed_writes) / static_cast<double>(v.writes.completed);
      const double expected_ms = (10e-6 + q.mean_delay_s) * 1e3;
      INFO(fmt::format("K = {}, rho = {}: {} writes; P(delay) simulated {:.4f}, CTMC {:.4f}; mean response simulated "
                       "{:.4f} ms, CTMC {:.4f} ms",
                       slots, rho, v.writes.completed, p_delay, q.delay_probability, mean_write_ms(r), expected_ms));
      CHECK(v.writes.completed > 80'000);
      CHECK(p_delay == Approx(q.delay_probability).epsilon(0.05));
      CHECK(mean_write_ms(r) == Approx(expected_ms).epsilon(0.05));
      CHECK(r.invariant_violations == 0);
    }
  }
}

TEST_CASE("adaptive copy: the secondary is fully in sync for the fraction of time the M/G/inf model predicts") {
  // Copies in flight behave as an infinite-server system: P(none) = exp(-lambda R).
  for (double rate : {300.0, 1500.0}) {
    const RunResult r = run(kUnloaded, {{"duration_s", "30"},
                                        {"measurement.warmup_s", "1"},
                                        {"link.distance_km", "100"},
                                        {"volume.db.mode", "adaptive-copy-wp"},
                                        {"volume.db.skew_tracks", "100000"},
                                        {"volume.db.tracks", "1000000"},
                                        {"workload.0.arrival", "poisson"},
                                        {"workload.0.rate_iops", fmt::format("{}", rate)}});
    analytic::UnloadedWrite w{250e-6, 50e-6, 525e-6, 10e9 / 8, 1, 512};
    const double residence = analytic::unloaded_sync_write_s(w) - 250e-6;
    const double expected = analytic::in_sync_fraction(rate, residence);
    INFO(fmt::format("{} writes/s: in sync {:.4f} simulated, {:.4f} analytic", rate, r.in_sync_fraction, expected));
    CHECK(r.in_sync_fraction == Approx(expected).epsilon(0.03));
  }
}
