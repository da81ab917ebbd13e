// mirrorsim run: one scenario in the SimGrid driver, summary on stdout.
#include <fstream>
#include <iostream>

#include <boost/program_options.hpp>
#include <fmt/format.h>

#include <algorithm>

#include "cli/analytic_report.hpp"
#include "report/interval_report.hpp"
#include "cli/command.hpp"
#include "cli/command_line.hpp"
#include "cli/scenario_args.hpp"
#include "sim/simulation.hpp"

namespace mirrorsim::cli {
namespace {

namespace po = boost::program_options;

int run_main(int argc, char** argv) {
  po::options_description opts("mirrorsim run SCENARIO [options]");
  std::vector<std::string> sets;
  std::string out_path, timeseries_path, trace_path, interval_report_path;
  std::vector<std::string> interval_targets;
  double interval_s = 60;
  Whole<uint32_t> trace_writes = 200;
  MemoryFlag memory;
  opts.add_options()                                                                                   //
      ("help,h", "this help")                                                                           //
      ("set", po::value(&sets)->composing(), "override a scenario value: --set link.distance_km=200")  //
      ("seed", po::value<std::string>(), "random seed (overrides the scenario's)")                        //
      ("out", po::value(&out_path), "write the results as self-describing JSON")                       //
      ("timeseries", po::value(&timeseries_path), "write the time series as CSV")                      //
      ("trace", po::value(&trace_path), "write a Chrome trace-event JSON of the first writes' phases")  //
      ("trace-writes", po::value(&trace_writes)->default_value(200), "how many host writes --trace follows")  //
      ("analytic", "print the analytic reference's predictions beside the simulated figures")  //
      ("interval-report", po::value(&interval_report_path),
       "write a CSV per interval of the workload (its interval statistics' rows, else --interval-s windows): "
       "offered and done writes, link utilisation, backlog, RPO, the targets missed")  //
      ("interval-s", po::value(&interval_s)->default_value(60), "the windows of --interval-report without interval statistics")  //
      ("interval-target", po::value(&interval_targets)->composing(),
       "a target each interval is judged by: --interval-target \"rpo_s_max <= 30\" (repeatable)")  //
      ("quiet,q", "no progress on stderr");
  memory.add_to(opts);
  std::string calibration;
  add_calibration_flag(opts, calibration);
  po::variables_map vm;
  if (const auto exit = parse_command_line(
          "run", argc, argv, opts, vm,
          "Runs SCENARIO (a TOML file, see scenarios/README.md) in simulated time and prints\n"
          "response times, IOPS, backlog, utilisation, resyncs, data lost and invariant violations.\n"
          "Exit code 0 when the run completed with no invariant violation, 1 otherwise, 2 on bad input\n"
          "(including a scenario whose estimated memory exceeds --memory-max-mib).\n"))
    return *exit;
  Scenario scenario;
  std::vector<IntervalTarget> parsed_targets;
  try {
    std::optional<std::string> seed;
    if (vm.count("seed")) seed = vm["seed"].as<std::string>();
    scenario = load_scenario_with_overrides(vm["scenario"].as<std::string>(), sets, seed, {},
                                            calibration.empty() ? std::nullopt : std::optional(calibration));
    check_resources(scenario, memory.limits());
    // The default window shrinks to a short run's duration; a window given is checked.
    if (!vm.count("interval-s") || vm["interval-s"].defaulted()) interval_s = std::min(interval_s, scenario.duration_s);
    else check_interval_window(scenario, interval_s, "--interval-s");
    for (const std::string& t : interval_targets) parsed_targets.push_back(parse_interval_target(t, "--interval-target"));
    if (!parsed_targets.empty() && interval_report_path.empty())
      throw ScenarioError("--interval-target", "judges the rows of --interval-report: name its file too");
  } catch (const ScenarioError& e) {
    fmt::print(stderr, "mirrorsim run: {}\n", e.what());
    return kExitBadInput;
  }
  const bool quiet = vm.count("quiet") > 0;
  if (!quiet) fmt::print(stderr, "mirrorsim run {} (seed {})\n", scenario.source, scenario.seed);
  SimOptions options;
  options.progress = !quiet;
  options.trace = !trace_path.empty();
  options.trace_writes = trace_writes.value;
  RunResult result;
  try {
    result = simulate(scenario, options);
  } catch (const std::exception& e) {
    fmt::print(stderr, "mirrorsim run: the simulation failed: {}\n", e.what());
    return kExitFailed;
  }
  fmt::print("{}", summary_text(result));
  if (vm.count("analytic")) fmt::print("{}", analytic_report(scenario, result));
  bool written = true;
  if (!out_path.empty()) written &= write_text_file("run", out_path, json_text(to_json(result)) + "\n");
  if (!timeseries_path.empty()) written &= write_text_file("run", timeseries_path, timeseries_csv(result));
  if (!trace_path.empty()) written &= write_text_file("run", trace_path, result.trace_json);
  if (!interval_report_path.empty())
    written &= write_text_file("run", interval_report_path,
                               interval_report_csv(interval_report(scenario, result, interval_s), parsed_targets));
  if (result.invariant_violations) {
    fmt::print(stderr, "\n{}", result.violation_report);
    return kExitFailed;
  }
  if (result.drain_failed) {
    fmt::print(stderr, "mirrorsim run: {}\n", result.end_state);
    return kExitFailed;
  }
  return written ? kExitOk : kExitFailed;
}

const Registration registration{{"run", "run a scenario in simulated time and print its metrics", run_main}};

}  // namespace
}  // namespace mirrorsim::cli
