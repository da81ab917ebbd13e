// Sweep throughput, measured side by side in one run:
//  - wall time of a 16-point sweep with --jobs 1 and with --jobs 2, and the
//    speed-up (the machine's cores run points in parallel);
//  - the overhead of a point: forking a child, starting a SimGrid engine and
//    bringing the result back, measured on points that simulate next to nothing
//    (on a small pair, and on the quickstart's 65,536-slot caches and 100,000
//    tracks, whose set-up is part of every point);
//  - the baseline: the same CPU-bound loop in one and in two processes at
//    once, the speed-up this machine gives any two processes.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <vector>
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
// Seconds to run `procs` forked copies of a loop at once: xorshift steps
// that, with `bytes` > 0, each also update a random word of an array of that
// size (the simulator's caches and track tables are tens of MB).
double timed_spin(int procs, uint64_t iterations, size_t bytes) {
  const auto t0 = std::chrono::steady_clock::now();
  for (int p = 0; p < procs; ++p) {
    if (::fork() == 0) {
      std::vector<uint64_t> mem(std::max<size_t>(bytes / 8, 1));
      const uint64_t mask = bytes ? mem.size() - 1 : 0;
      uint64_t v = 88172645463325252ull;
      for (uint64_t i = 0; i < iterations; ++i) {
        v ^= v << 13, v ^= v >> 7, v ^= v << 17;
        mem[v & mask] += v;
      }
      _exit(mem[0] == 42 ? 1 : 0);
    }
  }
  for (int p = 0; p < procs; ++p) ::wait(nullptr);
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
  // Interleaved and repeated: this VM's speed drifts with its neighbours' load.
  std::vector<double> ones, twos, ratios;
  for (int r = 0; r < 3; ++r) {
    ones.push_back(timed_sweep(base, grid, 1, &failed));
    twos.push_back(timed_sweep(base, grid, 2, &failed));
    ratios.push_back(ones.back() / twos.back());
    fmt::print("  round {}: --jobs 1 {:.2f} s wall, --jobs 2 {:.2f} s wall, speed-up {:.2f}x\n", r + 1, ones.back(),
               twos.back(), ratios.back());
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  const double one = median(ones), two = median(twos);
  fmt::print("  median: --jobs 1 {:.2f} s, --jobs 2 {:.2f} s, speed-up {:.2f}x (median of the rounds' speed-ups)\n", one,
             two, median(ratios));

  Scenario tiny = base;
  set_values(tiny, {{"duration_s", "0.002", "bench"},
                    {"measurement.warmup_s", "0.001", "bench"},
                    {"workload.0.rate_iops", "1000", "bench"}});
  std::vector<SweepParam> seeds{SweepParam{"seed", {}}};
  for (int i = 1; i <= 100; ++i) seeds[0].values.push_back(std::to_string(i));
  const auto points = sweep_points(tiny, seeds, 1);
  const double overhead = timed_sweep(tiny, points, 1, &failed);
  Scenario small = tiny;
  set_values(small, {{"primary.cache_slots", "64", "bench"}, {"volume.db.tracks", "64", "bench"}});
  const double bare = timed_sweep(small, sweep_points(small, seeds, 1), 1, &failed);
  fmt::print("overhead per point, 100 near-empty points, --jobs 1:\n"
             "  small pair (64 slots, 64 tracks): fork, engine start, result over the pipe: {:.2f} ms\n"
             "  quickstart (65,536 slots, 100,000 tracks): the same plus the model's set-up: {:.2f} ms\n",
             bare / points.size() * 1e3, overhead / points.size() * 1e3);

  // Baselines: the speed-up this machine gives two processes at once.
  struct Baseline {
    const char* what;
    uint64_t iterations;
    size_t bytes;
  };
  for (const Baseline& b : {Baseline{"a CPU-bound loop (no memory traffic)", 400'000'000, 0},
                            Baseline{"random updates to 32 MB per process", 60'000'000, size_t{32} << 20}}) {
    const double serial = 2 * timed_spin(1, b.iterations, b.bytes);
    const double parallel = timed_spin(2, b.iterations, b.bytes);
    fmt::print("baseline, {} twice: one after the other {:.2f} s, two processes at once {:.2f} s: {:.2f}x; "
               "sweep speed-up / this: {:.2f}\n",
               b.what, serial, parallel, serial / parallel, median(ratios) / (serial / parallel));
  }
  fmt::print("failed points: {}\n", failed);
  return failed ? 1 : 0;
}
