// Bounded input: the finite range of every time, size and rate key (and the
// conversions they protect), the [check] maxima, the resource estimate,
// files that are not scenario files, sweep ranges at the edges of int64 and
// linear in their length, and the toml++ defects the loader must survive.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

#include "config/parse_counters.hpp"
#include "config/resources.hpp"
#include "config/scenario.hpp"
#include "model/limits.hpp"
#include "tests/config/helpers.hpp"

using namespace mirrorsim;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using namespace config_test;

namespace {

namespace fs = std::filesystem;


// The shortest TOML text of a number that reads back as the same double.
std::string number_text(double v) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.17g", v);
  std::string text = buffer;
  if (text.find_first_of(".eEn") == std::string::npos) text += ".0";
  return text;
}

}  // namespace

// ---- the four reported cases -------------------------------------------------

TEST_CASE("bounds: the huge values that gave silently wrong results are refused at their position") {
  // 1e10 s is 1e19 ns, beyond int64: the run reported 0 writes.
  CHECK(parse_error("duration_s = 1e10\n" + kVolume) ==
        "test.toml:1:14: duration_s: expected a number in [1e-06, 10000000], got 10000000000.0");
  // A 1e300 us disk latency "drained".
  CHECK(parse_error(kVolume + "[primary]\ndisk_write_us = 1e300\n") ==
        "test.toml:5:17: primary.disk_write_us: expected a number in [0, 1000000000], got 1e+300");
  // 1e-300 Gbit/s made a transfer time of infinity: normal response times.
  CHECK(parse_error(kVolume + "[link]\nbandwidth_gbit_per_s = 1e-300\n") ==
        "test.toml:5:24: link.bandwidth_gbit_per_s: expected a number in [1e-06, 100000], got 1e-300");
  // A 1e300 km link: a false liveness failure.
  CHECK(parse_error(kVolume + "[link]\ndistance_km = 1e300\n") ==
        "test.toml:5:15: link.distance_km: expected a number in [0, 100000], got 1e+300");
}

TEST_CASE("bounds: an override and a sweep value are held to the same ranges") {
  Scenario s = parse_scenario(kVolume, "test.toml");
  CHECK(error_of([&] { set_value(s, "duration_s", "1e10", "--set duration_s=1e10"); }) ==
        "--set duration_s=1e10: duration_s: expected a number in [1e-06, 10000000], got 10000000000.0");
  CHECK_THAT(parse_error(kVolume + "[sweep]\n\"link.distance_km\" = [100, 1e300]\n"),
             StartsWith("test.toml:5:28: [sweep] link.distance_km = 1e+300: link.distance_km: expected a number in "
                        "[0, 100000]"));
}

// ---- every ranged key, at its edges -------------------------------------------

