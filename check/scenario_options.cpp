#include "check/scenario_options.hpp"

#include <algorithm>

namespace mirrorsim::check {

Options options_from_scenario(const Scenario& s) {
  const CheckScenario bounds = s.check.value_or(CheckScenario{});
  if (s.volumes.empty()) throw ScenarioError(s.source, "the scenario has no volume to check");
  if (bounds.tracks == 0 || bounds.volumes == 0 || bounds.cache_slots == 0 || bounds.links == 0)
    throw ScenarioError(s.source, "check.tracks, check.volumes, check.cache_slots and check.links must be at least 1");
  const uint32_t volumes = std::clamp<uint32_t>(bounds.volumes, 1, static_cast<uint32_t>(s.volumes.size()));

  auto scale = [&](Side side) {
    ControllerConfig c = controller_config(s, side);
    c.volumes.resize(volumes);
    for (VolumeConfig& v : c.volumes) {
      v.tracks = bounds.tracks;
      v.skew_tracks = std::min(v.skew_tracks, bounds.tracks);
    }
    c.cache_slots = bounds.cache_slots;
    c.disks = std::clamp<uint32_t>(c.disks, 1, volumes * bounds.tracks);
    return c;
  };

  Options o;
  o.world.side_a = scale(Side::A);
  o.world.side_b = scale(Side::B);
  o.world.links = bounds.links;
  o.bounds.writes = bounds.writes;
  o.bounds.link_failures = bounds.link_failures;
  o.bounds.crashes = bounds.crashes;
  o.bounds.disk_failures = bounds.disk_failures;
  o.bounds.disasters = bounds.disasters;
  o.bounds.operator_actions = bounds.operator_actions;
  o.bounds.max_states = bounds.max_states;
  return o;
}

}  // namespace mirrorsim::check
