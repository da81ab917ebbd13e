// Real-device driver performance, measured side by side in one run:
//  1. latency: the loopback TCP round trip of a payload (a 64-byte answer
//     back) beside the p50 of synchronous writes of that payload on the real
//     driver (volatile cache, raw loopback link), one write at a time and as
//     open arrivals, each against round trips timed the same way; target
//     p50 ≤ 1.5 × round trip;
//  2. throughput: 64 KiB sequential synchronous writes at queue depth 32
//     beside the link's bulk bandwidth and the disk bandwidth each controller
//     gets (R1 and R2 share this machine's device, so the device measured
//     with both controllers' streams at once, halved); target ≥ 80 % of the
//     least of them;
//  3. `mirrorsim validate` of the quickstart scenario at 1,000 and 5,000
//     IOPS: the sim-vs-real write demerit at most 1.5 × the real-vs-real one
//     (the noise floor), and the p50 within 10 %, at both rates (issue 13).
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include <fmt/format.h>

#include "config/scenario.hpp"
#include "real/calibrate.hpp"
#include "real/clock.hpp"
#include "real/disk.hpp"
#include "real/geometry.hpp"
#include "real/real_run.hpp"
#include "real/validate.hpp"

using namespace mirrorsim;
using namespace mirrorsim::real;

namespace {

struct Args {
  uint32_t payload_bytes = 4096;
  double rate_iops = 1000;
  double duration_s = 3;
  uint32_t queue_depth = 32;
  std::string dir = "/tmp";
  std::string scenarios = MIRRORSIM_SCENARIOS_DIR;
  bool latency = true, throughput = true, validate = true;
  bool o_direct = false;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        fmt::print(stderr, "real_bench: {} needs a value\n", k);
        std::exit(2);
      }
      return argv[++i];
    };
    if (k == "--payload-bytes") a.payload_bytes = static_cast<uint32_t>(std::stoul(value()));
    else if (k == "--rate-iops") a.rate_iops = std::stod(value());
    else if (k == "--duration-s") a.duration_s = std::stod(value());
    else if (k == "--queue-depth") a.queue_depth = static_cast<uint32_t>(std::stoul(value()));
    else if (k == "--dir") a.dir = value();
    else if (k == "--o-direct") a.o_direct = true;
    else if (k == "--only") {
      const std::string w = value();
      a.latency = w == "latency";
      a.throughput = w == "throughput";
      a.validate = w == "validate";
    } else {
      fmt::print(stderr,
                 "usage: real_bench [--payload-bytes N] [--rate-iops R] [--duration-s S] [--queue-depth Q] [--dir D] "
                 "[--only latency|throughput|validate] [--o-direct]\n");
      std::exit(2);
    }
  }
  return a;
}

Scenario pair_scenario(const Args& a, uint32_t block_bytes, uint32_t track_bytes, const std::string& workload) {
  const std::string toml = fmt::format(R"(
seed = 1
duration_s = {duration}

[primary]
cache_slots = 1024
track_bytes = {track}
cache_nonvolatile = false
write_pending_limit = 0.8
disks = 8

[link]
distance_km = 0
links = 1

[[volume]]
name = "db"
tracks = 4096
mode = "sync"

[[workload]]
volume = "db"
block_bytes = {block}
write_fraction = 1.0
{workload}

[measurement]
warmup_s = 0.5
)",
                                       fmt::arg("duration", a.duration_s), fmt::arg("track", track_bytes),
                                       fmt::arg("block", block_bytes), fmt::arg("workload", workload));
  return parse_scenario(toml, "real_bench");
}

RealRun run_pair(const Scenario& s, const Args& a) {
  RealOptions o;
  o.progress = false;
  o.emulate_link = false;
  o.o_direct = a.o_direct;
  o.temp_parent = a.dir;  // the file system measured; the run directory goes afterwards
  RealRun r = run_real(s, o);
  if (!r.verification.ok() || r.result.invariant_violations) {
    fmt::print(stderr, "real_bench: the run did not verify:\n{}\n", r.result.violation_report);
    std::exit(1);
  }
  return r;
}

const char* verdict(bool ok) { return ok ? "met" : "NOT met"; }

