// Throughput of the exhaustive explorer: states explored per second and
// bytes per stored state, for the bound (4 writes over 2 tracks,
// one failure of each kind) in every mode, on one core.
//
//   check_bench [--writes N] [--tracks N] [--failures N] [--slots N] [--links N] [--mode NAME]
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

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

}  // namespace

int main(int argc, char** argv) {
  uint32_t writes = 4, tracks = 2, failures = 1, slots = 2, links = 1;
  uint64_t max_states = 10'000'000;
  int link = -1, crash = -1, disk = -1, disaster = -1, op = -1;
  std::vector<Mode> modes{Mode::Sync, Mode::SemiSync, Mode::AdaptiveCopyWp, Mode::AdaptiveCopyDisk};
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
    if (disk >= 0) o.bounds.disk_errors = static_cast<uint32_t>(disk);
    if (disaster >= 0) o.bounds.disasters = static_cast<uint32_t>(disaster);
    if (op >= 0) o.bounds.operator_actions = static_cast<uint32_t>(op);
    const check::Result r = check::explore(o);
    const check::Stats& s = r.stats;
    fmt::print("{:<20} {:>10} {:>12} {:>10} {:>6} {:>9.2f} {:>12.0f} {:>12.1f}  {}\n", to_string(m), s.states,
               s.transitions, s.end_states, s.max_depth, s.seconds, s.states_per_second(), s.bytes_per_state(),
               to_string(r.outcome));
    if (r.finding) fmt::print("  finding: {}\n", r.finding->what);
  }
}
