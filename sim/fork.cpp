#include "sim/fork.hpp"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include "report/serialize.hpp"

namespace mirrorsim {

namespace {

void write_all(int fd, const void* data, size_t n) {
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

}  // namespace

pid_t fork_child() {
  const pid_t parent = ::getpid();
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) _exit(1);
  }
  return pid;
}

void write_child_reply(int fd, char tag, const std::vector<std::string_view>& parts) {
  write_all(fd, &tag, 1);
  const uint64_t count = parts.size();
  write_all(fd, &count, sizeof count);
  for (const std::string_view part : parts) {
    const uint64_t n = part.size();
    write_all(fd, &n, sizeof n);
    write_all(fd, part.data(), part.size());
  }
}

ChildReply parse_child_reply(std::span<const uint8_t> data, std::string_view what) {
  if (data.empty()) throw ChildFailed(fmt::format("{} sent nothing", what));
  size_t at = 0;
  auto take_u64 = [&](std::string_view field) {
    uint64_t v = 0;
    if (data.size() - at < sizeof v)
      throw ChildFailed(fmt::format("{}'s reply was cut short at {} (byte {} of {})", what, field, at, data.size()));
    std::memcpy(&v, data.data() + at, sizeof v);
    at += sizeof v;
    return v;
  };
  ChildReply reply;
  reply.tag = static_cast<char>(data[at++]);
  if (reply.tag != 'R' && reply.tag != 'S' && reply.tag != 'E')
    throw ChildFailed(fmt::format("{}'s reply is unreadable (tag byte {})", what, static_cast<unsigned>(data[0])));
  const uint64_t count = take_u64("the number of parts");
  // Each part takes at least its length: a count beyond that is garbage,
  // refused before anything is allocated for it.
  if (count > (data.size() - at) / sizeof(uint64_t))
    throw ChildFailed(
        fmt::format("{}'s reply announces {} part(s), more than its {} bytes can hold", what, count, data.size()));
  for (uint64_t i = 0; i < count; ++i) {
    const uint64_t n = take_u64(fmt::format("the length of part {}", i + 1));
    if (n > data.size() - at)
      throw ChildFailed(fmt::format("{}'s reply was cut short in part {} ({} bytes of {})", what, i + 1,
                                    data.size() - at, n));
    reply.parts.emplace_back(reinterpret_cast<const char*>(data.data() + at), n);
    at += n;
  }
  if (at != data.size())
    throw ChildFailed(fmt::format("{}'s reply has {} bytes after its end", what, data.size() - at));
  return reply;
}

ForkedChild fork_replying_child(const std::function<std::vector<std::string>()>& work,
                                const std::function<void()>& first) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw ChildFailed(fmt::format("pipe: {}", std::strerror(errno)));
  const pid_t pid = fork_child();
  if (pid < 0) {
    const int error = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    throw ChildFailed(fmt::format("fork: {}", std::strerror(error)));
  }
  if (pid == 0) {
    ::close(fds[0]);
    try {
      if (first) first();
      const std::vector<std::string> parts = work();
      write_child_reply(fds[1], 'R', std::vector<std::string_view>(parts.begin(), parts.end()));
    } catch (const ScenarioError& e) {
      std::string message = e.what();
      if (!e.where().empty() && message.starts_with(e.where() + ": ")) message.erase(0, e.where().size() + 2);
      write_child_reply(fds[1], 'S', {e.where(), message});
    } catch (const std::exception& e) {
      write_child_reply(fds[1], 'E', {e.what()});
    } catch (...) {
      write_child_reply(fds[1], 'E', {"an exception that is not a std::exception"});
    }
    ::close(fds[1]);
    _exit(0);  // no destructors or atexit handlers of the parent's state
  }
  ::close(fds[1]);
  return ForkedChild{pid, fds[0]};
}

ChildRun::ChildRun(const Scenario& scenario, const SimOptions& options) {
  const ForkedChild c = fork_replying_child([&] {
    const std::vector<uint8_t> bytes = serialize(simulate(scenario, options));
    return std::vector<std::string>{std::string(bytes.begin(), bytes.end())};
  });
  pid_ = c.pid;
  fd_ = c.fd;
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
  if (data_.empty())
    throw ChildFailed(fmt::format("the simulation exited ({}) without a result", WEXITSTATUS(status)));
  const ChildReply reply = parse_child_reply(data_, "the simulation");
  if (reply.tag == 'S' && reply.parts.size() == 2) throw ScenarioError(reply.parts[0], reply.parts[1]);
  if (reply.tag == 'E' && reply.parts.size() == 1) throw ChildFailed(reply.parts[0]);
  if (reply.tag != 'R' || reply.parts.size() != 1)
    throw ChildFailed(fmt::format("the simulation's reply is unreadable (tag '{}', {} parts)", reply.tag,
                                  reply.parts.size()));
  const std::string& body = reply.parts[0];
  try {
    return deserialize(std::span(reinterpret_cast<const uint8_t*>(body.data()), body.size()));
  } catch (const std::exception& e) {
    throw ChildFailed(e.what());
  }
}

RunResult simulate_in_child(const Scenario& scenario, const SimOptions& options) {
  ChildRun child(scenario, options);
  return child.finish();
}

}  // namespace mirrorsim
