// mirrorsim size: the inverse question against a closed form, its
// determinism across --jobs, and its refusals.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/wait.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tests/cli/run_mirrorsim.hpp"

namespace fs = std::filesystem;
using namespace cli_test;

namespace {

fs::path dir() {
  static const fs::path d = make_temp_dir("size");
  return d;
}

int sh(const std::string& args, std::string* out = nullptr) { return run_combined(args, dir(), out); }

// Poisson sync writes whose only queue is the copy's transmission on one
// link: the mean response is M/D/1 on the link plus fixed parts.
constexpr double kRate = 20000, kBlock = 8192, kStoreUs = 1;
const char* kScenario = R"(
seed = 5
duration_s = 3
[primary]
cache_slots = 65536
front_end_write_us = 1
remote_adapter_copy_receive_us = 1
disk_write_us = 1
disk_bandwidth_mb_per_s = 100000
[link]
distance_km = 0
overhead_us = 0
links = 1
[[volume]]
name = "db"
tracks = 1000000
[[workload]]
volume = "db"
rate_iops = 20000
block_bytes = 8192
[measurement]
warmup_s = 0.5
)";

// The closed form's mean write response, µs, at `gbit`.
double mean_response_us(double gbit) {
  const double s = (64 + kBlock) * 8 / (gbit * 1e9);
  const double rho = kRate * s;
  if (rho >= 1) return INFINITY;
  return 2 * kStoreUs + (s + rho * s / (2 * (1 - rho))) * 1e6 + 64 * 8 / (gbit * 1e3);
}

}  // namespace

TEST_CASE("size finds the bandwidth at which the mean sync response meets a target, as M/D/1 on the link says") {
  const fs::path scenario = dir() / "md1.toml";
  std::ofstream(scenario) << kScenario;
  const double target_us = 40;
  // The closed form's answer, by its own bisection.
  double lo = 0.1, hi = 100;
  for (int i = 0; i < 200; ++i) {
    const double mid = std::sqrt(lo * hi);
    (mean_response_us(mid) <= target_us ? hi : lo) = mid;
  }
  const double expected = hi;
  const fs::path out = dir() / "size.json";
  std::string text;
  const std::string args = fmt::format("size {} --vary link.bandwidth_gbit_per_s=0.1:100 --target \"volume.db.writes.response_ms.mean <= {}\" "
                                       "--tolerance 0.02 --quiet",
                                       scenario.string(), target_us / 1e3);
  REQUIRE(sh(args + " --out " + out.string(), &text) == 0);
  const nlohmann::json j = nlohmann::json::parse(slurp(out));
  const double answer = j["answer"].get<double>();
  INFO(text << "closed form: " << expected << " Gbit/s");
  // Within one bisection step (2 %) plus the simulation's noise on a mean near rho = 0.6.
  CHECK(answer == Approx(expected).epsilon(0.05));
  CHECK(j["direction"] == "smallest");
  CHECK(j["not_monotone"].empty());
  // every point on the answer's side meets, every other misses
  for (const auto& p : j["points"])
    CHECK(p["meets_targets"].get<bool>() == (p["value"].get<double>() >= answer));
  CHECK_THAT(text, Catch::Contains("the smallest link.bandwidth_gbit_per_s that meets every target is"));

  // --jobs 2: the same runs, the same answer
  const fs::path out2 = dir() / "size2.json";
  REQUIRE(sh(args + " --jobs 2 --out " + out2.string()) == 0);
  nlohmann::json j2 = nlohmann::json::parse(slurp(out2));
  nlohmann::json j1 = j;
  j1.erase("wall_s");
  j2.erase("wall_s");
  CHECK(j1 == j2);
}

TEST_CASE("size searches the largest value where more is worse, and says when nothing in the range will do") {
  const fs::path scenario = dir() / "far.toml";
  std::ofstream(scenario) << kScenario;
  std::string text;
  // 1 ms mean: 5 us/km each way at 20 us of link time: about 96 km
  REQUIRE(sh(fmt::format("size {} --vary link.distance_km=0:1000 --target \"volume.db.writes.response_ms.mean <= 1\" "
                         "--set link.bandwidth_gbit_per_s=100 --quiet",
                         scenario.string()),
             &text) == 0);
  CHECK_THAT(text, Catch::Contains("the largest link.distance_km that meets every target is 9"));
  REQUIRE(sh(fmt::format("size {} --vary link.bandwidth_gbit_per_s=0.1:0.5 --target \"volume.db.writes.response_ms.mean <= 0.01\" --quiet",
                         scenario.string()),
             &text) == 1);
  CHECK_THAT(text, Catch::Contains("no value of link.bandwidth_gbit_per_s from 0.1 to 0.5 meets the targets"));
}

