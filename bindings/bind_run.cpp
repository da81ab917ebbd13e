// run(): one simulation in a forked child. sweep(): the sweep engine
// (sweep/sweep.hpp) that `mirrorsim sweep` runs, with Ctrl-C and progress
// reaching Python.
#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include "bindings/bindings.hpp"
#include "bindings/forked_call.hpp"
#include "config/resources.hpp"
#include "report/result.hpp"
#include "sweep/size.hpp"
#include "sweep/sweep.hpp"

namespace mirrorsim::bindings {

namespace {

using Table = std::pair<std::vector<std::string>, std::vector<std::vector<std::string>>>;

Table as_pair(const SweepTable& t) { return {t.columns, t.rows}; }

// A Python error raised inside a callback the sweep engine calls: kept
// until the engine returns, then raised.
struct PendingError {
  std::optional<py::error_already_set> error;
  bool set() const { return error.has_value(); }
};

py::tuple sweep(const Scenario& base, const std::vector<std::pair<std::string, std::vector<std::string>>>& grid,
                uint32_t repeat, unsigned jobs, const std::function<void(uint64_t, uint64_t, uint64_t)>& on_progress,
                uint64_t memory_bytes_max) {
  if (grid.empty()) throw py::value_error("sweep: the grid is empty: give {dotted key: [values]}");
  if (repeat == 0) throw py::value_error("sweep: repeat must be at least 1");
  if (jobs == 0) throw py::value_error("sweep: jobs must be at least 1");
  std::vector<SweepParam> params;
  std::vector<std::string> keys;
  for (const auto& [key, values] : grid) {
    if (values.empty()) throw ScenarioError("sweep " + key, "no values to sweep");
    (void)get_value(base, key);  // a key that addresses nothing is the sweep's mistake, not a point's
    params.push_back(SweepParam{key, values});
    keys.push_back(key);
  }
  check_sweep_size(params, repeat, "sweep");
  const std::vector<SweepPoint> points = sweep_points(base, params, repeat);
  {
    // Every grid point, `jobs` at once, before anything runs.
    std::vector<std::vector<Override>> grid_points;
    for (const SweepPoint& p : points)
      if (p.repeat == 0) grid_points.push_back(p.overrides);
    check_sweep_resources(base, grid_points, ResourceLimits{memory_bytes_max, jobs, "memory_max_mib"});
  }

  PendingError pending;
  uint64_t done = 0, failed = 0;
  SweepOptions options;
  options.jobs = jobs;
  options.progress = false;  // C's stderr is not the notebook's: Python prints progress
  options.sim.progress = false;
  options.keep_going = [&] {
    py::gil_scoped_acquire gil;
    if (pending.set()) return false;
    if (PyErr_CheckSignals() != 0) {
      pending.error.emplace();  // fetches KeyboardInterrupt
      return false;
    }
    return true;
  };
  options.on_point_done = [&](const PointOutcome& o) {
    ++done;
    if (!o.error.empty()) ++failed;
    if (!on_progress) return;
    py::gil_scoped_acquire gil;
    if (pending.set()) return;
    try {
      on_progress(done, points.size(), failed);
    } catch (py::error_already_set& e) {
      pending.error.emplace(std::move(e));
    }
  };
  std::vector<PointOutcome> outcomes;
  {
    py::gil_scoped_release release;
    outcomes = run_sweep(base, points, options);
  }
  if (pending.set()) {
    py::error_already_set e = std::move(*pending.error);
    pending.error.reset();
    throw e;
  }
  const SweepTable runs = runs_table(outcomes, keys);
  const SweepTable ci = confidence_table(runs, keys);
  return py::make_tuple(as_pair(runs), as_pair(ci));
}

// size(): the sizing engine of `mirrorsim size`; the result as the JSON of --out.
std::string size(const Scenario& base, const std::string& vary, const std::vector<std::string>& target_texts,
                 uint32_t repeat, unsigned jobs, double tolerance, const std::string& direction,
                 const std::function<void(const std::string&)>& on_progress) {
  if (repeat == 0) throw py::value_error("size: repeat must be at least 1");
  if (jobs == 0) throw py::value_error("size: jobs must be at least 1");
  if (!(tolerance > 0 && tolerance < 1)) throw py::value_error("size: tolerance must be a fraction in (0, 1)");
  if (target_texts.empty()) throw py::value_error("size: give at least one target, e.g. \"volume.db.writes.response_ms.p99 <= 2\"");
  const SizeRange range = parse_size_range(vary, "vary " + vary);
  (void)get_value(base, range.key);
  std::vector<SizeTarget> targets;
  for (const auto& t : target_texts) targets.push_back(parse_size_target(t, "target " + t));
  SizeOptions o;
  o.repeat = repeat;
  o.tolerance = tolerance;
  if (direction == "smallest") o.direction = SizeDirection::Smallest;
  else if (direction == "largest") o.direction = SizeDirection::Largest;
  else if (direction != "auto") throw py::value_error("size: direction is smallest, largest or auto, got " + direction);
  o.sweep.jobs = jobs;
  o.sweep.progress = false;
  o.sweep.sim.progress = false;
  PendingError pending;
  o.sweep.keep_going = [&] {
    py::gil_scoped_acquire gil;
    if (pending.set()) return false;
    if (PyErr_CheckSignals() != 0) {
      pending.error.emplace();
      return false;
    }
    return true;
  };
  std::atomic<bool> stop{false};
  o.sweep.stop = &stop;
  if (on_progress)
    o.progress = [&](const std::string& line) {
      py::gil_scoped_acquire gil;
      if (pending.set()) return;
      try {
        on_progress(line);
      } catch (py::error_already_set& e) {
        pending.error.emplace(std::move(e));
        stop = true;
      }
    };
  SizeResult r;
  {
    py::gil_scoped_release release;
    r = size_search(base, range, targets, o);
  }
  if (pending.set()) {
    py::error_already_set e = std::move(*pending.error);
    pending.error.reset();
    throw e;
  }
  return json_text(to_json(r, targets));
}

}  // namespace

void bind_run(py::module_& m) {
  using namespace pybind11::literals;
  m.def(
      "run",
      [](const Scenario& s, bool trace, uint32_t trace_writes) {
        SimOptions options;
        options.progress = false;
        options.trace = trace;
        options.trace_writes = trace_writes;
        return run_in_child(s, options);
      },
      "scenario"_a, "trace"_a = false, "trace_writes"_a = 200,
      "Simulates the scenario in a forked child (SimGrid allows one engine per process) and returns its "
      "RunResult; with trace, its trace_json() holds a Chrome trace-event JSON of the first trace_writes host "
      "writes (what `mirrorsim run --trace` writes). The GIL is released while waiting; Ctrl-C raises "
      "KeyboardInterrupt and kills the child; a failed child raises RunFailed with its message.");
  m.def("sweep", &sweep, "scenario"_a, "grid"_a, "repeat"_a, "jobs"_a, "on_progress"_a, "memory_bytes_max"_a,
        "Runs the sweep engine of `mirrorsim sweep` over the grid [(dotted key, [TOML value text])] x repeat "
        "(repeat r runs with seed base + r), each point in a forked child, `jobs` at once. on_progress(done, total, "
        "failed) is called (with the GIL) after each point, or None. Refuses (ScenarioError) a grid point whose "
        "estimated memory × jobs exceeds memory_bytes_max, before anything runs. Returns ((columns, rows) of the runs table, "
        "(columns, rows) of the confidence table), cells as text exactly as in the CLI's CSV. Ctrl-C raises "
        "KeyboardInterrupt and stops every child.");
  m.def("size", &size, "scenario"_a, "vary"_a, "targets"_a, "repeat"_a, "jobs"_a, "tolerance"_a, "direction"_a,
        "on_progress"_a,
        "The sizing engine of `mirrorsim size`: the JSON its --out writes. on_progress(line) after each value judged, or None.");
  m.def(
      "parse_sweep_param",
      [](const std::string& text, const std::string& where) {
        const SweepParam p = parse_sweep_param(text, where);
        return std::make_pair(p.key, p.values);
      },
      "text"_a, "where"_a,
      "\"key=v1,v2,...\" or \"key=start:stop:step\" (a --param flag) as (key, [value text]). Raises ScenarioError "
      "naming `where`.");
}

}  // namespace mirrorsim::bindings
