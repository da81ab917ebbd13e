// Service-time keys (numbers or distributions), processors, and calibration
// files: what loads, what it resolves to, and every class of bad input
// refused at file:line:col.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include <unistd.h>

#include "config/scenario.hpp"
#include "config/trace.hpp"
#include "tests/config/helpers.hpp"

using namespace mirrorsim;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

using namespace config_test;

TEST_CASE("a service time is a number (fixed) or a distribution, and reads back as written") {
  const Scenario s = parse_scenario(kVolume + R"(
[primary]
front_end_write_us = 120
front_end_read_us = { distribution = "exponential", mean_us = 80 }
remote_adapter_copy_receive_us = { distribution = "lognormal", mean_us = 40, cv = 0.5 }
disk_write_us = { distribution = "gamma", mean_us = 300, cv = 1.5 }
disk_first_write_us = { distribution = "lognormal", mean_us = 700, cv = 0.8 }
disk_read_us = { distribution = "empirical", quantiles = [[0, 100], [0.5, 150], [1, 900]] }
[link]
overhead_us = { distribution = "fixed", mean_us = 7 }
)",
                                    "test.toml");
  CHECK(s.primary.front_end_write_us == ServiceTime::fixed(120));
  CHECK(s.primary.front_end_read().distribution == Distribution::Exponential);
  CHECK(s.primary.front_end_read().mean() == 80);
  CHECK(s.primary.remote_adapter_copy_receive_us.cv == 0.5);
  CHECK(s.primary.disk_write_us.coefficient_of_variation() == 1.5);
  CHECK(s.primary.disk_first_write().distribution == Distribution::Lognormal);
  CHECK(s.primary.disk_first_write().mean() == 700);
  CHECK(s.primary.disk_read_us.quantiles.size() == 3);
  CHECK(s.primary.disk_read_us.mean() == Approx(0.5 * 125 + 0.5 * 525));
  CHECK(s.link.overhead_us == ServiceTime::fixed(7));
  // R2 inherits them; the resolved text loads back to the same scenario.
  CHECK(s.secondary.disk_read_us == s.primary.disk_read_us);
  const Scenario again = parse_scenario(s.resolved_toml, "again.toml");
  CHECK(again.primary == s.primary);
  CHECK(again.link == s.link);
  CHECK_THAT(s.resolved_toml, Contains("disk_write_us = { distribution = \"gamma\", mean_us = 300.0, cv = 1.5 }"));
  CHECK_THAT(s.resolved_toml, Contains("disk_first_write_us = { distribution = \"lognormal\", mean_us = 700.0, cv = 0.8 }"));
}

TEST_CASE("an empirical service time from a CSV of samples, relative to the scenario's folder") {
  const TempDir dir;
  dir.write("disk.csv", "latency_us\n# measured by hand\n100\n200\n300, ignored column\n400\n");
  const std::string path = dir.write("s.toml", kVolume + "[primary]\ndisk_write_us = { distribution = \"empirical\", samples_csv = \"disk.csv\" }\n");
  const Scenario s = load_scenario_file(path);
  REQUIRE(s.primary.disk_write_us.quantiles.size() == 4);
  CHECK(s.primary.disk_write_us.quantiles.front() == std::pair(0.0, 100.0));
  CHECK(s.primary.disk_write_us.quantiles.back() == std::pair(1.0, 400.0));
  CHECK(s.primary.disk_write_us.mean() == Approx(250));
  // the resolved text carries the table, not the file
  CHECK_THAT(s.resolved_toml, Contains("disk_write_us = { distribution = \"empirical\", quantiles = [[0.0, 100.0]"));

  dir.write("bad.csv", "us\n10\n20\nabc\n");
  const std::string bad = dir.write("b.toml", kVolume + "[primary]\ndisk_write_us = { distribution = \"empirical\", samples_csv = \"bad.csv\" }\n");
  CHECK(error_of([&] { load_scenario_file(bad); }) ==
        bad + ":5:61: primary.disk_write_us: " + (dir.path / "bad.csv").string() +
            ":4:1: expected a sample of a number in [0, 1000000000] µs, got 'abc'");
  const std::string missing = dir.write("m.toml", kVolume + "[primary]\ndisk_write_us = { distribution = \"empirical\", samples_csv = \"none.csv\" }\n");
  CHECK_THAT(error_of([&] { load_scenario_file(missing); }), StartsWith(missing + ":5:61: primary.disk_write_us: ") &&
                                                              Contains("none.csv: cannot open"));
  dir.write("empty.csv", "us\n# nothing\n");
  const std::string empty = dir.write("e.toml", kVolume + "[primary]\ndisk_write_us = { distribution = \"empirical\", samples_csv = \"empty.csv\" }\n");
  CHECK_THAT(error_of([&] { load_scenario_file(empty); }), Contains("no samples"));
}

