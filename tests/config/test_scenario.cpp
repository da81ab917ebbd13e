// The scenario loader: shipped files, defaults, every class of bad input with
// its file:line:col, dotted-key overrides, the resolved TOML, sweeps.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "tests/config/helpers.hpp"
#include "config/scenario.hpp"
#include "config/scenario_json.hpp"

using namespace mirrorsim;
using namespace config_test;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

namespace fs = std::filesystem;

// The smallest valid scenario; snippets add to it.
Scenario parse(const std::string& text) { return parse_scenario(text, "test.toml"); }


std::vector<fs::path> shipped_scenarios() {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(MIRRORSIM_SCENARIOS_DIR))
    if (entry.path().extension() == ".toml") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}


// Equality after a reload: the failure positions point into the resolved
// text instead of the original file, everything else must be identical.
Scenario without_failure_positions(Scenario s) {
  for (auto& f : s.failures) f.where.clear();
  return s;
}

}  // namespace

// ---- shipped files and defaults ---------------------------------------------

TEST_CASE("every shipped scenario loads") {
  const auto files = shipped_scenarios();
  REQUIRE(files.size() >= 11);
  for (const auto& file : files) {
    INFO(file);
    CHECK_NOTHROW(load_scenario_file(file.string()));
  }
}

TEST_CASE("the complete example in scenarios/README.md loads") {
  std::ifstream readme(std::string(MIRRORSIM_SCENARIOS_DIR) + "/README.md");
  const std::string text((std::istreambuf_iterator<char>(readme)), std::istreambuf_iterator<char>());
  const size_t section = text.find("## A complete example");
  REQUIRE(section != std::string::npos);
  const size_t begin = text.find("```toml\n", section) + 8;
  const size_t end = text.find("```", begin);
  const Scenario s = parse_scenario(text.substr(begin, end - begin), "README.md");
  CHECK(s.volumes.size() == 2);
  CHECK(s.workloads[1].arrival == Arrival::Closed);
  CHECK(s.sweep->params.size() == 1);
}

TEST_CASE("quickstart: the values in the file are the values loaded") {
  const Scenario s = load_scenario_file(std::string(MIRRORSIM_SCENARIOS_DIR) + "/quickstart.toml");
  CHECK(s.seed == 1);
  CHECK(s.duration_s == 10);
  CHECK(s.primary.front_end_write_us == ServiceTime::fixed(250));
  CHECK(s.secondary.remote_adapter_copy_receive_us == ServiceTime::fixed(50));
  CHECK(s.link.distance_km == 100);
  CHECK(s.link.overhead_us == ServiceTime::fixed(25));
  CHECK(s.link.one_way_latency_us() == 525);
  REQUIRE(s.volumes.size() == 1);
  CHECK(s.volumes[0].name == "db");
  CHECK(s.volumes[0].tracks == 100000);
  CHECK(s.volumes[0].mode == Mode::Sync);
  REQUIRE(s.workloads.size() == 1);
  CHECK(s.workloads[0].addresses == AddressPattern::Zipf);
  CHECK(s.workloads[0].rate_iops == 5000);
  CHECK(s.workloads[0].write_fraction == 0.7);
  CHECK(s.measurement.warmup_s == 1);
  CHECK(s.source == std::string(MIRRORSIM_SCENARIOS_DIR) + "/quickstart.toml");
}

TEST_CASE("defaults come out as documented in scenarios/README.md") {
  const Scenario s = parse(kVolume + "[[workload]]\nvolume = \"db\"\n[[failure]]\nat_s = 1\nevent = \"link-down\"\n");
  CHECK(s.seed == 1);
  CHECK(s.duration_s == 10);

  for (const ControllerScenario& c : {s.primary, s.secondary}) {
    CHECK(c.cache_slots == 65536);
    CHECK(c.track_bytes == 65536);
    CHECK(c.write_pending_limit == 0.8);
    CHECK(c.cache_nonvolatile);
    CHECK(c.front_end_processors == 16);
    CHECK(c.front_end_write_us == ServiceTime::fixed(50));
    CHECK(c.front_end_read() == ServiceTime::fixed(50));
    CHECK(c.remote_adapter_processors == 8);
    CHECK(c.remote_adapter_copy_send_us.is_zero());
    CHECK(c.remote_adapter_copy_receive_us == ServiceTime::fixed(50));
    CHECK(c.remote_adapter_ack_receive_us.is_zero());
    CHECK(c.back_end_processors == 8);
    CHECK(c.back_end_destage_us.is_zero());
    CHECK(c.back_end_disk_read_us.is_zero());
    CHECK(c.disks == 8);
    CHECK(c.disk_write_us == ServiceTime::fixed(200));
    CHECK(!c.disk_first_write_us);  // a first write costs what any write does
    CHECK(c.disk_first_write() == c.disk_write_us);
    CHECK(c.disk_read_us == ServiceTime::fixed(200));
    CHECK(!c.disk_unwritten_read_us);  // a read of a track never written costs what any disk read does
    CHECK(c.disk_unwritten_read() == c.disk_read_us);
    CHECK(c.disk_bandwidth_mb_per_s == 500);
    CHECK(c.destages_per_disk_max == 32);
    CHECK(c.copies_in_flight_max == 256);
    CHECK(c.disk_retry_ms == 1);
  }

  CHECK(s.link.distance_km == 100);
  CHECK(s.link.overhead_us == ServiceTime::fixed(20));
  CHECK(s.link.bandwidth_gbit_per_s == 10);
  CHECK(s.link.links == 2);
  CHECK(s.link.round_trips_per_write == 1);
  CHECK(s.link.failure_detection_ms == 50);
  CHECK(s.link.network_model == "cm02");

  CHECK(s.volumes[0].mode == Mode::Sync);
  CHECK(s.volumes[0].skew_tracks == 1000);
  CHECK_FALSE(s.volumes[0].domino);

  const WorkloadScenario& w = s.workloads[0];
  CHECK(w.volume_index == 0);
  CHECK(w.arrival == Arrival::Poisson);
  CHECK(w.rate_iops == 1000);
  CHECK(w.queue_depth == 1);
  CHECK(w.think_us == 0);
  CHECK(w.write_fraction == 1.0);
  CHECK(w.block_bytes == 8192);
  CHECK(w.addresses == AddressPattern::Uniform);
  CHECK(w.zipf_theta == 0.9);
  CHECK(w.hotspot_fraction == 0.1);
  CHECK(w.hotspot_probability == 0.9);
  CHECK(w.start_s == 0);
  CHECK_FALSE(w.stop_s);
  CHECK_FALSE(w.requests);

  const FailureScenario& f = s.failures[0];
  CHECK_FALSE(f.controller);
  CHECK_FALSE(f.disk);
  CHECK_FALSE(f.link);
  CHECK_FALSE(f.bandwidth_gbit_per_s);
  CHECK_FALSE(f.added_latency_us);

  CHECK(s.measurement.warmup_s == 0);
  CHECK(s.measurement.percentiles == std::vector<double>{50, 90, 99, 99.9});
  CHECK(s.measurement.timeseries_interval_s == 0.1);
  CHECK_FALSE(s.sweep);
  CHECK_FALSE(s.check);
}

