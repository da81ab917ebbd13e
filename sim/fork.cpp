#include "sim/fork.hpp"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include "report/serialize.hpp"

namespace mirrorsim {

void child_write_all(int fd, const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      _exit(3);
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
}

namespace {
// The child writes one frame: a tag ('R' result, 'E' error), an 8-byte
// length, then the bytes.
void write_frame(int fd, char tag, const std::vector<uint8_t>& bytes) {
  const uint64_t n = bytes.size();
  child_write_all(fd, &tag, 1);
  child_write_all(fd, &n, sizeof n);
  child_write_all(fd, bytes.data(), bytes.size());
}
}  // namespace

ChildRun::ChildRun(const Scenario& scenario, const SimOptions& options) {
  // Whatever the parent has buffered would be written twice otherwise.
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
    ::close(fds[0]);
    try {
      const RunResult r = simulate(scenario, options);
      write_frame(fds[1], 'R', serialize(r));
    } catch (const std::exception& e) {
      const std::string msg = e.what();
      write_frame(fds[1], 'E', std::vector<uint8_t>(msg.begin(), msg.end()));
    }
    ::close(fds[1]);
    _exit(0);  // no destructors or atexit handlers of the parent's state
  }
  ::close(fds[1]);
  fd_ = fds[0];
}

ChildRun::ChildRun(ChildRun&& o) noexcept : pid_(o.pid_), fd_(o.fd_), eof_(o.eof_), data_(std::move(o.data_)) {
  o.pid_ = -1;
  o.fd_ = -1;
}

ChildRun::~ChildRun() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  if (fd_ >= 0) ::close(fd_);
}

void ChildRun::kill() {
  if (pid_ > 0) ::kill(pid_, SIGKILL);
}

bool ChildRun::read_available() {
  if (eof_) return true;
  uint8_t buf[1 << 16];
  for (;;) {
    const int flags = ::fcntl(fd_, F_GETFL);
    ::fcntl(fd_, F_SETFL, flags | O_NONBLOCK);
    const ssize_t n = ::read(fd_, buf, sizeof buf);
    ::fcntl(fd_, F_SETFL, flags);
    if (n > 0) {
      data_.insert(data_.end(), buf, buf + n);
      continue;
    }
    if (n == 0) {
      eof_ = true;
      return true;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return false;
    throw ChildFailed(fmt::format("reading from the child: {}", std::strerror(errno)));
  }
}

RunResult ChildRun::finish() {
  while (!eof_) {
    uint8_t buf[1 << 16];
    const ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n > 0) data_.insert(data_.end(), buf, buf + n);
    else if (n == 0) eof_ = true;
    else if (errno != EINTR) throw ChildFailed(fmt::format("reading from the child: {}", std::strerror(errno)));
  }
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  ::close(fd_);
  fd_ = -1;
  if (WIFSIGNALED(status))
    throw ChildFailed(fmt::format("the simulation crashed: {}", strsignal(WTERMSIG(status))));
  if (data_.size() < 9) throw ChildFailed(fmt::format("the simulation exited ({}) without a result", WEXITSTATUS(status)));
  uint64_t n = 0;
  std::memcpy(&n, data_.data() + 1, sizeof n);
  if (data_.size() != 9 + n) throw ChildFailed("the simulation's result was cut short");
  std::vector<uint8_t> body(data_.begin() + 9, data_.end());
  if (data_[0] == 'E') throw ChildFailed(std::string(body.begin(), body.end()));
  if (data_[0] != 'R') throw ChildFailed("the simulation's result was unreadable");
  try {
    return deserialize(body);
  } catch (const std::exception& e) {
    throw ChildFailed(e.what());
  }
}

RunResult simulate_in_child(const Scenario& scenario, const SimOptions& options) {
  ChildRun child(scenario, options);
  return child.finish();
}

}  // namespace mirrorsim