TEST_CASE("every class of bad service time is refused at file:line:col") {
  const std::string p = kVolume + "[primary]\n";  // the key is on line 5
  CHECK(parse_error(p + "front_end_write_us = -1\n") ==
        "test.toml:5:22: primary.front_end_write_us: expected a number in [0, 1000000000], got -1");
  CHECK(parse_error(p + "front_end_write_us = \"fast\"\n") ==
        "test.toml:5:22: primary.front_end_write_us: expected a number in [0, 1000000000] µs, or a table { distribution "
        "= \"fixed\" | \"exponential\" | \"lognormal\" | \"gamma\" | \"empirical\", ... }, got \"fast\"");
  CHECK(parse_error(p + "front_end_write_us = { mean_us = 3 }\n") ==
        "test.toml:5:22: primary.front_end_write_us: a service time table needs 'distribution'");
  CHECK(parse_error(p + "front_end_write_us = { distribution = \"weibull\", mean_us = 3 }\n") ==
        "test.toml:5:39: primary.front_end_write_us: expected one of \"fixed\", \"exponential\", \"lognormal\", \"gamma\", "
        "\"empirical\", got \"weibull\"");
  CHECK(parse_error(p + "front_end_write_us = { distribution = \"gamma\", mean_us = 3 }\n") ==
        "test.toml:5:22: primary.front_end_write_us: a gamma service time needs 'cv'");
  CHECK(parse_error(p + "front_end_write_us = { distribution = \"exponential\", mean_us = 3, cv = 2 }\n") ==
        "test.toml:5:72: primary.front_end_write_us: 'cv' does not apply to a exponential service time");
  CHECK(parse_error(p + "front_end_write_us = { distribution = \"lognormal\", mean_us = 3, cv = 11 }\n") ==
        "test.toml:5:70: primary.front_end_write_us: expected a number in [0, 10], got 11");
  CHECK(parse_error(p + "front_end_write_us = { distribution = \"exponential\", mean_us = 0 }\n") ==
        "test.toml:5:64: primary.front_end_write_us: expected a mean > 0, got 0");
  CHECK(parse_error(p + "front_end_write_us = { distribution = \"fixed\", mean_us = 3, speed = 1 }\n") ==
        "test.toml:5:61: primary.front_end_write_us: unknown key 'speed' in a service time");
  CHECK(parse_error(p + "front_end_write_us = { distribution = \"empirical\" }\n") ==
        "test.toml:5:22: primary.front_end_write_us: an empirical service time needs 'quantiles' or 'samples_csv'");
  // quantile tables: shape, rising probabilities, values that do not fall, 0 and 1 at the ends
  const std::string q = p + "disk_read_us = { distribution = \"empirical\", quantiles = ";
  CHECK_THAT(parse_error(q + "[[0, 1]] }\n"), StartsWith("test.toml:5:58: primary.disk_read_us: expected an array of"));
  CHECK_THAT(parse_error(q + "[[0, 1], [0.5]] }\n"), StartsWith("test.toml:5:67: primary.disk_read_us: expected an array of"));
  CHECK(parse_error(q + "[[0, 1], [0.5, 2], [0.5, 3], [1, 4]] }\n") ==
        "test.toml:5:78: primary.disk_read_us: expected a probability above 0.5 (rising), got 0.5");
  CHECK(parse_error(q + "[[0, 5], [1, 4]] }\n") ==
        "test.toml:5:71: primary.disk_read_us: expected a value ≥ 5 (a quantile does not fall), got 4");
  CHECK(parse_error(q + "[[0.1, 5], [1, 6]] }\n") ==
        "test.toml:5:59: primary.disk_read_us: expected a first quantile at probability 0, got [0.1, 5]");
  CHECK(parse_error(q + "[[0, 5], [0.9, 6]] }\n") ==
        "test.toml:5:67: primary.disk_read_us: expected a last quantile at probability 1, got [0.9, 6]");
  CHECK(parse_error(q + "[[0, 5], [1, 1e300]] }\n") ==
        "test.toml:5:71: primary.disk_read_us: expected a number in [0, 1000000000], got 1e+300");
  // processors
  CHECK(parse_error(p + "front_end_processors = 0\n") ==
        "test.toml:5:24: primary.front_end_processors: expected an integer in [1, 4096], got 0");
  // a service time at the top level
  CHECK(parse_error("processors_wakeup_us = { distribution = \"exponential\", mean_us = 0 }\n" + kVolume) ==
        "test.toml:1:66: processors_wakeup_us: expected a mean > 0, got 0");
  CHECK(parse_error("processors_wakeup_us = -2\n" + kVolume) ==
        "test.toml:1:24: processors_wakeup_us: expected a number in [0, 1000000000], got -2");
  CHECK(parse_error("processors_shared = \"all\"\n" + kVolume) ==
        "test.toml:1:21: processors_shared: expected one of \"none\", \"controller\", \"pair\", got \"all\"");
}

