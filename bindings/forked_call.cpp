#include "bindings/forked_call.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <optional>

#include <fmt/format.h>
#include <pybind11/pybind11.h>

#include "sim/fork.hpp"

namespace mirrorsim::bindings {

namespace py = pybind11;

namespace {

// Waits for the interpreter's pending signals between polls of `fd`, the
// GIL released during each poll. `pump` reads what arrived and says whether
// the child is done. On a signal handler's exception (KeyboardInterrupt)
// `stop` kills the child before the exception propagates.
template <typename Pump, typename Stop>
void wait_interruptibly(int fd, Pump&& pump, Stop&& stop) {
  for (;;) {
    bool done = false;
    {
      py::gil_scoped_release release;
      pollfd p{fd, POLLIN, 0};
      ::poll(&p, 1, kSignalPollMs);  // EINTR (a signal) is fine: checked below
      done = pump();
    }
    if (done) return;
    if (PyErr_CheckSignals() != 0) {
      stop();
      throw py::error_already_set();
    }
  }
}

// A forked child running `work`, killed and reaped unless it was waited for.
class Child {
 public:
  explicit Child(const std::function<std::vector<std::string>()>& work) {
    // The interpreter's SIGINT handler would only set a flag no one reads in
    // the child: a terminal's Ctrl-C ends it, the parent reports it.
    const ForkedChild c = fork_replying_child(work, [] { std::signal(SIGINT, SIG_DFL); });
    pid_ = c.pid;
    fd_ = c.fd;
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    kill();
    if (fd_ >= 0) ::close(fd_);
  }

  int fd() const { return fd_; }
  // Reads without blocking; true once the child closed its end.
  bool pump() {
    char buf[1 << 16];
    for (;;) {
      const ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n > 0) {
        data_.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n == 0) return true;
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return false;
      return true;  // a broken pipe: reaping says why
    }
  }
  void kill() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
      }
      pid_ = -1;
    }
  }
  // After pump() returned true: the child's exit status.
  int reap() {
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return status;
  }
  const std::string& data() const { return data_; }
  void set_nonblocking() {
    const int flags = ::fcntl(fd_, F_GETFL);
    ::fcntl(fd_, F_SETFL, flags | O_NONBLOCK);
  }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  std::string data_;
};

}  // namespace

RunResult run_in_child(const Scenario& scenario, const SimOptions& options) {
  std::optional<ChildRun> child;
  child.emplace(scenario, options);
  wait_interruptibly(
      child->fd(),
      [&] {
        try {
          return child->read_available();
        } catch (const ChildFailed&) {
          return true;  // finish() reports it
        }
      },
      [&] { child.reset(); });  // kills and reaps
  py::gil_scoped_release release;
  return child->finish();
}

std::vector<std::string> call_in_child(const std::function<std::vector<std::string>()>& work, const std::string& what) {
  Child child(work);
  child.set_nonblocking();
  wait_interruptibly(child.fd(), [&] { return child.pump(); }, [&] { child.kill(); });
  const int status = child.reap();
  if (WIFSIGNALED(status)) throw ChildFailed(fmt::format("{} crashed: {}", what, strsignal(WTERMSIG(status))));
  if (child.data().empty())
    throw ChildFailed(fmt::format("{} exited ({}) without a result", what, WEXITSTATUS(status)));
  ChildReply reply = parse_child_reply(
      std::span(reinterpret_cast<const uint8_t*>(child.data().data()), child.data().size()), what);
  if (reply.tag == 'S' && reply.parts.size() == 2) throw ScenarioError(reply.parts[0], reply.parts[1]);
  if (reply.tag == 'E' && reply.parts.size() == 1) throw ChildFailed(reply.parts[0]);
  if (reply.tag != 'R')
    throw ChildFailed(fmt::format("{}'s reply is unreadable (tag '{}', {} parts)", what, reply.tag, reply.parts.size()));
  return std::move(reply.parts);
}

}  // namespace mirrorsim::bindings
