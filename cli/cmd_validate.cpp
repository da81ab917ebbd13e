// mirrorsim validate: the simulator against this machine — calibrate, run the
// scenario in real mode and in the simulator, compare the
// response-time distributions.
#include <csignal>
#include <fstream>
#include <iostream>

#include <boost/program_options.hpp>
#include <fmt/format.h>

#include "cli/command.hpp"
#include "cli/command_line.hpp"
#include "cli/scenario_args.hpp"
#include "real/validate.hpp"

namespace mirrorsim::cli {
namespace {

namespace po = boost::program_options;

int validate_main(int argc, char** argv) {
  po::options_description opts("mirrorsim validate SCENARIO [options]");
  std::vector<std::string> sets;
  std::string out_path;
  real::ValidateOptions o;
  double demerit_max_pct = -1;
  Whole<uint32_t> ops = static_cast<uint32_t>(o.calibration_ops);
  double duration_s = 0;
  opts.add_options()                                                                                 //
      ("help,h", "this help")                                                                         //
      ("set", po::value(&sets)->composing(), "override a scenario value")                             //
      ("seed", po::value<std::string>(), "random seed (overrides the scenario's)")                      //
      ("duration-s", po::value(&duration_s), "length of the compared runs (default: the scenario's duration_s)")  //
      ("ops", po::value(&ops)->default_value(ops), "calibration measurements per size")  //
      ("demerit-max-pct", po::value(&demerit_max_pct), "fail (exit 1) when a demerit exceeds this % of the mean")  //
      ("out", po::value(&out_path), "write calibration, both results and the comparison as JSON")    //
      ("page-cache-reads", "where the file system refuses O_DIRECT, read through the page cache instead of refusing")  //
      ("quiet,q", "no progress on stderr");
  po::variables_map vm;
  if (const auto exit = parse_command_line(
          "validate", argc, argv, opts, vm,
          "Runs SCENARIO as written (--set changes it), calibrates its disk and link keys on this machine\n"
          "(as `mirrorsim calibrate`) and its cache-store times with two short probe runs, runs it in\n"
          "real mode (raw loopback link) and in the simulator, and prints both response-time\n"
          "distributions side by side with the demerit (RMS of the quantile differences).\n"
          "Exit code 0 when both runs are clean (and within --demerit-max-pct), 1 otherwise, 2 on bad input.\n"))
    return *exit;
  if (vm.count("duration-s") && !(duration_s > 0 && duration_s <= 86400)) {
    fmt::print(stderr, "mirrorsim validate: --duration-s {}: expected more than 0 and at most 86400\n", duration_s);
    return kExitBadInput;
  }
  if (ops.value < 10 || ops.value > 1'000'000) {
    fmt::print(stderr, "mirrorsim validate: --ops {}: expected 10 to 1000000\n", ops.value);
    return kExitBadInput;
  }
  if (vm.count("duration-s")) sets.push_back(fmt::format("duration_s={}", duration_s));
  o.calibration_ops = static_cast<int>(ops.value);
  o.real.progress = false;
  o.real.page_cache_reads = vm.count("page-cache-reads") > 0;
  Scenario scenario;
  try {
    std::optional<std::string> seed;
    if (vm.count("seed")) seed = vm["seed"].as<std::string>();
    scenario = load_scenario_with_overrides(vm["scenario"].as<std::string>(), sets, seed);
    real::check_validation_support(scenario, o);
  } catch (const ScenarioError& e) {
    fmt::print(stderr, "mirrorsim validate: {}\n", e.what());
    return kExitBadInput;
  }
  std::signal(SIGPIPE, SIG_IGN);
  if (!vm.count("quiet")) fmt::print(stderr, "mirrorsim validate {}: calibrating, probing, then one real and one simulated run\n", scenario.source);
  real::Validation v;
  try {
    v = real::validate(scenario, o);
  } catch (const ScenarioError& e) {
    fmt::print(stderr, "mirrorsim validate: {}\n", e.what());
    return kExitBadInput;
  } catch (const std::exception& e) {
    fmt::print(stderr, "mirrorsim validate: {}\n", e.what());
    return kExitFailed;
  }
  fmt::print("{}", real::validation_text(v));
  if (!out_path.empty()) {
    if (!write_text_file("validate", out_path, json_text(real::to_json(v)) + "\n")) return kExitFailed;
  }
  bool ok = v.real.verification.ok() && !v.real.result.invariant_violations && !v.sim.invariant_violations;
  if (!ok) fmt::print(stderr, "mirrorsim validate: a run was not clean\n{}", v.real.result.violation_report);
  if (demerit_max_pct >= 0)
    for (const auto& c : v.comparisons)
      if (c.demerit_percent_of_mean > demerit_max_pct) {
        fmt::print(stderr, "mirrorsim validate: volume {} {}: demerit {:.1f} % of the mean exceeds {:.1f} %\n", c.volume,
                   c.op, c.demerit_percent_of_mean, demerit_max_pct);
        ok = false;
      }
  return ok ? kExitOk : kExitFailed;
}

const Registration registration{{"validate", "compare the simulator with this machine: calibrate, run both, compare",
                                  validate_main}};

}  // namespace
}  // namespace mirrorsim::cli
