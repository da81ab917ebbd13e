// mirrorsim check: every ordering of events of a scenario scaled down to
// small bounds, on the model itself; the shortest counterexample when an
// invariant breaks. Also replays a saved counterexample.
#include <charconv>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <boost/program_options.hpp>
#include <fmt/format.h>

#include "check/counterexample.hpp"
#include "check/explorer.hpp"
#include "report/result.hpp"
#include "cli/command.hpp"
#include "cli/command_line.hpp"
#include "cli/scenario_args.hpp"
#include "model/limits.hpp"
#if MIRRORSIM_CHECK_SCENARIOS
#include "check/scenario_options.hpp"
#endif

namespace mirrorsim::cli {
namespace {

namespace po = boost::program_options;

constexpr std::string_view kUsage = "mirrorsim check SCENARIO [options]\n  mirrorsim check --replay FILE";

// --failures "N" (every kind) or "kind=N[,kind=N...]" as overrides of the
// [check] keys, so that the loader's rules (and maxima) judge the numbers.
bool failure_overrides(const std::string& spec, std::vector<Override>& out, std::string& error) {
  static constexpr std::pair<std::string_view, std::string_view> kKinds[] = {
      {"link_failures", "check.link_failures"}, {"crashes", "check.crashes"},
      {"disk_failures", "check.disk_failures"}, {"disasters", "check.disasters"},
      {"operator_actions", "check.operator_actions"}};
  const std::string where = "--failures " + spec;
  if (spec.find('=') == std::string::npos) {
    for (const auto& [kind, key] : kKinds) out.push_back(Override{std::string(key), spec, where});
    return true;
  }
  std::string_view rest = spec;
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos || eq + 1 == item.size()) {
      error = fmt::format("--failures: '{}' is not kind=N", item);
      return false;
    }
    const std::string_view kind = item.substr(0, eq);
    const auto found = std::find_if(std::begin(kKinds), std::end(kKinds), [&](const auto& k) { return k.first == kind; });
    if (found == std::end(kKinds)) {
      error = fmt::format("--failures: unknown kind '{}' (link_failures, crashes, disk_failures, disasters, "
                          "operator_actions: the [check] keys)",
                          kind);
      return false;
    }
    out.push_back(Override{std::string(found->second), std::string(item.substr(eq + 1)), where});
  }
  return true;
}

std::string mutant_names() {
  std::string s = "none";
  for (Mutant m : all_mutants()) s += fmt::format(", {}", to_string(m));
  return s;
}

std::string describe_options(const check::Options& o) {
  const ControllerConfig& a = o.world.side_a;
  std::string modes;
  for (const auto& v : a.volumes) modes += fmt::format("{}{} {}", modes.empty() ? "" : ", ", v.name, to_string(v.mode));
  const check::Bounds& b = o.bounds;
  return fmt::format(
      "{} volume(s) x {} tracks ({}), {} cache slots, {} disks, {} link(s), {} cache; {} writes, {} reads; "
      "failures: link_failures {}, crashes {}, disk_failures {}, disasters {}, operator_actions {}; mutant {}",
      a.volumes.size(), a.volumes.front().tracks, modes, a.cache_slots, a.disks, o.world.links,
      a.cache_nonvolatile ? "non-volatile" : "volatile", b.writes, b.reads, b.link_failures, b.crashes, b.disk_failures,
      b.disasters, b.operator_actions, to_string(a.mutant));
}

void print_finding(const check::Finding& f) {
  fmt::print("VIOLATION ({}{}):\n", check::to_string(f.kind),
             f.invariant ? fmt::format(", I{}", static_cast<int>(*f.invariant)) : std::string());
  std::string_view what = f.what;
  while (!what.empty()) {
    const size_t nl = what.find('\n');
    fmt::print("  {}\n", what.substr(0, nl));
    what = nl == std::string_view::npos ? std::string_view{} : what.substr(nl + 1);
  }
}

void print_narrative(const check::ReplayResult& r) {
  for (const std::string& line : r.narrative) fmt::print("{}\n", line);
}

bool write_json(const std::string& path, const nlohmann::json& j) {
  return write_text_file("check", path, json_text(j) + "\n");
}

int replay_main(const std::string& path) {
  try {
    const check::Counterexample cx = check::load_counterexample(path);  // validated: check/counterexample.hpp
    const check::ReplayResult r = check::replay(cx);
    fmt::print("replaying {} ({} events{}), mutant {}\n", path, cx.events.size(),
               cx.rest_at_end ? ", then brought to rest" : "", to_string(cx.world.side_a.mutant));
    print_narrative(r);
    if (!r.finding) {
      fmt::print("no violation: the trace runs clean on this model\n");
      return kExitOk;
    }
    print_finding(*r.finding);
    return kExitFailed;
  } catch (const check::TraceError& e) {
    fmt::print(stderr, "mirrorsim check: {}\n", e.what());
  } catch (const std::invalid_argument& e) {
    fmt::print(stderr, "mirrorsim check: {}: {}\n", path, e.what());
  }
  return kExitBadInput;
}