TEST_CASE("the secondary takes every key [secondary] leaves out from [primary]") {
  const Scenario s = parse(kVolume + R"(
[primary]
cache_slots = 1000
front_end_write_us = 250
cache_nonvolatile = false
disks = 4
[secondary]
remote_adapter_copy_receive_us = 50
disks = 16
)");
  CHECK(s.secondary.cache_slots == 1000);
  CHECK_FALSE(s.secondary.cache_nonvolatile);
  CHECK(s.secondary.remote_adapter_copy_receive_us == ServiceTime::fixed(50));
  CHECK(s.secondary.disks == 16);
  CHECK(s.primary.front_end_write_us == ServiceTime::fixed(250));
  CHECK(s.primary.disks == 4);
}

TEST_CASE("failures are sorted by time, file order kept on ties, each with its file position") {
  const Scenario s = parse(kVolume + R"(
[[failure]]
at_s = 5
event = "link-up"
[[failure]]
at_s = 2
event = "crash"
controller = "R2"
[[failure]]
at_s = 5
event = "failover"
[[failure]]
at_s = 2
event = "restart"
controller = "R2"
)");
  REQUIRE(s.failures.size() == 4);
  CHECK(s.failures[0].event == FailureEvent::Crash);
  CHECK(s.failures[0].controller == Side::B);
  CHECK(s.failures[0].where == "test.toml:8:1");
  CHECK(s.failures[1].event == FailureEvent::Restart);
  CHECK(s.failures[2].event == FailureEvent::LinkUp);
  CHECK(s.failures[2].where == "test.toml:5:1");
  CHECK(s.failures[3].event == FailureEvent::Failover);
}

TEST_CASE("every failure event reads with the keys it takes") {
  const Scenario s = parse(kVolume + R"(
[primary]
disks = 2
[[failure]]
at_s = 1
event = "link-down"
link = 1
[[failure]]
at_s = 2
event = "link-up"
[[failure]]
at_s = 3
event = "link-degrade"
bandwidth_gbit_per_s = 0.5
added_latency_us = 100
[[failure]]
at_s = 4
event = "crash"
controller = "R1"
[[failure]]
at_s = 4.5
event = "restart"
controller = "R1"
[[failure]]
at_s = 5
event = "disk-failure"
controller = "R1"
disk = 1
[[failure]]
at_s = 5.5
event = "disk-repair"
controller = "R1"
disk = 1
[[failure]]
at_s = 6
event = "suspend"
[[failure]]
at_s = 6.5
event = "resume"
[[failure]]
at_s = 7
event = "disaster"
[[failure]]
at_s = 8
event = "failover"
[[failure]]
at_s = 9
event = "failback"
)");
  REQUIRE(s.failures.size() == 12);
  CHECK(s.failures[0].link == 1u);
  CHECK(s.failures[2].bandwidth_gbit_per_s == 0.5);
  CHECK(s.failures[2].added_latency_us == 100);
  CHECK(s.failures[5].event == FailureEvent::DiskFailure);
  CHECK(s.failures[5].disk == 1u);
  CHECK(s.failures[11].event == FailureEvent::Failback);
  for (const auto& f : s.failures) CHECK(to_string(f.event) != "?");
}