TEST_CASE("the retired keys say what replaced them, in a file and in an override") {
  CHECK(parse_error(kVolume + "[primary]\ncache_store_us = 250\n") ==
        "test.toml:5:1: unknown key 'cache_store_us' in [primary]: cache_store_us is now two keys: front_end_write_us "
        "(a host write's cache store, front-end processors) and remote_adapter_copy_receive_us (storing a received copy "
        "before its answer leaves)");
  CHECK_THAT(parse_error(kVolume + "[secondary]\ndisk_latency_us = 100\n"),
             Contains("disk_latency_us is now two keys: disk_write_us and disk_read_us"));
  Scenario s = parse_scenario(kVolume, "test.toml");
  CHECK_THAT(error_of([&] { set_value(s, "primary.cache_store_us", "3", "--set primary.cache_store_us=3"); }),
             StartsWith("--set primary.cache_store_us=3: unknown key 'primary.cache_store_us': cache_store_us is now"));
  // a distribution through an override
  set_value(s, "secondary.disk_write_us", "{ distribution = \"exponential\", mean_us = 9 }", "--set");
  CHECK(s.secondary.disk_write_us.distribution == Distribution::Exponential);
  CHECK(s.primary.disk_write_us == ServiceTime::fixed(200));
}

TEST_CASE("processor plans: apart, per controller, per pair") {
  Scenario s = parse_scenario(kVolume + "[primary]\nfront_end_processors = 3\nremote_adapter_processors = 2\n"
                                        "back_end_processors = 5\n[secondary]\nfront_end_processors = 7\n",
                              "test.toml");
  ProcessorPlan apart = processor_plan(s);
  CHECK(apart.processors == std::vector<uint32_t>{3, 2, 5, 7, 2, 5});
  set_value(s, "processors_shared", "\"controller\"", "w");
  ProcessorPlan controller = processor_plan(s);
  CHECK(controller.processors == std::vector<uint32_t>{3, 7});
  CHECK(controller.group == std::array<uint32_t, 6>{0, 0, 0, 1, 1, 1});
  set_value(s, "processors_shared", "\"pair\"", "w");
  ProcessorPlan pair = processor_plan(s);
  CHECK(pair.processors == std::vector<uint32_t>{3});
  CHECK(pair.group == std::array<uint32_t, 6>{});
}

