// Simulations in forked children. SimGrid allows one engine per process (a
// second one silently corrupts state), so every run beyond the first — a
// sweep's points, the Python bindings' runs, tests that compare two runs —
// happens in a child that sends its full result back over a pipe.
#pragma once

#include <span>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
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

// fork() for a child that must not outlive this process: flushes stdio (or
// the child writes the parent's buffered output twice), and in the child
// asks for SIGKILL when the forking thread dies (PR_SET_PDEATHSIG), then
// exits at once if the parent is already gone (it died between fork and
// prctl). A killed sweep or Python interpreter takes its children with it.
// The forking thread must outlive the child: every caller here waits for it.
// Returns fork()'s result; -1 with errno on failure.
pid_t fork_child();

// A child (fork_child) that runs `work` and answers with one reply on a
// pipe — 'R' and the parts `work` returned, 'S' for a ScenarioError (where,
// message), 'E' for any other exception — then exits without running the
// parent's destructors. `first` runs in the child before `work`. Returns
// the child's pid and the read end of its pipe; throws ChildFailed.
struct ForkedChild {
  pid_t pid = -1;
  int fd = -1;
};
ForkedChild fork_replying_child(const std::function<std::vector<std::string>()>& work,
                                const std::function<void()>& first = {});

// The pipe from a child to its parent carries one reply: a tag byte, the
// number of parts (u64), then each part as a u64 length and its bytes, in
// host byte order (parent and child are one program). Tags: 'R' the result,
// 'S' a ScenarioError (where, message), 'E' an error (message).
struct ChildReply {
  char tag = 0;
  std::vector<std::string> parts;
};

// In a forked child: writes the reply to `fd`; a pipe that fails ends the
// child (exit code 3), since it has no one left to tell.
void write_child_reply(int fd, char tag, const std::vector<std::string_view>& parts);

// In the parent: the reply in `data`, everything the child wrote. Throws
// ChildFailed naming `what` ("the simulation") and what is wrong: nothing
// sent, cut short, bytes after the reply, an unknown tag.
ChildReply parse_child_reply(std::span<const uint8_t> data, std::string_view what);

}  // namespace mirrorsim
