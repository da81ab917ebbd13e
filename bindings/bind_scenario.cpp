// Scenario: the loader's typed, validated scenario, addressed by dotted keys.
#include <pybind11/stl.h>

#include "bindings/bindings.hpp"
#include "config/resources.hpp"
#include "config/scenario.hpp"

namespace mirrorsim::bindings {

void bind_scenario(py::module_& m) {
  using namespace pybind11::literals;
  py::class_<Scenario>(m, "Scenario",
                       "A scenario as the loader validated it (config/scenario.hpp). Values are read and written as "
                       "TOML value text by dotted key; every change is checked like a file.")
      .def_static("load", &load_scenario_file, "path"_a,
                  "Loads and validates a scenario file (a regular file of at most 16 MiB; a path with a NUL is "
                  "refused). Raises ScenarioError (a ValueError) naming file:line:col.")
      .def_static("parse", &parse_scenario, "toml_text"_a, "source_name"_a,
                  "Parses and validates scenario TOML text; errors name source_name:line:col.")
      .def(
          "get_value", [](const Scenario& s, const std::string& key) { return get_value(s, key); }, "key"_a,
          "The TOML text of a dotted key's value; \"\" for an optional key that is not set. Raises ScenarioError "
          "for a key that addresses nothing.")
      .def(
          "set_values",
          [](Scenario& s, const std::vector<std::tuple<std::string, std::string, std::string>>& overrides) {
            std::vector<Override> o;
            for (const auto& [key, value, where] : overrides) o.push_back(Override{key, value, where});
            // On a refusal the scenario is left as it was.
            Scenario changed = s;
            set_values(changed, o);
            s = std::move(changed);
          },
          "overrides"_a,
          "Applies (key, TOML value text, where) overrides together, then checks the scenario once (set_values). "
          "Raises ScenarioError naming the override's `where`; the scenario is unchanged then.")
      .def_readonly("source", &Scenario::source, "The file it came from, or the name given to parse.")
      .def_readonly("resolved_toml", &Scenario::resolved_toml,
                    "The resolved scenario as TOML: loading it again gives the same scenario.")
      .def(
          "resource_estimate",
          [](const Scenario& s, bool real) {
            const ResourceEstimate e = estimate_resources(s, real ? Driver::Real : Driver::Simulator);
            py::list memory;
            for (const MemoryUse& u : e.memory) memory.append(py::make_tuple(u.what, u.bytes));
            py::dict d;
            d["memory_bytes"] = e.memory_bytes;
            d["memory"] = memory;
            d["requests_in_flight"] = e.requests_in_flight;
            d["events_per_simulated_s"] = e.events_per_simulated_s;
            return d;
          },
          "real"_a = false,
          "What a run of the scenario needs (config/resources.hpp): {memory_bytes, memory: [(consumer, bytes)] "
          "largest first, requests_in_flight, events_per_simulated_s}.")
      .def(
          "check_resources",
          [](const Scenario& s, uint64_t memory_bytes_max, unsigned concurrent) {
            check_resources(s, ResourceLimits{memory_bytes_max, concurrent, "memory_max_mib"});
          },
          "memory_bytes_max"_a, "concurrent"_a = 1,
          "Raises ScenarioError when the scenario's estimated memory × concurrent exceeds memory_bytes_max (naming "
          "the biggest consumers), or its events per simulated second exceed what the clock can separate.")
      .def("copy", [](const Scenario& s) { return Scenario(s); }, "An independent copy.")
      .def("__eq__", [](const Scenario& a, const Scenario& b) { return a == b; }, py::is_operator());
  m.attr("MEMORY_SHARE_DEFAULT") = kMemoryShareDefault;
}

}  // namespace mirrorsim::bindings
