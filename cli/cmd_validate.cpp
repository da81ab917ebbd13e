// mirrorsim validate: the simulator against this machine — one calibration
// (a file, or calibrate's probes), the scenario twice on the real pair and
// once in the simulator, the three response-time distributions compared.
#include <csignal>
#include <fstream>
#include <iostream>
#include <sstream>

#include <boost/program_options.hpp>
#include <fmt/format.h>

#include "cli/command.hpp"
#include "cli/command_line.hpp"
#include "cli/scenario_args.hpp"
#include "real/validate.hpp"

namespace mirrorsim::cli {
namespace {

namespace po = boost::program_options;

// "1000,5000": host rates, each > 0.
std::optional<std::vector<double>> parse_rates(const std::string& text, std::string* why) {
  std::vector<double> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    size_t used = 0;
    double v = 0;
    try {
      v = std::stod(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size() || !(v > 0 && v <= 1e7)) {
      *why = fmt::format("--rates {}: '{}' is not a rate in IOPS (more than 0, at most 1e7)", text, item);
      return std::nullopt;
    }
    out.push_back(v);
  }
  if (out.empty()) {
    *why = fmt::format("--rates {}: expected rates in IOPS, comma-separated", text);
    return std::nullopt;
  }
  return out;
}

int validate_main(int argc, char** argv) {
  po::options_description opts("mirrorsim validate SCENARIO [options]");
  std::vector<std::string> sets;
  std::string out_path, rates_text, calibration;
  real::ValidateOptions o;
  double demerit_max_pct = -1, noise_ratio_max = -1;
  Whole<uint32_t> ops = static_cast<uint32_t>(o.calibration_ops);
  Whole<uint32_t> cpu_probes = static_cast<uint32_t>(o.cpu_probes);
  double duration_s = 0;
  opts.add_options()                                                                                 //
      ("help,h", "this help")                                                                         //
      ("set", po::value(&sets)->composing(), "override a scenario value")                             //
      ("seed", po::value<std::string>(), "random seed (overrides the scenario's)")                      //
      ("duration-s", po::value(&duration_s), "length of the compared runs (default: the scenario's duration_s)")  //
      ("rates", po::value(&rates_text), "host rates to validate at, IOPS, comma-separated (default: the scenario's)")  //
      ("calibration", po::value(&calibration),
       "a calibration file (mirrorsim calibrate --out) for the simulator; default: calibrate's probes, run first")  //
      ("ops", po::value(&ops)->default_value(ops), "calibration measurements per size")  //
      ("probe-iops", po::value(&o.probe_iops)->default_value(o.probe_iops),
       "host rate of the CPU probe run; 0: each rate validated gets a probe at that rate")  //
      ("probe-s", po::value(&o.probe_s)->default_value(o.probe_s), "length of each CPU probe run (s)")          //
      ("cpu-probes", po::value(&cpu_probes)->default_value(cpu_probes),
       "CPU probe runs at each rate: 1, before the real runs; 2, before and after them, pooled")  //
      ("demerit-max-pct", po::value(&demerit_max_pct), "fail (exit 1) when a sim-vs-real demerit exceeds this % of the mean")  //
      ("noise-ratio-max", po::value(&noise_ratio_max),
       "fail (exit 1) when a sim-vs-real demerit exceeds this many times the real-vs-real one")  //
      ("out", po::value(&out_path), "write the calibration, every run and the comparisons as JSON")    //
      ("page-cache-reads", "where the file system refuses O_DIRECT, read through the page cache instead of refusing")  //
      ("quiet,q", "no progress on stderr");
  po::variables_map vm;
  if (const auto exit = parse_command_line(
          "validate", argc, argv, opts, vm,
          "Runs SCENARIO as written (--set changes it, --rates replaces its hosts' rates) twice on the\n"
          "real pair with the same seed and once in the simulator, all with one calibration: a file\n"
          "(--calibration), or calibrate's own probes run first (disk, link, processors, and at each rate\n"
          "the CPU per operation kind of probe runs at that rate with their own scenario and seed, one\n"
          "before the real runs and one after them, pooled; never a run compared here). Where the probes'\n"
          "machine was more than 10 % busier or quieter than the real runs', it says so.\n"
          "Prints the three response-time distributions side by side (p10 … p99.9), the sim-vs-real\n"
          "demerit beside the real-vs-real one (the noise floor) over p10 … p99 with p99.9 apart, whether\n"
          "it closes (the demerits' ratio at most 1.5, the p50 within 10 % of the real one), and\n"
          "per processor pool the processors the real runs kept busy beside the simulated ones.\n"
          "Exit code 0 when every run is clean (and within the limits asked), 1 otherwise, 2 on bad input.\n"))
    return *exit;
  auto bad = [](const std::string& what) {
    fmt::print(stderr, "mirrorsim validate: {}\n", what);
    return kExitBadInput;
  };
  if (vm.count("duration-s") && !(duration_s > 0 && duration_s <= 86400))
    return bad(fmt::format("--duration-s {}: expected more than 0 and at most 86400", duration_s));
  if (ops.value < 10 || ops.value > 1'000'000) return bad(fmt::format("--ops {}: expected 10 to 1000000", ops.value));
  if (!(o.probe_iops == 0 || (o.probe_iops >= 10 && o.probe_iops <= 1e6)))
    return bad(fmt::format("--probe-iops {}: expected 0 (at each rate) or 10 to 1000000", o.probe_iops));
  if (!(o.probe_s >= 0.5 && o.probe_s <= 600)) return bad(fmt::format("--probe-s {}: expected 0.5 to 600", o.probe_s));
  if (cpu_probes.value < 1 || cpu_probes.value > 2)
    return bad(fmt::format("--cpu-probes {}: expected 1 (before the real runs) or 2 (before and after them)", cpu_probes.value));
  if (vm.count("calibration") && !vm["cpu-probes"].defaulted())
    return bad("--cpu-probes with --calibration: a calibration file is applied as it is, no CPU probe runs");
  o.cpu_probes = static_cast<int>(cpu_probes.value);
  if (vm.count("noise-ratio-max") && !(noise_ratio_max > 0))
    return bad(fmt::format("--noise-ratio-max {}: expected more than 0", noise_ratio_max));
  if (vm.count("rates")) {
    std::string why;
    const auto rates = parse_rates(rates_text, &why);
    if (!rates) return bad(why);
    o.rates_iops = *rates;
  }
  if (vm.count("duration-s")) sets.push_back(fmt::format("duration_s={}", duration_s));
  o.calibration_ops = static_cast<int>(ops.value);
  o.calibration_path = calibration;
  o.real.progress = false;
  o.real.page_cache_reads = vm.count("page-cache-reads") > 0;
  Scenario scenario;
  try {
    std::optional<std::string> seed;
    if (vm.count("seed")) seed = vm["seed"].as<std::string>();
    scenario = load_scenario_with_overrides(vm["scenario"].as<std::string>(), sets, seed);
    real::check_validation_support(scenario, o);
  } catch (const ScenarioError& e) {
    return bad(e.what());
  }
  std::signal(SIGPIPE, SIG_IGN);
  if (!vm.count("quiet"))
    fmt::print(stderr, "mirrorsim validate {}: {}, then at each rate two real runs and one simulated run\n",
               scenario.source, calibration.empty() ? "calibrating (disk, link, CPU probe runs)" : "calibration " + calibration);
  real::Validation v;
  try {
    v = real::validate(scenario, o);
  } catch (const ScenarioError& e) {
    return bad(e.what());
  } catch (const std::exception& e) {
    fmt::print(stderr, "mirrorsim validate: {}\n", e.what());
    return kExitFailed;
  }
  fmt::print("{}", real::validation_text(v));
  if (!out_path.empty()) {
    if (!write_text_file("validate", out_path, json_text(real::to_json(v)) + "\n")) return kExitFailed;
  }
  bool ok = v.clean();
  if (!ok) {
    fmt::print(stderr, "mirrorsim validate: a run was not clean\n");
    for (const auto& r : v.rates)
      for (const auto* run : {&r.real_a, &r.real_b})
        if (!run->result.violation_report.empty()) fmt::print(stderr, "{}", run->result.violation_report);
  }
  for (const auto& r : v.rates)
    for (const auto& c : r.comparisons) {
      const std::string at = r.rate_iops > 0 ? fmt::format(" at {:g} IOPS", r.rate_iops) : "";
      if (demerit_max_pct >= 0 && c.sim_vs_real_percent > demerit_max_pct) {
        fmt::print(stderr, "mirrorsim validate: volume {} {}{}: demerit {:.1f} % of the mean exceeds {:.1f} %\n", c.volume,
                   c.op, at, c.sim_vs_real_percent, demerit_max_pct);
        ok = false;
      }
      if (noise_ratio_max > 0 && c.sim_vs_real_us > noise_ratio_max * c.real_vs_real_us) {
        fmt::print(stderr, "mirrorsim validate: volume {} {}{}: demerit {:.1f} us exceeds {:g} × the noise floor {:.1f} us\n",
                   c.volume, c.op, at, c.sim_vs_real_us, noise_ratio_max, c.real_vs_real_us);
        ok = false;
      }
    }
  return ok ? kExitOk : kExitFailed;
}

const Registration registration{{"validate", "compare the simulator with this machine: calibrate, run both, compare",
                                  validate_main}};

}  // namespace
}  // namespace mirrorsim::cli
