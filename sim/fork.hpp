// Simulations in forked children. SimGrid allows one engine per process (a
// second one silently corrupts state), so every run beyond the first — a
// sweep's points, the Python bindings' runs, tests that compare two runs —
// happens in a child that sends its full result back over a pipe.
#pragma once

#include <stdexcept>
#include <string>
#include <sys/types.h>
#include <vector>

#include "config/scenario.hpp"
#include "report/result.hpp"
#include "sim/simulation.hpp"

namespace mirrorsim {

// The child failed: an exception, a crash (signal) or garbage on the pipe.
class ChildFailed : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class ChildRun {
 public:
  // Forks; the child simulates and exits. Never call simulate() in this
  // process before forking children.
  ChildRun(const Scenario& scenario, const SimOptions& options);
  ChildRun(ChildRun&& o) noexcept;
  ChildRun& operator=(ChildRun&&) = delete;
  ChildRun(const ChildRun&) = delete;
  ~ChildRun();  // kills and reaps a child still running

  pid_t pid() const { return pid_; }
  int fd() const { return fd_; }  // readable while the child writes (for poll)
  // Reads what the pipe holds without blocking; true once the child closed it.
  bool read_available();
  // Blocks until the child is done and returns its result (throws ChildFailed).
  RunResult finish();
  // Stops a child early (Ctrl-C of a sweep).
  void kill();

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  bool eof_ = false;
  std::vector<uint8_t> data_;
};

RunResult simulate_in_child(const Scenario& scenario, const SimOptions& options);

// In a forked child: writes all of `data` to the pipe `fd`, retrying on
// EINTR; a pipe that fails ends the child (exit code 3), since it has no one
// left to tell.
void child_write_all(int fd, const void* data, size_t n);

}  // namespace mirrorsim
