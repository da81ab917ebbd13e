// Bounded input at the command line: huge values, files that are not
// scenario files, integer flags typed negative or too large, scenarios that
// would not fit in memory — each refused with exit 2 and a message naming
// the place; and the memory estimate against a run's measured RSS.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include "config/resources.hpp"
#include "config/scenario.hpp"
#include "tests/cli/run_mirrorsim.hpp"

namespace fs = std::filesystem;
using namespace cli_test;
using Catch::Matchers::Contains;

namespace {

fs::path temp_dir() {
  static const fs::path dir = make_temp_dir("cli-bounds");
  return dir;
}

// `mirrorsim ARGS` under `timeout`: a refusal that blocks (on a FIFO) fails
// the test instead of hanging it.
Outcome run_bounded(const std::string& args) {
  const fs::path out = temp_dir() / "stdout.txt", err = temp_dir() / "stderr.txt";
  const std::string cmd = fmt::format("timeout 60 {} {} >{} 2>{} </dev/null", MIRRORSIM_BINARY, args, out.string(), err.string());
  const int status = std::system(cmd.c_str());
  return Outcome{WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(out), slurp(err)};
}

const std::string kQuick = std::string(MIRRORSIM_SCENARIOS_DIR) + "/quickstart.toml";
const std::string kSmall = std::string(MIRRORSIM_SCENARIOS_DIR) + "/check_small.toml";

// The refusal of `args`: exit 2 and a message on stderr.
std::string refusal(const std::string& args) {
  const Outcome o = run_bounded(args);
  INFO("mirrorsim " << args << "\n" << o.out << o.err);
  CHECK(o.exit_code == 2);
  CHECK(o.out.find("write response") == std::string::npos);  // nothing ran
  return o.err;
}

}  // namespace

TEST_CASE("bounds at the command line: the four huge values are refused with their place, exit 2") {
  const fs::path file = temp_dir() / "huge.toml";
  std::ofstream(file) << "duration_s = 1e10\n[[volume]]\nname = \"db\"\ntracks = 10\n";
  CHECK_THAT(refusal("run " + file.string()),
             Contains(file.string() + ":1:14: duration_s: expected a number in [1e-06, 10000000], got 10000000000.0"));
  CHECK_THAT(refusal("run " + kQuick + " --set primary.disk_write_us=1e300"),
             Contains("--set primary.disk_write_us=1e300: primary.disk_write_us: expected a number in [0, 1000000000]"));
  CHECK_THAT(refusal("run " + kQuick + " --set link.bandwidth_gbit_per_s=1e-300"),
             Contains("--set link.bandwidth_gbit_per_s=1e-300: link.bandwidth_gbit_per_s: expected a number in "
                      "[1e-06, 100000], got 1e-300"));
  const fs::path sweep = temp_dir() / "huge-sweep.toml";
  std::ofstream(sweep) << "[[volume]]\nname = \"db\"\ntracks = 10\n[sweep]\n\"link.distance_km\" = [0, 1e300]\n";
  CHECK_THAT(refusal("sweep " + sweep.string()),
             Contains(sweep.string() + ":5:26: [sweep] link.distance_km = 1e+300: link.distance_km: expected a number in "
                      "[0, 100000]"));
  CHECK_THAT(refusal("check " + kSmall + " --set link.distance_km=1e300"),
             Contains("--set link.distance_km=1e300: link.distance_km: expected a number in [0, 100000]"));
}

TEST_CASE("bounds at the command line: /dev/zero, a FIFO and a directory are refused at once, exit 2") {
  const fs::path fifo = temp_dir() / "fifo.toml";
  fs::remove(fifo);
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  for (const std::string command : {"run", "sweep", "check", "real"}) {
    INFO(command);
    CHECK_THAT(refusal(command + " /dev/zero"),
               Contains("/dev/zero: cannot read: a character device; a scenario is a regular file"));
  }
  CHECK_THAT(refusal("run " + fifo.string()), Contains(fifo.string() + ": cannot read: a FIFO"));
  CHECK_THAT(refusal("run " + temp_dir().string()), Contains(": cannot read: a directory"));
}