TEST_CASE("a calibration is laid over a scenario before its overrides, bad ones are refused at file:line:col") {
  const TempDir dir;
  const std::string scenario = dir.write("s.toml", kVolume + "[primary]\ncache_slots = 500\nfront_end_write_us = 250\n");
  const std::string cal = dir.write("cal.toml", R"(# written by mirrorsim calibrate
processors_shared = "controller"
processors_other_per_request_us = 42.5
processors_wakeup_us = { distribution = "exponential", mean_us = 40 }
[primary]
front_end_processors = 1
front_end_write_us = { distribution = "empirical", quantiles = [[0.0, 20.0], [0.5, 30.0], [1.0, 90.0]] }
disk_read_us = 80
[link]
overhead_us = 12.5
)");
  Scenario s = load_scenario_file(scenario);
  apply_calibration(s, cal);
  CHECK(s.processors_shared == ProcessorsShared::Controller);
  CHECK(s.processors_other_per_request_us == 42.5);
  CHECK(s.processors_wakeup_us.distribution == Distribution::Exponential);
  CHECK(s.processors_wakeup_us.mean_us == 40);
  CHECK(parse_scenario(s.resolved_toml, "again").processors_other_per_request_us == 42.5);
  CHECK(s.primary.cache_slots == 500);  // what the user sized stays
  CHECK(s.primary.front_end_processors == 1);
  CHECK(s.primary.front_end_write_us.distribution == Distribution::Empirical);
  CHECK(s.secondary.front_end_write_us == s.primary.front_end_write_us);  // no [secondary]: R2 timed like R1
  CHECK(s.secondary.disk_read_us == ServiceTime::fixed(80));
  CHECK(s.link.overhead_us == ServiceTime::fixed(12.5));
  // its resolved scenario loads back alone
  CHECK(parse_scenario(s.resolved_toml, "again").primary == s.primary);

  auto refusal = [&](const std::string& text) {
    const std::string path = dir.write("bad.toml", text);
    Scenario t = load_scenario_file(scenario);
    return error_of([&] { apply_calibration(t, path); });
  };
  const std::string bad = (dir.path / "bad.toml").string();
  CHECK_THAT(refusal("[primary]\ncache_slots = 4\n"),
             StartsWith(bad + ":2:1: 'primary.cache_slots' is not a calibration key; a calibration sets only"));
  CHECK_THAT(refusal("[[volume]]\nname = \"x\"\n"), StartsWith(bad + ":1:3: [[volume]] is not a calibration table"));
  CHECK_THAT(refusal("duration_s = 4\n"), StartsWith(bad + ":1:1: 'duration_s' is not a calibration key"));
  CHECK(refusal("processors_other_per_request_us = -1\n") ==
        bad + ":1:35: processors_other_per_request_us: expected a number in [0, 1000000000], got -1");
  CHECK(refusal("[primary]\nfront_end_write_us = -4\n") ==
        bad + ":2:22: primary.front_end_write_us: expected a number in [0, 1000000000], got -4");
  CHECK(refusal("processors_wakeup_us = { distribution = \"gamma\", mean_us = 3 }\n") ==
        bad + ":1:24: processors_wakeup_us: a gamma service time needs 'cv'");
  CHECK_THAT(refusal("[processors_wakeup_us]\ndistribution = \"fixed\"\n"),
             StartsWith(bad + ":1:2: [processors_wakeup_us] is not a calibration table"));
  CHECK(refusal("[link]\noverhead_us = { distribution = \"gamma\", mean_us = 3 }\n") ==
        bad + ":2:15: link.overhead_us: a gamma service time needs 'cv'");
  CHECK_THAT(refusal("[primary\nx = 1\n"), StartsWith(bad + ":1:"));
  CHECK_THAT(error_of([&] { apply_calibration(s, (dir.path / "absent.toml").string()); }), Contains("cannot open"));
  CHECK_THAT(error_of([&] { apply_calibration(s, dir.path.string()); }),
             Contains("cannot read: a directory; a calibration is a regular file"));
}