TEST_CASE("bounds: every time, size and rate key accepts the edges of its range and refuses beyond them") {
  // A scenario long enough that every instant key can reach its maximum.
  const std::string base = "duration_s = 10000000\n" + kVolume +
                           "[measurement]\ntimeseries_interval_s = 100\n[[workload]]\nvolume = \"db\"\n"
                           "[[failure]]\nat_s = 1\nevent = \"link-degrade\"\nbandwidth_gbit_per_s = 1\n"
                           "added_latency_us = 1\n";
  // The rule's range; the values tried inside it (the edges, unless a
  // check across keys forbids them: a start before duration_s, say).
  struct Range {
    const char* key;
    double min, max;
    double ok_min = std::nan(""), ok_max = std::nan("");
  };
  const Range ranges[] = {
      {"duration_s", limits::kIntervalSMin, limits::kRunSMax, 1000},  // the failure and workload keys need a long run
      {"processors_other_per_request_us", 0, limits::kDelayUsMax},
      {"processors_wakeup_us", 0, limits::kDelayUsMax},
      {"processors_preemption_us", 0, limits::kDelayUsMax},
      {"primary.front_end_write_us", 0, limits::kDelayUsMax},
      {"primary.disk_write_us", 0, limits::kDelayUsMax},
      {"primary.disk_first_write_us", 0, limits::kDelayUsMax},
      {"secondary.disk_unwritten_read_us", 0, limits::kDelayUsMax},
      {"primary.disk_bandwidth_mb_per_s", limits::kDiskMbPerSMin, limits::kDiskMbPerSMax},
      {"primary.disk_retry_ms", limits::kRetryMsMin, limits::kDelayMsMax},
      {"secondary.remote_adapter_copy_receive_us", 0, limits::kDelayUsMax},
      {"link.distance_km", 0, limits::kDistanceKmMax},
      {"link.overhead_us", 0, limits::kDelayUsMax},
      {"link.bandwidth_gbit_per_s", limits::kLinkGbitPerSMin, limits::kLinkGbitPerSMax},
      {"link.failure_detection_ms", 0, limits::kDelayMsMax},
      {"workload.0.rate_iops", limits::kRateIopsMin, limits::kRateIopsMax},
      {"workload.0.think_us", 0, limits::kDelayUsMax},
      {"workload.0.start_s", 0, limits::kRunSMax, 0, limits::kRunSMax - 1},  // before duration_s
      {"workload.0.stop_s", 0, limits::kRunSMax, 1, limits::kRunSMax},       // after start_s
      {"failure.0.at_s", 0, limits::kRunSMax},
      {"failure.0.bandwidth_gbit_per_s", limits::kLinkGbitPerSMin, limits::kLinkGbitPerSMax},
      {"failure.0.added_latency_us", 0, limits::kDelayUsMax},
      {"measurement.warmup_s", 0, limits::kRunSMax, 0, limits::kRunSMax - 1},  // before duration_s
      // At most 10^6 samples of the 10^7 s run.
      {"measurement.timeseries_interval_s", limits::kIntervalSMin, limits::kRunSMax, 10, limits::kRunSMax},
  };
  const Scenario s = parse_scenario(base, "test.toml");
  for (const Range& r : ranges) {
    INFO(r.key);
    for (const double ok : {std::isnan(r.ok_min) ? r.min : r.ok_min, std::isnan(r.ok_max) ? r.max : r.ok_max}) {
      Scenario copy = s;
      CHECK_NOTHROW(set_value(copy, r.key, number_text(ok), "edge"));
    }
    // Just beyond each end: the next double, or -1 below a minimum of 0.
    const double below = r.min == 0 ? -1.0 : std::nextafter(r.min, 0.0);
    const double above = std::nextafter(r.max, std::numeric_limits<double>::infinity());
    for (const double bad : {below, above}) {
      Scenario copy = s;
      CHECK_THAT(error_of([&] { set_value(copy, r.key, number_text(bad), "edge"); }),
                 StartsWith("edge: " + std::string(r.key) + ": expected a number in ["));
    }
    // Not finite: refused everywhere.
    for (const char* bad : {"inf", "-inf", "nan"}) {
      Scenario copy = s;
      CHECK_THAT(error_of([&] { set_value(copy, r.key, bad, "edge"); }),
                 StartsWith("edge: " + std::string(r.key) + ": expected a number in ["));
    }
  }
}

TEST_CASE("bounds: disk_device_servers is an integer from 0 (no shared device) to a pool's largest") {
  const Scenario s = parse_scenario(kVolume + "[[workload]]\nvolume = \"db\"\n", "test.toml");
  CHECK(s.disk_device_servers == 0);
  Scenario edge = s;
  set_value(edge, "disk_device_servers", std::to_string(limits::kProcessorsMax), "edge");
  CHECK(edge.disk_device_servers == limits::kProcessorsMax);
  CHECK(parse_scenario(edge.resolved_toml, "again").disk_device_servers == limits::kProcessorsMax);
  for (const char* bad : {"-1", "4097", "1.5", "\"two\""})
    CHECK_THAT(error_of([&] { set_value(edge, "disk_device_servers", bad, "w"); }),
               StartsWith("w: disk_device_servers: expected an integer in [0, 4096], got"));
}

