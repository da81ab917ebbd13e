// The resolved scenario as JSON, for results files. Kept apart from
// scenario.hpp so that only the code writing JSON includes nlohmann.
#pragma once

#include <nlohmann/json.hpp>

#include "config/scenario.hpp"

namespace mirrorsim {

// The same content as the resolved TOML (every key, defaults filled in,
// overrides applied): TOML integers become JSON integers, floats stay
// floats, tables become objects. Unset optional keys are absent.
nlohmann::json to_json(const Scenario& s);

}  // namespace mirrorsim
