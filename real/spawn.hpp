// Controller processes on this machine: forked from the orchestrator (no
// exec, so the test binary can spawn them as well as `mirrorsim`), each
// serving one run and dying with its parent (PR_SET_PDEATHSIG).
#pragma once

#include <sys/types.h>

#include <functional>

#include "model/types.hpp"
#include "real/controller_server.hpp"

namespace mirrorsim::real {

struct LocalController {
  pid_t pid = -1;
  Endpoint endpoint;  // where it listens (the port it got, when asked for 0)
};

// Forks a controller serving `options` (one run with exit_after_run, as
// `mirrorsim real` starts R2; run after run without, as `mirrorsim
// secondary` serves) and waits (up to `timeout`) for it to
// announce its port. Throws std::runtime_error when it does not come up.
// `in_child` runs in the child before it serves (a test's resource limits).
// The options, its key included, reach the child in memory, through the
// fork: never on a command line or in a file.
LocalController spawn_controller(ServeOptions options, Time timeout, const std::function<void()>& in_child = {});
// Sends `signal` and reaps the process; true when it was still running.
bool kill_controller(LocalController& c, int signal);
// Waits up to `timeout` for the process to exit by itself, then kills it.
// Returns its exit status as waitpid gave it (-1 if it had to be killed).
int reap_controller(LocalController& c, Time timeout);

}  // namespace mirrorsim::real