// What each controller's disks can destage when both controllers write at
// once (one device under both): two DiskSets of the run's geometry, every
// disk kept `in_flight` writes deep, whole tracks, for `seconds`. Bytes per
// second of the slower one.
double destage_bytes_per_s(const std::string& dir, uint32_t disks, uint32_t track_bytes, uint32_t tracks,
                           uint32_t in_flight, double seconds, bool o_direct) {
  ControllerConfig c;
  c.track_bytes = track_bytes;
  c.disks = disks;
  c.volumes = {VolumeConfig{"db", tracks}};
  const Geometry g = Geometry::of(c);
  AlignedBuffer image(track_bytes);
  write_image(image.span(), TrackKey{0, 0}, 1, track_bytes, 1);
  struct Set {
    std::string dir;
    std::unique_ptr<DiskSet> disks;
    uint64_t bytes = 0;
    std::vector<TrackNo> next;
  };
  Set sets[2];
  for (int i = 0; i < 2; ++i) {
    sets[i].dir = fmt::format("{}/mirrorsim-destage-{}-{}", dir, ::getpid(), i);
    std::filesystem::create_directories(sets[i].dir);
    DiskOptions options;
    options.o_direct = o_direct;
    options.seed = 1;
    sets[i].disks = std::make_unique<DiskSet>(g, sets[i].dir, options, [] {});
    sets[i].disks->format();
    sets[i].disks->start();
    sets[i].next.assign(disks, 0);
  }
  // Track t of disk d: the disk's tracks in file order, round and round.
  std::vector<std::vector<TrackKey>> on_disk(disks);
  for (TrackNo t = 0; t < tracks; ++t) on_disk[g.disk_of(TrackKey{0, t})].push_back(TrackKey{0, t});
  auto submit = [&](Set& s, uint32_t d) {
    const TrackKey k = on_disk[d][s.next[d]++ % on_disk[d].size()];
    s.disks->submit_write(d, k, 1, image.span(), track_bytes, 0);
  };
  for (Set& s : sets)
    for (uint32_t d = 0; d < disks; ++d)
      for (uint32_t i = 0; i < in_flight; ++i) submit(s, d);
  const Time start = monotonic_now();
  while (monotonic_now() - start < Time::from_s(seconds)) {
    ::usleep(200);
    for (Set& s : sets)
      for (const DiskCompletion& done : s.disks->take_completions()) {
        s.bytes += track_bytes;
        submit(s, done.disk);
      }
  }
  const double elapsed = (monotonic_now() - start).s();
  double slower = 1e300;
  for (Set& s : sets) {
    slower = std::min(slower, static_cast<double>(s.bytes) / elapsed);
    s.disks.reset();
    std::error_code ec;
    std::filesystem::remove_all(s.dir, ec);
  }
  return slower;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse(argc, argv);
  bool all_met = true;

  if (a.latency) {
    // Matched conditions: back to back against one write at a time (closed
    // loop), and pauses drawn like open arrivals against open arrivals. On a
    // virtual machine an idle vCPU is slow to wake, and both of the second
    // pair pay for it.
    const uint32_t track = std::max<uint32_t>(a.payload_bytes, 4096);
    fmt::print("latency: sync writes of {} B, volatile cache, raw loopback; p50 against the loopback round trip\n",
               a.payload_bytes);
    struct Case {
      std::string name, workload;
      double gap_us;
    };
    const Case cases[] = {
        {"one at a time (closed loop, queue depth 1)", "arrival = \"closed\"\nqueue_depth = 1\naddresses = \"uniform\"", 0},
        {fmt::format("open arrivals at {} IOPS", a.rate_iops),
         fmt::format("arrival = \"poisson\"\nrate_iops = {}\naddresses = \"uniform\"", a.rate_iops), 1e6 / a.rate_iops},
    };
    for (const Case& c : cases) {
      const Quantiles rtt = quantiles_of(loopback_round_trips_us(a.payload_bytes, c.gap_us > 0 ? 3000 : 20000, c.gap_us));
      const RealRun r = run_pair(pair_scenario(a, a.payload_bytes, track, c.workload), a);
      const auto& w = r.result.volumes.at(0).writes.response;
      const double p50_us = w.percentile_ns(50) / 1e3;
      const double ratio = p50_us / rtt.p50_us;
      all_met &= ratio <= 1.5;
      fmt::print("  {}\n", c.name);
      fmt::print("    loopback round trip   p50 {:8.1f} us   p99 {:8.1f} us{}\n", rtt.p50_us, rtt.p99_us,
                 c.gap_us > 0 ? "   (same pauses between round trips)" : "");
      fmt::print("    sync write (at R1)    p50 {:8.1f} us   p90 {:8.1f} us   p99 {:8.1f} us   ({} writes)\n", p50_us,
                 w.percentile_ns(90) / 1e3, w.percentile_ns(99) / 1e3, w.count());
      fmt::print("    p50 / round trip      {:.2f}   target ≤ 1.5: {}\n", ratio, verdict(ratio <= 1.5));
    }
    fmt::print("\n");
  }

  if (a.throughput) {
    const uint32_t block = 65536;
    const double link = loopback_bulk_bytes_per_s(1ull << 30);
    // The controllers' own disk layer, both at once, as deep as the model
    // keeps it (destages_per_disk_max).
    const double disk_shared = destage_bytes_per_s(a.dir, 8, block, 4096, 32, 2.0, a.o_direct);
    const Scenario s = pair_scenario(a, block, block,
                                     fmt::format("arrival = \"closed\"\nqueue_depth = {}\naddresses = \"sequential\"",
                                                 a.queue_depth));
    const RealRun r = run_pair(s, a);
    const auto& v = r.result.volumes.at(0);
    const double got = static_cast<double>(v.writes.bytes) / r.result.measured_s;
    const double bound = std::min(link, disk_shared);
    const double share = got / bound;
    all_met &= share >= 0.8;
    fmt::print("throughput: 64 KiB sequential sync writes, queue depth {}, volatile cache, raw loopback{}\n", a.queue_depth,
               a.o_direct ? ", O_DIRECT" : "");
    fmt::print("  link (loopback bulk)                 {:8.1f} MB/s\n", link / 1e6);
    fmt::print("  disk per controller (shared device)  {:8.1f} MB/s   (both controllers' disk layers at once, 8 disks, "
               "32 writes deep)\n",
               disk_shared / 1e6);
    fmt::print("  mirrored host writes                 {:8.1f} MB/s   ({} writes, {} delayed at the write-pending limit)\n",
               got / 1e6, v.writes.completed, v.delayed_writes);
    fmt::print("  share of min(link, local disk, remote disk)  {:.0f} %   target ≥ 80 %: {}\n\n", 100 * share,
               verdict(share >= 0.8));
  }

  if (a.validate) {
    const Scenario q = load_scenario_file(a.scenarios + "/quickstart.toml");
    ValidateOptions vo;
    vo.real.progress = false;
    vo.rates_iops = {1000, 5000};
    const Validation v = validate(q, vo);
    fmt::print("{}", validation_text(v));
    // Issue 13's targets: the sim-vs-real write demerit at most 1.5 × the
    // real-vs-real one, and the p50 within 10 %, at each rate.
    for (const auto& r : v.rates)
      for (const auto& c : r.comparisons)
        if (c.op == "writes") {
          double real_p50 = 0, sim_p50 = 0;
          for (const auto& q50 : c.rows)
            if (q50.percentile == 50) real_p50 = (q50.real_a_us + q50.real_b_us) / 2, sim_p50 = q50.sim_us;
          const bool demerit_met = c.sim_vs_real_us <= 1.5 * c.real_vs_real_us;
          const bool p50_met = real_p50 > 0 && std::abs(sim_p50 - real_p50) <= 0.1 * real_p50;
          all_met &= demerit_met && p50_met;
          fmt::print("validate quickstart at {:g} IOPS, writes: demerit {:.1f} us = {:.1f} % of the mean, noise floor "
                     "{:.1f} us = {:.1f} %   target ≤ 1.5 × the floor: {}; p50 sim {:.1f} us, real {:.1f} us   target "
                     "within 10 %: {}\n",
                     r.rate_iops, c.sim_vs_real_us, c.sim_vs_real_percent, c.real_vs_real_us, c.real_vs_real_percent,
                     verdict(demerit_met), sim_p50, real_p50, verdict(p50_met));
        }
  }
  return all_met ? 0 : 1;
}
