// The real driver's only clock: CLOCK_MONOTONIC (what std::steady_clock reads
// on Linux), system-wide, so R1, R2 and the orchestrator on one machine
// stamp events on one time line. Model time is this minus the run's start.
#pragma once

#include <ctime>
#include <fstream>
#include <string>

#include "model/types.hpp"

namespace mirrorsim::real {

inline Time monotonic_now() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return Time::from_ns(static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec);
}

// Names this boot of this machine: two processes share a CLOCK_MONOTONIC
// time line exactly when their boot ids are equal.
inline std::string boot_id() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(in, id);
  return id;
}

}  // namespace mirrorsim::real
