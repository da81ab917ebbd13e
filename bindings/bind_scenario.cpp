// Scenario: the loader's typed, validated scenario, addressed by dotted keys.
#include <pybind11/stl.h>

#include "bindings/bindings.hpp"
#include "config/scenario.hpp"

namespace mirrorsim::bindings {

void bind_scenario(py::module_& m) {
  using namespace pybind11::literals;
  py::class_<Scenario>(m, "Scenario",
                       "A scenario as the loader validated it (config/scenario.hpp). Values are read and written as "
                       "TOML value text by dotted key; every change is checked like a file.")
      .def_static("load", &load_scenario_file, "path"_a,
                  "Loads and validates a scenario file. Raises ScenarioError (a ValueError) naming file:line:col.")
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
      .def("copy", [](const Scenario& s) { return Scenario(s); }, "An independent copy.")
      .def("__eq__", [](const Scenario& a, const Scenario& b) { return a == b; }, py::is_operator());
}

}  // namespace mirrorsim::bindings