TEST_CASE("interval statistics: inline rows or a CSV, each row's block size, refusals at file:line:col") {
  const TempDir dir;
  const std::string w = "[[workload]]\nvolume = \"db\"\narrival = \"intervals\"\n";
  const Scenario inline_rows = parse_scenario(
      kVolume + w + "intervals = [[0, 100, 200, 409600, 1638400], [60, 0, 50, 0, 204800, 4096]]\n", "test.toml");
  const auto& rows = inline_rows.workloads[0].intervals;
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].block_bytes(true) == 8192);
  CHECK(rows[0].block_bytes(false) == 4096);
  CHECK(rows[1].block_bytes(true) == 4096);
  CHECK(inline_rows.workloads[0].peak_iops() == 300);
  CHECK(parse_scenario(inline_rows.resolved_toml, "again").workloads[0].intervals == rows);

  dir.write("day.csv", "# a day\nt_s,read_iops,write_iops,read_bytes_per_s,write_bytes_per_s\n0,10,20,40960,163840\n\n300,0,5,0,20480\n");
  const std::string path = dir.write("s.toml", kVolume + w + "intervals = \"day.csv\"\n");
  const Scenario csv = load_scenario_file(path);
  REQUIRE(csv.workloads[0].intervals.size() == 2);
  CHECK(csv.workloads[0].intervals[1].t_s == 300);
  CHECK(csv.workloads[0].intervals[1].block_bytes(true) == 4096);

  auto refusal = [&](const std::string& text) {
    dir.write("bad.csv", text);
    const std::string p = dir.write("b.toml", kVolume + w + "intervals = \"bad.csv\"\n");
    return error_of([&] { load_scenario_file(p); });
  };
  const std::string bad = (dir.path / "b.toml").string() + ":7:13: workload.0.intervals: " + (dir.path / "bad.csv").string();
  const std::string header = "t_s,read_iops,write_iops,read_bytes_per_s,write_bytes_per_s\n";
  CHECK(refusal("t,read_iops,write_iops,read_bytes_per_s,write_bytes_per_s\n") == bad + ":1:1: expected column 't_s', got 't'");
  CHECK(refusal(header + "0,1,2,3\n") == bad + ":2:1: expected 5 numbers, got 4");
  CHECK(refusal(header + "0,1,x,3,4\n") == bad + ":2:5: expected a number, got 'x'");
  CHECK(refusal(header + "0,1,-2,3,4\n") == bad + ":2:5: write_iops: expected a number in [0, 10000000], got -2");
  CHECK(refusal(header + "5,1,2,3,4\n5,1,2,3,4\n") == bad + ":3:1: t_s: 5 is not after the previous row's 5 (rows rise in time)");
  CHECK_THAT(refusal(header), Contains("\"intervals\" needs the workload's intervals"));
  CHECK_THAT(refusal(""), Contains("no header and no rows"));
  CHECK_THAT(error_of([&] { load_scenario_file(dir.write("m.toml", kVolume + w + "intervals = \"none.csv\"\n")); }),
             Contains("none.csv: cannot open"));
  // a row whose writes do not fit in a track; intervals without their arrival, and the arrival without them
  CHECK_THAT(parse_error(kVolume + w + "intervals = [[0, 0, 1, 0, 1000000]]\n"),
             Contains("workload.0.intervals: workload.0.intervals[0]: a write of 1000000 bytes exceeds primary.track_bytes (65536)"));
  CHECK_THAT(parse_error(kVolume + "[[workload]]\nvolume = \"db\"\nintervals = [[0, 1, 1, 1, 1]]\n"),
             Contains("intervals drive arrival = \"intervals\", not \"poisson\""));
  CHECK_THAT(parse_error(kVolume + w), Contains("\"intervals\" needs the workload's intervals"));
  CHECK_THAT(parse_error(kVolume + w + "intervals = [[0, 1, 1]]\n"), Contains("workload.0.intervals: expected an array of [t_s, read_iops"));
}