TEST_CASE("size refuses a bad range, target, metric or key naming it, exit 2") {
  const fs::path scenario = dir() / "bad.toml";
  std::ofstream(scenario) << kScenario;
  const std::string s = "size " + scenario.string() + " --quiet ";
  std::string text;
  CHECK(sh(s + "--vary link.bandwidth_gbit_per_s=5:1 --target \"writes_lost <= 0\"", &text) == 2);
  CHECK_THAT(text, Catch::Contains("--vary link.bandwidth_gbit_per_s=5:1: 'link.bandwidth_gbit_per_s=5:1': expected KEY=LOW:HIGH with LOW < HIGH"));
  CHECK(sh(s + "--vary link.nothing=1:5 --target \"writes_lost <= 0\"", &text) == 2);
  CHECK_THAT(text, Catch::Contains("unknown key 'link.nothing'"));
  CHECK(sh(s + "--vary link.bandwidth_gbit_per_s=0:5 --target \"writes_lost <= 0\"", &text) == 2);
  CHECK_THAT(text, Catch::Contains("link.bandwidth_gbit_per_s: expected a number in"));
  CHECK(sh(s + "--vary link.bandwidth_gbit_per_s=1:5 --target \"writes_lost 0\"", &text) == 2);
  CHECK_THAT(text, Catch::Contains("--target writes_lost 0: 'writes_lost 0': no comparison"));
  CHECK(sh(s + "--vary link.bandwidth_gbit_per_s=1:5 --target \"volume.db.writes.response_ms.p42 <= 1\"", &text) == 2);
  CHECK_THAT(text, Catch::Contains("'volume.db.writes.response_ms.p42' names no number in the run's metrics"));
  CHECK(sh(s + "--vary link.bandwidth_gbit_per_s=1:5", &text) == 2);
  CHECK_THAT(text, Catch::Contains("--target: give at least one"));
}

TEST_CASE("mirrorsim real refuses interval and trace workloads by name (exit 2), and size refuses a bad direction") {
  const fs::path scenario = dir() / "intervals.toml";
  std::ofstream(scenario) << "duration_s = 1\n[[volume]]\nname = \"db\"\ntracks = 100\n[[workload]]\nvolume = \"db\"\n"
                             "arrival = \"intervals\"\nintervals = [[0, 10, 10, 40960, 40960]]\n";
  std::string text;
  CHECK(sh("real " + scenario.string() + " -q", &text) == 2);
  CHECK_THAT(text, Catch::Contains("workload.0: real mode plays poisson and closed workloads; interval statistics and "
                                   "traces (arrival = \"intervals\") run in the simulator"));
  CHECK(sh("size " + scenario.string() + " --vary link.links=1:4 --target \"writes_lost <= 0\" --direction sideways -q", &text) == 2);
  CHECK_THAT(text, Catch::Contains("--direction sideways: expected smallest, largest or auto"));
}

namespace {

// Async: 300 whole-track writes/s to 2,000 tracks at 1,000 km over one
// link, 2 s minimum cycles; processors cost nothing, so the link alone sets
// a cycle's transmission.
const char* kAsyncScenario = R"(
seed = 3
duration_s = 40
[primary]
cache_slots = 100000
write_pending_limit = 1.0
front_end_write_us = 0
remote_adapter_copy_receive_us = 0
disks = 16
[link]
distance_km = 1000
overhead_us = 0
links = 1
[[volume]]
name = "db"
tracks = 2000
mode = "async"
[async]
cycle_time_min_s = 2
coordination_max_ms = 0
[[workload]]
volume = "db"
rate_iops = 300
block_bytes = 65536
addresses = "uniform"
[measurement]
warmup_s = 6
)";

}  // namespace

