// The `mirrorsim` command as a user meets it: bad input gives a clear
// message naming the place and exit code 2; the output files are written
// and are deterministic.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

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

fs::path temp_dir() {
  static const fs::path dir = make_temp_dir("cli");
  return dir;
}

Outcome mirrorsim(const std::string& args) { return run_mirrorsim(args, temp_dir()); }

fs::path write_scenario(const std::string& name, const std::string& text) {
  const fs::path p = temp_dir() / name;
  std::ofstream(p) << text;
  return p;
}

const std::string kQuick = std::string(MIRRORSIM_SCENARIOS_DIR) + "/quickstart.toml";
const std::string kShort = " --quiet --set duration_s=0.3 --set measurement.warmup_s=0.1";

const char* kGood = R"(seed = 3
duration_s = 0.2
[link]
distance_km = 10
[[volume]]
name = "db"
tracks = 1000
[[workload]]
volume = "db"
rate_iops = 2000
[measurement]
warmup_s = 0.05
)";

}  // namespace

TEST_CASE("mirrorsim run: a missing scenario file exits 2 and names the file") {
  const Outcome o = mirrorsim("run /nonexistent/nope.toml");
  CHECK(o.exit_code == 2);
  CHECK_THAT(o.err, Catch::Contains("/nonexistent/nope.toml") && Catch::Contains("No such file"));
}

TEST_CASE("mirrorsim run: an unknown key exits 2 with file:line:col") {
  std::string text = kGood;
  text.replace(text.find("distance_km"), 11, "distnce_km");
  const fs::path p = write_scenario("unknown.toml", text);
  const Outcome o = mirrorsim("run " + p.string());
  CHECK(o.exit_code == 2);
  CHECK_THAT(o.err, Catch::Contains(p.string() + ":4:1") && Catch::Contains("distnce_km"));
}

TEST_CASE("mirrorsim run: a value of the wrong type exits 2 with file:line:col") {
  std::string text = kGood;
  text.replace(text.find("distance_km = 10"), 16, "distance_km = \"far\"");
  const fs::path p = write_scenario("type.toml", text);
  const Outcome o = mirrorsim("run " + p.string());
  CHECK(o.exit_code == 2);
  CHECK_THAT(o.err, Catch::Contains(p.string() + ":4:15") && Catch::Contains("link.distance_km"));
}

TEST_CASE("mirrorsim run: a value out of range exits 2 with file:line:col") {
  std::string text = kGood;
  text.replace(text.find("distance_km = 10"), 16, "distance_km = -5");
  const fs::path p = write_scenario("range.toml", text);
  const Outcome o = mirrorsim("run " + p.string());
  CHECK(o.exit_code == 2);
  CHECK_THAT(o.err, Catch::Contains(p.string() + ":4:15"));
}

TEST_CASE("mirrorsim run: a contradictory combination exits 2 with file:line:col") {
  const fs::path p = write_scenario("contradiction.toml", std::string(kGood) + "[[workload]]\nvolume = \"logs\"\n");
  const Outcome o = mirrorsim("run " + p.string());
  CHECK(o.exit_code == 2);
  CHECK_THAT(o.err, Catch::Contains(p.string() + ":14:10") && Catch::Contains("logs"));
}

TEST_CASE("mirrorsim run: a TOML syntax error exits 2 with file:line:col") {
  const fs::path p = write_scenario("syntax.toml", std::string(kGood) + "[link\n");
  const Outcome o = mirrorsim("run " + p.string());
  CHECK(o.exit_code == 2);
  CHECK_THAT(o.err, Catch::Contains(p.string() + ":13:"));
}

TEST_CASE("mirrorsim run: a bad --set exits 2 and names the override") {
  const Outcome unknown = mirrorsim("run " + kQuick + " --set link.distnce_km=3");
  CHECK(unknown.exit_code == 2);
  CHECK_THAT(unknown.err, Catch::Contains("--set link.distnce_km=3") && Catch::Contains("distance_km"));
  const Outcome bad_value = mirrorsim("run " + kQuick + " --set link.distance_km=abc");
  CHECK(bad_value.exit_code == 2);
  CHECK_THAT(bad_value.err, Catch::Contains("--set link.distance_km=abc"));
  const Outcome no_equals = mirrorsim("run " + kQuick + " --set link.distance_km");
  CHECK(no_equals.exit_code == 2);
  CHECK_THAT(no_equals.err, Catch::Contains("key=value"));
}

TEST_CASE("mirrorsim: unknown flags, missing arguments and unknown commands exit 2") {
  CHECK(mirrorsim("run " + kQuick + " --bogus").exit_code == 2);
  CHECK(mirrorsim("run").exit_code == 2);
  CHECK(mirrorsim("run " + kQuick + " --seed notanumber").exit_code == 2);
  const Outcome o = mirrorsim("frobnicate");
  CHECK(o.exit_code == 2);
  CHECK_THAT(o.err, Catch::Contains("unknown command"));
}

