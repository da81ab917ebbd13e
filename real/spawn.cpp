#include "real/spawn.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include "real/clock.hpp"
#include "sim/fork.hpp"

namespace mirrorsim::real {

LocalController spawn_controller(ServeOptions options, Time timeout, const std::function<void()>& in_child) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error(fmt::format("pipe: {}", std::strerror(errno)));
  // A controller must not outlive the orchestrator that started it.
  const pid_t pid = fork_child();
  if (pid < 0) throw std::runtime_error(fmt::format("fork: {}", std::strerror(errno)));
  if (pid == 0) {
    // The child: nothing of the parent's but stdio and the announcement pipe.
    if (!options.netns.empty()) {
      const std::string path = "/var/run/netns/" + options.netns;
      const int ns = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (ns < 0 || ::setns(ns, CLONE_NEWNET) != 0) {
        fmt::print(stderr, "mirrorsim controller: cannot enter network namespace {}: {}\n", options.netns, std::strerror(errno));
        ::_exit(1);
      }
      ::close(ns);
    }
    ::dup2(fds[1], 3);
    ::close_range(4, UINT_MAX, 0);
    ::signal(SIGPIPE, SIG_IGN);
    // The orchestrator's SIGINT/SIGTERM handlers (interrupt.hpp) are not
    // the controller's: a Ctrl-C of the terminal ends it as it ends its parent.
    ::signal(SIGINT, SIG_DFL);
    ::signal(SIGTERM, SIG_DFL);
    options.announce_fd = 3;
    if (in_child) in_child();
    int code = 1;
    try {
      code = serve_controller(options);
    } catch (const std::exception& e) {
      fmt::print(stderr, "mirrorsim controller: {}\n", e.what());
    }
    ::_exit(code);
  }
  ::close(fds[1]);
  std::string line;
  const Time deadline = monotonic_now() + timeout;
  while (line.find('\n') == std::string::npos) {
    const int64_t left_ms = (deadline - monotonic_now()).ns / 1'000'000;
    pollfd p{fds[0], POLLIN, 0};
    if (left_ms <= 0 || ::poll(&p, 1, static_cast<int>(left_ms)) <= 0) break;
    char buf[256];
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n <= 0) break;
    line.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  LocalController c{pid, options.listen};
  const auto colon = line.rfind(':');
  if (line.rfind("listening on ", 0) != 0 || colon == std::string::npos) {
    kill_controller(c, SIGKILL);
    throw std::runtime_error(fmt::format("the controller process for {} did not start (it said: '{}')", options.dir,
                                         line.substr(0, line.find('\n'))));
  }
  c.endpoint.port = static_cast<uint16_t>(std::stoul(line.substr(colon + 1)));
  return c;
}

bool kill_controller(LocalController& c, int signal) {
  if (c.pid <= 0) return false;
  const bool running = ::kill(c.pid, signal) == 0;
  int status = 0;
  ::waitpid(c.pid, &status, 0);
  c.pid = -1;
  return running;
}

int reap_controller(LocalController& c, Time timeout) {
  if (c.pid <= 0) return 0;
  const Time deadline = monotonic_now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(c.pid, &status, WNOHANG);
    if (r == c.pid) {
      c.pid = -1;
      return status;
    }
    if (monotonic_now() > deadline) {
      kill_controller(c, SIGKILL);
      return -1;
    }
    ::usleep(2000);
  }
}

}  // namespace mirrorsim::real
