// mirrorsim sweep and merge, as a user runs them.
#include <catch2/catch.hpp>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include <fmt/format.h>

#include "tests/cli/run_mirrorsim.hpp"

namespace fs = std::filesystem;
using namespace cli_test;

namespace {

fs::path dir() {
  static const fs::path d = make_temp_dir("sweep");
  return d;
}

int sh(const std::string& args, std::string* out = nullptr) { return run_combined(args, dir(), out); }

size_t lines(const std::string& s) { return static_cast<size_t>(std::count(s.begin(), s.end(), '\n')); }

// A process as /proc/PID/stat shows it: its parent, its state, and its start
// time (so that a reused pid is not taken for the process).
struct Proc {
  pid_t pid = 0;
  pid_t ppid = 0;
  char state = '?';
  std::string start;
};
std::optional<Proc> proc(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto paren = stat.rfind(')');
  if (paren == std::string::npos) return std::nullopt;  // gone (or unreadable)
  std::istringstream fields(stat.substr(paren + 1));
  std::vector<std::string> f{std::istream_iterator<std::string>(fields), std::istream_iterator<std::string>()};
  if (f.size() < 20) return std::nullopt;
  return Proc{pid, static_cast<pid_t>(std::stol(f[1])), f[0][0], f[19]};
}
std::vector<Proc> children_of(pid_t parent) {
  std::vector<Proc> out;
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    if (const auto p = proc(static_cast<pid_t>(std::stol(name))); p && p->ppid == parent && p->state != 'Z') out.push_back(*p);
  }
  return out;
}
// Gone, a zombie, or another process under the same pid.
bool dead(const Proc& p) {
  const auto now = proc(p.pid);
  return !now || now->state == 'Z' || now->start != p.start;
}

const std::string kQuick = std::string(MIRRORSIM_SCENARIOS_DIR) + "/quickstart.toml";
const std::string kFast = " -q --set duration_s=0.4 --set measurement.warmup_s=0.1";
const std::string kGrid = " --param link.distance_km=0,50,100 --param workload.0.rate_iops=1000,2000,4000 --repeat 2";

}  // namespace

TEST_CASE("sweep: 3 x 3 points with 2 repeats are 18 runs, the same with --jobs 1 and --jobs 2") {
  const fs::path one = dir() / "one.csv", two = dir() / "two.csv";
  REQUIRE(sh("sweep " + kQuick + kFast + kGrid + " --jobs 1 --out " + one.string()) == 0);
  REQUIRE(sh("sweep " + kQuick + kFast + kGrid + " --jobs 2 --out " + two.string()) == 0);
  const std::string a = slurp(one), b = slurp(two);
  CHECK(lines(a) == 1 + 18);
  CHECK(a == b);
  const std::string ci = slurp(dir() / "one.ci.csv");
  CHECK(lines(ci) == 1 + 9);
  CHECK_THAT(ci, Catch::Contains("db.write_response_mean_ms_ci95"));
  CHECK(lines(slurp(dir() / "one.jsonl")) == 18);
}

TEST_CASE("sweep: shards merge into exactly the unsharded result") {
  const fs::path whole = dir() / "whole.csv";
  REQUIRE(sh("sweep " + kQuick + kFast + kGrid + " --jobs 2 --out " + whole.string()) == 0);
  std::string shards;
  for (int i = 0; i < 3; ++i) {
    const fs::path part = dir() / fmt::format("part{}.csv", i);
    REQUIRE(sh(fmt::format("sweep {}{}{} --shard {}/3 --out {}", kQuick, kFast, kGrid, i, part.string())) == 0);
    CHECK(lines(slurp(part)) == 1 + 6);
    shards += " " + part.string();
  }
  const fs::path merged = dir() / "merged.csv";
  REQUIRE(sh("merge" + shards + " --out " + merged.string()) == 0);
  CHECK(slurp(merged) == slurp(whole));
  CHECK(slurp(dir() / "merged.ci.csv") == slurp(dir() / "whole.ci.csv"));
  // The same shard twice is refused.
  std::string out;
  CHECK(sh("merge " + (dir() / "part0.csv").string() + " " + (dir() / "part0.csv").string() + " --out " +
           (dir() / "dup.csv").string(),
           &out) == 2);
  CHECK_THAT(out, Catch::Contains("also in"));
}