TEST_CASE("controller_config gives the model each side's controller and the same volumes") {
  Scenario s = parse(R"(
[primary]
cache_slots = 1000
write_pending_limit = 0.5
track_bytes = 32768
disks = 3
cache_nonvolatile = false
copies_in_flight_max = 7
destages_per_disk_max = 9
disk_retry_ms = 2.5
[secondary]
cache_slots = 2000
[link]
round_trips_per_write = 2
[[volume]]
name = "a"
tracks = 10
mode = "semi-sync"
[[volume]]
name = "b"
tracks = 20
mode = "adaptive-copy-wp"
skew_tracks = 5
domino = true
)");
  const ControllerConfig r1 = controller_config(s, Side::A);
  CHECK(r1.cache_slots == 1000);
  CHECK(r1.write_pending_limit == 0.5);
  CHECK(r1.track_bytes == 32768);
  CHECK(r1.disks == 3);
  CHECK_FALSE(r1.cache_nonvolatile);
  CHECK(r1.round_trips_per_write == 2);
  CHECK(r1.copies_in_flight_max == 7);
  CHECK(r1.destages_per_disk_max == 9);
  CHECK(r1.disk_retry_interval == Time::from_us(2500));
  CHECK(r1.mutant == Mutant::None);
  REQUIRE(r1.volumes.size() == 2);
  CHECK(r1.volumes[1].name == "b");
  CHECK(r1.volumes[1].tracks == 20);
  CHECK(r1.volumes[1].mode == Mode::AdaptiveCopyWp);
  CHECK(r1.volumes[1].skew_tracks == 5);
  CHECK(r1.volumes[1].domino);

  const ControllerConfig r2 = controller_config(s, Side::B);
  CHECK(r2.cache_slots == 2000);
  CHECK(r2.disks == 3);
  CHECK(r2.round_trips_per_write == 2);
  CHECK(r2.volumes.size() == 2);
  CHECK(r2.volumes[0].mode == Mode::SemiSync);
}

// ---- bad input: every class, with its position ------------------------------

TEST_CASE("an unknown key at the top level is refused at its position, with a suggestion") {
  CHECK(parse_error("sed = 4\n" + kVolume) == "test.toml:1:1: unknown key 'sed' at the top level (did you mean 'seed'?)");
  CHECK(parse_error("[lnk]\n" + kVolume) == "test.toml:1:2: unknown key 'lnk' at the top level (did you mean 'link'?)");
}

TEST_CASE("an unknown key in a table is refused at its position, with a suggestion") {
  CHECK(parse_error(kVolume + "[link]\n  distnce_km = 5\n") ==
        "test.toml:5:3: unknown key 'distnce_km' in [link] (did you mean 'distance_km'?)");
  CHECK(parse_error(kVolume + "[link]\nbandwidth_gbps = 5\n") ==
        "test.toml:5:1: unknown key 'bandwidth_gbps' in [link] (did you mean 'bandwidth_gbit_per_s'?)");
  CHECK(parse_error(kVolume + "[primary.extra]\nx = 1\n") == "test.toml:4:10: unknown key 'extra' in [primary]");
  CHECK_THAT(parse_error(kVolume + "[check]\nwrite = 3\n"), StartsWith("test.toml:5:1: unknown key 'write' in [check]"));
}

TEST_CASE("an unknown key in an array-of-tables entry is refused before its other keys are read") {
  CHECK(parse_error("[[volume]]\nnme = \"db\"\ntracks = 5\n") ==
        "test.toml:2:1: unknown key 'nme' in [[volume]] 0 (did you mean 'name'?)");
  CHECK(parse_error(kVolume + "[[workload]]\nvolume = \"db\"\nrate = 5\n") ==
        "test.toml:6:1: unknown key 'rate' in [[workload]] 0 (did you mean 'rate_iops'?)");
  CHECK_THAT(parse_error(kVolume + "[[failure]]\nat_s = 1\nevent = \"crash\"\ncontroler = \"r1\"\n"),
             StartsWith("test.toml:7:1: unknown key 'controler' in [[failure]] 0 (did you mean 'controller'?)"));
}

TEST_CASE("a value of the wrong type is refused at the value, naming the key") {
  CHECK(parse_error(kVolume + "[link]\ndistance_km = \"far\"\n") ==
        "test.toml:5:15: link.distance_km: expected a number in [0, 100000], got \"far\"");
  CHECK(parse_error(kVolume + "[primary]\ncache_slots = 1.5\n") ==
        "test.toml:5:15: primary.cache_slots: expected an integer ≥ 1, got 1.5");
  CHECK(parse_error(kVolume + "[primary]\ncache_nonvolatile = 1\n") ==
        "test.toml:5:21: primary.cache_nonvolatile: expected true or false, got 1");
  CHECK_THAT(parse_error("[[volume]]\nname = \"db\"\ntracks = 100\nmode = \"synch\"\n"),
             StartsWith("test.toml:4:8: volume.db.mode: expected one of \"sync\", \"semi-sync\", \"adaptive-copy-wp\", "
                        "\"adaptive-copy-disk\", \"async\", got \"synch\" (did you mean \"sync\"?)"));
  CHECK_THAT(parse_error("link = 3\n" + kVolume), StartsWith("test.toml:1:8: link: expected a table ([link]), got 3"));
  CHECK_THAT(parse_error("[volume]\nname = \"db\"\n"),
             StartsWith("test.toml:1:1: volume: expected an array of tables ([[volume]] entries), got a table"));
}

TEST_CASE("an integer is accepted where a number is expected") {
  const Scenario s = parse(kVolume + "[link]\ndistance_km = 300\n");
  CHECK(s.link.distance_km == 300.0);
}

