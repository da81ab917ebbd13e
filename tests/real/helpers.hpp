// Small scenarios for real runs: a few thousand small tracks, a second or
// two of host I/O, and the failure entries a test needs.
#pragma once

#include <string>

#include <fmt/format.h>

#include "config/scenario.hpp"
#include "real/real_run.hpp"

namespace mirrorsim::real::test {

struct Small {
  std::string mode = "sync";
  double duration_s = 1.2;
  double rate_iops = 1500;
  double write_fraction = 0.8;
  bool cache_nonvolatile = true;
  uint32_t tracks = 1024;
  uint32_t cache_slots = 512;
  double distance_km = 0;
  std::string failures = {};  // [[failure]] entries, verbatim
};

inline std::string small_toml(const Small& s) {
  return fmt::format(R"(
seed = 11
duration_s = {duration}

[primary]
cache_slots = {slots}
track_bytes = 16384
cache_nonvolatile = {nv}
disks = 2
disk_retry_ms = 2

[link]
distance_km = {distance}
links = 1
failure_detection_ms = 100

[[volume]]
name = "db"
tracks = {tracks}
mode = "{mode}"
skew_tracks = 64

[[workload]]
volume = "db"
arrival = "poisson"
rate_iops = {rate}
write_fraction = {wf}
block_bytes = 8192
addresses = "uniform"

[measurement]
warmup_s = 0.1
{failures}
)",
                     fmt::arg("duration", s.duration_s), fmt::arg("slots", s.cache_slots),
                     fmt::arg("nv", s.cache_nonvolatile ? "true" : "false"), fmt::arg("distance", s.distance_km),
                     fmt::arg("tracks", s.tracks), fmt::arg("mode", s.mode), fmt::arg("rate", s.rate_iops),
                     fmt::arg("wf", s.write_fraction), fmt::arg("failures", s.failures));
}

inline Scenario small_scenario(const Small& s) { return parse_scenario(small_toml(s), "test scenario"); }

inline RealOptions quiet_options() {
  RealOptions o;
  o.progress = false;
  o.drain_timeout_s = 20;
  o.log_bytes = 64ull << 20;
  return o;
}

inline std::string failure(double at_s, const std::string& event, const std::string& extra = "") {
  return fmt::format("\n[[failure]]\nat_s = {}\nevent = \"{}\"\n{}\n", at_s, event, extra);
}

}  // namespace mirrorsim::real::test