TEST_CASE("size finds the least bandwidth whose async data exposure stays under a target, as the link-bound cycle says") {
  const fs::path scenario = dir() / "async.toml";
  std::ofstream(scenario) << kAsyncScenario;
  // Exposure peaks at the cycle plus its transmission; link-bound they are
  // equal, so rpo_max_s <= 6 s needs a cycle of 3 s whose folded tracks
  // (distinct among 900 writes to 2,000) cross the link in 3 s less the
  // set's end out and R2's answer back (10 ms at 1,000 km).
  const double tracks_per_cycle = 2000 * -std::expm1(-900.0 / 2000);
  const double expected_gbit = tracks_per_cycle * (65536 + 64) * 8 / (3 - 0.01) / 1e9;
  const fs::path out = dir() / "async-size.json";
  std::string text;
  REQUIRE(sh(fmt::format("size {} --vary link.bandwidth_gbit_per_s=0.05:1 --target \"async.rpo_max_s <= 6\" --tolerance 0.02 "
                         "--jobs 2 --quiet --out {}",
                         scenario.string(), out.string()),
             &text) == 0);
  const nlohmann::json j = nlohmann::json::parse(slurp(out));
  const double answer = j["answer"].get<double>();
  INFO(text << "closed form: " << expected_gbit << " Gbit/s");
  CHECK(j["direction"] == "smallest");  // more bandwidth, less exposure
  CHECK(j["not_monotone"].empty());
  CHECK(answer == Approx(expected_gbit).epsilon(0.05));
  // Every point: the exposure falls as the bandwidth rises, and the target
  // holds from the answer up.
  std::vector<std::pair<double, double>> rpo_by_value;
  for (const auto& p : j["points"]) {
    const double v = p["value"].get<double>(), rpo = p["runs"][0]["metrics"][0].get<double>();
    CHECK(p["meets_targets"].get<bool>() == (v >= answer));
    CHECK((rpo <= 6) == (v >= answer));
    rpo_by_value.emplace_back(v, rpo);
  }
  std::sort(rpo_by_value.begin(), rpo_by_value.end());
  REQUIRE(rpo_by_value.size() >= 6);
  for (size_t i = 1; i < rpo_by_value.size(); ++i) CHECK(rpo_by_value[i].second < rpo_by_value[i - 1].second);
  // At the range's low end the link is far too slow: the cycle stretches to
  // most of the volume and the exposure to about two of those cycles.
  CHECK(rpo_by_value.front().second > 20);
}

TEST_CASE("size refuses an RPO target it cannot read, saying why: the name without its table, a run with no async volume") {
  const fs::path async = dir() / "async-bad.toml", sync = dir() / "sync-bad.toml";
  std::ofstream(async) << kAsyncScenario;
  std::ofstream(sync) << kScenario;
  std::string text;
  CHECK(sh("size " + async.string() + " --vary link.bandwidth_gbit_per_s=0.1:1 --target \"rpo_max_s <= 30\" "
           "--set duration_s=7 --quiet",
           &text) == 2);
  CHECK_THAT(text, Catch::Contains("--target rpo_max_s <= 30: 'rpo_max_s' names no number in the run's metrics (the names "
                                   "of `mirrorsim run --out`); did you mean 'async.rpo_max_s'?"));
  CHECK(sh("size " + sync.string() + " --vary link.bandwidth_gbit_per_s=1:10 --target \"async.rpo_max_s <= 30\" "
           "--set duration_s=0.6 --quiet",
           &text) == 2);
  CHECK_THAT(text, Catch::Contains("'async.rpo_max_s' names no number in the run's metrics (the names of `mirrorsim run "
                                   "--out`): this run has no async volume (metrics.async is null); cycle and RPO metrics "
                                   "need mode = \"async\""));
}