TEST_CASE("merge: a damaged shard is refused with exit 2, naming the file and the line") {
  const fs::path base = dir() / "base.csv";
  REQUIRE(sh("sweep " + kQuick + kFast + " --param link.distance_km=0,100 --out " + base.string()) == 0);
  const std::string csv = slurp(base);
  REQUIRE(lines(csv) == 3);
  const auto second = csv.find('\n') + 1, third = csv.find('\n', second) + 1;
  auto merge = [&](const std::string& name, const std::string& text) {
    const fs::path p = dir() / name;
    std::ofstream(p) << text;
    std::string out;
    CHECK(sh(fmt::format("merge {} --out {}", p.string(), (dir() / "never.csv").string()), &out) == 2);
    CHECK_FALSE(fs::exists(dir() / "never.csv"));
    return out;
  };
  CHECK_THAT(merge("cut.csv", csv.substr(0, csv.size() - 20)), Catch::Contains("cut.csv:3: ") && Catch::Contains("cells, the header has"));
  std::string renamed = csv;
  renamed.replace(renamed.find(",repeat,"), 8, ",repeats,");
  CHECK_THAT(merge("renamed.csv", renamed), Catch::Contains("renamed.csv:1: not a sweep runs table: column 3 must be 'repeat'"));
  CHECK_THAT(merge("index.csv", csv.substr(0, third) + "x" + csv.substr(third + 1)),
             Catch::Contains("index.csv:3: index 'x") && Catch::Contains("is not a whole number"));
  std::string metric = csv;
  metric.replace(metric.rfind(','), 1, ",abc,");
  CHECK_THAT(merge("metric.csv", metric.substr(0, metric.rfind(','))),
             Catch::Contains("metric.csv:3: ") && Catch::Contains("'abc' is not a number"));
  CHECK_THAT(merge("quote.csv", csv + "\"4,"), Catch::Contains("quote.csv:4: unterminated quoted cell"));
  CHECK_THAT(merge("empty.csv", ""), Catch::Contains("empty.csv:1: empty: not a sweep runs table"));
  CHECK_THAT(merge("header.csv", "index,seed\n0,1\n"), Catch::Contains("header.csv:1: not a sweep runs table: column 2 must be 'grid_index'"));
  // Its cells become JSON strings: merge threw nlohmann's type_error after writing the CSV.
  CHECK_THAT(merge("latin1.csv", csv + "2,1,0,1,0,caf\xe9"), Catch::Contains("latin1.csv:4: not UTF-8 text"));
}

TEST_CASE("sweep: killed by SIGKILL, its forked children die with it within a second") {
  // Issue 11 item 8: the children simulated on, orphaned.
  const pid_t pid = fork();
  if (pid == 0) {
    const std::string args = fmt::format("sweep {} -q --set duration_s=600 --param link.distance_km=0,100 --jobs 2", kQuick);
    execl("/bin/sh", "sh", "-c", (std::string("exec ") + MIRRORSIM_BINARY + " " + args + " >/dev/null 2>&1").c_str(),
          nullptr);
    _exit(127);
  }
  std::vector<Proc> children;
  for (int i = 0; i < 400 && children.size() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    children = children_of(pid);
  }
  REQUIRE(children.size() == 2);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // both simulating
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  const auto t0 = std::chrono::steady_clock::now();
  auto all_dead = [&] { return std::all_of(children.begin(), children.end(), dead); };
  while (!all_dead() && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(1))
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(all_dead());
  for (const Proc& c : children)
    if (!dead(c)) ::kill(c.pid, SIGKILL);  // leave nothing behind when the check fails
}

TEST_CASE("sweep: a point with an invalid value is reported and the rest complete") {
  const fs::path p = dir() / "bad.csv";
  std::string out;
  const int rc = sh("sweep " + kQuick + kFast + " --param link.distance_km=0,-5,100 --out " + p.string(), &out);
  CHECK(rc == 1);
  CHECK_THAT(out, Catch::Contains("link.distance_km=-5") && Catch::Contains("failed"));
  const std::string csv = slurp(p);
  CHECK(lines(csv) == 1 + 3);
  CHECK_THAT(csv, Catch::Contains("link.distance_km"));
  CHECK_THAT(out, Catch::Contains("3 runs, 1 failed"));
}

