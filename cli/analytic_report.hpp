// `mirrorsim run --analytic`: the analytic reference's predictions beside
// the simulated figures, where the scenario fits the models' assumptions,
// and which assumption fails where it does not.
#pragma once

#include <string>

#include "config/scenario.hpp"
#include "report/result.hpp"

namespace mirrorsim::cli {

std::string analytic_report(const Scenario& s, const RunResult& r);

}  // namespace mirrorsim::cli