TEST_CASE("run --interval-report: a row per interval of the day's statistics, what each offered and what the pair did, "
          "the targets each missed") {
  const std::string scenario = std::string(MIRRORSIM_SCENARIOS_DIR) + "/day_intervals.toml";
  const std::string report = (dir() / "intervals.csv").string();
  auto mirrorsim = [](const std::string& args) { return run_mirrorsim(args, dir()); };
  const Outcome r = mirrorsim(fmt::format("run {} --quiet --interval-report {} --interval-target \"link_utilisation_mean "
                                          "<= 0.2\" --interval-target \"write_response_mean_ms < 5\"",
                                          scenario, report));
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  // The statistics' rows, read here: one report row each, offering their write rate.
  std::ifstream day(std::string(MIRRORSIM_SCENARIOS_DIR) + "/intervals/day_5min.csv");
  std::vector<double> offered;
  for (std::string line; std::getline(day, line);) {
    if (line.empty() || line[0] == '#' || line[0] == 't') continue;
    std::vector<std::string> cells;
    std::stringstream ss(line);
    for (std::string c; std::getline(ss, c, ',');) cells.push_back(c);
    offered.push_back(std::stod(cells[2]));
  }
  std::ifstream in(report);
  std::string header;
  std::getline(in, header);
  CHECK(header.rfind("start_s,end_s,offered_write_mb_per_s,offered_write_iops,write_iops,", 0) == 0);
  size_t rows = 0, missed = 0, busy = 0;
  for (std::string line; std::getline(in, line); ++rows) {
    std::vector<std::string> cells;
    std::stringstream ss(line);
    for (std::string c; std::getline(ss, c, ',');) cells.push_back(c);
    REQUIRE(cells.size() >= 11);
    REQUIRE(rows < offered.size());
    CHECK(std::stod(cells[3]) == Approx(offered[rows]));
    // The pair did what was offered (the link keeps up at this rate), within Poisson noise.
    CHECK(std::stod(cells[4]) == Approx(offered[rows]).epsilon(0.25));
    const bool over = std::stod(cells[6]) > 0.2;
    const std::string why = cells.size() > 11 ? cells[11] : "";
    CHECK(why == (over ? "link_utilisation_mean <= 0.2" : ""));
    busy += over;
    missed += !why.empty();
  }
  CHECK(rows == offered.size());
  CHECK(busy > 0);             // the morning peak
  CHECK(busy < rows / 2);      // and not the night
  CHECK(missed == busy);

  const Outcome bad = mirrorsim(fmt::format("run {} --quiet --interval-report {} --interval-target \"rpo <= 3\"", scenario, report));
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("--interval-target: 'rpo <= 3': no interval column 'rpo'") != std::string::npos);
  const Outcome window = mirrorsim(fmt::format("run {} --quiet --interval-report {} --interval-s 0.01", scenario, report));
  CHECK(window.exit_code == 2);
  CHECK(window.err.find("--interval-s: 0.01 s: expected a window from the time series' interval") != std::string::npos);
  const Outcome alone = mirrorsim(fmt::format("run {} --quiet --interval-target \"rpo_s_max <= 3\"", scenario));
  CHECK(alone.exit_code == 2);
  CHECK(alone.err.find("name its file too") != std::string::npos);
}

TEST_CASE("size shows a line per point on stderr, and with --quiet nothing at all (not the simulator's own progress either)") {
  const fs::path scenario = dir() / "quiet.toml";
  std::string text = kScenario;
  text.replace(text.find("duration_s = 3"), 14, "duration_s = 1");
  std::ofstream(scenario) << text;
  const std::string args = fmt::format(
      "size {} --vary link.bandwidth_gbit_per_s=0.1:100 --target \"volume.db.writes.response_ms.mean <= 0.04\" --tolerance 0.3",
      scenario.string());
  const Outcome loud = run_mirrorsim(args, dir());
  const Outcome quiet = run_mirrorsim(args + " --quiet", dir());
  REQUIRE(loud.exit_code == 0);
  REQUIRE(quiet.exit_code == 0);
  CHECK(quiet.err.empty());
  // The same searches: one progress line per point run, and the same report
  // apart from the wall time it took.
  const auto points = std::count(loud.err.begin(), loud.err.end(), '\n') - 1;
  CHECK(points >= 4);
  CHECK_THAT(loud.err, Catch::Contains("link.bandwidth_gbit_per_s = 100: meets"));
  auto without_wall = [](std::string s) {
    const size_t at = s.find(" runs in ");
    return at == std::string::npos ? s : s.substr(0, at);
  };
  CHECK(without_wall(quiet.out) == without_wall(loud.out));
  CHECK_THAT(quiet.out, Catch::Contains(fmt::format("{} runs in", points)));
}
