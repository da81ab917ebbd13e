// What every subcommand that takes a scenario shares: load the file, apply
// --set overrides, --seed and other flags that stand for scenario keys,
// report bad input as file:line:col or as the flag (exit 2).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "cli/command_line.hpp"
#include "config/resources.hpp"
#include "config/scenario.hpp"

namespace mirrorsim::cli {

// --memory-max-mib, shared by run, sweep, check and real: the memory a run
// (each child of a sweep, the explorer) may take. The default is
// kMemoryShareDefault of this machine's physical memory.
struct MemoryFlag {
  Whole<uint64_t> mib;

  MemoryFlag();
  void add_to(boost::program_options::options_description& opts);
  // The limit in bytes; throws ScenarioError naming the flag when it is 0 or
  // does not fit in bytes.
  uint64_t bytes() const;
  ResourceLimits limits(unsigned concurrent = 1) const { return ResourceLimits{bytes(), concurrent, "--memory-max-mib"}; }
};

// A flag that sets a scenario key, with the text the user typed: checked by
// the key's own rule, refusals name the flag ("--seed -1: seed: expected
// an integer in [0, 9223372036854775807], got -1").
Override flag_override(std::string key, const std::string& flag, const std::string& typed);

// Throws ScenarioError; `calibration` (--calibration FILE) is laid over the
// file first; then `sets` ("key=value" strings), `seed` (the text of --seed)
// and `flags`, all checked together.
Scenario load_scenario_with_overrides(const std::string& path, const std::vector<std::string>& sets,
                                      const std::optional<std::string>& seed, const std::vector<Override>& flags = {},
                                      const std::optional<std::string>& calibration = std::nullopt);

// --calibration FILE, for the commands that simulate.
void add_calibration_flag(boost::program_options::options_description& opts, std::string& path);

}  // namespace mirrorsim::cli
