// SIGINT and SIGTERM for `mirrorsim real`: while an InterruptScope lives,
// either signal is recorded (the handler only writes a byte to a pipe)
// and the orchestrator's loop, which watches the pipe, throws Interrupted;
// unwinding stops the controllers and removes the run's files, and the
// command exits 128 + the signal (130, 143). Without a scope (tests, the
// Python bindings) nothing changes.
#pragma once

#include <stdexcept>

namespace mirrorsim::real {

class Interrupted : public std::runtime_error {
 public:
  explicit Interrupted(int signal);
  int signal() const { return signal_; }

 private:
  int signal_;
};

class InterruptScope {
 public:
  InterruptScope();   // installs the handlers (throws when it cannot)
  ~InterruptScope();  // puts the previous ones back
  InterruptScope(const InterruptScope&) = delete;
  InterruptScope& operator=(const InterruptScope&) = delete;
  int fd() const;     // readable once a signal arrived
};

// The first SIGINT or SIGTERM received under a scope since the process
// started, 0 if none.
int interrupted_signal();
// Throws Interrupted when a signal arrived.
void throw_if_interrupted();

}  // namespace mirrorsim::real
