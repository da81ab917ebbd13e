// Sizing: the inverse question — the least (or most) value of one scenario
// key at which every target on the run's metrics holds — answered by a
// search that judges two points a round, splitting the bracket in three
// (both run at once on two processors), over forked runs of the sweep
// engine, each point judged by the
// pessimistic end of the 95 % confidence interval over its repeats. The one
// sizing engine: `mirrorsim size` and the Python bindings call it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "sweep/sweep.hpp"

namespace mirrorsim {

// "volume.db.writes.response_ms.p99 <= 2": a dotted path into the run's
// JSON metrics (the names of `--out`; volumes by name, processor pools by
// controller and pool: processor_pools.R1.front_end.utilisation_mean), an
// operator (<=, <, >=, >) and a bound.
struct SizeTarget {
  std::string text;
  std::string path;
  enum class Op : uint8_t { Le, Lt, Ge, Gt } op = Op::Le;
  double bound = 0;
  bool upper() const { return op == Op::Le || op == Op::Lt; }  // the metric must stay below
};
SizeTarget parse_size_target(std::string_view text, const std::string& where);

// The metric at `path` in a run's JSON metrics object; nullopt when the path
// names nothing or something that is not a number.
std::optional<double> metric_at(const nlohmann::json& metrics, std::string_view path);
// Why metric_at found nothing at `path`: a table that is null in this run
// (metrics.async of a run with no async volume), or the full names that end
// in `path` ("rpo_max_s": did you mean 'async.rpo_max_s'?).
std::string why_no_metric(const nlohmann::json& metrics, std::string_view path);

// "link.bandwidth_gbit_per_s=0.1:100": the key and the range searched.
struct SizeRange {
  std::string key;
  double lo = 0, hi = 0;
  bool integer = false;  // both ends written as integers: the key is a count
};
SizeRange parse_size_range(std::string_view text, const std::string& where);

enum class SizeDirection : uint8_t { Auto, Smallest, Largest };

struct SizeOptions {
  uint32_t repeat = 1;
  double tolerance = 0.01;  // stop when the bracket is narrower than this fraction of its upper end
  SizeDirection direction = SizeDirection::Auto;
  SweepOptions sweep;       // jobs, progress of each point's runs, stop
  std::function<void(const std::string&)> progress;  // one line per point judged
};

struct SizePoint {
  double value = 0;
  std::vector<PointOutcome> runs;
  std::vector<std::optional<double>> judged;  // per target: the pessimistic end of its 95 % CI (the value itself for one run)
  std::vector<std::optional<double>> mean;
  bool pass = false;
  std::string error;  // a run failed, or a metric was missing
};

struct SizeResult {
  std::string key;
  SizeDirection direction = SizeDirection::Auto;  // as found: Smallest or Largest
  std::optional<double> answer;
  std::string verdict;                   // one sentence
  std::vector<SizePoint> points;         // in the order they were run
  std::vector<std::string> not_monotone;  // points that contradict the answer
  double wall_s = 0;
};

// Throws ScenarioError when a target's path names nothing in the first
// run's metrics, or the range does not apply to `base`.
SizeResult size_search(const Scenario& base, const SizeRange& range, const std::vector<SizeTarget>& targets,
                       const SizeOptions& options);

nlohmann::json to_json(const SizeResult& r, const std::vector<SizeTarget>& targets);

}  // namespace mirrorsim
