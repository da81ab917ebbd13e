// `mirrorsim validate`: the simulator against this machine. The scenario
// runs as written (its volumes, rates and duration; --set changes them),
// its disk and link parameters are replaced
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
  Scenario scenario;  // calibrated: what both runs ran
  DiskCalibration disk;
  LinkCalibration link;
  double cache_store_r1_us = 0, cache_store_r2_us = 0;
  RealRun real;
  RunResult sim;
  std::vector<DistributionComparison> comparisons;
};

// The percentiles compared and printed.
const std::vector<double>& validation_percentiles();

// What validate cannot run: what the real driver cannot (check_real_support),
// and failures or workloads after the run's end. Throws ScenarioError.
void check_validation_support(const Scenario& s, const ValidateOptions& o);
Validation validate(const Scenario& s, const ValidateOptions& o);
std::string validation_text(const Validation& v);
nlohmann::json to_json(const Validation& v);

}  // namespace mirrorsim::real
