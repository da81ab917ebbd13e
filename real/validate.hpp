// `mirrorsim validate`: the simulator against this machine. The scenario is
// scaled down to run in seconds, its disk and link parameters are replaced
// by what calibrate measures here, its cache-store times by two short probe
// runs on the real driver (unloaded writes acknowledged at R1's cache store,
// then synchronous ones: the rest of a synchronous write is R2's), and the
// same scenario then runs in real mode and in the simulator. The two
// response-time distributions are compared quantile by quantile; the
// demerit is the root mean square of the differences (DiskSim's figure).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/scenario.hpp"
#include "real/calibrate.hpp"
#include "real/real_run.hpp"
#include "report/result.hpp"

namespace mirrorsim::real {

struct ValidateOptions {
  double duration_s = 3;           // of the scaled run
  uint32_t tracks_max = 4096;      // per volume
  uint32_t track_bytes_max = 16384;  // never below the largest request
  int calibration_ops = 200;
  RealOptions real;                // emulate_link is forced off: the calibration describes the raw link
};

struct QuantileRow {
  double percentile = 0;
  double real_us = 0;
  double sim_us = 0;
};

struct DistributionComparison {
  std::string volume;
  std::string op;  // "writes" | "reads"
  uint64_t real_count = 0, sim_count = 0;
  double real_mean_us = 0, sim_mean_us = 0;
  std::vector<QuantileRow> rows;
  double demerit_us = 0;
  double demerit_percent_of_mean = 0;  // of the real mean
};

struct Validation {
  Scenario scenario;  // scaled and calibrated: what both runs ran
  DiskCalibration disk;
  LinkCalibration link;
  double cache_store_r1_us = 0, cache_store_r2_us = 0;
  RealRun real;
  RunResult sim;
  std::vector<DistributionComparison> comparisons;
};

// The percentiles compared and printed.
const std::vector<double>& validation_percentiles();

// Scales `s` down (duration, tracks, track size, cache) with set_value, so
// the result's resolved TOML says what ran. Throws ScenarioError, e.g. for a
// failure scheduled after the scaled duration.
Scenario scale_for_validation(const Scenario& s, const ValidateOptions& o);
Validation validate(const Scenario& s, const ValidateOptions& o);
std::string validation_text(const Validation& v);
nlohmann::json to_json(const Validation& v);

}  // namespace mirrorsim::real