TEST_CASE("block traces: SPC and MSR records checked at load, every bad line refused at file:line:col") {
  const TempDir dir;
  const std::string w = "[[workload]]\nvolume = \"db\"\narrival = \"trace\"\n";
  const std::string good = dir.write("good.spc", "0,0,8192,W,0.5\n0,16,4096,r,0.75\n");
  const Scenario s = parse_scenario(kVolume + w + "trace = \"" + good + "\"\n", "test.toml");
  CHECK(s.workloads[0].trace == good);
  CHECK(s.workloads[0].trace_format == TraceFormat::Spc);
  // a relative name is the scenario's folder's, resolved to an absolute path in the resolved text
  const std::string rel = dir.write("rel.toml", kVolume + w + "trace = \"good.spc\"\n");
  CHECK(load_scenario_file(rel).workloads[0].trace == good);
  CHECK_THAT(load_scenario_file(rel).resolved_toml, Contains("trace = \"" + good + "\""));

  auto refusal = [&](const std::string& name, const std::string& text, const std::string& extra = "") {
    const std::string p = dir.write(name, text);
    return error_of([&] { parse_scenario(kVolume + w + "trace = \"" + p + "\"\n" + extra, "test.toml"); });
  };
  const std::string spc = (dir.path / "bad.spc").string();
  const std::string at = "test.toml:7:9: workload.0.trace: ";
  CHECK(refusal("bad.spc", "0,0,8192,W,0.5\n0,0,8192,X,0.6\n") == at + spc + ":2:10: Opcode: expected r, R, w or W, got 'X'");
  CHECK(refusal("bad.spc", "0,0,0,W,0.5\n") == at + spc + ":1:5: Size: expected an integer of bytes ≥ 1, got '0'");
  CHECK(refusal("bad.spc", "0,-5,512,W,0.5\n") == at + spc + ":1:3: LBA: expected an integer ≥ 0, got '-5'");
  CHECK(refusal("bad.spc", "0,0,512,W\n") == at + spc + ":1:1: expected ASU,LBA,Size,Opcode,Timestamp (SPC), got 4 fields");
  CHECK(refusal("bad.spc", "0,0,512,W,1.0\n0,0,512,W,0.5\n") ==
        at + spc + ":2:11: Timestamp: -0.5 s is before the previous record's 0 s (a trace is in time order)");
  CHECK(refusal("bad.spc", "0,0,512,W,1.0\n1,0,512,W,1.5\n") ==
        at + spc + ":2:1: device 1 is not this workload's (trace_device = 0): one workload replays one device of a trace");
  CHECK(refusal("bad.spc", "0,20000,512,W,1.0\n") ==
        at + spc + ":1:1: bytes 10240000 to 10240512 lie beyond the volume (6553600 bytes: tracks × track_bytes)");
  CHECK(refusal("bad.spc", "# nothing\n") == at + spc + ": the trace has no records");
  const std::string msr = (dir.path / "bad.msr").string();
  CHECK(refusal("bad.msr", "128166372003061629,hm,1,Read,4096,4096,100\n128166372003061639,hm,1,Erase,0,512,9\n",
                "trace_format = \"msr\"\ntrace_device = 1\n") ==
        at + msr + ":2:25: Type: expected Read or Write, got 'Erase'");
  CHECK_THAT(error_of([&] { parse_scenario(kVolume + w + "trace = \"/nonexistent.spc\"\n", "test.toml"); }),
             Contains("/nonexistent.spc: cannot open the trace"));
  CHECK_THAT(parse_error(kVolume + w), Contains("\"trace\" needs the trace file"));
  CHECK_THAT(parse_error(kVolume + "[[workload]]\nvolume = \"db\"\ntrace = \"" + good + "\"\n"),
             Contains("a trace drives arrival = \"trace\", not \"poisson\""));
  CHECK_THAT(parse_error(kVolume + w + "trace = \"" + good + "\"\ntrace_format = \"blktrace\"\n"),
             Contains("expected one of \"spc\", \"msr\", \"blkparse\", \"fio\""));
}

