// Parameter sweeps: a grid of scenario overrides, each point repeated with
// seeds derived from the base seed, each run in its own forked child (one
// SimGrid engine per process), up to `jobs` at once. The one sweep engine:
// `mirrorsim sweep` and the Python bindings both call it.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/scenario.hpp"
#include "report/result.hpp"
#include "sim/simulation.hpp"

namespace mirrorsim {

struct SweepPoint {
  uint64_t index = 0;       // position among all runs (grid × repeats), before sharding
  uint64_t grid_index = 0;  // which combination of parameter values
  uint32_t repeat = 0;
  uint64_t seed = 0;
  std::vector<Override> overrides;  // the point's parameter values
};

// "key=v1,v2,..." or "key=start:stop:step" (a --param flag). Throws
// ScenarioError naming `where` when it is not of that shape; the values
// themselves are checked when a point runs.
SweepParam parse_sweep_param(std::string_view text, const std::string& where);

// Repeat r of every grid point runs with the same seed (common random
// numbers: differences between points are not seed noise): the base seed
// for r = 0, then base + r.
uint64_t repeat_seed(uint64_t base_seed, uint32_t repeat);

// The cartesian product of the parameters (the first varies slowest), each
// combination `repeat` times. A grid of more than kSweepRunsMax runs
// (config/resources.hpp) is refused with a ScenarioError, before anything
// is expanded.
std::vector<SweepPoint> sweep_points(const Scenario& base, const std::vector<SweepParam>& params, uint32_t repeat);

struct Shard {
  uint32_t index = 0;
  uint32_t count = 1;
  bool owns(uint64_t point_index) const { return point_index % count == index; }
};
// "i/N" with 0 ≤ i < N; throws ScenarioError naming `where`.
Shard parse_shard(std::string_view text, const std::string& where);

struct PointOutcome {
  SweepPoint point;
  std::optional<RunResult> result;
  std::string error;  // why the point failed: a bad value, a failed or crashed simulation
  double wall_s = 0;
};

struct SweepOptions {
  unsigned jobs = 1;
  Shard shard;
  bool progress = true;  // a progress line on stderr
  SimOptions sim;
  // Checked between completions: when it turns true no new point starts,
  // running ones are stopped, and the finished ones are returned.
  const std::atomic<bool>* stop = nullptr;
  // Called at least twice a second while points run; returning false stops
  // like `stop` does (the Python bindings check for Ctrl-C here).
  std::function<bool()> keep_going;
  std::function<void(const PointOutcome&)> on_point_done;
};

// Runs the points this shard owns; outcomes in point order. A failing point
// is an outcome with an error, never an exception.
std::vector<PointOutcome> run_sweep(const Scenario& base, const std::vector<SweepPoint>& points,
                                    const SweepOptions& options);

// Two-sided 95 % quantile of Student's t with `df` degrees of freedom (NaN for 0).
double t95(size_t df);

// ---- results as tables ----------------------------------------------------
// Cells are text (numbers in their shortest exact form), so that CSV files
// of shards merge byte for byte into the unsharded result.
struct SweepTable {
  std::vector<std::string> columns;
  std::vector<std::vector<std::string>> rows;
  int column(std::string_view name) const;  // -1 if absent
};

// One row per run: index, grid_index, repeat, seed, the parameters, error,
// then every summary metric.
SweepTable runs_table(const std::vector<PointOutcome>& outcomes, const std::vector<std::string>& param_keys);
// One row per grid point: the parameters, runs, failed, then for every
// metric its mean and the half-width of its 95 % confidence interval.
SweepTable confidence_table(const SweepTable& runs, const std::vector<std::string>& param_keys);

std::string to_csv(const SweepTable& t);
std::string to_jsonl(const SweepTable& t);
// Throws std::runtime_error naming `source` and the line on malformed input.
SweepTable read_csv(std::string_view text, const std::string& source);
// Joins the runs tables of shards: same columns, no run twice, sorted by
// index. Throws std::runtime_error naming the offending source.
SweepTable merge_runs(const std::vector<std::pair<std::string, SweepTable>>& shards);
// The parameter columns of a runs table (between "seed" and "error").
std::vector<std::string> param_columns(const SweepTable& runs);

}  // namespace mirrorsim
