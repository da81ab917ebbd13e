#include "report/interval_report.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>

#include <fmt/format.h>

namespace mirrorsim {

namespace {

const std::vector<std::string>& columns() {
  static const std::vector<std::string> c{"start_s",        "end_s",          "offered_write_mb_per_s", "offered_write_iops",
                                          "write_iops",     "write_response_mean_ms", "link_utilisation_mean",
                                          "remote_wp_tracks_max", "writes_at_risk_max", "rpo_s_max", "delayed_writes_max"};
  return c;
}

double column_of(const IntervalReportRow& r, const std::string& c) {
  if (c == "start_s") return r.start_s;
  if (c == "end_s") return r.end_s;
  if (c == "offered_write_mb_per_s") return r.offered_write_mb_per_s;
  if (c == "offered_write_iops") return r.offered_write_iops;
  if (c == "write_iops") return r.write_iops;
  if (c == "write_response_mean_ms") return r.write_response_mean_ms;
  if (c == "link_utilisation_mean") return r.link_utilisation_mean;
  if (c == "remote_wp_tracks_max") return static_cast<double>(r.remote_wp_tracks_max);
  if (c == "writes_at_risk_max") return static_cast<double>(r.writes_at_risk_max);
  if (c == "rpo_s_max") return r.rpo_s_max;
  return static_cast<double>(r.delayed_writes_max);
}

}  // namespace

std::vector<IntervalReportRow> interval_report(const Scenario& s, const RunResult& r, double window_s) {
  std::set<double> starts;
  for (const WorkloadScenario& w : s.workloads)
    if (w.arrival == Arrival::Intervals)
      for (const WorkloadInterval& row : w.intervals) starts.insert(w.start_s + row.t_s / w.time_scale);
  if (starts.empty())
    for (double t = 0; t < s.duration_s; t += window_s) starts.insert(t);
  std::vector<IntervalReportRow> rows;
  for (auto it = starts.begin(); it != starts.end(); ++it) {
    if (*it >= s.duration_s) break;
    IntervalReportRow row;
    row.start_s = *it;
    row.end_s = std::next(it) == starts.end() ? s.duration_s : std::min(*std::next(it), s.duration_s);
    // What the interval statistics offered: each intervals workload's row in force.
    for (const WorkloadScenario& w : s.workloads) {
      if (w.arrival != Arrival::Intervals) continue;
      const WorkloadInterval* in_force = nullptr;
      for (const WorkloadInterval& x : w.intervals)
        if (w.start_s + x.t_s / w.time_scale <= row.start_s) in_force = &x;
      if (!in_force) continue;
      row.offered_write_mb_per_s += in_force->write_bytes_per_s / 1e6;  // time_scale compresses time, not rates
      row.offered_write_iops += in_force->write_iops;
    }
    // The samples that end inside (start, end]: each covers the interval before it.
    double writes = 0, response_weighted = 0, link = 0;
    size_t n = 0;
    for (const TimeSample& t : r.timeseries) {
      if (t.t_s <= row.start_s + 1e-9 || t.t_s > row.end_s + 1e-9) continue;
      ++n;
      writes += t.write_iops;
      response_weighted += t.write_iops * t.write_response_mean_ms;
      link += t.link_utilisation;
      row.remote_wp_tracks_max = std::max(row.remote_wp_tracks_max, t.remote_wp_tracks);
      row.writes_at_risk_max = std::max(row.writes_at_risk_max, t.writes_at_risk);
      row.rpo_s_max = std::max(row.rpo_s_max, t.rpo_s);
      row.delayed_writes_max = std::max(row.delayed_writes_max, t.delayed_writes);
    }
    if (n > 0) {
      row.write_iops = writes / static_cast<double>(n);
      row.write_response_mean_ms = writes > 0 ? response_weighted / writes : 0;
      row.link_utilisation_mean = link / static_cast<double>(n);
    }
    rows.push_back(row);
  }
  return rows;
}

void check_interval_window(const Scenario& s, double window_s, const std::string& where) {
  if (!(window_s >= s.measurement.timeseries_interval_s && window_s <= s.duration_s))
    throw ScenarioError(where, fmt::format("{} s: expected a window from the time series' interval ({} s) "
                                           "to the run's duration ({} s)",
                                           window_s, s.measurement.timeseries_interval_s, s.duration_s));
}

IntervalTarget parse_interval_target(std::string_view text, const std::string& where) {
  IntervalTarget t;
  t.text = std::string(text);
  size_t at = std::string_view::npos, len = 0;
  for (const char* op : {"<=", ">=", "<", ">"}) {
    at = text.find(op);
    if (at != std::string_view::npos) {
      len = std::string_view(op).size();
      t.upper = op[0] == '<';
      t.strict = len == 1;
      break;
    }
  }
  auto trim = [](std::string_view v) {
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
    return v;
  };
  if (at == std::string_view::npos)
    throw ScenarioError(where, fmt::format("'{}': expected COLUMN <= BOUND (or <, >=, >), e.g. \"rpo_s_max <= 30\"", text));
  t.column = std::string(trim(text.substr(0, at)));
  const std::string_view bound = trim(text.substr(at + len));
  const auto& known = columns();
  if (std::find(known.begin() + 2, known.end(), t.column) == known.end())
    throw ScenarioError(where, fmt::format("'{}': no interval column '{}' (columns: {})", text, t.column,
                                           fmt::join(known.begin() + 2, known.end(), ", ")));
  const auto [end, ec] = std::from_chars(bound.data(), bound.data() + bound.size(), t.bound);
  if (ec != std::errc() || end != bound.data() + bound.size() || !std::isfinite(t.bound))
    throw ScenarioError(where, fmt::format("'{}': the bound '{}' is not a number", text, bound));
  return t;
}

std::string interval_report_csv(const std::vector<IntervalReportRow>& rows, const std::vector<IntervalTarget>& targets) {
  std::string s = fmt::format("{},missed\n", fmt::join(columns(), ","));
  for (const IntervalReportRow& r : rows) {
    s += fmt::format("{:.3f},{:.3f},{:.6f},{:.3f},{:.3f},{:.6f},{:.6f},{},{},{:.6f},{},", r.start_s, r.end_s,
                     r.offered_write_mb_per_s, r.offered_write_iops, r.write_iops, r.write_response_mean_ms,
                     r.link_utilisation_mean, r.remote_wp_tracks_max, r.writes_at_risk_max, r.rpo_s_max,
                     r.delayed_writes_max);
    std::string missed;
    for (const IntervalTarget& t : targets) {
      const double v = column_of(r, t.column);
      const bool ok = t.upper ? (t.strict ? v < t.bound : v <= t.bound) : (t.strict ? v > t.bound : v >= t.bound);
      if (!ok) missed += (missed.empty() ? "" : "; ") + t.text;
    }
    // A CSV field with a ';' or ',' in it is quoted.
    s += missed.find_first_of(",\"") == std::string::npos ? missed : "\"" + missed + "\"";
    s += "\n";
  }
  return s;
}

}  // namespace mirrorsim