TEST_CASE("a value out of range is refused, naming the range") {
  CHECK(parse_error(kVolume + "[primary]\nwrite_pending_limit = 1.5\n") ==
        "test.toml:5:23: primary.write_pending_limit: expected a number in (0, 1], got 1.5");
  CHECK_THAT(parse_error(kVolume + "[primary]\nwrite_pending_limit = 0\n"), Contains("expected a number in (0, 1], got 0"));
  CHECK(parse_error(kVolume + "[link]\nround_trips_per_write = 3\n") ==
        "test.toml:5:25: link.round_trips_per_write: expected 1 or 2, got 3");
  CHECK_THAT(parse_error(kVolume + "[link]\ndistance_km = -1\n"), Contains("link.distance_km: expected a number in [0, 100000], got -1"));
  CHECK_THAT(parse_error(kVolume + "[link]\ndistance_km = inf\n"), Contains("expected a number in [0, 100000], got inf"));
  CHECK_THAT(parse_error(kVolume + "[primary]\ncache_slots = 5000000000\n"),
             Contains("primary.cache_slots: expected an integer ≤ 4294967295, got 5000000000"));
  CHECK_THAT(parse_error("[[volume]]\nname = \"db\"\ntracks = 0\n"),
             StartsWith("test.toml:3:10: volume.db.tracks: expected an integer ≥ 1, got 0"));
  CHECK_THAT(parse_error(kVolume + "[measurement]\npercentiles = [50, 100]\n"),
             StartsWith("test.toml:5:20: measurement.percentiles: expected a number in (0, 100), got 100"));
  CHECK_THAT(parse_error(kVolume + "[measurement]\npercentiles = [0, 50]\n"), Contains("got 0"));
  CHECK_THAT(parse_error(kVolume + "[measurement]\npercentiles = [99, 50]\n"),
             Contains("measurement.percentiles: expected a number in (0, 100) above 99 (in increasing order), got 50"));
  CHECK_THAT(parse_error(kVolume + "[[workload]]\nvolume = \"db\"\narrival = \"closed\"\nqueue_depth = 0\n"),
             StartsWith("test.toml:7:15: workload.0.queue_depth: expected an integer ≥ 1, got 0"));
  CHECK_THAT(parse_error("seed = -1\n" + kVolume), StartsWith("test.toml:1:8: seed: expected an integer in [0, 9223372036854775807], got -1"));
  CHECK_THAT(parse_error("[[volume]]\nname = \"d.b\"\ntracks = 1\n"),
             StartsWith("test.toml:2:8: volume.0.name: expected a name of 1 to 64 letters"));
}

TEST_CASE("a missing required key is reported at its table") {
  CHECK(parse_error("seed = 1\n\n[[volume]]\nname = \"db\"\n") ==
        "test.toml:3:1: missing required key 'tracks' in [[volume]] \"db\"");
  CHECK(parse_error(kVolume + "[[workload]]\nrate_iops = 5\n") == "test.toml:4:1: missing required key 'volume' in [[workload]] 0");
  CHECK_THAT(parse_error(kVolume + "[[failure]]\nevent = \"link-down\"\n"), StartsWith("test.toml:4:1: missing required key 'at_s'"));
  CHECK(parse_error("seed = 1\n") == "test.toml:1:1: at least one [[volume]] is required: the volumes R1 mirrors to R2");
}

