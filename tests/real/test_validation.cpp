// `mirrorsim validate`: one calibration, the real pair twice with the same
// seed, the simulator once; the figures it prints are computed from the
// three runs it made.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "helpers.hpp"
#include "real/validate.hpp"
#include "tests/cli/run_mirrorsim.hpp"

using namespace mirrorsim;
using namespace mirrorsim::real;
using namespace mirrorsim::real::test;

namespace {

// A machine's timing as calibrate writes it (the loader's keys), fixed
// figures so the simulated side is known.
constexpr const char* kCalibration = R"(# a calibration for the test
processors_shared = "controller"

[primary]
disk_write_us = { distribution = "empirical", quantiles = [[0.0, 40.0], [0.5, 60.0], [1.0, 150.0]] }
disk_read_us = 45
disk_bandwidth_mb_per_s = 900
front_end_processors = 1
front_end_write_us = 21
front_end_read_us = 15
remote_adapter_copy_send_us = 12
remote_adapter_copy_receive_us = 27
remote_adapter_ack_receive_us = 19
back_end_destage_us = 9
back_end_disk_read_us = 60

[link]
overhead_us = { distribution = "empirical", quantiles = [[0.0, 6.0], [0.5, 8.0], [1.0, 40.0]] }
bandwidth_gbit_per_s = 12
)";

double rms(const std::vector<double>& d) {
  double sq = 0;
  for (double x : d) sq += x * x;
  return std::sqrt(sq / static_cast<double>(d.size()));
}

}  // namespace

