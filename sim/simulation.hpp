// The SimGrid driver: runs a scenario's mirrored pair in simulated time.
//
// SimGrid allows one engine per process and keeps global state, so
// simulate() may be called at most once per process; sweeps and the Python
// bindings fork a child per run (see sim/fork.hpp).
#pragma once

#include <string>

#include "config/scenario.hpp"
#include "report/result.hpp"

namespace mirrorsim {

struct SimOptions {
  bool progress = true;        // progress line on stderr for runs longer than a few seconds
  bool trace = false;          // RunResult::trace_json: Chrome trace-event JSON of the first trace_writes host writes
  uint32_t trace_writes = 200;
  size_t violation_trace_length = 48;  // events kept to explain an invariant violation
};

// Runs the scenario to its end (host I/O until duration_s, then the pair
// drains). Throws std::runtime_error on a simulation that cannot run (e.g.
// a deadlock); invariant violations are reported in the result, not thrown.
RunResult simulate(const Scenario& scenario, const SimOptions& options);

// The SimGrid version this driver runs on, e.g. "3.32".
std::string simgrid_version();

}  // namespace mirrorsim
