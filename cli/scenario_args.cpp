#include "cli/scenario_args.hpp"

#include <unistd.h>

#include <fmt/format.h>

namespace mirrorsim::cli {

namespace {

uint64_t physical_memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) : 0;
}

}  // namespace

MemoryFlag::MemoryFlag() {
  // Without a figure from the system, 4 GiB: a limit that protects, never one that is silently absent.
  const uint64_t physical = physical_memory_bytes();
  mib = physical ? static_cast<uint64_t>(static_cast<double>(physical) * kMemoryShareDefault) >> 20 : 4096;
}

void MemoryFlag::add_to(boost::program_options::options_description& opts) {
  const uint64_t physical_mib = physical_memory_bytes() >> 20;
  opts.add_options()("memory-max-mib", boost::program_options::value(&mib)->default_value(mib),
                     fmt::format("refuse a run whose estimated memory exceeds this (MiB; default {:.0f} % of this "
                                 "machine's {} MiB)",
                                 kMemoryShareDefault * 100, physical_mib)
                         .c_str());
}

uint64_t MemoryFlag::bytes() const {
  if (mib.value == 0 || mib.value > (UINT64_MAX >> 20))
    throw ScenarioError(fmt::format("--memory-max-mib {}", mib.value),
                        fmt::format("expected 1 to {} MiB", UINT64_MAX >> 20));
  return mib.value << 20;
}

Override flag_override(std::string key, const std::string& flag, const std::string& typed) {
  return Override{std::move(key), typed, fmt::format("{} {}", flag, typed)};
}

Scenario load_scenario_with_overrides(const std::string& path, const std::vector<std::string>& sets,
                                      const std::optional<std::string>& seed, const std::vector<Override>& flags,
                                      const std::optional<std::string>& calibration) {
  Scenario s = load_scenario_file(path);
  if (calibration) apply_calibration(s, *calibration);
  std::vector<Override> overrides;
  for (const std::string& kv : sets) {
    const auto eq = kv.find('=');
    const std::string where = "--set " + kv;
    if (eq == std::string::npos || eq == 0) throw ScenarioError(where, "expected key=value, e.g. link.distance_km=200");
    overrides.push_back(Override{kv.substr(0, eq), kv.substr(eq + 1), where});
  }
  if (seed) overrides.push_back(flag_override("seed", "--seed", *seed));
  overrides.insert(overrides.end(), flags.begin(), flags.end());
  set_values(s, overrides);
  return s;
}

void add_calibration_flag(boost::program_options::options_description& opts, std::string& path) {
  opts.add_options()("calibration", boost::program_options::value(&path),
                     "lay a calibration (mirrorsim calibrate --out) over the scenario before --set");
}

}  // namespace mirrorsim::cli