TEST_CASE("block traces: blkparse output and fio iologs (version 3) read at their timestamps, bad lines refused at "
          "file:line:col") {
  const TempDir dir;
  // blkparse: only the queue events with data are requests; the summary ends the records.
  const std::string blk = dir.write("run.blkparse",
                                    "  8,16   1        1     0.000000000  4162  Q  WS 2048 + 16 [fio]\n"
                                    "  8,16   1        2     0.000001200  4162  G  WS 2048 + 16 [fio]\n"
                                    "  8,16   1        3     0.000420000  4162  Q  FWS [fio]\n"
                                    "  8,16   0        4     0.001500000  4163  Q   R 4096 + 8 [fio]\n"
                                    "  8,16   0        5     0.001900000  4163  C   R 4096 + 8 [0]\n"
                                    "CPU0 (8,16):\n Reads Queued:           1,        4KiB\n");
  TraceReader b(blk, TraceFormat::Blkparse);
  const auto b1 = b.next(), b2 = b.next(), b3 = b.next();
  REQUIRE(b1);
  REQUIRE(b2);
  CHECK_FALSE(b3);
  CHECK(b1->write);
  CHECK(b1->device == 8 * 256 + 16);
  CHECK(b1->offset_bytes == 2048u * 512);
  CHECK(b1->bytes == 16u * 512);
  CHECK_FALSE(b2->write);
  CHECK(b2->t_s == Approx(0.0015));
  CHECK(b2->line == 4);
  // fio: files by their "add" order, actions without data skipped, milliseconds.
  const std::string fio = dir.write("run.iolog",
                                    "fio version 3 iolog\n0 /dev/sdb add\n0 /dev/sdc add\n1 /dev/sdb open\n"
                                    "5 /dev/sdc write 65536 4096\n7 /dev/sdc sync\n9 /dev/sdc read 0 8192\n"
                                    "12 /dev/sdb close\n");
  TraceReader f(fio, TraceFormat::Fio);
  const auto f1 = f.next(), f2 = f.next(), f3 = f.next();
  REQUIRE(f1);
  REQUIRE(f2);
  CHECK_FALSE(f3);
  CHECK(f1->write);
  CHECK(f1->device == 1);
  CHECK(f1->offset_bytes == 65536);
  CHECK(f1->bytes == 4096);
  CHECK(f2->t_s == Approx(0.004));
  CHECK_FALSE(f2->write);
  // version 2: no timestamps, "wait" lines (µs) time the requests
  const std::string fio2 = dir.write("run2.iolog",
                                     "fio version 2 iolog\n/dev/sdb add\n/dev/sdb open\n/dev/sdb write 0 4096\n"
                                     "/dev/sdb wait 2500 0\n/dev/sdb read 8192 4096\n/dev/sdb close\n");
  TraceReader v2(fio2, TraceFormat::Fio);
  const auto g1 = v2.next(), g2 = v2.next(), g3 = v2.next();
  REQUIRE(g1);
  REQUIRE(g2);
  CHECK_FALSE(g3);
  CHECK(g1->write);
  CHECK(g2->t_s == Approx(0.0025));
  CHECK(g2->offset_bytes == 8192);
  // through a scenario: the device is selected, every record checked at load
  const std::string w = "[[workload]]\nvolume = \"db\"\narrival = \"trace\"\n";
  const Scenario s = parse_scenario(kVolume + w + "trace = \"" + blk + "\"\ntrace_format = \"blkparse\"\ntrace_device = 2064\n",
                                    "test.toml");
  CHECK(s.workloads[0].trace_format == TraceFormat::Blkparse);
  auto refusal = [&](const std::string& name, const std::string& text, const std::string& format) {
    const std::string p = dir.write(name, text);
    return error_of([&] {
      parse_scenario(kVolume + w + "trace = \"" + p + "\"\ntrace_format = \"" + format + "\"\n", "test.toml");
    });
  };
  const std::string at = "test.toml:7:9: workload.0.trace: ";
  const std::string bad_blk = (dir.path / "bad.blkparse").string();
  CHECK(refusal("bad.blkparse", "  8;16 1 1 0.0 1 Q W 0 + 8 [x]\n", "blkparse") ==
        at + bad_blk + ":1:3: device: expected major,minor (e.g. 8,16), got '8;16'");
  CHECK(refusal("bad.blkparse", "0,0 1 1 0.5 1 Q W 0 + 8 [x]\n0,0 1 2 0.25 1 Q W 8 + 8 [x]\n", "blkparse") ==
        at + bad_blk + ":2:9: Timestamp: -0.25 s is before the previous record's 0 s (a trace is in time order)");
  CHECK(refusal("bad.blkparse", "0,0 1 1 0.5 1 Q W 0 [x]\n", "blkparse") ==
        at + bad_blk + ":1:17: a queued write needs 'sector + sectors' after 'W'");
  const std::string bad_fio = (dir.path / "bad.iolog").string();
  CHECK(refusal("bad.iolog", "fio version 4 iolog\n/dev/sdb add\n", "fio") ==
        at + bad_fio + ":1:1: expected the header 'fio version 2 iolog' or 'fio version 3 iolog', got 'fio version 4 iolog'");
  CHECK(refusal("bad.iolog", "fio version 3 iolog\n0 /dev/sdb add\n3 /dev/sdx write 0 4096\n", "fio") ==
        at + bad_fio + ":3:3: file '/dev/sdx' was not added ('/dev/sdx add' first)");
  CHECK(refusal("bad.iolog", "fio version 3 iolog\n0 /dev/sdb add\n3 /dev/sdb erase 0 4096\n", "fio") ==
        at + bad_fio + ":3:12: action: expected add, open, close, read, write, sync, datasync, trim or wait, got 'erase'");
}