TEST_CASE("contradictory combinations are refused at the key that contradicts") {
  SECTION("a request larger than a track") {
    CHECK(parse_error(kVolume + "[primary]\ntrack_bytes = 4096\n[[workload]]\nvolume = \"db\"\nblock_bytes = 8192\n") ==
          "test.toml:8:15: workload.0.block_bytes: 8192 exceeds primary.track_bytes (4096): a request must fit in one track");
  }
  SECTION("a workload on a volume that does not exist") {
    CHECK(parse_error(kVolume + "[[workload]]\nvolume = \"dbx\"\n") ==
          "test.toml:5:10: workload.0.volume: no volume named \"dbx\" (declared: \"db\"); did you mean \"db\"?");
  }
  SECTION("two volumes with the same name") {
    CHECK(parse_error(kVolume + kVolume) ==
          "test.toml:5:8: volume.db.name: \"db\" is already the name of volume 0: names must be unique");
  }
  SECTION("a crash without a controller") {
    CHECK(parse_error(kVolume + "[[failure]]\nat_s = 1\nevent = \"crash\"\n") ==
          "test.toml:4:1: failure.0: a \"crash\" event needs controller = \"R1\" or \"R2\"");
  }
  SECTION("a disk failure without a disk") {
    CHECK_THAT(parse_error(kVolume + "[[failure]]\nat_s = 1\nevent = \"disk-failure\"\ncontroller = \"R2\"\n"),
               StartsWith("test.toml:4:1: failure.0: a \"disk-failure\" event needs disk = "));
  }
  SECTION("a disk the controller does not have") {
    CHECK(parse_error(kVolume + "[secondary]\ndisks = 2\n[[failure]]\nat_s = 1\nevent = \"disk-failure\"\n"
                                "controller = \"R2\"\ndisk = 2\n") ==
          "test.toml:10:8: failure.0.disk: R2 has no disk 2: secondary.disks = 2 (disks are numbered from 0)");
  }
  SECTION("a link that does not exist") {
    CHECK(parse_error(kVolume + "[[failure]]\nat_s = 1\nevent = \"link-down\"\nlink = 2\n") ==
          "test.toml:7:8: failure.0.link: there is no link 2: link.links = 2 (links are numbered from 0)");
  }
  SECTION("a key the event does not take") {
    CHECK(parse_error(kVolume + "[[failure]]\nat_s = 1\nevent = \"link-down\"\ncontroller = \"R1\"\n") ==
          "test.toml:7:14: failure.0.controller: does not apply to a \"link-down\" event");
  }
  SECTION("a link degrade that changes nothing") {
    CHECK_THAT(parse_error(kVolume + "[[failure]]\nat_s = 1\nevent = \"link-degrade\"\n"),
               Contains("failure.0: a \"link-degrade\" event needs bandwidth_gbit_per_s, added_latency_us or both"));
  }
  SECTION("a failure after the run") {
    CHECK_THAT(parse_error(kVolume + "[[failure]]\nat_s = 11\nevent = \"link-down\"\n"),
               StartsWith("test.toml:5:8: failure.0.at_s: 11 s is after duration_s (10 s)"));
  }
  SECTION("a warmup as long as the run") {
    CHECK(parse_error("duration_s = 5\n" + kVolume + "[measurement]\nwarmup_s = 5\n") ==
          "test.toml:6:12: measurement.warmup_s: 5 s is not before duration_s (5 s): nothing would be measured");
  }
  SECTION("a workload that stops before it starts") {
    CHECK(parse_error(kVolume + "[[workload]]\nvolume = \"db\"\nstart_s = 3\nstop_s = 3\n") ==
          "test.toml:7:10: workload.0.stop_s: 3 s is not after start_s (3 s)");
  }
  SECTION("a workload that starts after the run") {
    CHECK_THAT(parse_error(kVolume + "[[workload]]\nvolume = \"db\"\nstart_s = 10\n"),
               StartsWith("test.toml:6:11: workload.0.start_s: 10 s is not before duration_s (10 s)"));
  }
  SECTION("tracks of different sizes on the two sides") {
    CHECK_THAT(parse_error(kVolume + "[secondary]\ntrack_bytes = 4096\n"),
               StartsWith("test.toml:5:15: secondary.track_bytes: 4096 differs from primary.track_bytes (65536)"));
  }
  SECTION("a check of more volumes than the scenario has") {
    CHECK(parse_error(kVolume + "[check]\nvolumes = 2\n") ==
          "test.toml:5:11: check.volumes: 2 exceeds the 1 volume(s) the scenario declares");
  }
  SECTION("an empty volume list") {
    CHECK(parse_error("volume = []\n") == "test.toml:1:10: at least one [[volume]] is required: the volumes R1 mirrors to R2");
  }
}

TEST_CASE("failover and failback need no prior failure in the schedule") {
  const Scenario s = parse(kVolume + "[[failure]]\nat_s = 1\nevent = \"failback\"\n[[failure]]\nat_s = 2\nevent = \"failover\"\n");
  CHECK(s.failures.size() == 2);
}

TEST_CASE("a TOML syntax error is reported at its position") {
  CHECK_THAT(parse_error("seed = 1\nduration_s = \"10\n"), StartsWith("test.toml:2:17: TOML syntax error in string: "));
  CHECK(parse_error("seed = 1\nseed = 2\n") ==
        "test.toml:2:8: TOML syntax error in key-value pair: cannot redefine existing integer 'seed'");
}

TEST_CASE("a file that cannot be read is an error naming the path") {
  const TempDir dir;
  const std::string missing = (dir.path / "nope.toml").string();
  CHECK(error_of([&] { load_scenario_file(missing); }) == missing + ": cannot open: No such file or directory");
  CHECK(error_of([&] { load_scenario_file(dir.path.string()); }) == dir.path.string() + ": cannot read: a directory; a scenario is a regular file");
}

TEST_CASE("errors in a file name the file, line and column") {
  const TempDir dir;
  const std::string path = dir.write("bad.toml", kVolume + "[link]\ndistance_km = \"far\"\n");
  const std::string error = error_of([&] { load_scenario_file(path); });
  CHECK(error == path + ":5:15: link.distance_km: expected a number in [0, 100000], got \"far\"");
}

// ---- dotted keys ------------------------------------------------------------

