#include "real/validate.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>

#include "sim/fork.hpp"

namespace mirrorsim::real {

namespace {

void set(Scenario& s, const std::string& key, const std::string& value) {
  set_value(s, key, value, fmt::format("validate: {}={}", key, value));
}

std::string num(double v) { return fmt::format("{:.6g}", v); }

double median_write_us(const RunResult& r) {
  LatencyHistogram all;
  for (const auto& v : r.volumes) all.merge(v.writes.response);
  return all.count() ? all.percentile_ns(50) / 1e3 : 0;
}

// A short unloaded run of `s` on the real driver: every workload one write
// at a time, every volume in `mode`.
RunResult probe(const Scenario& scenario, const std::string& mode, const RealOptions& real) {
  Scenario p = scenario;
  set(p, "measurement.warmup_s", "0.1");
  for (size_t i = 0; i < p.workloads.size(); ++i) {
    const std::string w = fmt::format("workload.{}.", i);
    if (p.workloads[i].stop_s) set(p, w + "stop_s", num(std::min(*p.workloads[i].stop_s, 0.5)));
    set(p, w + "start_s", "0");
    set(p, w + "arrival", "\"closed\"");
    set(p, w + "queue_depth", "1");
    set(p, w + "think_us", "0");
    set(p, w + "write_fraction", "1.0");
  }
  set(p, "duration_s", "0.5");
  for (const auto& v : scenario.volumes) {
    set(p, "volume." + v.name + ".mode", "\"" + mode + "\"");
    // Acknowledged at the cache store however far the copies trail.
    if (mode == "adaptive-copy-wp") set(p, "volume." + v.name + ".skew_tracks", std::to_string(v.tracks));
  }
  RealOptions o = real;
  o.progress = false;
  const RealRun r = run_real(p, o);
  if (!r.verification.ok() || r.result.invariant_violations)
    throw std::runtime_error(fmt::format("the {} probe run failed its verification:\n{}", mode, r.result.violation_report));
  return r.result;
}

DistributionComparison compare(const std::string& volume, const std::string& op, const OpStats& real, const OpStats& sim) {
  DistributionComparison c;
  c.volume = volume;
  c.op = op;
  c.real_count = real.response.count();
  c.sim_count = sim.response.count();
  c.real_mean_us = real.response.mean_ns() / 1e3;
  c.sim_mean_us = sim.response.mean_ns() / 1e3;
  double sq = 0;
  for (double p : validation_percentiles()) {
    QuantileRow row{p, real.response.percentile_ns(p) / 1e3, sim.response.percentile_ns(p) / 1e3};
    sq += (row.real_us - row.sim_us) * (row.real_us - row.sim_us);
    c.rows.push_back(row);
  }
  c.demerit_us = std::sqrt(sq / static_cast<double>(c.rows.size()));
  c.demerit_percent_of_mean = c.real_mean_us > 0 ? 100 * c.demerit_us / c.real_mean_us : 0;
  return c;
}

}  // namespace

const std::vector<double>& validation_percentiles() {
  static const std::vector<double> p{10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 99, 99.9};
  return p;
}

void check_validation_support(const Scenario& s, const ValidateOptions& o) {
  for (const FailureScenario& f : s.failures)
    if (f.at_s > s.duration_s)
      throw ScenarioError(f.where, fmt::format("{} at {} s is after the validation run's end at {} s: raise duration_s",
                                               to_string(f.event), f.at_s, s.duration_s));
  for (size_t i = 0; i < s.workloads.size(); ++i)
    if (s.workloads[i].start_s >= s.duration_s)
      throw ScenarioError(s.source, fmt::format("workload.{} starts at {} s, after the validation run's end at {} s: "
                                                "raise duration_s",
                                                i, s.workloads[i].start_s, s.duration_s));
  RealOptions real = o.real;
  real.emulate_link = false;
  check_real_support(s, real);
}

Validation validate(const Scenario& in, const ValidateOptions& o) {
  Validation v;
  RealOptions real = o.real;
  real.emulate_link = false;
  check_validation_support(in, o);
  Scenario s = in;

  // The disk measured is the one the runs use.
  const char* tmp = std::getenv("TMPDIR");
  const std::string disk_dir = !real.run_dir.empty()     ? real.run_dir
                               : !real.temp_parent.empty() ? real.temp_parent
                               : tmp && *tmp               ? tmp
                                                           : "/tmp";
  std::filesystem::create_directories(disk_dir);
  v.disk = calibrate_disk(disk_dir, o.calibration_ops);
  v.link = calibrate_link(o.calibration_ops * 10);
  for (const char* side : {"primary", "secondary"}) {
    set(s, std::string(side) + ".disk_write_us", num(v.disk.latency_us));
    set(s, std::string(side) + ".disk_bandwidth_mb_per_s", num(v.disk.bandwidth_mb_per_s));
  }
  set(s, "link.distance_km", "0");
  set(s, "link.links", "1");  // one TCP connection
  set(s, "link.overhead_us", num(v.link.overhead_us));
  set(s, "link.bandwidth_gbit_per_s", num(v.link.bandwidth_gbit_per_s));

  // The driver's own cache stores: unloaded writes acknowledged at R1's
  // store, then synchronous ones, less the link's round trip.
  const double r1_us = median_write_us(probe(s, "adaptive-copy-wp", real));
  const double sync_us = median_write_us(probe(s, "sync", real));
  uint32_t block = s.workloads.front().block_bytes;
  const double us_per_byte = 8.0 / (v.link.bandwidth_gbit_per_s * 1e3);
  const uint32_t rt = s.link.round_trips_per_write;
  const double link_us = rt * 2 * v.link.overhead_us + (64.0 + block) * us_per_byte + (2.0 * rt - 1) * 64 * us_per_byte;
  v.cache_store_r1_us = r1_us;
  v.cache_store_r2_us = std::max(0.0, (sync_us - r1_us - link_us) / rt);
  set(s, "primary.front_end_write_us", num(v.cache_store_r1_us));
  set(s, "secondary.remote_adapter_copy_receive_us", num(v.cache_store_r2_us));
  v.scenario = s;

  v.real = run_real(s, real);
  SimOptions so;
  so.progress = false;
  v.sim = simulate_in_child(s, so);
  for (size_t i = 0; i < v.real.result.volumes.size() && i < v.sim.volumes.size(); ++i) {
    const VolumeResult& rv = v.real.result.volumes[i];
    const VolumeResult& sv = v.sim.volumes[i];
    if (rv.writes.response.count() && sv.writes.response.count())
      v.comparisons.push_back(compare(rv.name, "writes", rv.writes, sv.writes));
    if (rv.reads.response.count() && sv.reads.response.count())
      v.comparisons.push_back(compare(rv.name, "reads", rv.reads, sv.reads));
  }
  return v;
}

std::string validation_text(const Validation& v) {
  const Scenario& s = v.scenario;
  std::string t = fmt::format("mirrorsim validate {}: {} s, {} volume(s), tracks of {} bytes\n", s.source, s.duration_s,
                              s.volumes.size(), s.primary.track_bytes);
  t += fmt::format("  disk   pwrite + fdatasync  {} B p50 {:.1f} us, {} B p50 {:.1f} us   → disk_latency_us = {:.1f}, "
                   "disk_bandwidth_mb_per_s = {:.0f}\n",
                   v.disk.small_bytes, v.disk.small.p50_us, v.disk.large_bytes, v.disk.large.p50_us, v.disk.latency_us,
                   v.disk.bandwidth_mb_per_s);
  t += fmt::format("  link   loopback round trip  {} B p50 {:.1f} us, {} B p50 {:.1f} us   → link.overhead_us = {:.2f}, "
                   "link.bandwidth_gbit_per_s = {:.2f} (bulk {:.1f})\n",
                   v.link.small_bytes, v.link.small_rtt.p50_us, v.link.large_bytes, v.link.large_rtt.p50_us,
                   v.link.overhead_us, v.link.bandwidth_gbit_per_s, v.link.bulk_gbit_per_s);
  t += fmt::format("  cache  probe runs   → primary.cache_store_us = {:.2f}, secondary.cache_store_us = {:.2f}\n",
                   v.cache_store_r1_us, v.cache_store_r2_us);
  t += fmt::format("  real run: {}   simulated run: {} invariant violations\n",
                   v.real.verification.ok() && !v.real.result.invariant_violations ? "verified" : "FAILED verification",
                   v.sim.invariant_violations);
  for (const DistributionComparison& c : v.comparisons) {
    t += fmt::format("\nvolume {} {}: real {} (mean {:.1f} us), simulated {} (mean {:.1f} us)\n", c.volume, c.op,
                     c.real_count, c.real_mean_us, c.sim_count, c.sim_mean_us);
    t += fmt::format("  {:>10} {:>12} {:>12} {:>12}\n", "percentile", "real us", "sim us", "sim - real");
    for (const QuantileRow& r : c.rows)
      t += fmt::format("  {:>10} {:>12.1f} {:>12.1f} {:>+12.1f}\n", fmt::format("p{}", r.percentile), r.real_us, r.sim_us,
                       r.sim_us - r.real_us);
    t += fmt::format("  demerit (RMS of the quantile differences): {:.1f} us = {:.1f} % of the real mean\n", c.demerit_us,
                     c.demerit_percent_of_mean);
  }
  return t;
}

nlohmann::json to_json(const Validation& v) {
  nlohmann::json j;
  j["scenario_toml"] = v.scenario.resolved_toml;
  j["calibration"] = {{"disk_latency_us", v.disk.latency_us},
                      {"disk_bandwidth_mb_per_s", v.disk.bandwidth_mb_per_s},
                      {"disk_small_p50_us", v.disk.small.p50_us},
                      {"disk_large_p50_us", v.disk.large.p50_us},
                      {"link_overhead_us", v.link.overhead_us},
                      {"link_bandwidth_gbit_per_s", v.link.bandwidth_gbit_per_s},
                      {"link_bulk_gbit_per_s", v.link.bulk_gbit_per_s},
                      {"link_small_rtt_p50_us", v.link.small_rtt.p50_us},
                      {"link_large_rtt_p50_us", v.link.large_rtt.p50_us},
                      {"cache_store_r1_us", v.cache_store_r1_us},
                      {"cache_store_r2_us", v.cache_store_r2_us}};
  nlohmann::json cs = nlohmann::json::array();
  for (const DistributionComparison& c : v.comparisons) {
    nlohmann::json cj;
    cj["volume"] = c.volume;
    cj["op"] = c.op;
    cj["real_count"] = c.real_count;
    cj["sim_count"] = c.sim_count;
    cj["real_mean_us"] = c.real_mean_us;
    cj["sim_mean_us"] = c.sim_mean_us;
    nlohmann::json rows = nlohmann::json::array();
    for (const QuantileRow& r : c.rows) rows.push_back({{"percentile", r.percentile}, {"real_us", r.real_us}, {"sim_us", r.sim_us}});
    cj["quantiles"] = rows;
    cj["demerit_us"] = c.demerit_us;
    cj["demerit_percent_of_mean"] = c.demerit_percent_of_mean;
    cs.push_back(cj);
  }
  j["comparisons"] = cs;
  nlohmann::json real = to_json(v.real.result);
  real["verification"] = to_json(v.real.verification);
  j["real"] = real;
  j["sim"] = to_json(v.sim);
  return j;
}

}  // namespace mirrorsim::real