TEST_CASE("bounds at the command line: negative and out-of-range integer flags are refused quoting what was typed, for every command") {
  struct Case {
    std::string args;
    std::string typed;
  };
  const std::vector<Case> cases = {
      // Wrapped to seed 1, and to 2^64 - 1.
      {"run " + kQuick + " --seed -18446744073709551615", "-18446744073709551615"},
      {"run " + kQuick + " --seed -1", "-1"},
      {"run " + kQuick + " --seed 18446744073709551616", "18446744073709551616"},
      // Wrapped to 4294967291.
      {"run " + kQuick + " --trace-writes -5", "-5"},
      {"run " + kQuick + " --trace-writes 4294967296", "4294967296"},
      {"run " + kQuick + " --memory-max-mib -1", "-1"},
      {"sweep " + kQuick + " --param link.distance_km=0,100 --jobs -1", "-1"},
      {"sweep " + kQuick + " --param link.distance_km=0,100 --repeat -2", "-2"},
      {"sweep " + kQuick + " --param link.distance_km=0,100 --seed -3", "-3"},
      {"check " + kSmall + " --writes -1", "-1"},
      {"check " + kSmall + " --tracks -1", "-1"},
      {"check " + kSmall + " --cache-slots -1", "-1"},
      {"check " + kSmall + " --links -1", "-1"},
      {"check " + kSmall + " --volumes -1", "-1"},
      {"check " + kSmall + " --reads -1", "-1"},
      {"check " + kSmall + " --max-states -5", "-5"},
      {"check " + kSmall + " --max-depth -1", "-1"},
      {"check " + kSmall + " --failures -1", "-1"},
      {"check " + kSmall + " --failures crashes=-1", "-1"},
      {"check " + kSmall + " --tracks 1000000", "1000000"},
      {"real " + kQuick + " --seed -1", "-1"},
      {"real " + kQuick + " --disk-mib-max -1", "-1"},
      {"real " + kQuick + " --memory-max-mib -1", "-1"},
      {"validate " + kQuick + " --duration-s -1", "-1"},
      {"validate " + kQuick + " --ops -1", "-1"},
      {"validate " + kQuick + " --seed -1", "-1"},
      {"validate " + kQuick + " --cpu-probes -1", "-1"},
      {"calibrate --ops -5", "-5"},
  };
  for (const Case& c : cases) {
    INFO(c.args);
    const std::string err = refusal(c.args);
    CHECK_THAT(err, Contains(c.typed));
    // Nothing wrapped: no value was taken (a run would say "seed 1"), nor
    // the unsigned image of -5 named.
    CHECK_THAT(err, !Contains("(seed ") && !Contains("4294967291"));
  }
  // The seed as the loader's rule says it.
  CHECK_THAT(refusal("run " + kQuick + " --seed -18446744073709551615"),
             Contains("--seed -18446744073709551615: seed: expected an integer in [0, 9223372036854775807], got "
                      "\"-18446744073709551615\""));
  CHECK_THAT(refusal("run " + kQuick + " --trace-writes -5"),
             Contains("the argument '-5' for option '--trace-writes' is invalid: expected a whole number from 0 to "
                      "4294967295"));
  CHECK_THAT(refusal("validate " + kQuick + " --cpu-probes 3"),
             Contains("--cpu-probes 3: expected 1 (before the real runs) or 2 (before and after them)"));
  CHECK_THAT(refusal("validate " + kQuick + " --calibration x.toml --cpu-probes 1"),
             Contains("--cpu-probes with --calibration: a calibration file is applied as it is"));
  CHECK_THAT(refusal("check " + kSmall + " --tracks 1000000"),
             Contains("--tracks 1000000: check.tracks: expected an integer in [1, 64], got 1000000"));
}

