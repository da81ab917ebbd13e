// check(): the exhaustive explorer (check/) on a scenario scaled down to
// its [check] table, in a forked child so that Ctrl-C stops it and its
// visited-state table goes with the child.
#include <pybind11/stl.h>

#include "bindings/bindings.hpp"
#include "bindings/forked_call.hpp"

#if MIRRORSIM_BIND_CHECK && MIRRORSIM_CHECK_SCENARIOS
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "check/counterexample.hpp"
#include "check/explorer.hpp"
#include "check/scenario_options.hpp"
#include "model/limits.hpp"
#endif

namespace mirrorsim::bindings {

#if MIRRORSIM_BIND_CHECK && MIRRORSIM_CHECK_SCENARIOS
namespace {

// What was explored, as data: the scaled pair and the bounds.
nlohmann::json configuration(const check::Options& o) {
  const ControllerConfig& a = o.world.side_a;
  nlohmann::json volumes = nlohmann::json::array();
  for (const VolumeConfig& v : a.volumes)
    volumes.push_back({{"name", v.name},
                       {"mode", std::string(to_string(v.mode))},
                       {"tracks", v.tracks},
                       {"skew_tracks", v.skew_tracks},
                       {"domino", v.domino}});
  const check::Bounds& b = o.bounds;
  return {{"volumes", volumes},
          {"cache_slots", a.cache_slots},
          {"disks", a.disks},
          {"links", o.world.links},
          {"cache_nonvolatile", a.cache_nonvolatile},
          {"mutant", std::string(to_string(a.mutant))},
          {"bounds", check::bounds_json(b)}};
}

std::string mutant_names() {
  std::string s = "none";
  for (Mutant m : all_mutants()) s += fmt::format(", {}", to_string(m));
  return s;
}

}  // namespace
#endif

void bind_check(py::module_& m) {
#if MIRRORSIM_BIND_CHECK && MIRRORSIM_CHECK_SCENARIOS
  using namespace pybind11::literals;
  m.attr("HAVE_CHECK") = true;
  m.def(
      "check",
      [](const Scenario& s, uint32_t reads, std::optional<uint32_t> max_depth, const std::string& mutant,
         uint64_t memory_bytes_max) {
        check::Options options = check::options_from_scenario(s);  // ScenarioError → ValueError, before forking
        if (reads > limits::kCheckWritesMax)
          throw py::value_error(fmt::format("check: reads must be 0 to {}, got {}", limits::kCheckWritesMax, reads));
        options.bounds.reads = reads;
        if (max_depth) {
          if (*max_depth == 0 || *max_depth > limits::kCheckDepthMax)
            throw py::value_error(
                fmt::format("check: max_depth must be 1 to {}, got {}", limits::kCheckDepthMax, *max_depth));
          options.bounds.max_depth = *max_depth;
        }
        if (memory_bytes_max == 0) throw py::value_error("check: memory_max_mib must be at least 1");
        options.memory_bytes_max = memory_bytes_max;
        Mutant mt = Mutant::None;
        if (!parse_mutant(mutant, mt))
          throw py::value_error(fmt::format("check: unknown mutant '{}' (one of: {})", mutant, mutant_names()));
        options.world.side_a.mutant = options.world.side_b.mutant = mt;
        const auto parts = call_in_child(
            [&] {
              const check::Result r = check::explore(options);
              nlohmann::json report = check::to_json(r);
              report["scenario"] = s.source;
              report["configuration"] = configuration(options);
              nlohmann::json narrative = nlohmann::json::array();
              if (r.counterexample)
                for (const std::string& line : check::replay(*r.counterexample).narrative) narrative.push_back(line);
              return std::vector<std::string>{report.dump(), narrative.dump()};
            },
            "the explorer");
        return std::make_pair(parts.at(0), parts.at(1));
      },
      "scenario"_a, "reads"_a, "max_depth"_a, "mutant"_a, "memory_bytes_max"_a,
      "Explores every ordering of events of the scenario scaled down to its [check] table (check/explorer.hpp), in "
      "a forked child. Returns (report JSON text: outcome, stats, finding, counterexample, shallow_search, "
      "scenario, configuration; the counterexample's replay narrative as a JSON list of lines). mutant: a "
      "deliberately broken protocol variant, or \"none\". memory_bytes_max bounds what the search holds (outcome "
      "\"memory-limit\" when reached).");
#else
  m.attr("HAVE_CHECK") = false;
#endif
}

}  // namespace mirrorsim::bindings
