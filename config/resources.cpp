// The resource estimate of a scenario (resources.hpp).
//
// Per-unit costs: the model's own structures by sizeof (a track's entry, a
// cache slot, the observer's record per track), the rest measured on this
// build (Debian 12, SimGrid 3.32, glibc malloc) from the peak resident
// memory of quickstart.toml runs that vary one quantity at a time. Measured
// per track: 232 bytes (2 → 4 million tracks), as estimated; per slot 148
// bytes. tests/cli checks the sum against the measured RSS of a run.
#include "config/resources.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "model/cache.hpp"
#include "model/invariants.hpp"
#include "model/track_table.hpp"

namespace mirrorsim {

namespace {

// ---- per-unit costs -----------------------------------------------------------

// One track at one controller: its entry and the step stamp beside it (the
// invalid-remote bitmap adds a bit).
constexpr double kTrackBytes = sizeof(TrackEntry) + sizeof(uint32_t) + 1.0 / 8;
// One track in the invariant observer: both sides' shadow indicators, the
// acknowledged writes at risk, the risk counters.
constexpr double kObserverBytesPerTrack = Observer::bytes_per_track();
// One track of a delta set: a std::map node with its key and entry
// (measured with glibc: 80 bytes).
constexpr double kDeltaEntryBytes = 80;
// One track of a simulated disk's content (a Version per track and side).
constexpr double kDiskContentBytesPerTrack = sizeof(Version);
// One cache slot: the slot and its place on the free list.
constexpr double kSlotBytes = sizeof(Slot) + sizeof(int32_t);
// One disk in the simulator: the driver's per-disk state (disks are not
// SimGrid hosts; measured: about 100 bytes).
constexpr double kSimDiskBytes = 128;
// One link in the simulator: SimGrid links, port hosts, mailboxes and
// receiver actors of both directions (measured: 2 → 200 links added 43 MiB).
constexpr double kSimLinkBytes = 224 * 1024;
// One host request in flight: the driver's record, its scheduled event and
// what the model keeps for it (measured: 100,000 closed requests in flight
// added 21 MiB).
constexpr double kRequestBytes = 256;
// One time-series sample, and one latency sample of the reservoirs.
constexpr double kSampleBytes = 112;
constexpr double kLatencySampleBytes = sizeof(int64_t);
constexpr double kReservoirSamplesMax = 100'000;  // per volume and kind (report/histogram.hpp)
// The process before the scenario: SimGrid's engine, the libraries
// (measured: 35 MiB for a scenario of 1,000 tracks and slots).
constexpr double kSimBaseBytes = 34.0 * (1 << 20);
constexpr double kRealBaseBytes = 8.0 * (1 << 20);

// Events one host request causes: arrival, the model step, disk I/O at both
// sides, the copy and its acknowledgement, the completion.
constexpr double kEventsPerRequest = 10;
// Poisson requests in flight: the arrival rate times this many unloaded
// response times (Little's law with room for queueing).
constexpr double kResidenceFactor = 10;

uint64_t total_tracks(const Scenario& s) {
  uint64_t n = 0;
  for (const VolumeScenario& v : s.volumes) n += v.tracks;
  return n;
}

// The shortest a request of `w` can take, in seconds: the front end's cache
// store, and for a synchronous write the round trips to the secondary.
double shortest_response_s(const Scenario& s, const WorkloadScenario& w) {
  double shortest = std::numeric_limits<double>::infinity();
  if (w.write_fraction < 1) shortest = s.primary.front_end_read().mean() * 1e-6;  // a read hit
  if (w.write_fraction > 0) {
    double write_s = s.primary.front_end_write_us.mean() * 1e-6;
    if (s.volumes[w.volume_index].mode == Mode::Sync)
      write_s += s.link.round_trips_per_write * 2 * s.link.one_way_latency_us() * 1e-6 +
                 s.secondary.remote_adapter_copy_receive_us.mean() * 1e-6;
    shortest = std::min(shortest, write_s);
  }
  return shortest;
}

// A plausible residence of a request, in seconds: kResidenceFactor unloaded
// synchronous writes with a disk access.
double residence_s(const Scenario& s, const WorkloadScenario& w) {
  const double bits = 8.0 * w.block_bytes;
  const double unloaded = (s.primary.front_end_write_us.mean() + s.secondary.remote_adapter_copy_receive_us.mean() +
                           s.primary.disk_write_us.mean() +
                           s.link.round_trips_per_write * 2 * s.link.one_way_latency_us()) *
                              1e-6 +
                          bits / (s.link.bandwidth_gbit_per_s * 1e9) + w.block_bytes / (s.primary.disk_bandwidth_mb_per_s * 1e6);
  return kResidenceFactor * unloaded;
}

std::string count_text(double n) {
  if (n < 1e4) return fmt::format("{:.0f}", n);
  return fmt::format("{:.3g}", n);
}

}  // namespace

std::string size_text(uint64_t bytes) {
  const double b = static_cast<double>(bytes);
  if (b >= double(1ull << 40)) return fmt::format("{:.1f} TiB", b / double(1ull << 40));
  if (b >= double(1 << 30)) return fmt::format("{:.1f} GiB", b / double(1 << 30));
  if (b >= double(1 << 20)) return fmt::format("{:.0f} MiB", b / double(1 << 20));
  if (b >= double(1 << 10)) return fmt::format("{:.0f} KiB", b / double(1 << 10));
  return fmt::format("{} bytes", bytes);
}

ResourceEstimate estimate_resources(const Scenario& s, Driver driver) {
  ResourceEstimate e;
  // Doubles throughout: 10^9 tracks times a few hundred bytes must not wrap.
  std::vector<std::pair<std::string, double>> uses;
  const double tracks = static_cast<double>(total_tracks(s));
  const bool sim = driver == Driver::Simulator;

  uses.emplace_back(fmt::format("the track tables of R1 and R2 (volume.*.tracks: {} tracks)", count_text(tracks)),
                    2 * tracks * kTrackBytes);
  uses.emplace_back(fmt::format("the invariant observer's per-track records ({} tracks)", count_text(tracks)),
                    tracks * kObserverBytesPerTrack);
  const double slots = double(s.primary.cache_slots) + double(s.secondary.cache_slots);
  uses.emplace_back(fmt::format("the cache slots (primary.cache_slots + secondary.cache_slots: {})", count_text(slots)),
                    slots * kSlotBytes);
  if (sim) {
    uses.emplace_back(fmt::format("the simulated disks' contents ({} tracks, both sides)", count_text(tracks)),
                      2 * tracks * kDiskContentBytesPerTrack);
    const double disks = double(s.primary.disks) + double(s.secondary.disks);
    uses.emplace_back(fmt::format("the simulated disks (primary.disks + secondary.disks: {})", count_text(disks)),
                      disks * kSimDiskBytes);
    uses.emplace_back(fmt::format("the simulated links (link.links: {})", s.link.links), s.link.links * kSimLinkBytes);
  } else {
    // Each controller process holds the data of the tracks in its cache
    // (in /dev/shm for a non-volatile cache: memory all the same).
    for (const auto& [c, name] : {std::pair{&s.primary, "primary"}, std::pair{&s.secondary, "secondary"}}) {
      const double cached = std::min<double>(c->cache_slots, tracks);
      uses.emplace_back(fmt::format("the {} cache's data ({}.cache_slots × {}.track_bytes)", name, name, name),
                        cached * c->track_bytes);
    }
    if (std::any_of(s.volumes.begin(), s.volumes.end(), [](const VolumeScenario& v) { return v.mode == Mode::Async; })) {
      // Beside the cache: R1's older versions that transmit sets still owe,
      // and R2's receive sets until applied (real/README.md), each at most
      // the delta sets' limit.
      const double delta = std::floor(s.async.async_cache_fraction_max * double(s.primary.cache_slots));
      uses.emplace_back("async: delta-set track images beside the caches (R1's older versions owed, R2's unapplied "
                        "receive sets: 2 × async.async_cache_fraction_max × primary.cache_slots × track_bytes)",
                        2 * delta * s.primary.track_bytes);
    }
  }

  if (std::any_of(s.volumes.begin(), s.volumes.end(), [](const VolumeScenario& v) { return v.mode == Mode::Async; })) {
    // Delta sets: R1's capture and transmit sets up to their cache limit
    // (one tree node a track, as many again for the observer's record of
    // them), R2's receive sets as many; with a spill pool, what it holds
    // is kept as entries too.
    const double limit = std::min<double>(s.async.async_cache_fraction_max * s.primary.cache_slots, tracks);
    const double spilled = std::min<double>(double(s.async.spill_bytes_max) / s.primary.track_bytes, tracks);
    const double entries = (limit + spilled) * (1 + s.async.transmit_sets_max);
    uses.emplace_back(fmt::format("the async delta sets (async.async_cache_fraction_max × primary.cache_slots, "
                                  "async.spill_bytes_max, async.transmit_sets_max: up to {} tracks)",
                                  count_text(entries)),
                      3 * entries * kDeltaEntryBytes);
  }

  double zipf_entries = 0;
  double in_flight = 0;
  double events_per_s = 1 / s.measurement.timeseries_interval_s;
  for (const WorkloadScenario& w : s.workloads) {
    if (w.addresses == AddressPattern::Zipf) zipf_entries += s.volumes[w.volume_index].tracks;
    if (w.arrival == Arrival::Closed) {
      in_flight += w.queue_depth;
      const double cycle_s = w.think_us * 1e-6 + shortest_response_s(s, w);
      events_per_s += cycle_s > 0 ? w.queue_depth / cycle_s * kEventsPerRequest : std::numeric_limits<double>::infinity();
    } else {
      in_flight += std::max(1.0, w.peak_iops() * residence_s(s, w));
      events_per_s += w.peak_iops() * kEventsPerRequest;
    }
  }
  if (zipf_entries > 0)
    uses.emplace_back("the zipf address tables (a cumulative probability per track of each zipf workload's volume)",
                      zipf_entries * sizeof(double));
  uses.emplace_back(fmt::format("the host requests in flight (closed: workload.*.queue_depth; poisson: "
                                "workload.*.rate_iops × residence): {}",
                                count_text(in_flight)),
                    in_flight * kRequestBytes);
  const double samples = s.duration_s / s.measurement.timeseries_interval_s;
  uses.emplace_back(fmt::format("the time series (duration_s / measurement.timeseries_interval_s: {} samples)",
                                count_text(samples)),
                    samples * kSampleBytes);
  uses.emplace_back(fmt::format("the response-time samples (up to {:.0f} per volume and kind, {} volumes)",
                                kReservoirSamplesMax, s.volumes.size()),
                    2.0 * double(s.volumes.size()) * kReservoirSamplesMax * kLatencySampleBytes);
  uses.emplace_back(sim ? "the simulator itself (SimGrid, libraries)" : "the process itself", sim ? kSimBaseBytes : kRealBaseBytes);

  std::stable_sort(uses.begin(), uses.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  double total = 0;
  constexpr double kBytesMax = 0x1p63;
  for (const auto& [what, bytes] : uses) {
    total += bytes;
    e.memory.push_back(MemoryUse{what, static_cast<uint64_t>(std::min(bytes, kBytesMax))});
  }
  e.memory_bytes = static_cast<uint64_t>(std::min(total, kBytesMax));
  e.requests_in_flight = in_flight;
  e.events_per_simulated_s = events_per_s;
  return e;
}

void check_resources(const Scenario& s, const ResourceLimits& limits, Driver driver) {
  const ResourceEstimate e = estimate_resources(s, driver);
  // A closed workload whose requests take no simulated time reissues them
  // at the same instant forever.
  for (size_t i = 0; i < s.workloads.size(); ++i) {
    const WorkloadScenario& w = s.workloads[i];
    if (w.arrival == Arrival::Closed && !(w.think_us * 1e-6 + shortest_response_s(s, w) > 0))
      throw ResourceError(s.source, fmt::format("workload.{}: a closed workload whose requests take no simulated time "
                                                "(think_us = 0, primary.front_end_write_us = 0{}) reissues them at the "
                                                "same instant forever; give think_us or primary.front_end_write_us a value",
                                                i, w.write_fraction > 0 ? ", writes acknowledged at the cache store" : ""));
  }
  // Memory first: what would end the process before it learns anything.
  const unsigned concurrent = std::max(1u, limits.concurrent);
  if (double(e.memory_bytes) * concurrent > double(limits.memory_bytes_max)) {
    std::string biggest;
    for (size_t i = 0; i < e.memory.size() && i < 3; ++i)
      biggest += fmt::format("{}{} {}", i ? "; " : "", size_text(e.memory[i].bytes), e.memory[i].what);
    const std::string times = concurrent > 1 ? fmt::format(" × {} at once", concurrent) : "";
    throw ResourceError(s.source, fmt::format("needs about {} of memory{}, above the limit of {} ({}); the largest: {}; "
                                              "scale these down (or raise {})",
                                              size_text(e.memory_bytes), times, size_text(limits.memory_bytes_max),
                                              limits.memory_flag, biggest, limits.memory_flag));
  }
  if (e.events_per_simulated_s > kEventsPerSimulatedSecondMax)
    throw ResourceError(s.source, fmt::format("about {} events per simulated second, above {}: the nanosecond clock "
                                              "cannot separate them; lower workload.*.rate_iops or queue_depth",
                                              count_text(e.events_per_simulated_s),
                                              count_text(kEventsPerSimulatedSecondMax)));
}

void check_sweep_size(const std::vector<SweepParam>& params, uint32_t repeat, const std::string& where) {
  double runs = repeat;
  std::string sizes;
  for (const SweepParam& p : params) {
    runs *= static_cast<double>(p.values.size());
    sizes += fmt::format("{}{}", sizes.empty() ? "" : " × ", p.values.size());
  }
  if (runs > kSweepRunsMax)
    throw ResourceError(where, fmt::format("a sweep of {} values × {} repeats = {} runs, at most {} are supported; "
                                           "sweep fewer values at once (--shard does not shrink the grid)",
                                           sizes, repeat, count_text(runs), count_text(kSweepRunsMax)));
}

void check_sweep_resources(const Scenario& base, const std::vector<std::vector<Override>>& points,
                           const ResourceLimits& limits) {
  // Without its [sweep], so that each point re-reads a document of constant
  // size (config/read.cpp, try_sweep_values).
  Scenario stripped = base;
  stripped.sweep.reset();
  check_resources(stripped, limits);
  for (const auto& overrides : points) {
    Scenario s = stripped;
    try {
      set_values(s, overrides);
    } catch (const ScenarioError&) {
      continue;  // the point fails on its own, reported with the others
    }
    try {
      check_resources(s, limits);
    } catch (const ResourceError& e) {
      std::string where;
      for (const Override& o : overrides) where += fmt::format("{}{}={}", where.empty() ? "" : " ", o.key, o.value);
      std::string_view message = e.what();
      if (!e.where().empty()) message.remove_prefix(e.where().size() + 2);
      throw ResourceError(e.where(), fmt::format("sweep point {}: {}", where, message));
    }
  }
}

}  // namespace mirrorsim
