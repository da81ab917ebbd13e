// Sweep throughput, measured side by side in one run:
//  - wall time of a 16-point sweep with --jobs 1 and with --jobs 2, and the
//    speed-up (the machine's cores run points in parallel);
//  - the overhead of a point: forking a child, starting a SimGrid engine and
//    bringing the result back, measured on points that simulate next to nothing.
#include <chrono>
#include <cstdlib>
#include <thread>

#include <fmt/format.h>

#include "sweep/sweep.hpp"

using namespace mirrorsim;

namespace {
double timed_sweep(const Scenario& base, const std::vector<SweepPoint>& points, unsigned jobs, size_t* failed) {
  SweepOptions o;
  o.jobs = jobs;
  o.progress = false;
  o.sim.progress = false;
  const auto t0 = std::chrono::steady_clock::now();
  const auto outcomes = run_sweep(base, points, o);
  for (const auto& x : outcomes) *failed += x.error.empty() ? 0 : 1;
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const std::string path = argc > 1 ? argv[1] : "scenarios/quickstart.toml";
  Scenario base = load_scenario_file(path);
  set_values(base, {{"duration_s", "3", "bench"}, {"measurement.warmup_s", "0.5", "bench"}});
  size_t failed = 0;
  const auto grid = sweep_points(base, {SweepParam{"link.distance_km", {"0", "20", "40", "60", "80", "100", "120", "140"}},
                                        SweepParam{"link.round_trips_per_write", {"1", "2"}}},
                                 1);
  fmt::print("16-point sweep of {} (3 s simulated per point), {} hardware threads\n", path,
             std::thread::hardware_concurrency());
  const double one = timed_sweep(base, grid, 1, &failed);
  const double two = timed_sweep(base, grid, 2, &failed);
  fmt::print("  --jobs 1: {:.2f} s wall\n  --jobs 2: {:.2f} s wall\n  speed-up: {:.2f}x\n", one, two, one / two);

  Scenario tiny = base;
  set_values(tiny, {{"duration_s", "0.002", "bench"},
                    {"measurement.warmup_s", "0.001", "bench"},
                    {"workload.0.rate_iops", "1000", "bench"}});
  std::vector<SweepParam> seeds{SweepParam{"seed", {}}};
  for (int i = 1; i <= 100; ++i) seeds[0].values.push_back(std::to_string(i));
  const auto points = sweep_points(tiny, seeds, 1);
  const double overhead = timed_sweep(tiny, points, 1, &failed);
  fmt::print("overhead per point (fork, engine start, result over the pipe), 100 near-empty points, --jobs 1: {:.2f} ms\n",
             overhead / points.size() * 1e3);
  fmt::print("failed points: {}\n", failed);
  return failed ? 1 : 0;
}