TEST_CASE("validate at two rates with a calibration file: three runs each, demerits and pools from their own figures") {
  const std::filesystem::path dir = cli_test::make_temp_dir("validation");
  const std::string cal = (dir / "calibration.toml").string();
  std::ofstream(cal) << kCalibration;
  ValidateOptions o;
  o.calibration_path = cal;
  o.rates_iops = {500, 1000};
  o.real = quiet_options();
  // 10 km: the real runs hold each frame 50 us in the delay line.
  const Validation v = validate(small_scenario(Small{.duration_s = 1.0, .distance_km = 10}), o);
  INFO(validation_text(v));
  REQUIRE(v.rates.size() == 2);
  CHECK(v.calibration_source == cal);
  CHECK(v.calibration_toml == kCalibration);
  // The delay line's lateness, measured beside the calibration, is in every
  // simulated message's overhead: the calibration's draws plus its own.
  REQUIRE(v.delay_line_lateness_us.size() == static_cast<size_t>(o.calibration_ops) * 10);
  double late_mean_us = 0;
  for (double us : v.delay_line_lateness_us) {
    CHECK(us >= 0);
    late_mean_us += us / static_cast<double>(v.delay_line_lateness_us.size());
  }
  const double calibrated_overhead_mean_us = 0.5 * (6 + 8) / 2 + 0.5 * (8 + 40) / 2;  // kCalibration's table
  CHECK_THAT(validation_text(v), Catch::Contains("the distance's delay line: its timers fired late by"));
  for (size_t i = 0; i < 2; ++i) {
    const RateValidation& r = v.rates[i];
    CHECK(r.rate_iops == o.rates_iops[i]);
    REQUIRE(r.clean());
    // What ran: the calibration laid over the scenario, the rate set, one link.
    CHECK(r.scenario.workloads.at(0).rate_iops == o.rates_iops[i]);
    CHECK(r.scenario.link.links == 1);
    CHECK(r.scenario.processors_shared == ProcessorsShared::Controller);
    CHECK(r.scenario.primary.front_end_write_us.mean_us == 21);
    CHECK(r.scenario.link.overhead_us.distribution == Distribution::Empirical);
    CHECK(r.scenario.link.overhead_us.mean() ==
          Approx(calibrated_overhead_mean_us + late_mean_us).epsilon(0.05).margin(1.0));
    CHECK(r.sim.driver == "sim");
    CHECK(r.real_a.result.driver == "real");
    REQUIRE(!r.comparisons.empty());
    const DistributionComparison& w = r.comparisons.front();
    CHECK(w.op == "writes");
    // Same seed: the same requests in the window, in all three runs (the
    // real hosts drop their last arrivals when the loop falls behind at the
    // end, on a loaded machine).
    CHECK(w.real_a_count == Approx(w.sim_count).epsilon(0.05));
    CHECK(w.real_b_count == Approx(w.sim_count).epsilon(0.05));
    CHECK(w.real_a_count > 300 * (i + 1));
    REQUIRE(w.rows.size() == 7);
    std::vector<double> sim_a, sim_b, a_b;
    for (const QuantileRow& q : w.rows) {
      const LatencyHistogram& ha = r.real_a.result.volumes.at(0).writes.response;
      const LatencyHistogram& hs = r.sim.volumes.at(0).writes.response;
      CHECK(q.real_a_us == Approx(ha.percentile_ns(q.percentile) / 1e3));
      CHECK(q.sim_us == Approx(hs.percentile_ns(q.percentile) / 1e3));
      if (q.percentile > 99) continue;
      sim_a.push_back(q.sim_us - q.real_a_us);
      sim_b.push_back(q.sim_us - q.real_b_us);
      a_b.push_back(q.real_b_us - q.real_a_us);
    }
    CHECK(sim_a.size() == 6);
    CHECK(w.sim_vs_real_us == Approx((rms(sim_a) + rms(sim_b)) / 2));
    CHECK(w.real_vs_real_us == Approx(rms(a_b)));
    CHECK(w.real_vs_real_percent == Approx(100 * w.real_vs_real_us / ((w.real_a_mean_us + w.real_b_mean_us) / 2)));
    CHECK(w.p999_real_b_minus_a_us == Approx(w.rows.back().real_b_us - w.rows.back().real_a_us));
    // Whether it closes, from the same figures (the p50 is row 2).
    REQUIRE(w.real_vs_real_us > 0);
    CHECK(w.demerit_ratio == Approx(w.sim_vs_real_us / w.real_vs_real_us));
    const double p50_real = (w.rows[2].real_a_us + w.rows[2].real_b_us) / 2;
    CHECK(w.p50_sim_minus_real_percent == Approx(100 * (w.rows[2].sim_us - p50_real) / p50_real));
    CHECK(w.closes() == (w.demerit_ratio <= 1.5 && std::abs(w.p50_sim_minus_real_percent) <= 10));
    CHECK_THAT(validation_text(v), Catch::Contains(fmt::format("{}: demerit {:.2f} x the noise floor",
                                                               w.closes() ? "closes" : "does not close", w.demerit_ratio)));
    // Pools: the processors the real runs kept busy beside the simulated ones
    // (CPU-seconds a second: a real run counts one processor per pool).
    REQUIRE(r.pools.size() == 6);
    CHECK(r.pools[0].controller == "R1");
    CHECK(r.pools[0].pool == "front_end");
    CHECK(r.pools[0].real_a == Approx(r.real_a.result.processor_pools[0].busy_s / r.real_a.result.measured_s));
    CHECK(r.real_a.result.processor_pools[0].processors == 1);
    CHECK(r.pools[0].real_a == Approx(r.real_a.result.processor_pools[0].utilisation_mean));
    CHECK(r.pools[0].sim == Approx(r.sim.processor_pools[0].busy_s / r.sim.measured_s));
    CHECK(r.pools[0].real_a > 0);
    CHECK(r.pools[0].sim > 0);
    // The regime figures are the runs' own.
    REQUIRE(r.regime.rows.size() == 6);
    CHECK(r.regime.rows[0].figure == "disk_utilisation_R1_mean");
    CHECK(r.regime.rows[0].real_b == r.real_b.result.disk_utilisation_R1_mean);
    CHECK(r.regime.rows[0].sim == r.sim.disk_utilisation_R1_mean);
    CHECK(r.regime.rows[4].figure == "in_sync_fraction");
    CHECK(r.regime.rows[4].real_a == r.real_a.result.in_sync_fraction);
    CHECK(r.regime.rows[5].figure == "read_hit_fraction");
    const VolumeResult& reads = r.real_b.result.volumes.at(0);
    CHECK(r.regime.rows[5].real_b == Approx(reads.reads.completed ? double(reads.read_hits) / double(reads.reads.completed) : 0.0));
  }
  // The higher rate keeps R1's front end busier, in the simulator and for real.
  CHECK(v.rates[1].pools[0].sim > v.rates[0].pools[0].sim);
  CHECK(v.rates[1].pools[0].real_a > v.rates[0].pools[0].real_a);
  const nlohmann::json j = to_json(v);
  CHECK(j["rates"].size() == 2);
  CHECK(j["delay_line_lateness_us"].size() == v.delay_line_lateness_us.size());
  CHECK(j["rates"][1]["comparisons"][0]["real_vs_real_us"] == v.rates[1].comparisons[0].real_vs_real_us);
  CHECK(j["rates"][1]["regime"].size() == 6);
  CHECK(j["rates"][1]["comparisons"][0]["closes"] == v.rates[1].comparisons[0].closes());
  CHECK(j["rates"][1]["regime_warnings"].size() == v.rates[1].regime.warnings.size());
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

TEST_CASE("validate says when the real and simulated pairs were in different regimes: disk-bound, suspended") {
  RunResult real_a, real_b, sim;
  real_a.disk_utilisation_R1_mean = 0.99;
  real_b.disk_utilisation_R1_mean = 0.97;
  sim.disk_utilisation_R1_mean = 0.35;
  for (RunResult* r : {&real_a, &real_b, &sim}) r->disk_utilisation_R2_mean = 0.30;
  real_a.resyncs.resize(24);
  real_a.invalid_remote_tracks_peak = 5397;
  real_a.in_sync_fraction = 0.0;
  sim.in_sync_fraction = 0.004;
  Regime g = compare_regimes(real_a, real_b, sim);
  REQUIRE(g.rows.size() == 6);
  CHECK(g.rows[2].figure == "resyncs");
  CHECK(g.rows[2].real_a == 24);
  CHECK(g.rows[2].sim == 0);
  CHECK(g.rows[3].real_a == 5397);
  REQUIRE(g.warnings.size() == 2);
  CHECK_THAT(g.warnings[0], Catch::StartsWith("R1's disks were 99 % and 97 % busy in the real runs and 35 % in the simulation"));
  CHECK_THAT(g.warnings[1], Catch::Contains("the real pair suspended its mirror and resynchronised (resyncs 24 and 0"));
  CHECK_THAT(g.warnings[1], Catch::Contains("invalid-remote peak 5397 and 0 tracks real, 0 simulated"));
  // The other way round, and one regime.
  sim.disk_utilisation_R2_mean = 0.95;
  sim.resyncs.resize(1);
  real_a.resyncs.clear();
  g = compare_regimes(real_a, real_b, sim);
  REQUIRE(g.warnings.size() == 3);
  CHECK_THAT(g.warnings[1], Catch::StartsWith("R2's disks were 95 % busy in the simulation"));
  CHECK_THAT(g.warnings[2], Catch::StartsWith("the simulated pair suspended its mirror"));
  real_b.disk_utilisation_R1_mean = real_a.disk_utilisation_R1_mean = sim.disk_utilisation_R1_mean = 0.5;
  sim.disk_utilisation_R2_mean = 0.3;
  sim.resyncs.clear();
  CHECK(compare_regimes(real_a, real_b, sim).warnings.empty());
}

TEST_CASE("validate refuses bad input before anything runs: a bad calibration at file:line:col, bad --rates") {
  const std::filesystem::path dir = cli_test::make_temp_dir("validation-bad");
  const std::string cal = (dir / "bad.toml").string();
  std::ofstream(cal) << "[primary]\nfront_end_write_us = -3\n";
  const std::string scen = std::string(MIRRORSIM_SCENARIOS_DIR) + "/quickstart.toml";
  const auto bad_cal = cli_test::run_mirrorsim(fmt::format("validate {} --calibration {}", scen, cal), dir);
  CHECK(bad_cal.exit_code == 2);
  CHECK_THAT(bad_cal.err, Catch::Contains(cal + ":2:"));
  const auto bad_rate = cli_test::run_mirrorsim(fmt::format("validate {} --rates 1000,fast", scen), dir);
  CHECK(bad_rate.exit_code == 2);
  CHECK_THAT(bad_rate.err, Catch::Contains("'fast'"));
  const auto zero = cli_test::run_mirrorsim(fmt::format("validate {} --rates 0", scen), dir);
  CHECK(zero.exit_code == 2);
  // The CPU probe's rate: 0 (at each rate validated) or 10 … 10^6.
  for (const char* probe : {"5", "-1", "nan"}) {
    const auto bad_probe = cli_test::run_mirrorsim(fmt::format("validate {} --probe-iops {}", scen, probe), dir);
    CHECK(bad_probe.exit_code == 2);
    CHECK_THAT(bad_probe.err, Catch::Contains("--probe-iops"));
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}