TEST_CASE("async keys and consistency groups: read back, and every bad one refused at file:line:col") {
  const std::string two = "[[volume]]\nname = \"db\"\ntracks = 100\nmode = \"async\"\n"
                          "[[volume]]\nname = \"log\"\ntracks = 100\nmode = \"async\"\n";
  const Scenario s = parse_scenario(two + "[async]\ncycle_time_min_s = 30\n[[consistency_group]]\nname = \"app\"\n"
                                          "volumes = [\"db\", \"log\"]\n",
                                    "test.toml");
  CHECK(s.async.cycle_time_min_s == 30);
  REQUIRE(s.consistency_groups.size() == 1);
  CHECK(consistency_group_names(s) == std::vector<std::string>{"app"});
  CHECK(consistency_group_of(s, 1) == 0);
  // Ungrouped async volumes share "default".
  CHECK(consistency_group_names(parse_scenario(two, "test.toml")) == std::vector<std::string>{"default"});

  CHECK_THAT(parse_error("[[volume]]\nname = \"db\"\ntracks = 100\nmode = \"async\"\n[[volume]]\nname = \"log\"\n"
                         "tracks = 100\nmode = \"sync\"\n"),
             StartsWith("test.toml:8:8: volume.log.mode: \"sync\" cannot share a pair with async volumes"));
  CHECK_THAT(parse_error(two + "[async]\ncycle_time_min_s = 0\n"), StartsWith("test.toml:10:20: async.cycle_time_min_s: expected"));
  CHECK_THAT(parse_error(two + "[async]\ntransmit_sets_max = 17\n"), StartsWith("test.toml:10:21: async.transmit_sets_max: expected"));
  CHECK_THAT(parse_error(two + "[async]\nasync_cache_fraction_max = 1.5\n"),
             StartsWith("test.toml:10:28: async.async_cache_fraction_max: expected"));
  CHECK_THAT(parse_error(two + "[[consistency_group]]\nname = \"app\"\nvolumes = [\"db\", \"dbb\"]\n"),
             Contains("no volume named \"dbb\""));
  CHECK_THAT(parse_error(two + "[[consistency_group]]\nname = \"app\"\nvolumes = [\"db\", \"db\"]\n"),
             Contains("\"db\" is listed twice"));
  CHECK_THAT(parse_error(two + "[[consistency_group]]\nname = \"a\"\nvolumes = [\"db\"]\n[[consistency_group]]\nname = \"b\"\n"
                               "volumes = [\"db\"]\n"),
             Contains("volume \"db\" is already in another consistency group"));
  CHECK_THAT(parse_error(kVolume + "[[consistency_group]]\nname = \"app\"\nvolumes = [\"db\"]\n"),
             Contains("consistency groups are for async volumes"));
  CHECK_THAT(parse_error(two + "[[consistency_group]]\nname = \"app\"\n"), Contains("missing required key 'volumes'"));
}