TEST_CASE("bounds: track and request sizes have a range, a request within its track") {
  const Scenario s = parse_scenario(kVolume + "[[workload]]\nvolume = \"db\"\n", "test.toml");
  Scenario big = s;
  set_value(big, "primary.track_bytes", std::to_string(limits::kTrackBytesMax), "edge");
  CHECK(big.secondary.track_bytes == limits::kTrackBytesMax);
  set_value(big, "workload.0.block_bytes", std::to_string(limits::kTrackBytesMax), "edge");
  CHECK(error_of([&] { set_value(big, "primary.track_bytes", std::to_string(limits::kTrackBytesMax + 1), "w"); }) ==
        "w: primary.track_bytes: expected an integer in [512, 16777216], got 16777217");
  CHECK(error_of([&] { set_value(big, "primary.track_bytes", "511", "w"); }) ==
        "w: primary.track_bytes: expected an integer in [512, 16777216], got 511");
  CHECK_THAT(error_of([&] { set_value(big, "workload.0.block_bytes", "0", "w"); }),
             Contains("workload.0.block_bytes: expected an integer in [512, 16777216], got 0"));
}

TEST_CASE("bounds: the seed is a TOML integer, 0 to 2^63 - 1") {
  Scenario s = parse_scenario(kVolume, "test.toml");
  set_value(s, "seed", "9223372036854775807", "edge");
  CHECK(s.seed == 9223372036854775807ull);
  CHECK(error_of([&] { set_value(s, "seed", "-1", "--seed -1"); }) ==
        "--seed -1: seed: expected an integer in [0, 9223372036854775807], got -1");
  // Beyond int64 TOML has no integer: read as a word, and refused quoting it.
  CHECK(error_of([&] { set_value(s, "seed", "18446744073709551615", "--seed 18446744073709551615"); }) ==
        "--seed 18446744073709551615: seed: expected an integer in [0, 9223372036854775807], got "
        "\"18446744073709551615\"");
  CHECK(error_of([&] { set_value(s, "seed", "-18446744073709551615", "--seed -18446744073709551615"); }) ==
        "--seed -18446744073709551615: seed: expected an integer in [0, 9223372036854775807], got "
        "\"-18446744073709551615\"");
}

// ---- the conversions the ranges protect ----------------------------------------

