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

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "model/config.hpp"
#include "model/types.hpp"
#include "real/auth.hpp"
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
  // Every connection, control and link, proves it holds `key` before
  // anything else of it is accepted (auth.hpp). The public key (all zeros)
  // only on loopback: serve_controller refuses it anywhere else.
  Key key = public_key();
  // What this controller proves when it dials its peer (side A); unset: `key`.
  std::optional<Key> peer_key;
  // Names the state file after the process that owns the run (`mirrorsim
  // real`: "real-PID-START"), so that a later run can tell a killed run's
  // leftovers from a live one's. Empty for a standalone secondary.
  std::string state_owner;
  // Limits (README.md, "Limits"). Connections held beyond the link: over
  // connections_max, a new one is refused at once. One that has not
  // authenticated and said Hello within unauthenticated_timeout is closed;
  // so is an authenticated control connection silent for idle_timeout,
  // unless it is the one that configured the run. When accept runs out of
  // file descriptors, the listener rests for accept_backoff.
  uint32_t connections_max = 64;
  Time unauthenticated_timeout = Time::from_s(3);
  Time idle_timeout = Time::from_s(60);
  Time accept_backoff = Time::from_us(100'000);
};

// Runs until the end (exit_after_run) or forever; returns the exit code.
// Throws std::runtime_error when it cannot even listen.
int serve_controller(const ServeOptions& options);

// The cache payload slots a controller's state file has (controller_server.cpp
// says why so many); only those in use take memory.
uint32_t payload_slots(const ControllerConfig& c);

// The state file of the controller whose directory is `dir`, owned by
// `owner` (ServeOptions::state_owner; empty: a standalone secondary's).
std::string state_file_path(const std::string& state_dir, const std::string& dir, const std::string& owner = {});

}  // namespace mirrorsim::real
