#include "cli/scenario_args.hpp"

#include <fmt/format.h>

namespace mirrorsim::cli {

Scenario load_scenario_with_overrides(const std::string& path, const std::vector<std::string>& sets,
                                      std::optional<uint64_t> seed) {
  Scenario s = load_scenario_file(path);
  std::vector<Override> overrides;
  for (const std::string& kv : sets) {
    const auto eq = kv.find('=');
    const std::string where = "--set " + kv;
    if (eq == std::string::npos || eq == 0) throw ScenarioError(where, "expected key=value, e.g. link.distance_km=200");
    overrides.push_back(Override{kv.substr(0, eq), kv.substr(eq + 1), where});
  }
  if (seed) overrides.push_back(Override{"seed", std::to_string(*seed), fmt::format("--seed {}", *seed)});
  set_values(s, overrides);
  return s;
}

}  // namespace mirrorsim::cli
