// Throughput of the exhaustive explorer: states explored per second and
// bytes per stored state, for the bound (4 writes over 2 tracks,
// one failure of each kind) in every mode, on one core.
//
//   check_bench [--writes N] [--tracks N] [--failures N] [--slots N] [--links N] [--mode NAME]
//
// This VM's speed drifts with its neighbours' load, so the run also
// measures, before and after the modes, a baseline of the same kind of work:
// xorshift fingerprints inserted into an open-addressing table of 2^23 slots
// (64 MiB, like the explorer's visited set at a few million states). Compare
// runs by states/s per million baseline inserts/s.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>
#include <algorithm>

#include <fmt/format.h>

#include "check/explorer.hpp"

using namespace mirrorsim;

namespace {

WorldConfig pair_config(Mode mode, uint32_t tracks, uint32_t slots, uint32_t links) {
  ControllerConfig c;
  c.cache_slots = slots;
  c.write_pending_limit = 1.0;
  c.disks = 2;
  c.copies_in_flight_max = 8;
  c.destages_per_disk_max = 4;
  c.volumes.push_back(VolumeConfig{"vol0", tracks, mode, 1, false});
  WorldConfig w;
  w.side_a = c;
  w.side_b = c;
  w.links = links;
  return w;
}

uint32_t number(const char* flag, const char* text) {
  char* end = nullptr;
  const unsigned long v = std::strtoul(text, &end, 10);
  if (!end || *end) {
    fmt::print(stderr, "check_bench: {} wants a number, not '{}'\n", flag, text);
    std::exit(2);
  }
  return static_cast<uint32_t>(v);
}

// Distinct random 8-byte keys inserted per second into a 64 MiB table
// (linear probing, filled to 3/4, then cleared and filled again).
double baseline_inserts_per_s() {
  const size_t slots = size_t{1} << 23, fill = slots / 4 * 3;
  std::vector<uint64_t> table(slots, 0);
  uint64_t x = 0x9e3779b97f4a7c15ull, inserted = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int round = 0; round < 4; ++round) {
    std::fill(table.begin(), table.end(), 0);
    for (size_t n = 0; n < fill; ++n) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      const uint64_t key = x | 1;
      size_t i = (key * 0xbf58476d1ce4e5b9ull) >> 41;
      while (table[i] != 0 && table[i] != key) i = (i + 1) & (slots - 1);
      inserted += table[i] == 0;
      table[i] = key;
    }
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return static_cast<double>(inserted) / s;
}

}  // namespace

int main(int argc, char** argv) {
  uint32_t writes = 4, tracks = 2, failures = 1, slots = 2, links = 1;
  uint64_t max_states = 10'000'000;
  uint32_t repeat = 1;
  int link = -1, crash = -1, disk = -1, disaster = -1, op = -1;
  std::vector<Mode> modes{Mode::Sync, Mode::SemiSync, Mode::AdaptiveCopyWp, Mode::AdaptiveCopyDisk};
  for (int i = 1; i < argc; ++i)
    if (std::string_view(argv[i]) == "--help" || std::string_view(argv[i]) == "-h") {
      fmt::print("check_bench [--writes N] [--tracks N] [--failures N] [--link-failures N] [--crashes N] [--disk-errors N]\n"
                 "            [--disasters N] [--operator-actions N] [--slots N] [--links N] [--max-states N] [--mode NAME]\n"
                 "            [--repeat N: the best of N runs of each mode]\n");
      return 0;
    }
  if (argc % 2 == 0) {
    fmt::print(stderr, "check_bench: '{}' wants a value\n", argv[argc - 1]);
    return 2;
  }
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view flag = argv[i];
    if (flag == "--writes") writes = number(argv[i], argv[i + 1]);
    else if (flag == "--tracks") tracks = number(argv[i], argv[i + 1]);
    else if (flag == "--failures") failures = number(argv[i], argv[i + 1]);
    else if (flag == "--slots") slots = number(argv[i], argv[i + 1]);
    else if (flag == "--links") links = number(argv[i], argv[i + 1]);
    else if (flag == "--link-failures") link = static_cast<int>(number(argv[i], argv[i + 1]));
    else if (flag == "--crashes") crash = static_cast<int>(number(argv[i], argv[i + 1]));
    else if (flag == "--disk-errors") disk = static_cast<int>(number(argv[i], argv[i + 1]));
    else if (flag == "--disasters") disaster = static_cast<int>(number(argv[i], argv[i + 1]));
    else if (flag == "--operator-actions") op = static_cast<int>(number(argv[i], argv[i + 1]));
    else if (flag == "--max-states") max_states = number(argv[i], argv[i + 1]);
    else if (flag == "--repeat") repeat = std::max(1u, number(argv[i], argv[i + 1]));
    else if (flag == "--mode") {
      Mode m;
      if (!parse_mode(argv[i + 1], m)) {
        fmt::print(stderr, "check_bench: unknown mode '{}'\n", argv[i + 1]);
        return 2;
      }
      modes = {m};
    } else {
      fmt::print(stderr, "check_bench: unknown flag '{}'\n", flag);
      return 2;
    }
  }
  auto best_baseline = [] {
    double best = 0;
    for (int i = 0; i < 3; ++i) best = std::max(best, baseline_inserts_per_s());
    return best;
  };
  const double base_before = best_baseline();
  std::vector<double> rates;
  fmt::print("{:<20} {:>10} {:>12} {:>10} {:>6} {:>9} {:>12} {:>12}\n", "mode", "states", "transitions", "end", "depth",
             "seconds", "states/s", "bytes/state");
  for (Mode m : modes) {
    check::Options o;
    o.world = pair_config(m, tracks, slots, links);
    o.bounds.writes = writes;
    o.bounds.set_failures(failures);
    o.bounds.max_states = max_states;
    if (link >= 0) o.bounds.link_failures = static_cast<uint32_t>(link);
    if (crash >= 0) o.bounds.crashes = static_cast<uint32_t>(crash);
    if (disk >= 0) o.bounds.disk_failures = static_cast<uint32_t>(disk);
    if (disaster >= 0) o.bounds.disasters = static_cast<uint32_t>(disaster);
    if (op >= 0) o.bounds.operator_actions = static_cast<uint32_t>(op);
    // The best of --repeat runs (the same exploration: the counts are equal).
    check::Result r = check::explore(o);
    for (uint32_t k = 1; k < repeat; ++k) {
      check::Result again = check::explore(o);
      if (again.stats.seconds < r.stats.seconds) r = std::move(again);
    }
    const check::Stats& s = r.stats;
    fmt::print("{:<20} {:>10} {:>12} {:>10} {:>6} {:>9.2f} {:>12.0f} {:>12.1f}  {}\n", to_string(m), s.states,
               s.transitions, s.end_states, s.max_depth, s.seconds, s.states_per_second(), s.bytes_per_state(),
               to_string(r.outcome));
    if (r.finding) fmt::print("  finding: {}\n", r.finding->what);
    rates.push_back(s.states_per_second());
  }
  const double base_after = best_baseline();
  const double base = (base_before + base_after) / 2;
  fmt::print("baseline (best of 3): {:.2f} M table inserts/s before, {:.2f} M after (64 MiB table, random keys)\n", base_before / 1e6,
             base_after / 1e6);
  for (size_t i = 0; i < rates.size(); ++i)
    fmt::print("  {:<20} {:>8.0f} states/s = {:.0f} states/s per M baseline inserts/s\n", to_string(modes[i]), rates[i],
               rates[i] / (base / 1e6));
}
