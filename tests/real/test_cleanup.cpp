// A stopped `mirrorsim real` leaves nothing behind: SIGINT and SIGTERM stop
// its controllers, remove its state files and run directory and exit 130
// and 143; what a SIGKILL leaves (named after the killed process), the
// next run removes — and never what belongs to a live process.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "helpers.hpp"
#include "real/clock.hpp"
#include "real/run_files.hpp"

using namespace mirrorsim;
using namespace mirrorsim::real;
using namespace mirrorsim::real::test;
namespace fs = std::filesystem;

namespace {

// A private temporary parent (TMPDIR) and state directory for the runs.
struct Place {
  fs::path root = fs::temp_directory_path() / fmt::format("mirrorsim-cleanup-{}", ::getpid());
  fs::path tmp = root / "tmp";
  fs::path state = fs::path("/dev/shm") / fmt::format("mirrorsim-cleanup-{}", ::getpid());
  fs::path scenario = root / "run.toml";
  Place() {
    fs::remove_all(root);
    fs::remove_all(state);
    fs::create_directories(tmp);
    fs::create_directories(state);
    std::ofstream(scenario) << small_toml(Small{.duration_s = 8});
  }
  ~Place() {
    std::error_code ec;
    fs::remove_all(root, ec);
    fs::remove_all(state, ec);
  }
  std::set<std::string> names(const fs::path& dir) const {
    std::set<std::string> out;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
      out.insert(it->path().filename().string());
    return out;
  }
};

// `mirrorsim real` of the place's scenario (with `extra` flags), in the
// background; its output goes to files under the place.
pid_t start_real(const Place& p, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args{MIRRORSIM_BINARY, "real", p.scenario.string(), "--quiet", "--state-dir", p.state.string()};
  args.insert(args.end(), extra.begin(), extra.end());
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::setenv("TMPDIR", p.tmp.c_str(), 1);
    const int out = ::open((p.root / "out.txt").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(out, 1);
    ::dup2(out, 2);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

// The processes whose parent is `pid`, with their start times.
std::vector<std::pair<pid_t, uint64_t>> children_of(pid_t pid) {
  std::vector<std::pair<pid_t, uint64_t>> out;
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(e.path() / "stat");
    std::string line;
    if (!std::getline(in, line) || line.rfind(')') == std::string::npos) continue;
    std::istringstream rest(line.substr(line.rfind(')') + 2));
    std::string state;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid != pid) continue;
    const pid_t child = static_cast<pid_t>(std::stol(name));
    if (const auto start = process_start_time(child)) out.emplace_back(child, *start);
  }
  return out;
}

bool gone(const std::pair<pid_t, uint64_t>& process) {
  const auto start = process_start_time(process.first);
  return !start || *start != process.second;
}

// Waits until the run is under way: both controllers' state files, and
// the run directory, named after it.
void wait_running(const Place& p, pid_t pid) {
  const std::string tag = fmt::format("mirrorsim-real-{}-", pid);
  const Time deadline = monotonic_now() + Time::from_s(30);
  for (;;) {
    size_t states = 0, dirs = 0;
    for (const auto& n : p.names(p.state)) states += n.rfind(tag, 0) == 0 && n.ends_with(".state");
    for (const auto& n : p.names(p.tmp)) dirs += n.rfind(tag, 0) == 0;
    if (states == 2 && dirs == 1) break;
    REQUIRE(monotonic_now() < deadline);
    REQUIRE(::waitpid(pid, nullptr, WNOHANG) == 0);
    ::usleep(20'000);
  }
  ::usleep(400'000);  // into the host I/O
}

std::string slurp(const fs::path& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST_CASE("SIGINT or SIGTERM of `mirrorsim real`: its controllers stop, its state files and run directory go, and it "
          "exits 130 or 143") {
  const int sig = GENERATE(SIGINT, SIGTERM);
  Place p;
  const pid_t pid = start_real(p);
  wait_running(p, pid);
  const auto children = children_of(pid);
  CHECK(children.size() == 2);  // R1 and R2
  REQUIRE(::kill(pid, sig) == 0);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  INFO(slurp(p.root / "out.txt"));
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 128 + sig);
  CHECK(p.names(p.state).empty());
  CHECK(p.names(p.tmp).empty());
  for (const auto& c : children) CHECK(gone(c));
  CHECK_THAT(slurp(p.root / "out.txt"), Catch::Contains("interrupted by"));
}

TEST_CASE("after a SIGKILL of `mirrorsim real`, the next run removes what it left, and nothing of a live process") {
  Place p;
  const pid_t pid = start_real(p);
  wait_running(p, pid);
  const auto children = children_of(pid);
  REQUIRE(::kill(pid, SIGKILL) == 0);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFSIGNALED(status));
  // Its controllers die with it; its files stay, named after it.
  const Time deadline = monotonic_now() + Time::from_s(5);
  while (!(gone(children.at(0)) && gone(children.at(1))) && monotonic_now() < deadline) ::usleep(10'000);
  CHECK(gone(children.at(0)));
  CHECK(gone(children.at(1)));
  const std::string killed = fmt::format("mirrorsim-real-{}-", pid);
  size_t left = 0;
  for (const auto& n : p.names(p.state)) left += n.rfind(killed, 0) == 0;
  for (const auto& n : p.names(p.tmp)) left += n.rfind(killed, 0) == 0;
  REQUIRE(left == 3);  // two state files, one run directory

  // Beside them: files named after this (live) process, and after this
  // pid with another start time (a process that is gone, its pid reused).
  const std::string live = "mirrorsim-" + run_owner_tag();
  const std::string reused = fmt::format("mirrorsim-real-{}-{}", ::getpid(), *process_start_time(::getpid()) + 1);
  fs::create_directories(p.tmp / (live + "-keepme"));
  std::ofstream(p.state / (live + "-0badf00d.state")) << "x";
  fs::create_directories(p.tmp / (reused + "-gone"));
  std::ofstream(p.state / (reused + "-0badf00d.state")) << "x";

  std::ofstream(p.scenario) << small_toml(Small{.duration_s = 0.3});
  const pid_t next = start_real(p);
  REQUIRE(::waitpid(next, &status, 0) == next);
  INFO(slurp(p.root / "out.txt"));
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(p.names(p.state) == std::set<std::string>{live + "-0badf00d.state"});
  CHECK(p.names(p.tmp) == std::set<std::string>{live + "-keepme"});
}
