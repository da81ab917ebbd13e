// mirrorsim size: the least (or most) value of one key at which every
// target holds, by a search over forked runs that splits the bracket in
// three each round (sweep/size.hpp).
#include <atomic>
#include <csignal>

#include <boost/program_options.hpp>
#include <fmt/format.h>

#include "cli/command.hpp"
#include "cli/command_line.hpp"
#include "cli/scenario_args.hpp"
#include "sweep/size.hpp"

namespace mirrorsim::cli {
namespace {

namespace po = boost::program_options;

std::atomic<bool> interrupted{false};
extern "C" void on_size_sigint(int) { interrupted = true; }

int size_main(int argc, char** argv) {
  po::options_description opts("mirrorsim size SCENARIO --vary KEY=LOW:HIGH --target \"METRIC <= BOUND\" [options]");
  std::vector<std::string> sets, target_texts;
  std::string vary, out_path, calibration, direction = "auto";
  Whole<uint32_t> repeat = 1, jobs = 1;
  double tolerance = 0.01;
  MemoryFlag memory;
  opts.add_options()                                                                                             //
      ("help,h", "this help")                                                                                     //
      ("vary", po::value(&vary), "the key searched and its range, e.g. link.bandwidth_gbit_per_s=0.1:100")      //
      ("target", po::value(&target_texts)->composing(), "a metric and its bound, e.g. \"volume.db.writes.response_ms.p99 <= 2\"")  //
      ("repeat", po::value(&repeat)->default_value(1), "runs per value (seeds base, base+1, ...): judged by the 95 % CI's pessimistic end")  //
      ("jobs,j", po::value(&jobs)->default_value(1), "runs at once (one forked child each)")                   //
      ("tolerance", po::value(&tolerance)->default_value(0.01), "stop when the bracket is this fraction of its upper end (counts: 1)")  //
      ("direction", po::value(&direction)->default_value("auto"), "smallest | largest | auto (from which end of the range meets the targets)")  //
      ("out", po::value(&out_path), "every run and the answer as JSON")                                         //
      ("set", po::value(&sets)->composing(), "override a scenario value for every run")                        //
      ("seed", po::value<std::string>(), "base seed")                                                            //
      ("quiet,q", "no progress on stderr");
  memory.add_to(opts);
  add_calibration_flag(opts, calibration);
  po::variables_map vm;
  if (const auto exit = parse_command_line(
          "size", argc, argv, opts, vm,
          "Finds the smallest value of one scenario key (or the largest, for a key where more is worse,\n"
          "such as link.distance_km) at which every --target holds, by a search that judges two values a round (a third of the\n"
          "bracket apart, run at once with --jobs 2) and keeps the third between them; each value runs\n"
          "--repeat times and is judged by the pessimistic end of its 95 % confidence interval.\n"
          "Targets name the metrics of `mirrorsim run --out` (volume.db.writes.response_ms.p99,\n"
          "writes_at_risk_peak, processor_pools.R1.front_end.utilisation_mean, ...).\n"
          "Exit 0 with an answer, 1 when no value in the range meets the targets, 2 on bad input.\n"))
    return *exit;
  Scenario base;
  SizeRange range;
  std::vector<SizeTarget> targets;
  SizeOptions options;
  try {
    std::optional<std::string> seed;
    if (vm.count("seed")) seed = vm["seed"].as<std::string>();
    base = load_scenario_with_overrides(vm["scenario"].as<std::string>(), sets, seed, {},
                                        calibration.empty() ? std::nullopt : std::optional(calibration));
    if (vary.empty()) throw ScenarioError("--vary", "give the key to search and its range, e.g. --vary link.bandwidth_gbit_per_s=0.1:100");
    range = parse_size_range(vary, "--vary " + vary);
    (void)get_value(base, range.key);
    if (target_texts.empty()) throw ScenarioError("--target", "give at least one, e.g. --target \"volume.db.writes.response_ms.p99 <= 2\"");
    for (const auto& t : target_texts) targets.push_back(parse_size_target(t, "--target " + t));
    if (repeat.value == 0) throw ScenarioError("--repeat", "at least 1");
    if (jobs.value == 0) throw ScenarioError("--jobs", "at least 1");
    if (!(tolerance > 0 && tolerance < 1)) throw ScenarioError(fmt::format("--tolerance {}", tolerance), "expected a fraction in (0, 1)");
    if (direction == "smallest") options.direction = SizeDirection::Smallest;
    else if (direction == "largest") options.direction = SizeDirection::Largest;
    else if (direction != "auto") throw ScenarioError("--direction " + direction, "expected smallest, largest or auto");
    check_resources(base, memory.limits(jobs.value));
  } catch (const ScenarioError& e) {
    fmt::print(stderr, "mirrorsim size: {}\n", e.what());
    return kExitBadInput;
  }
  const bool quiet = vm.count("quiet") > 0;
  options.repeat = repeat.value;
  options.tolerance = tolerance;
  options.sweep.jobs = jobs.value;
  options.sweep.progress = false;
  options.sweep.sim.progress = false;  // size reports each point itself (and nothing with --quiet)
  options.sweep.stop = &interrupted;
  if (!quiet) options.progress = [](const std::string& line) { fmt::print(stderr, "  {}\n", line); };
  std::signal(SIGINT, on_size_sigint);
  if (!quiet)
    fmt::print(stderr, "mirrorsim size {}: {} from {} to {}, {} repeat(s) a value (seed {}), {} jobs\n", base.source,
               range.key, range.lo, range.hi, repeat.value, base.seed, jobs.value);
  SizeResult r;
  try {
    r = size_search(base, range, targets, options);
  } catch (const ScenarioError& e) {
    fmt::print(stderr, "mirrorsim size: {}\n", e.what());
    return kExitBadInput;
  }
  fmt::print("{}\n", r.verdict);
  if (r.answer) {
    for (const SizePoint& p : r.points) {
      if (p.value != *r.answer) continue;
      for (size_t i = 0; i < targets.size(); ++i)
        if (p.judged[i])
          fmt::print("  at {} = {}: {} is {} (bound {}, margin {})\n", r.key, p.value, targets[i].path, *p.judged[i],
                     targets[i].bound, std::fabs(targets[i].bound - *p.judged[i]));
      break;
    }
  }
  for (const auto& m : r.not_monotone) fmt::print("  not monotone: {}\n", m);
  fmt::print("\n{:>16} {:>6} {:>7}", "value", "seed", "meets");
  for (const auto& t : targets) fmt::print("  {}", t.path);
  fmt::print("\n");
  for (const SizePoint& p : r.points)
    for (const PointOutcome& o : p.runs) {
      fmt::print("{:>16.6g} {:>6} {:>7}", p.value, o.point.seed, p.pass ? "yes" : "no");
      for (const auto& t : targets) {
        const auto v = o.result ? metric_at(to_json(*o.result)["metrics"], t.path) : std::nullopt;
        fmt::print("  {}", v ? fmt::format("{:.6g}", *v) : "failed: " + o.error);
      }
      fmt::print("\n");
    }
  fmt::print("{} runs in {:.1f} s\n", [&] {
    size_t n = 0;
    for (const auto& p : r.points) n += p.runs.size();
    return n;
  }(), r.wall_s);
  if (!out_path.empty() && !write_text_file("size", out_path, json_text(to_json(r, targets)) + "\n")) return kExitFailed;
  if (interrupted) return 130;
  return r.answer ? kExitOk : kExitFailed;
}

const Registration registration{{"size", "the smallest link, cache or count that meets a target (a search over runs)", size_main}};

}  // namespace
}  // namespace mirrorsim::cli
