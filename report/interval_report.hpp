// The per-interval report of a run driven by measured intervals or a trace:
// for each interval of the workload (the rows of its interval statistics, or
// fixed windows for a trace), what was offered and what the pair made of it —
// the "where in the day does it break" view. Computed from the run's time
// series, so it needs no second run and every driver has it.
#pragma once

#include <string>
#include <vector>

#include "config/scenario.hpp"
#include "report/result.hpp"

namespace mirrorsim {

struct IntervalReportRow {
  double start_s = 0, end_s = 0;
  double offered_write_mb_per_s = 0;  // the interval statistics' write bandwidth (0 for a trace)
  double offered_write_iops = 0;      // the same, in writes (0 for a trace)
  double write_iops = 0;              // completed, over the interval
  double write_response_mean_ms = 0;
  double link_utilisation_mean = 0;   // R1 → R2
  uint64_t remote_wp_tracks_max = 0;  // the copy backlog
  uint64_t writes_at_risk_max = 0;
  double rpo_s_max = 0;               // async data exposure
  uint64_t delayed_writes_max = 0;
};

// The intervals: the union of the interval rows' starts (time_scale and
// start_s applied) of every intervals workload, else windows of
// `window_s` from 0 to the scenario's duration.
std::vector<IntervalReportRow> interval_report(const Scenario& s, const RunResult& r, double window_s);
// A window from the time series' interval to the run's duration; throws
// ScenarioError naming `where` (--interval-s, window_s=) otherwise.
void check_interval_window(const Scenario& s, double window_s, const std::string& where);

// One column per field (the names of IntervalReportRow), then `missed`: the
// targets an interval failed, e.g. "rpo_s_max <= 30; write_response_mean_ms <= 2".
struct IntervalTarget {
  std::string text;
  std::string column;
  bool upper = true;   // <=, <: the column must stay below
  bool strict = false; // <, >
  double bound = 0;
};
// "column <= bound" (also <, >=, >) on a column of the report; throws
// ScenarioError naming `where` for anything else.
IntervalTarget parse_interval_target(std::string_view text, const std::string& where);
std::string interval_report_csv(const std::vector<IntervalReportRow>& rows, const std::vector<IntervalTarget>& targets);

}  // namespace mirrorsim
