// A secondary's resources under a flood: out of file descriptors it rests
// instead of spinning, and the run it serves completes; idle connections
// cost little and are closed after their timeout; connections beyond the
// limit are refused at once.
#include <catch2/catch.hpp>

#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "client.hpp"
#include "helpers.hpp"
#include "real/clock.hpp"
#include "real/spawn.hpp"

using namespace mirrorsim;
using namespace mirrorsim::real;
using namespace mirrorsim::real::test;

namespace {

// User + system CPU time of process `pid`, in seconds.
double cpu_s(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string line;
  std::getline(in, line);
  std::istringstream rest(line.substr(line.rfind(')') + 1));
  std::string field;
  uint64_t utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// Resident memory of process `pid`, in bytes.
uint64_t rss_bytes(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/statm", pid));
  uint64_t size = 0, resident = 0;
  in >> size >> resident;
  return resident * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

// Raises this process's open-file limit to at least `n` (up to the hard limit).
void allow_open_files(rlim_t n) {
  rlimit l{};
  ::getrlimit(RLIMIT_NOFILE, &l);
  if (l.rlim_cur < n) {
    l.rlim_cur = std::min(n, l.rlim_max);
    ::setrlimit(RLIMIT_NOFILE, &l);
  }
}

struct Secondary {
  std::string dir = fmt::format("/tmp/mirrorsim-limits-{}", ::getpid());
  Key key = random_key();
  LocalController controller;
  Secondary(ServeOptions o, const std::function<void()>& in_child = {}) {
    o.dir = dir;
    o.quiet = true;
    o.exit_after_run = false;
    o.key = key;
    controller = spawn_controller(o, Time::from_s(10), in_child);
  }
  ~Secondary() {
    kill_controller(controller, SIGKILL);
    ::unlink(state_file_path("/dev/shm", dir).c_str());
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  bool alive() const { return ::waitpid(controller.pid, nullptr, WNOHANG) == 0; }
};

// A connection that sends nothing (or what it is given) and holds on.
int raw_connection(const Endpoint& to) {
  const int fd = connect_to(to);
  return fd;
}

bool peer_closed(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  uint8_t buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0) return true;
    if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK;
  }
}

}  // namespace

TEST_CASE("out of file descriptors, the secondary rests instead of spinning, and the authenticated run it serves "
          "completes under a flood of connections") {
  ServeOptions o;
  o.connections_max = 512;  // above the descriptor limit: accept itself runs out
  o.unauthenticated_timeout = Time::from_s(2);
  Secondary r2(o, [] {
    const rlimit l{48, 48};
    ::setrlimit(RLIMIT_NOFILE, &l);
  });
  const Endpoint at = r2.controller.endpoint;

  // Phase 1: 150 connections that never authenticate, far more than the
  // secondary has descriptors for; the rest wait in its backlog.
  std::vector<int> flood;
  for (int i = 0; i < 150; ++i) flood.push_back(raw_connection(at));
  ::usleep(300'000);
  const double cpu_before = cpu_s(r2.controller.pid);
  const Time t0 = monotonic_now();
  ::usleep(1'000'000);
  const double busy = (cpu_s(r2.controller.pid) - cpu_before) / (monotonic_now() - t0).s();
  INFO("secondary CPU while out of descriptors: " << busy * 100 << " %");
  CHECK(busy < 0.2);  // a spinning listener is one whole CPU
  for (int fd : flood)
    if (fd >= 0) ::close(fd);
  flood.clear();

  // Phase 2: a run through it, flooded the same way from the moment it is
  // configured until it ends; closed flood connections are opened again.
  std::atomic<bool> run_over{false};
  std::atomic<uint64_t> flood_opened{0};
  std::thread flooder([&] {
    const Time deadline = monotonic_now() + Time::from_s(20);
    bool configured = false;
    while (!configured && monotonic_now() < deadline && !run_over) {
      try {
        // Configured, and R1's link in: from then on the run needs no new connection.
        const auto s = status_of(at, r2.key);
        configured = s && s->configured && s->link_connected;
      } catch (const std::exception&) {
      }
      if (!configured) ::usleep(20'000);
    }
    std::vector<int> fds;
    while (!run_over) {
      for (auto& fd : fds)
        if (peer_closed(fd)) {
          ::close(fd);
          fd = -1;
        }
      std::erase(fds, -1);
      while (fds.size() < 150) {
        const int fd = raw_connection(at);
        if (fd < 0) break;
        fds.push_back(fd);
        ++flood_opened;
      }
      ::usleep(50'000);
    }
    for (int fd : fds) ::close(fd);
  });
  RealOptions ro = quiet_options();
  ro.secondary = at;
  ro.secondary_key = r2.key;
  RealRun r;
  try {
    r = run_real(small_scenario(Small{.duration_s = 1.5}), ro);
  } catch (...) {
    run_over = true;
    flooder.join();
    throw;
  }
  run_over = true;
  flooder.join();
  INFO(r.result.violation_report);
  INFO(verification_text(r.verification));
  CHECK(flood_opened >= 150);
  REQUIRE(r.verification.ok());
  REQUIRE(r.verification.disks_compared);
  CHECK(r.result.volumes.at(0).writes.completed > 300);
  CHECK(r2.alive());
}

TEST_CASE("a thousand connections that never finish authenticating cost bounded memory and are closed after the timeout") {
  allow_open_files(4096);
  ServeOptions o;
  o.connections_max = 1100;
  o.unauthenticated_timeout = Time::from_s(2.5);
  Secondary r2(o, [] {
    rlimit l{};
    ::getrlimit(RLIMIT_NOFILE, &l);
    l.rlim_cur = std::min<rlim_t>(4096, l.rlim_max);
    ::setrlimit(RLIMIT_NOFILE, &l);
  });
  const Endpoint at = r2.controller.endpoint;
  rlimit mine{};
  ::getrlimit(RLIMIT_NOFILE, &mine);
  if (mine.rlim_cur < 1100) {
    WARN("skipped: the open-file limit (" << mine.rlim_cur << ") is below 1,100");
    return;
  }
  const uint64_t rss_before = rss_bytes(r2.controller.pid);
  // Each sends its challenge (so the secondary reads from it and answers)
  // and then nothing: a handshake begun and never finished.
  std::vector<int> fds;
  std::vector<uint8_t> challenge;
  append_frame(challenge, FrameType::AuthChallenge, encode(AuthChallenge{kProtocolVersion, random_nonce()}));
  const Time opened_from = monotonic_now();
  for (int i = 0; i < 1000; ++i) {
    std::string why;
    const int fd = connect_blocking(at, 2000, &why);
    REQUIRE(fd >= 0);
    REQUIRE(::send(fd, challenge.data(), challenge.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(challenge.size()));
    fds.push_back(fd);
  }
  const double opening_s = (monotonic_now() - opened_from).s();
  REQUIRE(opening_s < 2.0);  // all open before the first may time out
  ::usleep(200'000);
  const auto s = status_of(at, r2.key);
  REQUIRE(s);
  CHECK(s->connections_open >= 1000);  // all held at once (and this one)
  const uint64_t grown = rss_bytes(r2.controller.pid) - std::min(rss_before, rss_bytes(r2.controller.pid));
  INFO("resident memory grew by " << grown / 1024 << " KiB for 1,000 connections");
  CHECK(grown < (16u << 20));  // 16 KiB each at most; a read buffer each was 256 KiB

  // Closed by the secondary after the timeout (2.5 s from each one's accept).
  const Time deadline = opened_from + Time::from_s(2.5 + 2.0);
  size_t closed = 0;
  std::vector<bool> seen(fds.size(), false);
  std::optional<Time> first_closed;
  while (closed < fds.size() && monotonic_now() < deadline) {
    for (size_t i = 0; i < fds.size(); ++i)
      if (!seen[i] && peer_closed(fds[i])) {
        seen[i] = true;
        ++closed;
        if (!first_closed) first_closed = monotonic_now();
      }
    ::usleep(20'000);
  }
  CHECK(closed == fds.size());
  REQUIRE(first_closed);
  CHECK(*first_closed - opened_from >= Time::from_s(2.3));  // and not before their time
  for (int fd : fds) ::close(fd);
  const auto after = status_of(at, r2.key);
  REQUIRE(after);
  CHECK(after->connections_refused >= 1000);
  CHECK(after->connections_open == 1);  // the status connection itself
  CHECK(r2.alive());
}

TEST_CASE("beyond the connection limit a connection is refused at once, an idle authenticated control connection is "
          "closed after the idle timeout, the run's own connection is not") {
  ServeOptions o;
  o.connections_max = 4;
  o.idle_timeout = Time::from_s(0.5);
  Secondary r2(o);
  const Endpoint at = r2.controller.endpoint;
  // The run's connection: it configures the node, then is silent.
  Client run(at);
  REQUIRE(run.open_control(r2.key));
  Configure cfg;
  cfg.run_id = 0x5eed;
  cfg.side = Side::B;
  cfg.scenario_toml = small_scenario(Small{}).resolved_toml;
  cfg.log_bytes = 16 << 20;
  run.send(FrameType::Configure, encode(cfg));
  const auto configured = run.next(20000);
  REQUIRE(configured);
  REQUIRE(configured->type == FrameType::Configured);

  std::vector<std::unique_ptr<Client>> idle;
  for (int i = 0; i < 3; ++i) {
    idle.push_back(std::make_unique<Client>(at));
    REQUIRE(idle.back()->open_control(r2.key));
  }
  // The fifth: refused at once, in the clear, before any handshake.
  Client over(at);
  const auto refused = over.next(1000);
  REQUIRE(refused);
  CHECK(refused->type == FrameType::Refused);
  ByteReader rr(refused->body);
  CHECK_THAT(decode_refusal(rr), Catch::Contains("too many connections"));
  CHECK(over.closed_by_peer(1000));

  // After the idle timeout the three are closed (each told why); the run's is not.
  for (auto& c : idle) {
    const auto f = c->next(2000);
    REQUIRE(f);
    CHECK(f->type == FrameType::Refused);
    CHECK(c->closed_by_peer(1000));
  }
  const auto s = run.status();
  REQUIRE(s);
  CHECK(s->configured);
  CHECK(r2.alive());
}
