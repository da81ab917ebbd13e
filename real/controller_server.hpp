// A controller process: one model Controller driven by real devices. It
// listens on one port for the orchestrator's control connections and for
// the peer controller's link, takes its configuration from a Configure
// frame (or from its own directory after a restart), and then runs the
// sans-IO model on an epoll loop:
//
//   input → Controller::step → commit the durable changes (state file)
//         → execute the commands: disk I/O on worker threads, frames on the
//           link, answers to host requests, timers
//
// A restarted process finds its state in DIR and the state file: it
// rebuilds the controller with Controller::recovered, steps Restart, and
// serves again without waiting for anyone (owed destages resume at once,
// owed copies when the link is back).
#pragma once

#include <functional>
#include <string>

#include "real/net.hpp"

namespace mirrorsim::real {

struct ServeOptions {
  Endpoint listen{"127.0.0.1", 0};
  std::string dir;                     // backing files and the stored configuration
  std::string state_dir = "/dev/shm";  // where the state file (non-volatile cache) lives
  int announce_fd = -1;                // gets "listening on HOST:PORT\n" once bound
  // Spawned by `mirrorsim real` for one run: exit at the end of the run or
  // when the orchestrator's control connection goes. Otherwise (`mirrorsim
  // secondary`) serve run after run.
  bool exit_after_run = false;
  bool quiet = false;                  // no log lines on stderr
  std::string netns;                   // spawn_controller: serve inside this network namespace (root only)
};

// Runs until the end (exit_after_run) or forever; returns the exit code.
// Throws std::runtime_error when it cannot even listen.
int serve_controller(const ServeOptions& options);

// The state file of the controller whose directory is `dir`.
std::string state_file_path(const std::string& state_dir, const std::string& dir);

}  // namespace mirrorsim::real