TEST_CASE("bounds: Time's conversions refuse what int64 nanoseconds cannot hold") {
  CHECK(Time::from_s(1.5).ns == 1'500'000'000);
  CHECK(Time::from_us(-2.5).ns == -2'500);
  CHECK(Time::from_us(0.0004).ns == 0);
  // The largest representable seconds, and just beyond.
  CHECK(Time::from_s(9'223'372'036.8547).ns > 9'223'372'036'854'000'000);
  CHECK_THROWS_AS(Time::from_s(9'223'372'036.8548), std::out_of_range);
  CHECK_THROWS_AS(Time::from_s(-9'223'372'036.8548), std::out_of_range);
  CHECK_THROWS_AS(Time::from_s(1e10), std::out_of_range);
  CHECK_THROWS_AS(Time::from_us(1e300), std::out_of_range);
  CHECK_THROWS_AS(Time::from_s(std::numeric_limits<double>::infinity()), std::out_of_range);
  CHECK_THROWS_AS(Time::from_s(std::nan("")), std::out_of_range);
  CHECK_THROWS_WITH(Time::from_s(1e10), Contains("a time of 10000000000 s is beyond what Time holds"));
}

TEST_CASE("bounds: at the ranges' extremes every conversion a driver makes stays well inside int64") {
  using namespace limits;
  const double drain_s = 600;  // the simulator's drain allowance after duration_s
  const Time worst[] = {
      Time::from_s(kRunSMax + drain_s),                                        // the end of the longest run
      Time::from_us(kDelayUsMax),                                              // one delay
      Time::from_us(5.0 * kDistanceKmMax + kDelayUsMax),                      // one way over the longest link
      Time::from_s(8.0 * kTrackBytesMax / (kLinkGbitPerSMin * 1e9)),           // a track at the slowest link
      Time::from_s(double(kTrackBytesMax) / (kDiskMbPerSMin * 1e6)),           // a track at the slowest disk
      Time::from_s(-std::log(0x1p-53) / kRateIopsMin),                         // the longest Poisson gap
      Time::from_us(kDelayMsMax * 1e3),                                        // a retry, a failure detection
  };
  int64_t sum = 0;
  for (const Time t : worst) {
    CHECK(t.ns > 0);
    sum += t.ns;
  }
  // Even all of them in a row leave a hundredfold margin.
  CHECK(sum < std::numeric_limits<int64_t>::max() / 100);
  // The lower bounds stay meaningful at nanosecond resolution.
  CHECK(Time::from_s(kIntervalSMin).ns == 1000);
  CHECK(Time::from_us(kRetryMsMin * 1e3).ns == 1000);
  CHECK(Time::from_s(1 / kRateIopsMax).ns == 100);
}

// ---- [check] ---------------------------------------------------------------------

TEST_CASE("bounds: [check] bounds have maxima that keep one state of the explorer small") {
  // 10^6 tracks with max_states = 1000 reached 1.9 GB in 16 s.
  CHECK(parse_error(kVolume + "[check]\ntracks = 1000000\nmax_states = 1000\n") ==
        "test.toml:5:10: check.tracks: expected an integer in [1, 64], got 1000000");
  CHECK_THAT(parse_error(kVolume + "[check]\ncache_slots = 65\n"), Contains("check.cache_slots: expected an integer in [1, 64]"));
  CHECK_THAT(parse_error(kVolume + "[check]\nwrites = 65\n"), Contains("check.writes: expected an integer in [1, 64]"));
  CHECK_THAT(parse_error(kVolume + "[check]\nlinks = 9\n"), Contains("check.links: expected an integer in [1, 8]"));
  CHECK_THAT(parse_error(kVolume + "[check]\nvolumes = 9\n"), Contains("check.volumes: expected an integer in [1, 8]"));
  CHECK_THAT(parse_error(kVolume + "[check]\ncrashes = 17\n"), Contains("check.crashes: expected an integer in [0, 16]"));
  CHECK_THAT(parse_error(kVolume + "[check]\nmax_states = 1000000000001\n"),
             Contains("check.max_states: expected an integer in [1, 1000000000000]"));
  const Scenario at_max = parse_scenario(kVolume + "[check]\ntracks = 64\ncache_slots = 64\nwrites = 64\nlinks = 8\n",
                                         "test.toml");
  CHECK(at_max.check->tracks == 64);
}

// ---- scenario files ------------------------------------------------------------------

TEST_CASE("bounds: what is not a regular scenario file is refused before it is read, without blocking") {
  const TempDir dir;
  const std::string fifo = (dir.path / "fifo.toml").string();
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  // Opening a FIFO for reading would wait for a writer: refused at once.
  CHECK(error_of([&] { load_scenario_file(fifo); }) == fifo + ": cannot read: a FIFO; a scenario is a regular file");
  // /dev/zero never ends: it was read until std::bad_alloc.
  CHECK(error_of([&] { load_scenario_file("/dev/zero"); }) ==
        "/dev/zero: cannot read: a character device; a scenario is a regular file");
  CHECK(error_of([&] { load_scenario_file(dir.path.string()); }) ==
        dir.path.string() + ": cannot read: a directory; a scenario is a regular file");
}

TEST_CASE("bounds: a scenario file above 16 MiB is refused by its size") {
  const TempDir dir;
  const std::string path = dir.write("big.toml", "");
  // Sparse: the size is refused before any byte is read.
  REQUIRE(::truncate(path.c_str(), static_cast<off_t>(kScenarioFileBytesMax + 1)) == 0);
  CHECK(error_of([&] { load_scenario_file(path); }) ==
        path + ": 16777217 bytes: a scenario is at most 16777216 bytes (16 MiB)");
  // At the limit it is read (and then judged as TOML).
  REQUIRE(::truncate(path.c_str(), static_cast<off_t>(kScenarioFileBytesMax)) == 0);
  CHECK_THAT(error_of([&] { load_scenario_file(path); }), StartsWith(path + ":1:1: "));
}

TEST_CASE("bounds: a path with a NUL in it is refused, not cut short to another file") {
  const TempDir dir;
  const std::string real_file = dir.write("a.toml", kVolume);
  const std::string with_nul = real_file + std::string("\0.other", 7);
  CHECK(error_of([&] { load_scenario_file(with_nul); }) == real_file + "\\0.other: a path cannot contain a NUL character");
  CHECK_NOTHROW(load_scenario_file(real_file));
}

// ---- [sweep] ranges ---------------------------------------------------------------------

TEST_CASE("bounds: integer sweep ranges at the edges of int64 expand exactly, without overflow") {
  const auto values_of = [](const std::string& range) {
    return parse_scenario(kVolume + "[sweep]\n\"seed\" = \"" + range + "\"\n", "test.toml").sweep->params[0].values;
  };
  // Beyond 2^53 doubles cannot tell these apart: one value came out.
  CHECK(values_of("9223372036854775000:9223372036854775807:500") ==
        std::vector<std::string>{"9223372036854775000", "9223372036854775500"});
  CHECK(values_of("0:9223372036854775807:9223372036854775807") ==
        std::vector<std::string>{"0", "9223372036854775807"});
  CHECK(values_of("9223372036854775807:9223372036854775807:1") == std::vector<std::string>{"9223372036854775807"});
  // start + 4 * step would be 2^63 (signed overflow); the range holds four values.
  CHECK(parse_error(kVolume + "[sweep]\n\"seed\" = \"-9223372036854775808:9223372036854775807:4611686018427387904\"\n") ==
        "test.toml:5:10: [sweep] seed = -9223372036854775808: seed: expected an integer in [0, 9223372036854775807], "
        "got -9223372036854775808");
  // A span beyond 2^63 of steps of 1: too many values, refused.
  CHECK_THAT(parse_error(kVolume + "[sweep]\n\"seed\" = \"-9223372036854775808:9223372036854775807:1\"\n"),
             Contains("at most 10000 values"));
  // 10,000 values exactly, then one more.
  CHECK(values_of("1:10000:1").size() == 10000);
  CHECK_THAT(parse_error(kVolume + "[sweep]\n\"seed\" = \"0:10000:1\"\n"), Contains("at most 10000 values"));
}

TEST_CASE("bounds: loading a [sweep] is linear in its values") {
  // Every value is tried on the scenario without its sweep: one re-read of
  // a document of constant size per value. (Each re-read used to hold the
  // whole sweep: 10,000 values took 25 s.) Work, not time, is measured.
  const auto work = [](int values) {
    const config::ParseCounters before = config::parse_counters();
    const Scenario s = parse_scenario(
        kVolume + "[[workload]]\nvolume = \"db\"\n[sweep]\n\"workload.0.rate_iops\" = \"1:" + std::to_string(values) + ":1\"\n",
        "test.toml");
    REQUIRE(s.sweep->params[0].values.size() == static_cast<size_t>(values));
    const config::ParseCounters after = config::parse_counters();
    return std::pair(after.documents - before.documents, after.bytes - before.bytes);
  };
  const auto [documents_1k, bytes_1k] = work(1000);
  const auto [documents_10k, bytes_10k] = work(10000);
  // One re-read per value, and the file itself.
  CHECK(documents_1k <= 1000 + 2);
  CHECK(documents_10k <= 10000 + 2);
  // Ten times the values, about ten times the bytes (quadratic: a hundred).
  const double ratio = static_cast<double>(bytes_10k) / static_cast<double>(bytes_1k);
  INFO("bytes parsed: " << bytes_1k << " for 1000 values, " << bytes_10k << " for 10000");
  CHECK(ratio > 9);
  CHECK(ratio < 11);
}

// ---- toml++ 3.3.0's defects ------------------------------------------------------------

TEST_CASE("bounds: toml++'s failed precondition on an open bracket and a hash is a syntax error naming the file") {
  // Debian's toml++ 3.3.0 asserts (or, without assertions, assumes) on this.
  CHECK_THAT(parse_error("[#"), StartsWith("test.toml: TOML syntax error the parser cannot place: the TOML parser "
                                           "(toml++ 3.3.0) reached a failed check ("));
  const std::string file = std::string(MIRRORSIM_TESTS_DIR) + "/toml_defects/table_header_comment.toml";
  CHECK_THAT(error_of([&] { load_scenario_file(file); }), StartsWith(file + ": TOML syntax error the parser cannot place"));
}

TEST_CASE("bounds: a line-ending backslash followed by a non-ASCII character parses as TOML says") {
  // toml++ 3.3.0 reached __builtin_unreachable() here (U+00A1..U+0499 after
  // the backslash's line break); the value is the character itself.
  CHECK(parse_error(kVolume + "[link]\nnetwork_model = \"\"\"\\\n\xc3\xa9\"\"\"\n") ==
        "test.toml:5:17: link.network_model: expected one of \"cm02\", \"lv08\", got \"\xc3\xa9\"");
  const std::string file = std::string(MIRRORSIM_TESTS_DIR) + "/toml_defects/multiline_backslash_non_ascii.toml";
  CHECK(error_of([&] { load_scenario_file(file); }) ==
        file + ":5:17: link.network_model: expected one of \"cm02\", \"lv08\", got \"\xc3\xa9\"");
  // Unclosed, the same input is an ordinary syntax error with its position.
  CHECK_THAT(parse_error("x = \"\"\"\\\n\xc3\xa9"), StartsWith("test.toml:2:"));
}

// ---- the resource estimate ---------------------------------------------------------------

namespace {

const ResourceLimits kFourGiB{uint64_t{4} << 30, 1, "--memory-max-mib"};

std::string resource_error(const Scenario& s, const ResourceLimits& limits = kFourGiB) {
  return error_of([&] { check_resources(s, limits); });
}

Scenario with(const std::string& text) { return parse_scenario(text, "test.toml"); }

}  // namespace

TEST_CASE("bounds: 10^9 tracks or cache slots are refused before the run, naming the consumer") {
  const std::string huge_volume = "[[volume]]\nname = \"db\"\ntracks = 1000000000\n";
  const std::string tracks = resource_error(with(huge_volume));
  CHECK_THAT(tracks, StartsWith("test.toml: needs about "));
  CHECK_THAT(tracks, Contains("above the limit of 4.0 GiB (--memory-max-mib); the largest: "));
  CHECK_THAT(tracks, Contains("the invariant observer's per-track records (1e+09 tracks)"));
  CHECK_THAT(tracks, Contains("the track tables of R1 and R2 (volume.*.tracks: 1e+09 tracks)"));

  const std::string slots = resource_error(with(kVolume + "[primary]\ncache_slots = 1000000000\n"));
  CHECK_THAT(slots, Contains("the cache slots (primary.cache_slots + secondary.cache_slots: 2e+09)"));
}

TEST_CASE("bounds: a closed workload of 2^32 - 1 requests is refused for the requests in flight") {
  const std::string message = resource_error(
      with(kVolume + "[[workload]]\nvolume = \"db\"\narrival = \"closed\"\nqueue_depth = 4294967295\nthink_us = 1e9\n"));
  CHECK_THAT(message, Contains("the host requests in flight (closed: workload.*.queue_depth; poisson: "
                               "workload.*.rate_iops × residence): 4.29e+09"));
}

TEST_CASE("bounds: a rate of 1e300 IOPS is refused by its range, one whose clock could not advance, by the estimate") {
  CHECK_THAT(parse_error(kVolume + "[[workload]]\nvolume = \"db\"\nrate_iops = 1e300\n"),
             Contains("workload.0.rate_iops: expected a number in [1e-06, 10000000], got 1e+300"));
  // Zero-time requests in a closed loop: reissued at one instant forever.
  CHECK_THAT(resource_error(with(kVolume + "[primary]\nfront_end_write_us = 0\n[[volume]]\nname = \"log\"\ntracks = 10\n"
                                           "mode = \"semi-sync\"\n[[workload]]\nvolume = \"log\"\narrival = \"closed\"\n")),
             Contains("workload.0: a closed workload whose requests take no simulated time"));
  // A hundred workloads at the maximum rate: 10^10 events per simulated second.
  std::string many = kVolume;
  for (int i = 0; i < 100; ++i) many += "[[workload]]\nvolume = \"db\"\nrate_iops = 1e7\n";
  CHECK_THAT(resource_error(with(many)), Contains("events per simulated second, above 1e+09"));
}

TEST_CASE("bounds: the estimate grows with what sizes memory, and concurrent runs multiply it") {
  const Scenario small = with(kVolume);
  const Scenario big = with("[[volume]]\nname = \"db\"\ntracks = 1000000\n");
  const ResourceEstimate a = estimate_resources(small), b = estimate_resources(big);
  // Per track: two table entries, an observer record, two disk contents.
  const double per_track = static_cast<double>(b.memory_bytes - a.memory_bytes) / (1000000 - 100);
  CHECK(per_track > 150);
  CHECK(per_track < 400);
  CHECK(b.memory.front().bytes >= b.memory.back().bytes);  // largest first
  uint64_t sum = 0;
  for (const MemoryUse& u : b.memory) sum += u.bytes;
  CHECK(sum == b.memory_bytes);
  // Fits alone in its estimate plus a byte; not twice at once.
  CHECK_NOTHROW(check_resources(big, ResourceLimits{b.memory_bytes + 1, 1, "--memory-max-mib"}));
  CHECK_THAT(resource_error(big, ResourceLimits{b.memory_bytes + 1, 2, "--memory-max-mib"}), Contains(" × 2 at once"));
}

TEST_CASE("bounds: a sweep point that would not fit is refused by name") {
  const Scenario s = with(kVolume + "[sweep]\n\"volume.db.tracks\" = [100, 100000000]\n");
  std::vector<std::vector<Override>> points;
  for (const std::string& v : s.sweep->params[0].values) points.push_back({Override{"volume.db.tracks", v, "sweep"}});
  CHECK_THAT(error_of([&] { check_sweep_resources(s, points, kFourGiB); }),
             StartsWith("test.toml: sweep point volume.db.tracks=100000000: needs about "));
  CHECK_NOTHROW(check_sweep_resources(s, {points[0]}, kFourGiB));
}

TEST_CASE("bounds: a sweep grid of more runs than can be listed is refused before it is built") {
  const Scenario s = with(kVolume + "[sweep]\n\"seed\" = \"1:5000:1\"\n\"link.distance_km\" = \"0:2999:1\"\n");
  CHECK(error_of([&] { check_sweep_size(s.sweep->params, 1, s.source); }) ==
        "test.toml: a sweep of 5000 × 3000 values × 1 repeats = 1.5e+07 runs, at most 1e+06 are supported; sweep fewer "
        "values at once (--shard does not shrink the grid)");
  CHECK_NOTHROW(check_sweep_size({s.sweep->params[0]}, 200, s.source));
}