TEST_CASE("set_value changes a key of every family and get_value reads it back") {
  Scenario s = parse(kVolume + "[[workload]]\nvolume = \"db\"\n[[failure]]\nat_s = 1\nevent = \"link-down\"\n");
  set_value(s, "seed", "7", "--set seed=7");
  set_value(s, "duration_s", "20", "w");
  set_value(s, "primary.cache_slots", "200", "w");
  set_value(s, "secondary.remote_adapter_copy_receive_us", "75.5", "w");
  set_value(s, "link.distance_km", "300", "w");
  set_value(s, "link.bandwidth_gbit_per_s", "25", "w");
  set_value(s, "link.network_model", "lv08", "w");
  set_value(s, "volume.db.mode", "semi-sync", "w");
  set_value(s, "volume.db.domino", "true", "w");
  set_value(s, "workload.0.rate_iops", "1234", "w");
  set_value(s, "workload.0.addresses", "\"hotspot\"", "w");
  set_value(s, "failure.0.at_s", "2.5", "w");
  set_value(s, "measurement.warmup_s", "1", "w");
  set_value(s, "measurement.percentiles", "[50, 99.99]", "w");
  set_value(s, "check.writes", "3", "w");

  CHECK(s.seed == 7);
  CHECK(s.duration_s == 20);
  CHECK(s.primary.cache_slots == 200);
  CHECK(s.secondary.cache_slots == 65536);
  CHECK(s.secondary.remote_adapter_copy_receive_us == ServiceTime::fixed(75.5));
  CHECK(s.link.distance_km == 300);
  CHECK(s.link.bandwidth_gbit_per_s == 25);
  CHECK(s.link.network_model == "lv08");
  CHECK(s.volumes[0].mode == Mode::SemiSync);
  CHECK(s.volumes[0].domino);
  CHECK(s.workloads[0].rate_iops == 1234);
  CHECK(s.workloads[0].addresses == AddressPattern::Hotspot);
  CHECK(s.failures[0].at_s == 2.5);
  CHECK(s.measurement.warmup_s == 1);
  CHECK(s.measurement.percentiles == std::vector<double>{50, 99.99});
  REQUIRE(s.check);
  CHECK(s.check->writes == 3);
  CHECK(s.check->tracks == 2);

  CHECK(get_value(s, "seed") == "7");
  CHECK(get_value(s, "link.distance_km") == "300.0");
  CHECK(get_value(s, "volume.db.mode") == "\"semi-sync\"");
  CHECK(get_value(s, "workload.0.rate_iops") == "1234.0");
  CHECK(get_value(s, "measurement.percentiles") == "[50.0, 99.99]");
  CHECK(get_value(s, "check.writes") == "3");
  CHECK(get_value(s, "workload.0.stop_s").empty());

  // The resolved text follows every override.
  CHECK_THAT(s.resolved_toml, Contains("distance_km = 300.0"));
  CHECK(parse_scenario(s.resolved_toml, s.source).link.distance_km == 300);
}

TEST_CASE("get_value of an optional key is empty until it is set") {
  Scenario s = parse(kVolume + "[[workload]]\nvolume = \"db\"\n");
  CHECK(get_value(s, "workload.0.stop_s").empty());
  CHECK(get_value(s, "check.writes").empty());
  set_value(s, "workload.0.stop_s", "5", "w");
  CHECK(get_value(s, "workload.0.stop_s") == "5.0");
}

TEST_CASE("set_value refuses unknown keys, naming where the override came from") {
  Scenario s = parse(kVolume + "[[workload]]\nvolume = \"db\"\n");
  const std::string w = "--set x";
  CHECK(error_of([&] { set_value(s, "link.distnce_km", "5", w); }) ==
        "--set x: unknown key 'link.distnce_km' (did you mean 'link.distance_km'?)");
  CHECK(error_of([&] { set_value(s, "lnk.distance_km", "5", w); }) ==
        "--set x: unknown key 'lnk.distance_km' (did you mean 'link.distance_km'?)");
  CHECK(error_of([&] { set_value(s, "sed", "5", w); }) == "--set x: unknown key 'sed' (did you mean 'seed'?)");
  CHECK(error_of([&] { set_value(s, "link.distance_km.x", "5", w); }) == "--set x: unknown key 'link.distance_km.x'");
  CHECK(error_of([&] { set_value(s, "seed.x", "5", w); }) == "--set x: unknown key 'seed.x'");
  CHECK_THAT(error_of([&] { set_value(s, "link", "5", w); }), StartsWith("--set x: 'link' is a table"));
  CHECK_THAT(error_of([&] { set_value(s, "volume.dbx.mode", "sync", w); }),
             StartsWith("--set x: no volume named 'dbx' in 'volume.dbx.mode' (volumes: db)"));
  CHECK_THAT(error_of([&] { set_value(s, "volume.mode", "sync", w); }), StartsWith("--set x: 'volume.mode' does not say which"));
  CHECK_THAT(error_of([&] { set_value(s, "workload.1.rate_iops", "5", w); }),
             StartsWith("--set x: 'workload.1.rate_iops': the scenario has 1 [[workload]] entries"));
  CHECK_THAT(error_of([&] { set_value(s, "workload.x.rate_iops", "5", w); }), Contains("addressed by index"));
  CHECK_THAT(error_of([&] { set_value(s, "failure.0.at_s", "5", w); }), Contains("no [[failure]] entry"));
  CHECK_THAT(error_of([&] { set_value(s, "sweep.repeat", "5", w); }), Contains("[sweep] lists overrides"));
  CHECK_THAT(error_of([&] { set_value(s, "workload.0.volume_index", "0", w); }), StartsWith("--set x: unknown key"));
  CHECK_THAT(error_of([&] { set_value(s, "link..x", "5", w); }), Contains("is not a dotted key"));
  CHECK_THAT(error_of([&] { get_value(s, "link.distnce_km"); }), StartsWith("unknown key 'link.distnce_km'"));
}