TEST_CASE("bounds at the command line: scenarios too large for memory are refused before they run, naming the biggest consumers") {
  CHECK_THAT(refusal("run " + kQuick + " --set volume.db.tracks=1000000000"),
             Contains("the track tables of R1 and R2 (volume.*.tracks: 1e+09 tracks)"));
  CHECK_THAT(refusal("run " + kQuick + " --set primary.cache_slots=1000000000 --set secondary.cache_slots=1000000000"),
             Contains("the cache slots (primary.cache_slots + secondary.cache_slots: 2e+09)"));
  CHECK_THAT(refusal("run " + kQuick + " --set workload.0.arrival=closed --set workload.0.queue_depth=4294967295"),
             Contains("the host requests in flight"));
  CHECK_THAT(refusal("run " + kQuick + " --set workload.0.rate_iops=1e300"),
             Contains("workload.0.rate_iops: expected a number in [1e-06, 10000000], got 1e+300"));
  CHECK_THAT(refusal("run " + kQuick + " --memory-max-mib 10"),
             Contains("above the limit of 10 MiB (--memory-max-mib)"));
  CHECK_THAT(refusal("real " + kQuick + " --set volume.db.tracks=100 --set primary.cache_slots=100 "
                     "--set secondary.cache_slots=100 --memory-max-mib 1"),
             Contains("above the limit of 1 MiB (--memory-max-mib)"));
  // A sweep: each point times the jobs at once.
  const std::string sweep = refusal("sweep " + kQuick + " --param volume.db.tracks=1000,2000000 --jobs 4 --memory-max-mib 1500");
  CHECK_THAT(sweep, Contains("sweep point volume.db.tracks=2000000: needs about"));
  CHECK_THAT(sweep, Contains(" × 4 at once, above the limit of 1.5 GiB"));
}

TEST_CASE("bounds at the command line: the checker stops cleanly at a small memory bound, exit 2") {
  const Outcome o = run_bounded(
      "check " + kSmall + " --writes 4 --tracks 8 --cache-slots 8 --failures 1 --quiet --memory-max-mib 2");
  INFO(o.out << o.err);
  CHECK(o.exit_code == 2);
  CHECK_THAT(o.out, Contains("result: stopped at --memory-max-mib 2: the search would hold more"));
}

TEST_CASE("bounds at the command line: the memory estimate is within a factor of two of a mid-size run's resident memory") {
  // 2 million tracks and 2 x 400,000 slots: a few hundred MiB, most of it
  // per track and per slot, so the estimate's coefficients show.
  const std::vector<std::string> sets = {"volume.db.tracks=2000000", "primary.cache_slots=400000",
                                         "secondary.cache_slots=400000", "duration_s=0.2", "measurement.warmup_s=0.05"};
  mirrorsim::Scenario s = mirrorsim::load_scenario_file(kQuick);
  std::vector<mirrorsim::Override> overrides;
  for (const std::string& kv : sets)
    overrides.push_back(mirrorsim::Override{kv.substr(0, kv.find('=')), kv.substr(kv.find('=') + 1), kv});
  mirrorsim::set_values(s, overrides);
  const mirrorsim::ResourceEstimate e = mirrorsim::estimate_resources(s);

  std::vector<std::string> args = {MIRRORSIM_BINARY, "run", kQuick, "--quiet"};
  for (const std::string& kv : sets) args.insert(args.end(), {"--set", kv});
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    const int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, 1);
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  struct rusage usage {};
  REQUIRE(::wait4(child, &status, 0, &usage) == child);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  const double rss = static_cast<double>(usage.ru_maxrss) * 1024;  // KiB on Linux
  const double ratio = static_cast<double>(e.memory_bytes) / rss;
  INFO("estimate " << mirrorsim::size_text(e.memory_bytes) << ", measured RSS " << rss / (1 << 20) << " MiB");
  CHECK(ratio > 0.5);
  CHECK(ratio < 2.0);
}
