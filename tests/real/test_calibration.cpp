// `mirrorsim calibrate --out FILE`: every measurement as scenario keys, its
// quantile tables well formed (read back with toml++ here, as the loader
// reads them).
#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "config/scenario.hpp"
#include "config/toml.hpp"
#include "real/calibrate.hpp"
#include "tests/cli/run_mirrorsim.hpp"

using namespace mirrorsim;

namespace {

namespace fs = std::filesystem;

// A quantile table: [probability, value] pairs, at least 21, probabilities
// strictly increasing from 0 to 1, values non-decreasing, finite, ≥ 0.
void check_table(const toml::table& root, const std::string& key) {
  INFO(key);
  const toml::node_view<const toml::node> node = root.at_path(key);
  REQUIRE(node.is_table());
  const toml::table& t = *node.as_table();
  CHECK(t["distribution"].value_or(std::string()) == "empirical");
  const toml::array* q = t["quantiles"].as_array();
  REQUIRE(q);
  CHECK(q->size() >= 21);
  double last_p = -1, last_v = -1;
  for (const toml::node& row : *q) {
    const toml::array* pair = row.as_array();
    REQUIRE(pair);
    REQUIRE(pair->size() == 2);
    const auto p = (*pair)[0].value<double>();
    const auto v = (*pair)[1].value<double>();
    REQUIRE(p);
    REQUIRE(v);
    CHECK(*p > last_p);
    CHECK(std::isfinite(*v));
    CHECK(*v >= 0);
    CHECK(*v >= last_v);
    last_p = *p;
    last_v = *v;
  }
  CHECK((*q)[0].as_array()->get(0)->value<double>() == 0.0);
  CHECK(last_p == 1.0);
}

}  // namespace

TEST_CASE("calibrate --out writes the disk, link, processors and CPU per operation as scenario keys that parse") {
  const fs::path dir = cli_test::make_temp_dir("calibrate");
  const fs::path out = dir / "calibration.toml";
  const auto ran = cli_test::run_mirrorsim(
      fmt::format("calibrate --dir {} --ops 20 --probe-s 1 --probe-iops 800 --out {}", dir.string(), out.string()), dir);
  INFO(ran.err);
  REQUIRE(ran.exit_code == 0);
  CHECK_THAT(ran.out, Catch::Contains("primary.disk_write_us=") && Catch::Contains("O_DIRECT pread") &&
                          Catch::Contains("of which the thread's CPU") &&
                          Catch::Contains("primary.disk_first_write_us=") && Catch::Contains("first writes into holes") &&
                          Catch::Contains("first writes back to back") && Catch::Contains("disk_device_servers=") &&
                          Catch::Contains("O_DIRECT pread of holes") && Catch::Contains("primary.disk_unwritten_read_us="));
  const toml::table root = toml::parse_file(out.string());
  // One pool of the machine's processors serves both controllers: their
  // event loops and their disk workers' I/O share them.
  CHECK(root.at_path("processors_shared").value_or(std::string()) == "pair");
  CHECK(root.at_path("primary.front_end_processors").value_or(int64_t{0}) == int64_t{real::processors_available()});
  // What the probe's machine spent beyond the controllers' operations, per host request.
  CHECK(root.at_path("processors_other_per_request_us").value_or(-1.0) >= 0);
  // How many I/Os the one device under both controllers' backing files
  // serves at once: measured (throughput of sixteen writers over one's), 1 to 16.
  const int64_t device_servers = root.at_path("disk_device_servers").value_or(int64_t{0});
  CHECK(device_servers >= 1);
  CHECK(device_servers <= 16);
  // How long a woken controller loop took to run in the probe run: the
  // loops' own samples (a disk completion that found the loop idle) as a
  // quantile table when the probe had enough of them, else the kernel's
  // mean wait (schedstat) as an exponential, and the comment says which.
  const std::string wakeup = root.at_path("processors_wakeup_us.distribution").value_or(std::string());
  const std::string written = cli_test::slurp(out);
  if (wakeup == "empirical") {
    check_table(root, "processors_wakeup_us");
    CHECK_THAT(written, Catch::Contains("woken by a disk completion while idle, ran"));
    CHECK_THAT(ran.out, Catch::Contains("woken by a disk completion while idle, they ran"));
  } else {
    CHECK(wakeup == "exponential");
    CHECK(root.at_path("processors_wakeup_us.mean_us").value_or(-1.0) >= 0);
    CHECK_THAT(written, Catch::Contains("wake-ups sampled by the loops (fewer than 200)"));
  }
  // The loops' preemptions in mid-step: the probe's steps (over a thousand
  // writes) as a quantile table, comment and probe summary saying so.
  check_table(root, "processors_preemption_us");
  CHECK_THAT(written, Catch::Contains("off their processor in mid-step (a step's wall time less its thread's CPU)"));
  CHECK_THAT(ran.out, Catch::Contains("off their processor in mid-step"));
  for (const std::string side : {"primary", "secondary"}) {
    check_table(root, side + ".disk_write_us");
    check_table(root, side + ".disk_first_write_us");
    check_table(root, side + ".disk_read_us");
    check_table(root, side + ".disk_unwritten_read_us");
    CHECK(root.at_path(side + ".disk_bandwidth_mb_per_s").value_or(0.0) > 0);
    // Every kind at both sides: a kind one side did not do carries the other's figure.
    for (const char* key : {"front_end_write_us", "front_end_read_us", "remote_adapter_copy_send_us",
                            "remote_adapter_copy_receive_us", "remote_adapter_ack_receive_us", "back_end_destage_us",
                            "back_end_disk_read_us"})
      check_table(root, side + "." + key);
  }
  check_table(root, "link.overhead_us");
  CHECK(root.at_path("link.bandwidth_gbit_per_s").value_or(0.0) > 0);
  // ... and the simulator takes it, laid over a shipped scenario.
  const auto sim = cli_test::run_mirrorsim(fmt::format("run {}/quickstart.toml --calibration {} --set duration_s=1 "
                                                       "--set measurement.warmup_s=0.1 --out {}",
                                                       MIRRORSIM_SCENARIOS_DIR, out.string(), (dir / "sim.json").string()),
                                           dir);
  INFO(sim.err);
  CHECK(sim.exit_code == 0);
  const std::string sim_json = cli_test::slurp(dir / "sim.json");
  CHECK_THAT(sim_json, Catch::Contains("\"empirical\""));
  CHECK_THAT(sim_json, Catch::Contains(fmt::format("\"disk_device_servers\": {},", device_servers)));
  // The header says what was measured, on which host, when.
  const std::string text = cli_test::slurp(out);
  CHECK_THAT(text, Catch::StartsWith("# calibration.toml, written by mirrorsim calibrate on "));
  CHECK_THAT(text, Catch::Contains("sched_getaffinity") && Catch::Contains("probe run"));
  std::error_code ec;
  fs::remove_all(dir, ec);
}

