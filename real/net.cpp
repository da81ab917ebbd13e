#include "real/net.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

namespace mirrorsim::real {
namespace {

// Connections the kernel completes before the controller accepts them: a
// burst of them (a test opening a thousand, a flood) waits here instead of
// having its SYNs dropped and retried a second later.
constexpr int kListenBacklog = 1024;

addrinfo* resolve(const Endpoint& e, bool passive) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  if (passive) hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(e.port);
  const int rc = getaddrinfo(e.host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) throw std::runtime_error(fmt::format("cannot resolve {}: {}", e.text(), gai_strerror(rc)));
  return res;
}

}  // namespace

std::optional<Endpoint> parse_endpoint(const std::string& text, std::string* error) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    *error = fmt::format("'{}' is not HOST:PORT", text);
    return std::nullopt;
  }
  Endpoint e;
  e.host = text.substr(0, colon);
  if (e.host.size() > 2 && e.host.front() == '[' && e.host.back() == ']') e.host = e.host.substr(1, e.host.size() - 2);
  const std::string port = text.substr(colon + 1);
  char* end = nullptr;
  errno = 0;
  const unsigned long p = std::strtoul(port.c_str(), &end, 10);
  if (errno || *end || p > 65535 || port.find_first_not_of("0123456789") != std::string::npos) {
    *error = fmt::format("'{}': port '{}' is not a number from 0 to 65535", text, port);
    return std::nullopt;
  }
  e.port = static_cast<uint16_t>(p);
  return e;
}

bool is_loopback(const Endpoint& e) {
  addrinfo* res = nullptr;
  try {
    res = resolve(e, true);
  } catch (const std::exception&) {
    return false;
  }
  bool all = res != nullptr;
  for (addrinfo* a = res; a; a = a->ai_next) {
    if (a->ai_family == AF_INET) {
      const uint32_t ip = ntohl(reinterpret_cast<const sockaddr_in*>(a->ai_addr)->sin_addr.s_addr);
      all &= (ip >> 24) == 127;
    } else if (a->ai_family == AF_INET6) {
      const in6_addr& ip = reinterpret_cast<const sockaddr_in6*>(a->ai_addr)->sin6_addr;
      all &= IN6_IS_ADDR_LOOPBACK(&ip) || (IN6_IS_ADDR_V4MAPPED(&ip) && ip.s6_addr[12] == 127);
    } else {
      all = false;
    }
  }
  freeaddrinfo(res);
  return all;
}

int listen_on(const Endpoint& at, Endpoint* bound) {
  addrinfo* res = resolve(at, true);
  int fd = -1;
  std::string last_error = "no address";
  for (addrinfo* a = res; a; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, a->ai_addr, a->ai_addrlen) == 0 && ::listen(fd, kListenBacklog) == 0) break;
    last_error = std::strerror(errno);
    ::close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) throw std::runtime_error(fmt::format("cannot listen on {}: {}", at.text(), last_error));
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  *bound = at;
  bound->port = ntohs(ss.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                               : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  return fd;
}

int connect_to(const Endpoint& to) {
  addrinfo* res = resolve(to, false);
  int fd = ::socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, res->ai_protocol);
  if (fd < 0) {
    freeaddrinfo(res);
    throw std::runtime_error(fmt::format("socket: {}", std::strerror(errno)));
  }
  const int rc = ::connect(fd, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  if (rc != 0 && errno != EINPROGRESS) {
    const int err = errno;
    ::close(fd);
    errno = err;
    return -1;  // refused at once (errno says why)
  }
  return fd;
}

int connect_result(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
  return err;
}

int connect_blocking(const Endpoint& to, int timeout_ms, std::string* error) {
  int fd;
  try {
    fd = connect_to(to);
  } catch (const std::exception& e) {
    *error = e.what();
    return -1;
  }
  if (fd < 0) {
    *error = fmt::format("cannot connect to {}: {}", to.text(), std::strerror(errno));
    return -1;
  }
  pollfd p{fd, POLLOUT, 0};
  const int n = ::poll(&p, 1, timeout_ms);
  const int err = n == 1 ? connect_result(fd) : ETIMEDOUT;
  if (err != 0) {
    *error = fmt::format("cannot connect to {}: {}", to.text(), std::strerror(err));
    ::close(fd);
    return -1;
  }
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

std::string set_link_options(int fd, uint32_t user_timeout_ms) {
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  std::string cc;
  for (const char* name : {"cubic", "reno"}) {
    if (setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, name, static_cast<socklen_t>(std::strlen(name))) == 0) {
      cc = name;
      break;
    }
  }
  const unsigned timeout = user_timeout_ms;
  setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &timeout, sizeof timeout);
  return cc;
}

}  // namespace mirrorsim::real
