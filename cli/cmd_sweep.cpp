// mirrorsim sweep: a grid of scenario overrides, each point in a forked child.
#include <atomic>
#include <csignal>
#include <fstream>
#include <iostream>

#include <boost/program_options.hpp>
#include <fmt/format.h>

#include "cli/command.hpp"
#include "cli/command_line.hpp"
#include "cli/scenario_args.hpp"
#include "model/analytic.hpp"
#include "sweep/sweep.hpp"

namespace mirrorsim::cli {
namespace {

namespace po = boost::program_options;

std::atomic<bool> interrupted{false};
extern "C" void on_sigint(int) { interrupted = true; }

std::string stem_of(const std::string& csv) {
  return csv.size() > 4 && csv.substr(csv.size() - 4) == ".csv" ? csv.substr(0, csv.size() - 4) : csv;
}

// "latency~distance_km": y names a metric column (or "latency": the first
// volume's mean write response), x a parameter (a suffix of its key will do).
int fit(const SweepTable& runs, const std::string& spec) {
  const auto tilde = spec.find('~');
  if (tilde == std::string::npos) {
    fmt::print(stderr, "mirrorsim sweep: --fit {}: expected y~x, e.g. latency~distance_km\n", spec);
    return kExitBadInput;
  }
  std::string y = spec.substr(0, tilde), x = spec.substr(tilde + 1);
  if (y == "latency") {
    for (const auto& c : runs.columns)
      if (c.ends_with(".write_response_mean_ms")) {
        y = c;
        break;
      }
  }
  int xi = -1;
  for (const auto& p : param_columns(runs))
    if (p == x || p.ends_with("." + x)) xi = runs.column(p);
  const int yi = runs.column(y);
  if (xi < 0 || yi < 0) {
    fmt::print(stderr, "mirrorsim sweep: --fit {}: {} is not {}\n", spec, xi < 0 ? x : y,
               xi < 0 ? "a swept parameter" : "a metric column");
    return kExitBadInput;
  }
  std::vector<double> xs, ys;
  for (const auto& row : runs.rows) {
    try {
      const double a = std::stod(row[static_cast<size_t>(xi)]), b = std::stod(row[static_cast<size_t>(yi)]);
      xs.push_back(a);
      ys.push_back(b);
    } catch (const std::exception&) {
      // a failed point: no metrics
    }
  }
  try {
    const auto f = analytic::fit_linear(xs, ys);
    const std::string xname = runs.columns[static_cast<size_t>(xi)];
    fmt::print("fit {} ~ {}: intercept {:.6g}, slope {:.6g} per unit of {}, R² {:.6f}, {} runs\n", y, xname, f.intercept,
               f.slope, xname, f.r2, f.points);
    if (y.ends_with("_ms") && xname.ends_with("_km"))
      fmt::print("  = {:.4f} us/km\n", f.slope * 1e3);
  } catch (const std::exception& e) {
    fmt::print(stderr, "mirrorsim sweep: --fit {}: {}\n", spec, e.what());
    return kExitBadInput;
  }
  return kExitOk;
}

int sweep_main(int argc, char** argv) {
  po::options_description opts("mirrorsim sweep SCENARIO [options]");
  std::vector<std::string> sets, params, fits;
  std::string out_path, shard_text;
  Whole<uint32_t> repeat = 0;
  Whole<uint32_t> jobs = 1;
  MemoryFlag memory;
  opts.add_options()                                                                                            //
      ("help,h", "this help")                                                                                    //
      ("param", po::value(&params)->composing(), "a swept key: --param key=v1,v2,... or key=start:stop:step")  //
      ("repeat", po::value(&repeat), "runs per grid point, seeds base, base+1, ... (default: [sweep] repeat or 1)")  //
      ("jobs,j", po::value(&jobs)->default_value(1), "points running at once (one forked child each)")           //
      ("shard", po::value(&shard_text), "i/N: run only every N-th point, from the i-th (merge the shards)")      //
      ("out", po::value(&out_path), "runs as CSV (and .jsonl beside it; with repeats, .ci.csv of means and CIs)") //
      ("fit", po::value(&fits)->composing(), "least-squares line y~x, e.g. latency~distance_km")                 //
      ("set", po::value(&sets)->composing(), "override a scenario value for every point")                        //
      ("seed", po::value<std::string>(), "base seed")                                                                //
      ("quiet,q", "no progress bar");
  memory.add_to(opts);
  std::string calibration;
  add_calibration_flag(opts, calibration);
  po::variables_map vm;
  if (const auto exit = parse_command_line(
          "sweep", argc, argv, opts, vm,
          "Runs SCENARIO at every point of a grid (the --param flags, else the scenario's [sweep]\n"
          "table), each in its own process. A failing point is reported and the rest complete;\n"
          "Ctrl-C keeps the finished points. Large sweeps spread over machines with --shard i/N\n"
          "(e.g. a Slurm job array) and `mirrorsim merge`.\n"))
    return *exit;
  Scenario base;
  std::vector<SweepParam> grid;
  Shard shard;
  try {
    std::optional<std::string> seed;
    if (vm.count("seed")) seed = vm["seed"].as<std::string>();
    base = load_scenario_with_overrides(vm["scenario"].as<std::string>(), sets, seed, {},
                                        calibration.empty() ? std::nullopt : std::optional(calibration));
    for (const auto& p : params) grid.push_back(parse_sweep_param(p, "--param " + p));
    if (grid.empty() && base.sweep) grid = base.sweep->params;
    if (!vm.count("repeat")) repeat = base.sweep ? base.sweep->repeat : 1;
    if (!shard_text.empty()) shard = parse_shard(shard_text, "--shard " + shard_text);
    // A key that addresses nothing is the sweep's mistake, not a point's.
    for (const auto& p : grid) (void)get_value(base, p.key);
  } catch (const ScenarioError& e) {
    fmt::print(stderr, "mirrorsim sweep: {}\n", e.what());
    return kExitBadInput;
  }
  if (grid.empty()) {
    fmt::print(stderr, "mirrorsim sweep: nothing to sweep: give --param key=v1,v2 or a [sweep] table in {}\n",
               base.source);
    return kExitBadInput;
  }
  if (repeat.value == 0) {
    fmt::print(stderr, "mirrorsim sweep: --repeat must be at least 1\n");
    return kExitBadInput;
  }
  if (jobs.value == 0) {
    fmt::print(stderr, "mirrorsim sweep: --jobs must be at least 1\n");
    return kExitBadInput;
  }
  std::vector<SweepPoint> points;
  try {
    points = sweep_points(base, grid, repeat.value);  // refuses a grid too large to hold
    // Every grid point (its repeats differ only in the seed), `jobs` at once.
    std::vector<std::vector<Override>> grid_points;
    for (const SweepPoint& p : points)
      if (p.repeat == 0) grid_points.push_back(p.overrides);
    check_sweep_resources(base, grid_points, memory.limits(jobs.value));
  } catch (const ScenarioError& e) {
    fmt::print(stderr, "mirrorsim sweep: {}\n", e.what());
    return kExitBadInput;
  }
  std::vector<std::string> keys;
  for (const auto& p : grid) keys.push_back(p.key);
  const bool quiet = vm.count("quiet") > 0;
  if (!quiet)
    fmt::print(stderr, "mirrorsim sweep {}: {} points x {} repeats (seed {}), {} jobs{}\n", base.source,
               points.size() / repeat.value, repeat.value, base.seed, jobs.value,
               shard.count > 1 ? fmt::format(", shard {}/{}", shard.index, shard.count) : "");

  SweepOptions options;
  options.jobs = jobs.value;
  options.shard = shard;
  options.progress = !quiet;
  options.sim.progress = false;
  options.stop = &interrupted;
  auto previous = std::signal(SIGINT, on_sigint);
  const auto outcomes = run_sweep(base, points, options);
  std::signal(SIGINT, previous);

  const SweepTable runs = runs_table(outcomes, keys);
  size_t failed = 0;
  for (const auto& o : outcomes)
    if (!o.error.empty()) {
      ++failed;
      std::string where;
      for (const auto& ov : o.point.overrides) where += fmt::format(" {}={}", ov.key, ov.value);
      fmt::print(stderr, "  point {} (repeat {},{}) failed: {}\n", o.point.grid_index, o.point.repeat, where, o.error);
    }
  const SweepTable ci = confidence_table(runs, keys);
  // The readable table: each grid point's parameters and its headline metrics.
  std::vector<std::string> headline;
  for (const auto& c : runs.columns)
    if (c.find(".write_response_mean_ms") != std::string::npos || c.find(".write_response_p99_ms") != std::string::npos ||
        c.find(".write_iops") != std::string::npos)
      headline.push_back(c);
  for (const auto& k : keys) fmt::print("{:>22} ", k);
  fmt::print("{:>5} ", "runs");
  for (const auto& h : headline) fmt::print("{:>30} ", h);
  fmt::print("\n");
  for (const auto& row : ci.rows) {
    for (size_t i = 0; i < keys.size(); ++i) fmt::print("{:>22} ", row[1 + i]);
    fmt::print("{:>5} ", row[1 + keys.size()]);
    for (const auto& h : headline) {
      const int m = ci.column(h + "_mean"), c = ci.column(h + "_ci95");
      const std::string mean = row[static_cast<size_t>(m)], half = row[static_cast<size_t>(c)];
      if (mean.empty()) fmt::print("{:>30} ", "-");
      else if (half.empty()) fmt::print("{:>30.6g} ", std::stod(mean));
      else fmt::print("{:>30} ", fmt::format("{:.5g} ± {:.2g}", std::stod(mean), std::stod(half)));
    }
    fmt::print("\n");
  }
  fmt::print("{} runs, {} failed{}\n", outcomes.size(), failed, interrupted ? " (interrupted: the unfinished points are missing)" : "");
  bool written = true;
  if (!out_path.empty()) {
    written &= write_text_file("sweep", out_path, to_csv(runs));
    written &= write_text_file("sweep", stem_of(out_path) + ".jsonl", to_jsonl(runs));
    if (repeat.value > 1) written &= write_text_file("sweep", stem_of(out_path) + ".ci.csv", to_csv(ci));
  }
  for (const auto& f : fits)
    if (const int rc = fit(runs, f); rc != kExitOk) return rc;
  if (interrupted) return 130;
  return failed || !written ? kExitFailed : kExitOk;
}

const Registration registration{{"sweep", "run a scenario over a grid of parameter values (forked runs, in parallel)", sweep_main}};

}  // namespace
}  // namespace mirrorsim::cli
