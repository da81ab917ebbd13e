// mirrorsim sweep and merge, as a user runs them.
#include <catch2/catch.hpp>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
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

int sh(const std::string& args, std::string* out = nullptr) {
  const fs::path o = dir() / "out.txt";
  const int status = std::system(fmt::format("{} {} >{} 2>&1", MIRRORSIM_BINARY, args, o.string()).c_str());
  if (out) *out = slurp(o);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

size_t lines(const std::string& s) { return static_cast<size_t>(std::count(s.begin(), s.end(), '\n')); }

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
  const pid_t pid = fork();
  if (pid == 0) {
    const std::string args = fmt::format("sweep {} -q --set duration_s=3 --set measurement.warmup_s=0.1 "
                                         "--param link.distance_km=0:190:10 --jobs 1 --out {}",
                                         kQuick, p.string());
    execl("/bin/sh", "sh", "-c", (std::string("exec ") + MIRRORSIM_BINARY + " " + args + " >/dev/null 2>&1").c_str(),
          nullptr);
    _exit(127);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  ::kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 130);
  const std::string csv = slurp(p);
  CHECK(lines(csv) >= 2);        // some points finished and were kept
  CHECK(lines(csv) < 1 + 20);    // not all of them
}
