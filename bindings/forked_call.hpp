// Waiting on forked children from Python: the GIL is released while the
// child works, and Ctrl-C (SIGINT in the interpreter) is checked between
// short polls, so a notebook's "interrupt" raises KeyboardInterrupt and
// kills the child instead of hanging or killing the kernel.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "sim/fork.hpp"

namespace mirrorsim::bindings {

// How often the interpreter's pending signals are checked while waiting.
inline constexpr int kSignalPollMs = 100;

// Runs the simulation in a child (sim/fork.hpp's ChildRun) and returns its
// result. Throws pybind11::error_already_set (KeyboardInterrupt) when
// interrupted, the child killed and reaped; ChildFailed when it failed.
RunResult run_in_child(const Scenario& scenario, const SimOptions& options);

// Runs `work` in a forked child and returns the strings it returns. Work
// that throws ScenarioError is rethrown here as ScenarioError (same where
// and message); any other exception as ChildFailed with its message; a
// child that dies as ChildFailed naming the signal. `what` names the work in
// those messages ("the explorer", "the validation").
std::vector<std::string> call_in_child(const std::function<std::vector<std::string>()>& work, const std::string& what);

}  // namespace mirrorsim::bindings