TEST_CASE("mirrorsim: --help works for the program and every subcommand") {
  const Outcome top = mirrorsim("--help");
  REQUIRE(top.exit_code == 0);
  CHECK_THAT(top.out, Catch::Contains("run"));
  // Every command listed in the help answers --help with exit 0.
  std::istringstream lines(top.out.substr(top.out.find("commands:")));
  std::string line;
  std::getline(lines, line);
  int commands = 0;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string name;
    if (!(words >> name)) continue;
    const Outcome help = mirrorsim(name + " --help");
    INFO(name);
    CHECK(help.exit_code == 0);
    CHECK_FALSE(help.out.empty());
    ++commands;
  }
  CHECK(commands >= 1);
}

TEST_CASE("mirrorsim run prints the seed and writes --out JSON, --timeseries CSV and --trace JSON") {
  const fs::path out = temp_dir() / "r.json", ts = temp_dir() / "ts.csv", trace = temp_dir() / "trace.json";
  const Outcome o = mirrorsim(fmt::format("run {} --set duration_s=0.3 --set measurement.warmup_s=0.1 --seed 5 --out {} "
                                          "--timeseries {} --trace {} --trace-writes 20",
                                          kQuick, out.string(), ts.string(), trace.string()));
  REQUIRE(o.exit_code == 0);
  CHECK_THAT(o.err, Catch::Contains("seed 5"));
  CHECK_THAT(o.out, Catch::Contains("seed 5") && Catch::Contains("invariant violations: 0"));
  const auto j = nlohmann::json::parse(slurp(out));
  CHECK(j["seed"] == 5);
  CHECK(j["scenario"]["link"]["distance_km"] == 100.0);
  CHECK(j["engine_version"].get<std::string>().rfind("SimGrid 3.", 0) == 0);
  CHECK(j["metrics"]["volumes"][0]["writes"]["completed"].get<int>() > 100);
  CHECK(j["metrics"]["invariant_violations"] == 0);
  const std::string csv = slurp(ts);
  CHECK(csv.rfind("t_s,remote_wp_tracks,local_wp_slots", 0) == 0);
  CHECK(std::count(csv.begin(), csv.end(), '\n') >= 3);
  const auto t = nlohmann::json::parse(slurp(trace));
  int host_writes = 0, copies = 0;
  for (const auto& e : t["traceEvents"]) {
    if (e["ph"] != "X") continue;
    const std::string name = e["name"];
    host_writes += name == "host write";
    copies += name.rfind("copy", 0) == 0;
  }
  CHECK(host_writes == 20);
  CHECK(copies >= 10);
}

TEST_CASE("mirrorsim run --trace: a trace that cannot be written fails the run like --out, the rest is kept") {
  // Issue 11 item 13: --trace /dev/full exited 0.
  const fs::path out = temp_dir() / "kept.json";
  const Outcome full = mirrorsim(fmt::format("run {}{} --trace /dev/full --out {}", kQuick, kShort, out.string()));
  CHECK(full.exit_code == 1);
  CHECK_THAT(full.err, Catch::Contains("mirrorsim run: cannot write /dev/full: No space left on device"));
  CHECK_THAT(full.out, Catch::Contains("invariant violations: 0"));  // the summary is printed
  CHECK(nlohmann::json::parse(slurp(out))["seed"] == 1);            // and --out written
  const Outcome absent = mirrorsim(fmt::format("run {}{} --trace {}", kQuick, kShort, (temp_dir() / "no" / "t.json").string()));
  CHECK(absent.exit_code == 1);
  CHECK_THAT(absent.err, Catch::Contains("/no/t.json: No such file or directory"));
  // The same exit code and message as --out gets.
  const Outcome out_full = mirrorsim(fmt::format("run {}{} --out /dev/full", kQuick, kShort));
  CHECK(out_full.exit_code == full.exit_code);
  CHECK_THAT(out_full.err, Catch::Contains("mirrorsim run: cannot write /dev/full: No space left on device"));
}

TEST_CASE("mirrorsim run: the same seed writes byte-identical JSON, another seed does not") {
  const fs::path a = temp_dir() / "a.json", b = temp_dir() / "b.json", c = temp_dir() / "c.json";
  REQUIRE(mirrorsim(fmt::format("run {}{} --out {}", kQuick, kShort, a.string())).exit_code == 0);
  REQUIRE(mirrorsim(fmt::format("run {}{} --out {}", kQuick, kShort, b.string())).exit_code == 0);
  REQUIRE(mirrorsim(fmt::format("run {}{} --seed 99 --out {}", kQuick, kShort, c.string())).exit_code == 0);
  CHECK(slurp(a) == slurp(b));
  CHECK(slurp(a) != slurp(c));
}

TEST_CASE("mirrorsim run --analytic prints predictions beside the simulation and names failed assumptions") {
  const Outcome o = mirrorsim("run " + std::string(MIRRORSIM_SCENARIOS_DIR) + "/modes_100km.toml --quiet --analytic "
                              "--set duration_s=1 --set measurement.warmup_s=0.2");
  REQUIRE(o.exit_code == 0);
  CHECK_THAT(o.out, Catch::Contains("analytic reference") && Catch::Contains("volume semi-sync (semi-sync)") &&
                        Catch::Contains("analytic 1.3567, simulated 1.3567"));
  CHECK_THAT(o.out, Catch::Contains("not modelled here") && Catch::Contains("disks (the CTMC models one FIFO disk)"));
}
