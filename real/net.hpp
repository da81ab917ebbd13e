// Sockets: HOST:PORT addresses, listening and connecting (non-blocking),
// and the TCP options every link connection gets.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <optional>
#include <string>

namespace mirrorsim::real {

struct Endpoint {
  std::string host;
  uint16_t port = 0;
  std::string text() const { return host + ":" + std::to_string(port); }
};
// "127.0.0.1:7000", "localhost:0", "[::1]:7000". nullopt with `error` set
// on anything else.
std::optional<Endpoint> parse_endpoint(const std::string& text, std::string* error);

// Every address `e.host` resolves to is a loopback one (127.0.0.0/8, ::1):
// only this machine can reach a listener there. False when it does not
// resolve.
bool is_loopback(const Endpoint& e);

// A non-blocking listening socket (SO_REUSEADDR, so a restarted controller
// can bind its port again at once). Throws std::runtime_error.
int listen_on(const Endpoint& at, Endpoint* bound);
// Starts a non-blocking connect; the socket becomes writable when it
// completes (then check connect_result); -1 (errno set) when refused at
// once. Throws on resolution failure.
int connect_to(const Endpoint& to);
// 0 when the connection is established, else the errno of the failure.
int connect_result(int fd);
// Blocking connect with a timeout, for the orchestrator's control
// connections; -1 with `error` set on failure.
int connect_blocking(const Endpoint& to, int timeout_ms, std::string* error);

// TCP_NODELAY; an explicit congestion control (cubic, else reno: the default
// BBR paces application-limited request/response traffic into extra
// latency); TCP_USER_TIMEOUT so unacknowledged data fails the connection
// after `user_timeout_ms`. Returns the congestion control in use.
std::string set_link_options(int fd, uint32_t user_timeout_ms);

}  // namespace mirrorsim::real
