#include "cli/scenario_args.hpp"

#include <fmt/format.h>

namespace mirrorsim::cli {

Scenario load_scenario_with_overrides(const std::string& path, const std::vector<std::string>& sets,
                                      std::optional<uint64_t> seed) {
  Scenario s = load_scenario_file(path);
  for (const std::string& kv : sets) {
    const auto eq = kv.find('=');
    const std::string where = "--set " + kv;
    if (eq == std::string::npos || eq == 0) throw ScenarioError(where, "expected key=value, e.g. link.distance_km=200");
    set_value(s, kv.substr(0, eq), kv.substr(eq + 1), where);
  }
  if (seed) set_value(s, "seed", std::to_string(*seed), fmt::format("--seed {}", *seed));
  return s;
}

}  // namespace mirrorsim::cli
