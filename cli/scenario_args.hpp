// What every subcommand that takes a scenario shares: load the file, apply
// --set overrides and --seed, report bad input as file:line:col (exit 2).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/scenario.hpp"

namespace mirrorsim::cli {

// Throws ScenarioError; `sets` are "key=value" strings.
Scenario load_scenario_with_overrides(const std::string& path, const std::vector<std::string>& sets,
                                      std::optional<uint64_t> seed);

}  // namespace mirrorsim::cli