int check_main(int argc, char** argv) {
  po::options_description opts(fmt::format("usage: {}\n\noptions", kUsage));
  std::vector<std::string> sets;
  std::vector<std::string> failures;
  std::string out_path, trace_path = "counterexample.json", replay_path, mutant = "none";
  Whole<uint32_t> reads = 0;
  MemoryFlag memory;
  // Flags that stand for [check] keys are given to the loader as typed, so
  // its rules (ranges, maxima) judge them and refusals name the flag.
  opts.add_options()                                                                                     //
      ("help,h", "this help")                                                                             //
      ("set", po::value(&sets)->composing(), "override a scenario value: --set check.writes=3")          //
      ("writes", po::value<std::string>(), "host writes on a path (default: the scenario's [check] table)")  //
      ("reads", po::value(&reads)->default_value(reads), "host reads on a path")                         //
      ("tracks", po::value<std::string>(), "tracks per volume")                                              //
      ("volumes", po::value<std::string>(), "the scenario's first volumes to keep")                          //
      ("cache-slots", po::value<std::string>(), "cache slots per controller")                                //
      ("links", po::value<std::string>(), "parallel links (copies overtake each other across links)")        //
      ("failures", po::value(&failures)->composing(),
       "failure bounds: N for every kind, or kind=N[,kind=N...] with the [check] keys link_failures, crashes, "
       "disk_failures, disasters, operator_actions; repeated, applied in order")  //
      ("mutant", po::value(&mutant), ("a deliberately broken protocol variant: " + mutant_names()).c_str())      //
      ("max-states", po::value<std::string>(), "stop after this many distinct states")                        //
      ("max-depth", po::value<Whole<uint32_t>>(), "stop at a path of this many events")                           //
      ("out", po::value(&out_path), "write the report (and any counterexample) as JSON")                  //
      ("trace", po::value(&trace_path), "where a counterexample is saved (default counterexample.json)")  //
      ("replay", po::value(&replay_path), "replay a saved counterexample instead of exploring")           //
      ("quiet,q", "no progress on stderr");
  memory.add_to(opts);
  po::variables_map vm;
  if (const auto exit = parse_command_line(
          "check", argc, argv, opts, vm,
          "Explores every ordering of events of SCENARIO scaled down to its [check] table (or the\n"
          "flags): host writes, disk completions, deliveries in any order the links allow, link\n"
          "cuts, crashes, disk errors, disasters with failover, operator actions. Every step is\n"
          "checked against invariants I1-I11; every quiet state is brought to rest and must end\n"
          "with R2 == R1, nothing owed and every request answered.\n\n"
          "Exit code 0: every reachable state explored, no violation. 1: a violation; the shortest\n"
          "counterexample is printed and saved (--trace). 2: bad input, or bounds too large to\n"
          "explore within --max-states / --max-depth / --memory-max-mib.\n",
          Positional{"scenario", nullptr, 1}))
    return *exit;
  if (!replay_path.empty()) return replay_main(replay_path);
  if (!vm.count("scenario")) {
    fmt::print(stderr, "mirrorsim check: a SCENARIO file (or --replay FILE) is needed\nusage: {}\n", kUsage);
    return kExitBadInput;
  }
  const std::string scenario_path = vm["scenario"].as<std::string>();

#if MIRRORSIM_CHECK_SCENARIOS
  check::Options options;
  try {
    std::vector<Override> flags;
    for (const auto& [flag, key] : {std::pair{"writes", "check.writes"}, std::pair{"tracks", "check.tracks"},
                                    std::pair{"volumes", "check.volumes"}, std::pair{"cache-slots", "check.cache_slots"},
                                    std::pair{"links", "check.links"}, std::pair{"max-states", "check.max_states"}})
      if (vm.count(flag)) flags.push_back(flag_override(key, fmt::format("--{}", flag), vm[flag].as<std::string>()));
    for (const std::string& spec : failures) {
      std::string error;
      if (!failure_overrides(spec, flags, error)) {
        fmt::print(stderr, "mirrorsim check: {}\n", error);
        return kExitBadInput;
      }
    }
    const Scenario s = load_scenario_with_overrides(scenario_path, sets, std::nullopt, flags);
    options = check::options_from_scenario(s);
    options.bounds.reads = reads.value;
    if (reads.value > limits::kCheckWritesMax)
      throw ScenarioError(fmt::format("--reads {}", reads.value), fmt::format("expected 0 to {}", limits::kCheckWritesMax));
    if (vm.count("max-depth")) {
      const uint32_t depth = vm["max-depth"].as<Whole<uint32_t>>().value;
      if (depth < 1 || depth > limits::kCheckDepthMax)
        throw ScenarioError(fmt::format("--max-depth {}", depth), fmt::format("expected 1 to {}", limits::kCheckDepthMax));
      options.bounds.max_depth = depth;
    }
    options.memory_bytes_max = memory.bytes();
  } catch (const ScenarioError& e) {
    fmt::print(stderr, "mirrorsim check: {}\n", e.what());
    return kExitBadInput;
  }
#else
  fmt::print(stderr, "mirrorsim check: this build has no scenario loader (config/); only --replay works\n");
  return kExitBadInput;
#endif

  Mutant m = Mutant::None;
  if (!parse_mutant(mutant, m)) {
    fmt::print(stderr, "mirrorsim check: unknown mutant '{}' (one of: {})\n", mutant, mutant_names());
    return kExitBadInput;
  }
  options.world.side_a.mutant = options.world.side_b.mutant = m;

  const bool quiet = vm.count("quiet") > 0;
  if (!quiet)
    options.progress = [](uint64_t states, uint64_t transitions, uint32_t depth, double seconds) {
      fmt::print(stderr, "\r  {} states, {} transitions, depth {}, {:.0f} states/s   ", states, transitions, depth,
                 seconds > 0 ? static_cast<double>(states) / seconds : 0.0);
    };

  fmt::print("mirrorsim check {}\n  {}\n", scenario_path, describe_options(options));
  const check::Result r = check::explore(options);
  if (!quiet && options.progress) fmt::print(stderr, "\r{:60}\r", "");

  const check::Stats& st = r.stats;
  const double seconds = st.seconds + r.shallow_stats.seconds + r.shortest_stats.seconds;
  fmt::print("states explored    {}\n", st.states);
  fmt::print("transitions        {}\n", st.transitions);
  fmt::print("end states         {}\n", st.end_states);
  fmt::print("maximum depth      {}\n", st.max_depth);
  fmt::print("states per second  {:.0f}\n", st.states_per_second());
  fmt::print("time               {:.2f} s (shallow search {:.2f} s, shortest-trace search {:.2f} s)\n", seconds,
             r.shallow_stats.seconds, r.shortest_stats.seconds);
  fmt::print("visited table      {:.1f} MiB, {:.1f} bytes per state\n",
             static_cast<double>(st.visited_bytes) / (1 << 20), st.bytes_per_state());
  fmt::print("violations         {}\n", r.finding ? 1 : 0);

  int exit_code = kExitOk;
  switch (r.outcome) {
    case check::Result::Outcome::Complete:
      fmt::print("result: every reachable state explored, no violation\n");
      break;
    case check::Result::Outcome::StateLimit:
      fmt::print("result: stopped at --max-states {}: the bounds are too large to explore exhaustively; lower "
                 "--writes, --tracks or --failures, or raise --max-states (about {:.0f} bytes per state)\n",
                 options.bounds.max_states, st.bytes_per_state());
      exit_code = kExitBadInput;
      break;
    case check::Result::Outcome::MemoryLimit:
      fmt::print("result: stopped at --memory-max-mib {}: the search would hold more (the visited table and about "
                 "{} bytes per state waiting); lower --writes, --tracks or --failures, or raise --memory-max-mib\n",
                 options.memory_bytes_max >> 20, check::state_bytes(options.world));
      exit_code = kExitBadInput;
      break;
    case check::Result::Outcome::DepthLimit:
      fmt::print("result: stopped at a path of --max-depth {} events: lower the bounds or raise --max-depth\n",
                 options.bounds.max_depth);
      exit_code = kExitBadInput;
      break;
    case check::Result::Outcome::Violation: {
      exit_code = kExitFailed;
      print_finding(*r.finding);
      const check::Counterexample& cx = *r.counterexample;
      fmt::print("{} counterexample ({} events{}):\n", cx.shortest ? "shortest" : "a", cx.events.size(),
                 cx.rest_at_end ? ", then the pair brought to rest" : "");
      try {
        print_narrative(check::replay(cx));
        check::save_counterexample(cx, trace_path);
        fmt::print("counterexample saved to {} (replay: mirrorsim check --replay {})\n", trace_path, trace_path);
      } catch (const std::exception& e) {
        fmt::print(stderr, "mirrorsim check: {}\n", e.what());
      }
      break;
    }
  }
  if (!out_path.empty()) {
    nlohmann::json report = check::to_json(r);
    report["scenario"] = scenario_path;
    report["configuration"] = describe_options(options);
    if (!write_json(out_path, report)) return kExitBadInput;
  }
  return exit_code;
}

const Registration registration{Command{
    "check", "explore every ordering of events of a small pair; shortest counterexample on a violation", check_main}};

}  // namespace
}  // namespace mirrorsim::cli
