#include "real/validate.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numeric>

#include <fmt/format.h>

#include "service/service_time.hpp"
#include "sim/fork.hpp"

namespace mirrorsim::real {

namespace {

void set(Scenario& s, const std::string& key, const std::string& value) {
  set_value(s, key, value, fmt::format("validate: {}={}", key, value));
}

std::string num(double v) { return fmt::format("{:.9g}", v); }

std::string temp_parent(const RealOptions& real) {
  const char* tmp = std::getenv("TMPDIR");
  return !real.run_dir.empty()       ? real.run_dir
         : !real.temp_parent.empty() ? real.temp_parent
         : tmp && *tmp               ? tmp
                                     : "/tmp";
}

// The rates the hosts run at: `rate` split over the Poisson workloads in
// proportion to their own (closed workloads keep theirs).
void set_rate(Scenario& s, double rate) {
  double total = 0;
  for (const WorkloadScenario& w : s.workloads)
    if (w.arrival == Arrival::Poisson) total += w.rate_iops;
  for (size_t i = 0; i < s.workloads.size(); ++i)
    if (s.workloads[i].arrival == Arrival::Poisson)
      set(s, fmt::format("workload.{}.rate_iops", i), num(rate * s.workloads[i].rate_iops / total));
}

double rms(const std::vector<double>& d) {
  double sq = 0;
  for (double x : d) sq += x * x;
  return d.empty() ? 0 : std::sqrt(sq / static_cast<double>(d.size()));
}

DistributionComparison compare(const std::string& volume, const std::string& op, const OpStats& a, const OpStats& b,
                               const OpStats& sim) {
  DistributionComparison c;
  c.volume = volume;
  c.op = op;
  c.real_a_count = a.response.count();
  c.real_b_count = b.response.count();
  c.sim_count = sim.response.count();
  c.real_a_mean_us = a.response.mean_ns() / 1e3;
  c.real_b_mean_us = b.response.mean_ns() / 1e3;
  c.sim_mean_us = sim.response.mean_ns() / 1e3;
  std::vector<double> sim_a, sim_b, a_b;
  for (double p : validation_percentiles()) {
    QuantileRow row{p, a.response.percentile_ns(p) / 1e3, b.response.percentile_ns(p) / 1e3,
                    sim.response.percentile_ns(p) / 1e3};
    c.rows.push_back(row);
    if (p > 99) {
      c.p999_sim_minus_real_us = row.sim_us - (row.real_a_us + row.real_b_us) / 2;
      c.p999_real_b_minus_a_us = row.real_b_us - row.real_a_us;
      continue;
    }
    sim_a.push_back(row.sim_us - row.real_a_us);
    sim_b.push_back(row.sim_us - row.real_b_us);
    a_b.push_back(row.real_b_us - row.real_a_us);
  }
  const double real_mean_us = (c.real_a_mean_us + c.real_b_mean_us) / 2;
  c.sim_vs_real_us = (rms(sim_a) + rms(sim_b)) / 2;
  c.real_vs_real_us = rms(a_b);
  c.sim_vs_real_percent = real_mean_us > 0 ? 100 * c.sim_vs_real_us / real_mean_us : 0;
  c.real_vs_real_percent = real_mean_us > 0 ? 100 * c.real_vs_real_us / real_mean_us : 0;
  c.demerit_ratio = c.real_vs_real_us > 0 ? c.sim_vs_real_us / c.real_vs_real_us
                    : c.sim_vs_real_us > 0 ? std::numeric_limits<double>::infinity()
                                           : 0;
  const double p50_a = a.response.percentile_ns(50) / 1e3, p50_b = b.response.percentile_ns(50) / 1e3;
  const double p50_real = (p50_a + p50_b) / 2;
  c.p50_sim_minus_real_percent = p50_real > 0 ? 100 * (sim.response.percentile_ns(50) / 1e3 - p50_real) / p50_real : 0;
  c.p50_real_b_minus_a_percent = p50_a > 0 ? 100 * (p50_b - p50_a) / p50_a : 0;
  return c;
}

bool run_clean(const RealRun& r) { return r.verification.ok() && !r.result.invariant_violations && !r.result.drain_failed; }

// Processors busy on the whole machine: each real run's processes (< 0:
// not known), the simulator's pools and other work.
std::array<double, 3> machine_busy(const RateValidation& r) {
  auto real = [](const RealRun& x) {
    return x.machine_cpu_s >= 0 && x.result.measured_s > 0 ? x.machine_cpu_s / x.result.measured_s : -1.0;
  };
  double sim_s = r.sim.processors_other_busy_s;
  for (const ProcessorPoolResult& p : r.sim.processor_pools) sim_s += p.busy_s;
  return {real(r.real_a), real(r.real_b), r.sim.measured_s > 0 ? sim_s / r.sim.measured_s : 0.0};
}

// Where the probes' machine and the real runs' differ: the processors the
// pair's processes kept busy, at the same host rate (nothing to say where
// either is not known, as with a calibration file).
std::vector<std::string> calibration_warnings(const RateValidation& r) {
  std::vector<std::string> w;
  const auto m = machine_busy(r);
  const double runs = (m[0] + m[1]) / 2, probes = r.cpu.machine_processors_busy;
  if (m[0] < 0 || m[1] < 0 || probes < 0 || runs <= 0) return w;
  const double apart = 100 * (probes - runs) / runs;
  if (std::abs(apart) <= kProbeMachineDriftPercent) return w;
  std::string each;
  if (r.probes.size() > 1) {
    each = " (";
    for (size_t i = 0; i < r.probes.size(); ++i)
      each += fmt::format("{}{} {:.3f}", i ? ", " : "", i == 0 ? "before the real runs" : "after them",
                          r.probes[i].machine_processors_busy);
    each += ")";
  }
  w.push_back(fmt::format(
      "the CPU probes' machine was {:.3f} processors busy{} and the real runs' {:.3f} and {:.3f}: the calibration's CPU "
      "per operation, wake-ups and preemptions come from a machine {:.0f} % {} than the one the runs met (at most {:g} % "
      "apart compares like with like) — other work on this machine changed between them; validate again on a steadier "
      "minute before reading the verdict as the model's",
      probes, each, m[0], m[1], std::abs(apart), apart > 0 ? "busier" : "quieter", kProbeMachineDriftPercent));
  return w;
}

}  // namespace

const std::vector<double>& validation_percentiles() {
  static const std::vector<double> p{10, 25, 50, 75, 90, 99, 99.9};
  return p;
}

bool DistributionComparison::ratio_met() const { return demerit_ratio <= kClosingDemeritRatio; }
bool DistributionComparison::p50_met() const { return std::abs(p50_sim_minus_real_percent) <= kClosingP50Percent; }

bool RateValidation::clean() const { return run_clean(real_a) && run_clean(real_b) && !sim.invariant_violations; }

bool Validation::clean() const {
  return std::all_of(rates.begin(), rates.end(), [](const RateValidation& r) { return r.clean(); });
}

void check_validation_support(const Scenario& s, const ValidateOptions& o) {
  for (size_t i = 0; i < s.workloads.size(); ++i)
    if (s.workloads[i].start_s >= s.duration_s)
      throw ScenarioError(s.source, fmt::format("workload.{} starts at {} s, after the validation run's end at {} s: "
                                                "raise duration_s",
                                                i, s.workloads[i].start_s, s.duration_s));
  const bool poisson = std::any_of(s.workloads.begin(), s.workloads.end(),
                                   [](const WorkloadScenario& w) { return w.arrival == Arrival::Poisson && w.rate_iops > 0; });
  if (!o.rates_iops.empty() && !poisson)
    throw ScenarioError(s.source, "validate --rates: the scenario has no Poisson workload whose rate it could set");
  // Each rate as it will run: the driver's limits count what a run can write.
  RealOptions real = o.real;
  real.emulate_link_bandwidth = false;
  if (o.rates_iops.empty()) check_real_support(s, real);
  for (double rate : o.rates_iops) {
    Scenario at = s;
    set_rate(at, rate);
    check_real_support(at, real);
  }
  if (!o.calibration_path.empty()) {
    Scenario probe = s;
    apply_calibration(probe, o.calibration_path);  // a bad file: refused now, file:line:col
  }
}

Validation validate(const Scenario& in, const ValidateOptions& o) {
  check_validation_support(in, o);
  Validation v;
  RealOptions real = o.real;
  // The calibration describes the raw link (its overhead and bandwidth):
  // the real runs add the scenario's distance on top of it, not a second
  // bandwidth; and the real link is one TCP connection.
  real.emulate_link = true;
  real.emulate_link_bandwidth = false;

  const bool measure_here = o.calibration_path.empty();
  std::string dir;
  if (measure_here) {
    // calibrate's own probes, on the file system the runs use, with a
    // probe run of its own at each rate (not a run compared here).
    dir = temp_parent(real);
    std::filesystem::create_directories(dir);
    Calibration& c = v.measured;
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    c.host = host;
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char date[64];
    std::strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", &tm);
    c.date = date;
    c.dir = dir;
    c.disk = calibrate_disk(dir, o.calibration_ops);
    c.link = calibrate_link(o.calibration_ops * 10);
    c.processors = processors_available();
    v.calibration_source = "measured here (mirrorsim calibrate's probes)";
  } else {
    v.calibration_source = o.calibration_path;
  }
  if (in.link.distance_km > 0) {
    // The real runs hold every frame in the delay line for the distance's
    // latency, and the timer that releases it fires late by what an idle
    // vCPU takes to wake: part of each real message's time that neither the
    // loopback overhead nor the distance holds. The simulated overhead is
    // the calibrated one plus that lateness, draw by draw.
    v.delay_line_lateness_us = delay_line_lateness_us(o.calibration_ops * 10, 1000);
  }
  // A CPU probe run at `probe_iops` (calibrate's, with its own scenario and seed).
  auto cpu_probe = [&](double probe_iops) {
    CpuProbeOptions p = cpu_probe_for(in);
    p.rate_iops = probe_iops;
    p.duration_s = o.probe_s;
    p.real = real;
    p.real.progress = false;
    return calibrate_cpu(p);
  };
  // The scenario with the calibration laid over it: the file's, or one
  // written from the probes with `cpu` as its CPU per operation.
  auto calibrated_with = [&](const CpuCalibration& cpu, RateValidation& rv) {
    std::string path = o.calibration_path;
    std::string written;
    if (measure_here) {
      Calibration c = v.measured;
      c.cpu = cpu;
      written = fmt::format("{}/mirrorsim-validate-{}.calibration.toml", dir, ::getpid());
      std::ofstream(written) << calibration_toml(c);
      path = written;
    }
    {
      std::ifstream f(path);
      rv.calibration_toml.assign(std::istreambuf_iterator<char>(f), {});
    }
    Scenario calibrated = in;
    try {
      apply_calibration(calibrated, path);
    } catch (...) {
      if (!written.empty()) std::filesystem::remove(written);
      throw;
    }
    if (!written.empty()) std::filesystem::remove(written);
    set(calibrated, "link.links", "1");  // one TCP connection carries the real link
    if (!v.delay_line_lateness_us.empty()) {
      ServiceStream overhead(calibrated.link.overhead_us, calibrated.seed, "validate.link.overhead_us");
      std::vector<double> per_message_us;
      per_message_us.reserve(v.delay_line_lateness_us.size());
      for (double late : v.delay_line_lateness_us) per_message_us.push_back(overhead.draw().us() + late);
      set(calibrated, "link.overhead_us", empirical_text(std::move(per_message_us)));
    }
    if (rv.rate_iops > 0) set_rate(calibrated, rv.rate_iops);
    return calibrated;
  };
  // The scenario's own Poisson rates, for a probe at "the scenario's rates".
  double scenario_iops = 0;
  for (const WorkloadScenario& w : in.workloads)
    if (w.arrival == Arrival::Poisson) scenario_iops += w.rate_iops;

  std::vector<double> rates = o.rates_iops;
  if (rates.empty()) rates.push_back(0);
  for (double rate : rates) {
    RateValidation rv;
    rv.rate_iops = rate;
    if (measure_here) {
      rv.probe_iops = o.probe_iops > 0 ? o.probe_iops : rate > 0 ? rate : scenario_iops > 0 ? scenario_iops : 1000;
      rv.probes.push_back(cpu_probe(rv.probe_iops));
      rv.cpu = rv.probes.front();
    }
    // Twice on the real pair with the same seed (the noise floor). The real
    // mode reads none of the keys a CPU probe sets (the processors' demands,
    // wake-ups, preemptions): the real runs run what the first probe
    // calibrated, the simulation what every probe did.
    rv.scenario = calibrated_with(rv.cpu, rv);
    rv.real_scenario = rv.scenario;
    rv.real_a = run_real(rv.real_scenario, real);
    rv.real_b = run_real(rv.real_scenario, real);
    if (measure_here && o.cpu_probes > 1) {
      rv.probes.push_back(cpu_probe(rv.probe_iops));
      rv.cpu = pooled(rv.probes);
      rv.scenario = calibrated_with(rv.cpu, rv);
    }
    if (v.rates.empty()) {
      v.calibration_toml = rv.calibration_toml;
      if (measure_here) v.measured.cpu = rv.cpu;
    }
    // Once in the simulator.
    SimOptions so;
    so.progress = false;
    rv.sim = simulate_in_child(rv.scenario, so);
    const auto& va = rv.real_a.result.volumes;
    const auto& vb = rv.real_b.result.volumes;
    const auto& vs = rv.sim.volumes;
    for (size_t i = 0; i < va.size() && i < vb.size() && i < vs.size(); ++i) {
      if (va[i].writes.response.count() && vb[i].writes.response.count() && vs[i].writes.response.count())
        rv.comparisons.push_back(compare(va[i].name, "writes", va[i].writes, vb[i].writes, vs[i].writes));
      if (va[i].reads.response.count() && vb[i].reads.response.count() && vs[i].reads.response.count())
        rv.comparisons.push_back(compare(va[i].name, "reads", va[i].reads, vb[i].reads, vs[i].reads));
    }
    const auto& pa = rv.real_a.result.processor_pools;
    const auto& pb = rv.real_b.result.processor_pools;
    for (const ProcessorPoolResult& s : rv.sim.processor_pools) {
      auto busy = [](const ProcessorPoolResult& p, const RunResult& r) { return r.measured_s > 0 ? p.busy_s / r.measured_s : 0.0; };
      PoolComparison pc{s.controller, s.pool, 0, 0, busy(s, rv.sim)};
      for (const auto& p : pa)
        if (p.controller == s.controller && p.pool == s.pool) pc.real_a = busy(p, rv.real_a.result);
      for (const auto& p : pb)
        if (p.controller == s.controller && p.pool == s.pool) pc.real_b = busy(p, rv.real_b.result);
      rv.pools.push_back(pc);
    }
    rv.calibration_warnings = calibration_warnings(rv);  // none with a file: its CPU has no probe's machine
    rv.regime = compare_regimes(rv.real_a.result, rv.real_b.result, rv.sim);
    v.rates.push_back(std::move(rv));
  }
  return v;
}

Regime compare_regimes(const RunResult& a, const RunResult& b, const RunResult& sim) {
  Regime g;
  auto row = [&](const char* figure, auto get) {
    g.rows.push_back(RegimeRow{figure, static_cast<double>(get(a)), static_cast<double>(get(b)), static_cast<double>(get(sim))});
    return g.rows.back();
  };
  // A disk pool busy nearly all the time is a queue that grows; one under
  // 80 % is not: the two are different regimes whatever the distributions say.
  constexpr double kBound = 0.9, kNotBound = 0.8;
  for (const auto& [side, r] : {std::pair{"R1", row("disk_utilisation_R1_mean", [](const RunResult& x) { return x.disk_utilisation_R1_mean; })},
                                std::pair{"R2", row("disk_utilisation_R2_mean", [](const RunResult& x) { return x.disk_utilisation_R2_mean; })}}) {
    const double real_max = std::max(r.real_a, r.real_b);
    if (real_max >= kBound && r.sim < kNotBound)
      g.warnings.push_back(fmt::format(
          "{}'s disks were {:.0f} % and {:.0f} % busy in the real runs and {:.0f} % in the simulation: the real pair was "
          "disk-bound, the simulated one was not (on one machine every disk of both controllers is a file on one "
          "device and one journal: disk_device_servers puts them on one device in the simulator)",
          side, 100 * r.real_a, 100 * r.real_b, 100 * r.sim));
    else if (r.sim >= kBound && real_max < kNotBound)
      g.warnings.push_back(fmt::format("{}'s disks were {:.0f} % busy in the simulation and {:.0f} % and {:.0f} % in the "
                                       "real runs: the simulated pair was disk-bound, the real one was not",
                                       side, 100 * r.sim, 100 * r.real_a, 100 * r.real_b));
  }
  const RegimeRow resyncs = row("resyncs", [](const RunResult& x) { return x.resyncs.size(); });
  const RegimeRow invalid = row("invalid_remote_tracks_peak", [](const RunResult& x) { return x.invalid_remote_tracks_peak; });
  row("in_sync_fraction", [](const RunResult& x) { return x.in_sync_fraction; });
  // Reads answered from the cache: a read miss is a disk read, so the read
  // distributions compare only where these agree.
  row("read_hit_fraction", [](const RunResult& x) {
    uint64_t hits = 0, reads = 0;
    for (const VolumeResult& v : x.volumes) hits += v.read_hits, reads += v.reads.completed;
    return reads > 0 ? static_cast<double>(hits) / static_cast<double>(reads) : 0.0;
  });
  const bool real_resynced = resyncs.real_a > 0 || resyncs.real_b > 0;
  if (real_resynced != (resyncs.sim > 0))
    g.warnings.push_back(fmt::format(
        "the {} pair suspended its mirror and resynchronised (resyncs {:g} and {:g} in the real runs, {:g} simulated; "
        "invalid-remote peak {:g} and {:g} tracks real, {:g} simulated); the {} pair never did",
        real_resynced ? "real" : "simulated", resyncs.real_a, resyncs.real_b, resyncs.sim, invalid.real_a,
        invalid.real_b, invalid.sim, real_resynced ? "simulated" : "real"));
  return g;
}


std::string validation_text(const Validation& v) {
  std::string t;
  if (v.rates.empty()) return t;
  const Scenario& s0 = v.rates.front().scenario;
  t += fmt::format("mirrorsim validate {}: {} s, {} volume(s), tracks of {} bytes; calibration: {}\n", s0.source,
                   s0.duration_s, s0.volumes.size(), s0.primary.track_bytes, v.calibration_source);
  if (v.measured.cpu.window_s > 0) {
    Calibration without_cpu = v.measured;  // each rate says its own CPU probe's
    without_cpu.cpu = CpuCalibration{};
    std::string cal = calibration_text(without_cpu);
    // The probes' summary lines (the comment lines), not the --set keys.
    std::string lines;
    size_t at = 0;
    while (at < cal.size()) {
      const size_t end = cal.find('\n', at);
      const std::string line = cal.substr(at, end == std::string::npos ? std::string::npos : end - at);
      if (line.rfind("# ", 0) == 0) lines += "  " + line.substr(2) + "\n";
      at = end == std::string::npos ? cal.size() : end + 1;
    }
    t += lines;
  }
  t += "  real runs: the raw loopback link plus the scenario's distance (5 us/km each way), one TCP connection "
       "(link.links = 1)\n";
  if (!v.delay_line_lateness_us.empty()) {
    std::vector<double> late = v.delay_line_lateness_us;
    std::sort(late.begin(), late.end());
    auto at = [&](double p) { return late[std::min(late.size() - 1, static_cast<size_t>(p / 100 * static_cast<double>(late.size())))]; };
    t += fmt::format("  the distance's delay line: its timers fired late by p10 {:.1f} us, p50 {:.1f} us, p90 {:.1f} us, "
                     "p99 {:.1f} us ({} timers after idle waits); the simulated link adds that to each message's overhead\n",
                     at(10), at(50), at(90), at(99), late.size());
  }
  for (const RateValidation& r : v.rates) {
    t += r.rate_iops > 0 ? fmt::format("\nat {:g} IOPS\n", r.rate_iops) : std::string("\nat the scenario's rates\n");
    if (r.probes.size() == 1) t += cpu_probe_text(r.cpu, fmt::format("  CPU probe at {:g} IOPS: ", r.probe_iops), "    ");
    if (r.probes.size() > 1) {
      t += cpu_probe_text(r.cpu, fmt::format("  CPU probes at {:g} IOPS, before and after the real runs, pooled: ", r.probe_iops),
                          "    ");
      for (size_t i = 0; i < r.probes.size(); ++i) {
        const CpuCalibration& p = r.probes[i];
        const std::vector<double> preempted = loop_preemption_samples_us(p);
        t += fmt::format("    {}: the machine {:.3f} processors busy, other {:.1f} us per host request, woken loops "
                         "waited {:.1f} us, off their processor {:.1f} us a step\n",
                         i == 0 ? "before the real runs" : "after them", p.machine_processors_busy,
                         p.other_cpu_us_per_request, p.loop_wakeup_mean_us,
                         preempted.empty() ? 0.0
                                           : std::accumulate(preempted.begin(), preempted.end(), 0.0) /
                                                 static_cast<double>(preempted.size()));
      }
    }
    auto verdict = [](const RealRun& x) { return run_clean(x) ? "verified" : "FAILED verification"; };
    t += fmt::format("  real run 1: {}   real run 2: {}   simulated: {} invariant violations\n", verdict(r.real_a),
                     verdict(r.real_b), r.sim.invariant_violations);
    for (const DistributionComparison& c : r.comparisons) {
      t += fmt::format("  volume {} {}: real 1 {} (mean {:.1f} us), real 2 {} (mean {:.1f} us), simulated {} (mean {:.1f} us)\n",
                       c.volume, c.op, c.real_a_count, c.real_a_mean_us, c.real_b_count, c.real_b_mean_us, c.sim_count,
                       c.sim_mean_us);
      t += fmt::format("    {:>10} {:>11} {:>11} {:>11} {:>11}\n", "percentile", "real 1 us", "real 2 us", "sim us",
                       "sim - real");
      for (const QuantileRow& q : c.rows)
        t += fmt::format("    {:>10} {:>11.1f} {:>11.1f} {:>11.1f} {:>+11.1f}\n", fmt::format("p{:g}", q.percentile),
                         q.real_a_us, q.real_b_us, q.sim_us, q.sim_us - (q.real_a_us + q.real_b_us) / 2);
      t += fmt::format("    demerit over p10 … p99 (RMS of the quantile differences): sim vs real {:.1f} us = {:.1f} % of "
                       "the real mean; real vs real (noise floor) {:.1f} us = {:.1f} %\n",
                       c.sim_vs_real_us, c.sim_vs_real_percent, c.real_vs_real_us, c.real_vs_real_percent);
      t += fmt::format("    p99.9 apart: sim - real {:+.1f} us, real 2 - real 1 {:+.1f} us\n", c.p999_sim_minus_real_us,
                       c.p999_real_b_minus_a_us);
      t += fmt::format("    {}: demerit {} (at most {:g} x: {}), p50 {:+.1f} % from the real runs' "
                       "(within {:g} %: {}; real 2 {:+.1f} % from real 1)\n",
                       c.closes() ? "closes" : "does not close",
                       std::isfinite(c.demerit_ratio) ? fmt::format("{:.2f} x the noise floor", c.demerit_ratio)
                                                      : std::string("over a noise floor of 0"),
                       kClosingDemeritRatio, c.ratio_met() ? "met" : "not met", c.p50_sim_minus_real_percent,
                       kClosingP50Percent, c.p50_met() ? "met" : "not met", c.p50_real_b_minus_a_percent);
    }
    if (!r.pools.empty()) {
      t += "  processor pools, processors busy over the measured window (CPU-seconds a second; real: each step's "
           "thread CPU, the back end's with its disk workers')\n";
      t += fmt::format("    {:<4} {:<15} {:>8} {:>8} {:>8}\n", "", "pool", "real 1", "real 2", "sim");
      for (const PoolComparison& p : r.pools)
        t += fmt::format("    {:<4} {:<15} {:>8.3f} {:>8.3f} {:>8.3f}\n", p.controller, p.pool, p.real_a, p.real_b, p.sim);
      const auto m = machine_busy(r);
      if (m[0] >= 0 && m[1] >= 0)
        t += fmt::format("    {:<20} {:>8.3f} {:>8.3f} {:>8.3f}   (real: every process of the pair; sim: the pools and "
                         "processors_other_per_request_us)\n",
                         "machine", m[0], m[1], m[2]);
    }
    t += fmt::format("  regime: {:<27} {:>10} {:>10} {:>10}\n", "", "real 1", "real 2", "sim");
    auto figure = [](double x) { return x == std::floor(x) ? fmt::format("{:.0f}", x) : fmt::format("{:.3f}", x); };
    for (const RegimeRow& g : r.regime.rows)
      t += fmt::format("          {:<27} {:>10} {:>10} {:>10}\n", g.figure, figure(g.real_a), figure(g.real_b), figure(g.sim));
    if (r.regime.warnings.empty())
      t += "  the three runs were in one regime: the distributions compare one model of one behaviour\n";
    for (const std::string& w : r.regime.warnings) t += "  DIFFERENT REGIMES: " + w + "\n";
    for (const std::string& w : r.calibration_warnings) t += "  CALIBRATION FROM ANOTHER MINUTE: " + w + "\n";
  }
  return t;
}

nlohmann::json to_json(const Validation& v) {
  nlohmann::json j;
  j["calibration_source"] = v.calibration_source;
  j["calibration_toml"] = v.calibration_toml;
  j["delay_line_lateness_us"] = v.delay_line_lateness_us;
  nlohmann::json rates = nlohmann::json::array();
  for (const RateValidation& r : v.rates) {
    nlohmann::json rj;
    rj["rate_iops"] = r.rate_iops;
    rj["calibration_toml"] = r.calibration_toml;
    rj["cpu_probe_iops"] = r.probe_iops;
    auto probe_json = [](const CpuCalibration& p) {
      return nlohmann::json{{"window_s", p.window_s},
                            {"writes", p.writes},
                            {"reads", p.reads},
                            {"requests", p.requests},
                            {"machine_processors_busy", p.machine_processors_busy},
                            {"operations_processors_busy", p.operations_processors_busy},
                            {"other_cpu_per_request_us", p.other_cpu_us_per_request},
                            {"loop_wakeup_mean_us", p.loop_wakeup_mean_us},
                            {"loop_switches", p.loop_switches}};
    };
    nlohmann::json probes = nlohmann::json::array();
    for (const CpuCalibration& p : r.probes) probes.push_back(probe_json(p));
    rj["cpu_probes"] = probes;  // before, then after the real runs
    rj["cpu_probes_pooled"] = r.probes.empty() ? nlohmann::json(nullptr) : probe_json(r.cpu);
    rj["calibration_warnings"] = r.calibration_warnings;
    rj["scenario_toml"] = r.scenario.resolved_toml;
    rj["real_scenario_toml"] = r.real_scenario.resolved_toml;
    rj["clean"] = r.clean();
    nlohmann::json cs = nlohmann::json::array();
    for (const DistributionComparison& c : r.comparisons) {
      nlohmann::json cj;
      cj["volume"] = c.volume;
      cj["op"] = c.op;
      cj["real_a_count"] = c.real_a_count;
      cj["real_b_count"] = c.real_b_count;
      cj["sim_count"] = c.sim_count;
      cj["real_a_mean_us"] = c.real_a_mean_us;
      cj["real_b_mean_us"] = c.real_b_mean_us;
      cj["sim_mean_us"] = c.sim_mean_us;
      nlohmann::json rows = nlohmann::json::array();
      for (const QuantileRow& q : c.rows)
        rows.push_back({{"percentile", q.percentile}, {"real_a_us", q.real_a_us}, {"real_b_us", q.real_b_us}, {"sim_us", q.sim_us}});
      cj["quantiles"] = rows;
      cj["sim_vs_real_us"] = c.sim_vs_real_us;
      cj["sim_vs_real_percent_of_mean"] = c.sim_vs_real_percent;
      cj["real_vs_real_us"] = c.real_vs_real_us;
      cj["real_vs_real_percent_of_mean"] = c.real_vs_real_percent;
      cj["p999_sim_minus_real_us"] = c.p999_sim_minus_real_us;
      cj["p999_real_b_minus_a_us"] = c.p999_real_b_minus_a_us;
      // JSON has no infinity: a zero noise floor under a non-zero demerit is null.
      cj["demerit_ratio"] = std::isfinite(c.demerit_ratio) ? nlohmann::json(c.demerit_ratio) : nlohmann::json(nullptr);
      cj["p50_sim_minus_real_percent"] = c.p50_sim_minus_real_percent;
      cj["p50_real_b_minus_a_percent"] = c.p50_real_b_minus_a_percent;
      cj["closes"] = c.closes();
      cs.push_back(cj);
    }
    rj["comparisons"] = cs;
    nlohmann::json ps = nlohmann::json::array();
    for (const PoolComparison& p : r.pools)
      ps.push_back({{"controller", p.controller}, {"pool", p.pool}, {"real_a_processors_busy", p.real_a},
                    {"real_b_processors_busy", p.real_b}, {"sim_processors_busy", p.sim}});
    rj["processor_pools"] = ps;
    nlohmann::json regime = nlohmann::json::array();
    for (const RegimeRow& g : r.regime.rows)
      regime.push_back({{"figure", g.figure}, {"real_a", g.real_a}, {"real_b", g.real_b}, {"sim", g.sim}});
    rj["regime"] = regime;
    rj["regime_warnings"] = r.regime.warnings;
    const auto m = machine_busy(r);
    rj["machine_processors_busy"] = {{"real_a", m[0]}, {"real_b", m[1]}, {"sim", m[2]}};
    for (const auto& [name, run] : {std::pair{"real_a", &r.real_a}, std::pair{"real_b", &r.real_b}}) {
      nlohmann::json x = to_json(run->result);
      x["verification"] = to_json(run->verification);
      x["controller_cpu"] = {{"r1", to_json(run->cpu[0])}, {"r2", to_json(run->cpu[1])}};
      x["machine_cpu"] = machine_cpu_json(*run);
      rj[name] = x;
    }
    rj["sim"] = to_json(r.sim);
    rates.push_back(rj);
  }
  j["rates"] = rates;
  return j;
}

}  // namespace mirrorsim::real
