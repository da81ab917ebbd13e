// A scenario scaled down to the explorer's bounds (its [check] table, or
// the table's defaults). Built only with the scenario loader (config/).
#pragma once

#include "check/explorer.hpp"
#include "config/scenario.hpp"

namespace mirrorsim::check {

// The first `volumes` volumes with `tracks` tracks each, `cache_slots`
// slots, `links` links; modes, domino, skew (clipped to the tracks), the
// cache's volatility and the rest of each controller's configuration from
// the scenario; disks clipped to the tracks (a disk no track maps to only
// multiplies the disk failures to try). Throws ScenarioError when the
// scenario has no volume or a bound that leaves nothing to explore.
Options options_from_scenario(const Scenario& s);

}  // namespace mirrorsim::check