TEST_CASE("set_value refuses bad values like the file would, and leaves the scenario unchanged") {
  Scenario s = parse(kVolume + "[[workload]]\nvolume = \"db\"\n");
  const Scenario before = s;
  CHECK(error_of([&] { set_value(s, "link.distance_km", "abc", "--set link.distance_km=abc"); }) ==
        "--set link.distance_km=abc: link.distance_km: expected a number in [0, 100000], got \"abc\"");
  CHECK(error_of([&] { set_value(s, "primary.cache_slots", "1.5", "w"); }) ==
        "w: primary.cache_slots: expected an integer ≥ 1, got 1.5");
  CHECK(error_of([&] { set_value(s, "volume.db.mode", "synchronous", "w"); }) ==
        "w: volume.db.mode: expected one of \"sync\", \"semi-sync\", \"adaptive-copy-wp\", \"adaptive-copy-disk\", "
        "\"async\", got \"synchronous\"");
  // Checks across keys apply to what the override affects.
  CHECK(error_of([&] { set_value(s, "primary.track_bytes", "4096", "w"); }) ==
        "w: workload.0.block_bytes: 8192 exceeds primary.track_bytes (4096): a request must fit in one track");
  CHECK_THAT(error_of([&] { set_value(s, "duration_s", "0", "w"); }), StartsWith("w: duration_s: expected a number in [1e-06, 10000000], got 0"));
  CHECK_THAT(error_of([&] { set_value(s, "seed", "1 2", "w"); }), StartsWith("w: seed: expected a TOML value"));
  CHECK_THAT(error_of([&] { set_value(s, "seed", "", "w"); }), Contains("got nothing"));
  CHECK(s == before);
}

TEST_CASE("an override of a primary key leaves the secondary as loaded, but for the shared track size") {
  Scenario s = parse(kVolume);
  set_value(s, "primary.cache_slots", "100", "w");
  CHECK(s.primary.cache_slots == 100);
  CHECK(s.secondary.cache_slots == 65536);
  set_value(s, "primary.track_bytes", "32768", "w");
  CHECK(s.primary.track_bytes == 32768);
  CHECK(s.secondary.track_bytes == 32768);
  CHECK_THAT(error_of([&] { set_value(s, "secondary.track_bytes", "4096", "w"); }),
             StartsWith("w: secondary.track_bytes: 4096 differs from primary.track_bytes (32768)"));
}

TEST_CASE("an override that leaves a sweep key without its value is refused") {
  Scenario s = parse(kVolume + "[sweep]\n\"volume.db.mode\" = [\"sync\", \"semi-sync\"]\n");
  CHECK(error_of([&] { set_value(s, "volume.db.name", "log", "w"); }) ==
        "w: [sweep] no volume named 'db' in 'volume.db.mode' (volumes: log)");
}

TEST_CASE("an override keeps the file positions of the failures") {
  Scenario s = parse(kVolume + "[[failure]]\nat_s = 1\nevent = \"link-down\"\n[[failure]]\nat_s = 2\nevent = \"link-up\"\n");
  set_value(s, "failure.0.at_s", "3", "w");
  REQUIRE(s.failures.size() == 2);
  CHECK(s.failures[0].event == FailureEvent::LinkUp);
  CHECK(s.failures[0].where == "test.toml:7:1");
  CHECK(s.failures[1].where == "test.toml:4:1");
}

// ---- the resolved scenario --------------------------------------------------

TEST_CASE("the resolved TOML of every shipped scenario loads again as the same scenario") {
  for (const auto& file : shipped_scenarios()) {
    INFO(file);
    const Scenario s = load_scenario_file(file.string());
    const Scenario again = parse_scenario(s.resolved_toml, s.source);
    CHECK(without_failure_positions(again) == without_failure_positions(s));
    CHECK(again.resolved_toml == s.resolved_toml);
  }
}

TEST_CASE("the resolved TOML holds every optional key that is set, [sweep] and [check]") {
  const Scenario s = parse(kVolume + R"(
[[workload]]
volume = "db"
stop_s = 5
requests = 1000
arrival = "closed"
queue_depth = 4
think_us = 10
[[failure]]
at_s = 1
event = "link-degrade"
link = 1
bandwidth_gbit_per_s = 0.1
[[failure]]
at_s = 2
event = "disk-failure"
controller = "R2"
disk = 3
[sweep]
repeat = 3
"link.distance_km" = [0, 100.5]
"volume.db.mode" = ["sync", "semi-sync"]
"workload.0.think_us" = "0:0.3:0.1"
[check]
writes = 2
)");
  const Scenario again = parse_scenario(s.resolved_toml, s.source);
  CHECK(without_failure_positions(again) == without_failure_positions(s));
  CHECK_THAT(s.resolved_toml, Contains("stop_s = 5.0\nrequests = 1000\n"));
  CHECK_THAT(s.resolved_toml, Contains("controller = \"R2\"\ndisk = 3\n"));
  CHECK_THAT(s.resolved_toml, Contains("[sweep]\nrepeat = 3\n\"link.distance_km\" = [0, 100.5]\n"
                                       "\"volume.db.mode\" = [\"sync\", \"semi-sync\"]\n"
                                       "\"workload.0.think_us\" = [0.0, 0.1, 0.2, 0.3]\n"));
  CHECK_THAT(s.resolved_toml, Contains("[check]\nwrites = 2\ntracks = 2\n"));
}

TEST_CASE("the resolved TOML is the same text whatever the layout of the file") {
  const Scenario a = parse("seed = 1\n[[volume]]\nname = \"db\"\ntracks = 100\n[link]\ndistance_km = 100\n");
  const Scenario b = parse("link.distance_km = 100.0\nvolume = [{tracks = 100, name = \"db\"}]\n");
  CHECK(a.resolved_toml == b.resolved_toml);
  CHECK(a == b);
}