TEST_CASE("sweep: a key that addresses nothing is a bad sweep, exit 2") {
  std::string out;
  CHECK(sh("sweep " + kQuick + kFast + " --param link.distnce_km=0,1", &out) == 2);
  CHECK_THAT(out, Catch::Contains("distance_km"));
  CHECK(sh("sweep " + kQuick + kFast + " --param link.distance_km", &out) == 2);
  CHECK(sh("sweep " + kQuick + kFast + " --param link.distance_km=0,1 --shard 3/3", &out) == 2);
  // 10^12 points: sweep_points ended in an uncaught bad_alloc (exit 134); six
  // such ranges overflow a 64-bit count.
  CHECK(sh("sweep " + kQuick + kFast + " --param link.distance_km=0:9999:1 --param link.overhead_us=0:9999:1 "
           "--param workload.0.rate_iops=1:10000:1", &out) == 2);
  CHECK_THAT(out, Catch::Contains("a sweep of 10000 × 10000 × 10000 values × 1 repeats = 1e+12 runs, at most 1e+06 "
                                  "are supported"));
  CHECK(sh("sweep " + kQuick + kFast + " --param link.distance_km=0:999:1 --param link.overhead_us=0:999:1 --repeat 2",
           &out) == 2);
  CHECK_THAT(out, Catch::Contains("a sweep of 1000 × 1000 values × 2 repeats = 2e+06 runs, at most 1e+06 are supported"));
  // A value that is not UTF-8 would end in the JSON lines table: the sweep aborted there.
  CHECK(sh("sweep " + kQuick + kFast + " --param 'volume.db.mode=sync,\xff'", &out) == 2);
  CHECK_THAT(out, Catch::Contains(": not UTF-8 text"));
}

TEST_CASE("sweep: the fitted slope of sync latency against distance is round trips x 10 us/km, within 1 %") {
  for (int rt : {1, 2}) {
    std::string out;
    // One host write at a time over a large volume: nothing queues or coalesces.
    REQUIRE(sh(fmt::format("sweep {}{} --set workload.0.arrival=closed --set workload.0.queue_depth=1 "
                           "--set workload.0.addresses=uniform --set link.round_trips_per_write={} "
                           "--param link.distance_km=0:300:50 --jobs 2 --fit latency~distance_km",
                           kQuick, kFast, rt),
               &out) == 0);
    const auto at = out.find(" = ");
    REQUIRE(at != std::string::npos);
    const double us_per_km = std::stod(out.substr(at + 3));
    INFO(out);
    CHECK(us_per_km == Approx(10.0 * rt).epsilon(0.01));
    CHECK_THAT(out, Catch::Contains("R² 1.0000"));
  }
}

TEST_CASE("sweep: Ctrl-C stops cleanly and keeps the finished points") {
  const fs::path p = dir() / "interrupted.csv";
  const fs::path progress = dir() / "interrupted.progress";
  fs::remove(progress);
  const pid_t pid = fork();
  if (pid == 0) {
    const std::string args = fmt::format("sweep {} --set duration_s=3 --set measurement.warmup_s=0.1 "
                                         "--param link.distance_km=0:190:10 --jobs 1 --out {}",
                                         kQuick, p.string());
    execl("/bin/sh", "sh", "-c",
          (std::string("exec ") + MIRRORSIM_BINARY + " " + args + " >/dev/null 2>" + progress.string()).c_str(), nullptr);
    _exit(127);
  }
  // Interrupted once the progress line says two points are done (not after
  // a fixed sleep: on a loaded machine a point takes seconds).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (slurp(progress).find(" 2/20 points") == std::string::npos && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ::kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 130);
  const std::string csv = slurp(p);
  CHECK(lines(csv) >= 1 + 2);    // the finished points were kept
  CHECK(lines(csv) < 1 + 20);    // not all of them
}
