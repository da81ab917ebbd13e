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

// One frame: a tag ('R' result, 'S' ScenarioError, 'E' error), the number
// of parts, then each part as an 8-byte length and its bytes.
void write_frame(int fd, char tag, const std::vector<std::string>& parts) {
  child_write_all(fd, &tag, 1);
  const uint64_t count = parts.size();
  child_write_all(fd, &count, sizeof count);
  for (const std::string& part : parts) {
    const uint64_t n = part.size();
    child_write_all(fd, &n, sizeof n);
    child_write_all(fd, part.data(), part.size());
  }
}

struct Frame {
  char tag = 0;
  std::vector<std::string> parts;
};

std::optional<Frame> read_frame(const std::string& data) {
  size_t at = 0;
  auto take = [&](void* out, size_t n) {
    if (data.size() - at < n) return false;
    std::memcpy(out, data.data() + at, n);
    at += n;
    return true;
  };
  Frame f;
  uint64_t count = 0;
  if (!take(&f.tag, 1) || !take(&count, sizeof count)) return std::nullopt;
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t n = 0;
    if (!take(&n, sizeof n) || data.size() - at < n) return std::nullopt;
    f.parts.emplace_back(data.substr(at, n));
    at += n;
  }
  if (at != data.size()) return std::nullopt;
  return f;
}

// A forked child running `work`, killed and reaped unless it was waited for.
class Child {
 public:
  explicit Child(const std::function<std::vector<std::string>()>& work) {
    std::fflush(stdout);
    std::fflush(stderr);
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw ChildFailed(fmt::format("pipe: {}", std::strerror(errno)));
    pid_ = ::fork();
    if (pid_ < 0) {
      ::close(fds[0]);
      ::close(fds[1]);
      throw ChildFailed(fmt::format("fork: {}", std::strerror(errno)));
    }
    if (pid_ == 0) {
      // The interpreter's SIGINT handler would only set a flag no one reads
      // here: a terminal's Ctrl-C ends the child, the parent reports it.
      std::signal(SIGINT, SIG_DFL);
      ::close(fds[0]);
      try {
        write_frame(fds[1], 'R', work());
      } catch (const ScenarioError& e) {
        std::string message = e.what();
        if (!e.where().empty() && message.starts_with(e.where() + ": ")) message.erase(0, e.where().size() + 2);
        write_frame(fds[1], 'S', {e.where(), message});
      } catch (const std::exception& e) {
        write_frame(fds[1], 'E', {e.what()});
      } catch (...) {
        write_frame(fds[1], 'E', {"an exception that is not a std::exception"});
      }
      ::close(fds[1]);
      _exit(0);  // no interpreter finalisation, no atexit handlers of the parent's state
    }
    ::close(fds[1]);
    fd_ = fds[0];
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
  const std::optional<Frame> frame = read_frame(child.data());
  if (!frame) throw ChildFailed(fmt::format("{} exited ({}) without a readable result", what, WEXITSTATUS(status)));
  if (frame->tag == 'S' && frame->parts.size() == 2) throw ScenarioError(frame->parts[0], frame->parts[1]);
  if (frame->tag == 'E' && frame->parts.size() == 1) throw ChildFailed(frame->parts[0]);
  if (frame->tag != 'R') throw ChildFailed(fmt::format("{} sent an unreadable result", what));
  return frame->parts;
}

}  // namespace mirrorsim::bindings