TEST_CASE("the JSON form holds the same content as the resolved TOML") {
  const Scenario s = load_scenario_file(std::string(MIRRORSIM_SCENARIOS_DIR) + "/link_outage_30s.toml");
  const nlohmann::json j = to_json(s);
  CHECK(j["seed"] == 1);
  CHECK(j["duration_s"] == 60.0);
  CHECK(j["link"]["distance_km"] == 100.0);
  CHECK(j["link"]["bandwidth_gbit_per_s"] == 10.0);
  CHECK(j["secondary"]["remote_adapter_copy_receive_us"] == 50.0);
  CHECK(j["volume"][0]["name"] == "db");
  CHECK(j["volume"][0]["mode"] == "sync");
  CHECK(j["failure"].size() == 2);
  CHECK(j["failure"][1]["event"] == "link-up");
  CHECK(j["measurement"]["percentiles"].size() == 4);
  CHECK_FALSE(j.contains("sweep"));
  CHECK(to_json(s).dump() == j.dump());
}

// ---- [sweep] and [check] ----------------------------------------------------

TEST_CASE("[sweep] reads lists and ranges in file order") {
  const Scenario s = parse(kVolume + R"(
[[workload]]
volume = "db"
[sweep]
repeat = 2
"link.distance_km" = [0, 100, 300]
"workload.0.rate_iops" = "1000:5000:2000"
"volume.db.mode" = ["sync", "semi-sync"]
"measurement.warmup_s" = "0:0.5:0.25"
)");
  REQUIRE(s.sweep);
  CHECK(s.sweep->repeat == 2);
  REQUIRE(s.sweep->params.size() == 4);
  CHECK(s.sweep->params[0] == SweepParam{"link.distance_km", {"0", "100", "300"}});
  CHECK(s.sweep->params[1] == SweepParam{"workload.0.rate_iops", {"1000", "3000", "5000"}});
  CHECK(s.sweep->params[2] == SweepParam{"volume.db.mode", {"\"sync\"", "\"semi-sync\""}});
  CHECK(s.sweep->params[3] == SweepParam{"measurement.warmup_s", {"0.0", "0.25", "0.5"}});

  // Each value applies with set_value.
  Scenario point = s;
  set_value(point, s.sweep->params[2].key, s.sweep->params[2].values[1], "sweep");
  CHECK(point.volumes[0].mode == Mode::SemiSync);
}

TEST_CASE("[sweep] refuses keys and values that do not apply, at their position") {
  CHECK(parse_error(kVolume + "[sweep]\n\"link.distnce_km\" = [1]\n") ==
        "test.toml:5:1: [sweep] unknown key 'link.distnce_km' (did you mean 'link.distance_km'?)");
  CHECK(parse_error(kVolume + "[sweep]\n\"link.distance_km\" = [1, \"far\"]\n") ==
        "test.toml:5:26: [sweep] link.distance_km = \"far\": link.distance_km: expected a number in [0, 100000], got \"far\"");
  CHECK_THAT(parse_error(kVolume + "[sweep]\nlink.distance_km = [1]\n"),
             StartsWith("test.toml:5:1: unquoted key 'link' in [sweep]: sweep keys are quoted dotted keys"));
  CHECK_THAT(parse_error(kVolume + "[sweep]\n\"link.distance_km\" = \"300:0:100\"\n"),
             StartsWith("test.toml:5:22: [sweep] \"link.distance_km\": expected a non-empty array of values, or a "
                        "\"start:stop:step\" range"));
  CHECK_THAT(parse_error(kVolume + "[sweep]\n\"link.distance_km\" = []\n"), Contains("expected a non-empty array"));
  CHECK_THAT(parse_error(kVolume + "[sweep]\n\"seed\" = \"0:100000:1\"\n"), Contains("at most 10000 values"));
  CHECK_THAT(parse_error(kVolume + "[sweep]\nrepeat = 0\n"), StartsWith("test.toml:5:10: sweep.repeat: expected an integer ≥ 1"));
  CHECK_THAT(parse_error(kVolume + "[sweep]\n\"primary.track_bytes\" = [4096]\n[[workload]]\nvolume = \"db\"\n"),
             StartsWith("test.toml:5:26: [sweep] primary.track_bytes = 4096: workload.0.block_bytes: 8192 exceeds"));
}

TEST_CASE("[check] reads the bounds of the exhaustive exploration") {
  const Scenario small = load_scenario_file(std::string(MIRRORSIM_SCENARIOS_DIR) + "/check_small.toml");
  REQUIRE(small.check);
  CHECK(small.check->writes == 3);
  CHECK(small.check->link_failures == 1);
  CHECK(small.check->crashes == 1);
  CHECK(small.check->disk_failures == 0);

  // Every bound away from its default, so a key read into the wrong field shows.
  const Scenario s = parse(kVolume +
                           "[check]\nwrites = 5\ntracks = 3\nvolumes = 1\ncache_slots = 4\nlinks = 2\n"
                           "link_failures = 2\ncrashes = 3\ndisk_failures = 1\ndisasters = 1\noperator_actions = 2\n"
                           "max_states = 12345\n");
  REQUIRE(s.check);
  CHECK(s.check->writes == 5);
  CHECK(s.check->tracks == 3);
  CHECK(s.check->volumes == 1);
  CHECK(s.check->cache_slots == 4);
  CHECK(s.check->links == 2);
  CHECK(s.check->link_failures == 2);
  CHECK(s.check->crashes == 3);
  CHECK(s.check->disk_failures == 1);
  CHECK(s.check->disasters == 1);
  CHECK(s.check->operator_actions == 2);
  CHECK(s.check->max_states == 12345);

  const Scenario defaults = parse(kVolume + "[check]\n");
  REQUIRE(defaults.check);
  CHECK(*defaults.check == CheckScenario{});
}
