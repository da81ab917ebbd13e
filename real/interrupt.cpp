#include "real/interrupt.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include <fmt/format.h>

namespace mirrorsim::real {
namespace {

volatile std::sig_atomic_t g_signal = 0;
int g_pipe[2] = {-1, -1};
struct sigaction g_previous[2];

void on_signal(int sig) {
  const int saved = errno;
  if (!g_signal) g_signal = sig;
  const char b = 1;
  [[maybe_unused]] const ssize_t n = ::write(g_pipe[1], &b, 1);
  errno = saved;
}

}  // namespace

Interrupted::Interrupted(int signal)
    : std::runtime_error(fmt::format("interrupted by {}", signal == SIGINT ? "SIGINT" : signal == SIGTERM ? "SIGTERM"
                                                                                                          : "a signal")),
      signal_(signal) {}

InterruptScope::InterruptScope() {
  if (::pipe2(g_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
    throw std::runtime_error(fmt::format("pipe: {}", std::strerror(errno)));
  struct sigaction sa{};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a blocking wait returns and the caller looks
  ::sigaction(SIGINT, &sa, &g_previous[0]);
  ::sigaction(SIGTERM, &sa, &g_previous[1]);
  if (g_signal) on_signal(g_signal);  // one that came before still counts
}

InterruptScope::~InterruptScope() {
  ::sigaction(SIGINT, &g_previous[0], nullptr);
  ::sigaction(SIGTERM, &g_previous[1], nullptr);
  ::close(g_pipe[0]);
  ::close(g_pipe[1]);
  g_pipe[0] = g_pipe[1] = -1;
}

int InterruptScope::fd() const { return g_pipe[0]; }

int interrupted_signal() { return g_signal; }

void throw_if_interrupted() {
  if (g_signal) throw Interrupted(g_signal);
}

}  // namespace mirrorsim::real