TEST_CASE("a quantile table from samples: 23 points at p0, p5 … p95, p99, p99.9, p100, clamped at 0, non-decreasing") {
  std::vector<double> us;
  for (int i = 0; i <= 1000; ++i) us.push_back(i - 10.0);  // -10 … 990
  const auto t = real::quantile_table(us);
  REQUIRE(t.size() == 23);
  CHECK(t.front() == std::pair<double, double>{0.0, 0.0});  // -10 clamped
  CHECK(t[10].first == Approx(0.5));
  CHECK(t[10].second == Approx(490));
  CHECK(t[20].first == Approx(0.99));
  CHECK(t[20].second == Approx(980));
  CHECK(t[21].second == Approx(989));
  CHECK(t.back() == std::pair<double, double>{1.0, 990.0});
  CHECK(real::quantile_table({}).empty());
}

TEST_CASE("processors_wakeup_us in a calibration: the loops' sampled wake-ups as a quantile table, the kernel's mean "
          "as an exponential when they are too few") {
  real::Calibration c;
  c.cpu.loop_wakeup_mean_us = 40;
  c.cpu.loop_switches = 1000;
  // 150 wake-ups at R1 and 100 at R2 of 10, 20, … 100 us: mean 55 us.
  for (int i = 0; i < 150; ++i) c.cpu.cpu[0].add_wakeup(static_cast<uint32_t>((i % 10 + 1) * 10'000));
  for (int i = 0; i < 100; ++i) c.cpu.cpu[1].add_wakeup(static_cast<uint32_t>((i % 10 + 1) * 10'000));
  CHECK(real::loop_wakeup_samples_us(c.cpu).size() == 250);
  CHECK(c.cpu.cpu[0].wakeups().operations == 150);
  CHECK(c.cpu.cpu[0].wakeups().cpu_s == Approx(150 * 55e-6));
  {
    const std::string text = real::calibration_toml(c);
    const toml::table root = toml::parse(text);
    check_table(root, "processors_wakeup_us");
    const toml::array& q = *root.at_path("processors_wakeup_us.quantiles").as_array();
    CHECK(q[0].as_array()->get(1)->value<double>() == Approx(10));
    CHECK(q[q.size() - 1].as_array()->get(1)->value<double>() == Approx(100));
    CHECK_THAT(text, Catch::Contains("ran 55.0 us (mean of 250 samples") &&
                         Catch::Contains("the kernel's mean wait of a woken loop 40.0 us over 1000 switches in"));
  }
  // Too few samples: the kernel's mean, an assumption the file states.
  real::Calibration few;
  few.cpu.loop_wakeup_mean_us = 40;
  few.cpu.loop_switches = 1000;
  for (int i = 0; i < 10; ++i) few.cpu.cpu[0].add_wakeup(50'000);
  const std::string text = real::calibration_toml(few);
  const toml::table root = toml::parse(text);
  CHECK(root.at_path("processors_wakeup_us.distribution").value_or(std::string()) == "exponential");
  CHECK(root.at_path("processors_wakeup_us.mean_us").value_or(-1.0) == Approx(40));
  CHECK_THAT(text, Catch::Contains("10 wake-ups sampled by the loops (fewer than 200)"));
  // Neither: no key at all (the simulator's default, none).
  CHECK_FALSE(toml::parse(real::calibration_toml(real::Calibration{})).contains("processors_wakeup_us"));
}

TEST_CASE("processors_preemption_us in a calibration: the loops' sampled preemptions in mid-step, every quantile, "
          "none when too few") {
  real::Calibration c;
  // 300 steps at R1 and 200 at R2: 98 % of them not preempted, 2 % off
  // their processor for 1 ms: mean 20 us.
  for (int i = 0; i < 300; ++i) c.cpu.cpu[0].add_preemption(i % 50 == 0 ? 1'000'000u : 0u);
  for (int i = 0; i < 200; ++i) c.cpu.cpu[1].add_preemption(i % 50 == 0 ? 1'000'000u : 0u);
  CHECK(real::loop_preemption_samples_us(c.cpu).size() == 500);
  CHECK(c.cpu.cpu[0].preemptions().operations == 300);
  CHECK(c.cpu.cpu[0].preemptions().cpu_s == Approx(6e-3));
  const std::string text = real::calibration_toml(c);
  const toml::table root = toml::parse(text);
  check_table(root, "processors_preemption_us");
  // Every quantile (up to 1,001 points: here each of the 500 samples), not
  // 23: the tail is the whole of it.
  const toml::array& q = *root.at_path("processors_preemption_us.quantiles").as_array();
  CHECK(q.size() == 500);
  CHECK(q[q.size() / 2].as_array()->get(1)->value<double>() == Approx(0));
  CHECK(q[q.size() - 1].as_array()->get(1)->value<double>() == Approx(1000));
  CHECK_THAT(text, Catch::Contains("off their processor in mid-step") && Catch::Contains("mean 20.0 us over 500 steps"));
  // ... which the loader lays over a scenario: a distribution of that mean.
  const fs::path file = fs::temp_directory_path() / fmt::format("mirrorsim-preemption-{}.toml", ::getpid());
  {
    // The key's line alone (a default Calibration measured nothing else).
    const size_t at = text.find("\nprocessors_preemption_us = ");
    REQUIRE(at != std::string::npos);
    std::ofstream(file) << text.substr(at + 1, text.find('\n', at + 1) - at);
  }
  Scenario sc = parse_scenario("[[volume]]\nname = \"db\"\ntracks = 10\n[[workload]]\nvolume = \"db\"\n", "s.toml");
  apply_calibration(sc, file.string());
  fs::remove(file);
  CHECK(sc.processors_preemption_us.distribution == Distribution::Empirical);
  CHECK(sc.processors_preemption_us.mean() == Approx(20).epsilon(0.1));
  // Too few steps: no key, and the file says why.
  real::Calibration few;
  for (int i = 0; i < 10; ++i) few.cpu.cpu[0].add_preemption(5'000);
  const std::string few_text = real::calibration_toml(few);
  CHECK_FALSE(toml::parse(few_text).contains("processors_preemption_us"));
  CHECK_THAT(few_text, Catch::Contains("processors_preemption_us: not written: 10 steps sampled in the probe (fewer than 200)"));
  CHECK_FALSE(toml::parse(real::calibration_toml(real::Calibration{})).contains("processors_preemption_us"));
}

TEST_CASE("CPU probes pooled (validate's before and after its runs): operations and CPU added, samples in proportion "
          "to operations, the machine's figures weighted") {
  using real::CpuKind;
  auto count = [](const std::vector<double>& v, double us) { return std::count(v.begin(), v.end(), us); };
  // Two probes that both fit the reservoir: every operation of both kept.
  {
    real::CpuStats a, b;
    for (int i = 0; i < 10; ++i) a.add(CpuKind::Write, 10'000);
    for (int i = 0; i < 20; ++i) b.add(CpuKind::Write, 30'000);
    a.merge(b);
    const real::CpuKindStats& w = a.of(CpuKind::Write);
    CHECK(w.operations == 30);
    CHECK(w.cpu_s == Approx(10 * 10e-6 + 20 * 30e-6));
    CHECK(w.sample_us.size() == 30);
    CHECK(count(w.sample_us, 10.0) == 10);
    CHECK(count(w.sample_us, 30.0) == 20);
    CHECK(a.of(CpuKind::Read).operations == 0);
    CHECK(a.of(CpuKind::Read).sample_us.empty());
  }
  // Over the reservoir: 1,000 operations (all sampled) beside 9,000 (4,096
  // of them): a tenth of the pooled sample from the first.
  {
    real::CpuStats a, b;
    for (int i = 0; i < 1000; ++i) a.add(CpuKind::Destage, 10'000), a.add_wakeup(5'000);
    for (int i = 0; i < 9000; ++i) b.add(CpuKind::Destage, 30'000), b.add_preemption(7'000);
    a.merge(b);
    const real::CpuKindStats& d = a.of(CpuKind::Destage);
    CHECK(d.operations == 10'000);
    CHECK(d.sample_us.size() == real::CpuStats::kReservoir);
    CHECK(count(d.sample_us, 10.0) == 410);  // round(4096 × 1,000 / 10,000)
    CHECK(count(d.sample_us, 30.0) == 4096 - 410);
    // A kind only one probe had keeps that probe's sample.
    CHECK(a.wakeups().operations == 1000);
    CHECK(a.wakeups().sample_us.size() == 1000);
    CHECK(a.preemptions().operations == 9000);
    CHECK(a.preemptions().sample_us.size() == real::CpuStats::kReservoir);
  }
  // The calibration's figures: the machine by window, the other CPU by
  // requests, the wake-up mean by switches; unknown (< 0) in one probe: the other's.
  real::CpuCalibration before, after;
  before.window_s = 1.6, after.window_s = 1.6;
  before.writes = 5000, after.writes = 5100;
  before.requests = 7000, after.requests = 21000;
  before.machine_processors_busy = 1.683, after.machine_processors_busy = 1.483;
  before.operations_processors_busy = 1.3, after.operations_processors_busy = 1.1;
  before.other_cpu_us_per_request = 100, after.other_cpu_us_per_request = 60;
  before.loop_wakeup_mean_us = 150, before.loop_switches = 1000;
  after.loop_wakeup_mean_us = -1, after.loop_switches = 0;
  for (int i = 0; i < 100; ++i) before.cpu[0].add(CpuKind::Write, 20'000), after.cpu[0].add(CpuKind::Write, 40'000);
  const real::CpuCalibration p = real::pooled({before, after});
  CHECK(p.window_s == Approx(3.2));
  CHECK(p.writes == 10100);
  CHECK(p.requests == 28000);
  CHECK(p.machine_processors_busy == Approx(1.583));
  CHECK(p.operations_processors_busy == Approx(1.2));
  CHECK(p.other_cpu_us_per_request == Approx((100.0 * 7000 + 60.0 * 21000) / 28000));
  CHECK(p.loop_wakeup_mean_us == Approx(150));
  CHECK(p.loop_switches == 1000);
  CHECK(p.cpu[0].of(CpuKind::Write).operations == 200);
  CHECK(p.cpu[0].of(CpuKind::Write).cpu_s == Approx(100 * 20e-6 + 100 * 40e-6));
  // What the simulation is calibrated with: the pooled figures.
  real::Calibration c;
  c.cpu = p;
  const std::string text = real::calibration_toml(c);
  CHECK(toml::parse(text).at_path("processors_other_per_request_us").value_or(-1.0) == Approx(70.0).margin(0.05));
  CHECK(toml::parse(text).at_path("primary.front_end_write_us.quantiles").as_array()->size() == 23);
  // One probe: itself.
  CHECK(real::pooled({before}).machine_processors_busy == Approx(1.683));
  CHECK_THROWS(real::pooled({}));
}
