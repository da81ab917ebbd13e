// Processors that queue and service times that vary (service/): the pool
// against Erlang C and M/D/1, each distribution's moments, and the same
// through the simulator — a front end that is the bottleneck of a run.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include <sys/resource.h>
#include <unistd.h>

#include <fmt/format.h>

#include "model/analytic.hpp"
#include "report/result.hpp"
#include "service/processor_pool.hpp"
#include "service/service_time.hpp"
#include "sim/fork.hpp"

using namespace mirrorsim;
using analytic::md1_sojourn_s;
using analytic::mmc_wait_s;

namespace {

struct Queueing {
  double wait_mean_s = 0;
  double utilisation = 0;
};

// `arrivals` Poisson arrivals at `lambda` to a pool of `c`, demands drawn
// from `demand`: the mean wait and the processors' utilisation.
Queueing poisson_into_pool(double lambda, const ServiceTime& demand, uint32_t c, int arrivals, uint64_t seed) {
  ProcessorPool pool(c);
  ServiceStream draws(demand, seed, "test.demand");
  ServiceStream gaps(ServiceTime{Distribution::Exponential, 1e6 / lambda, 1, {}}, seed, "test.gaps");
  Time now;
  double wait_s = 0, busy_s = 0;
  Time last_end;
  for (int i = 0; i < arrivals; ++i) {
    now += gaps.draw();
    const Time d = draws.draw();
    const ProcessorPool::Slot s = pool.take(now, d);
    wait_s += (s.start - now).s();
    busy_s += d.s();
    last_end = std::max(last_end, s.end);
  }
  return {wait_s / arrivals, busy_s / (c * now.s())};
}

}  // namespace

TEST_CASE("a pool of c processors under Poisson arrivals waits as Erlang C says (M/M/c), within 5 %") {
  const double service_s = 100e-6;
  const ServiceTime exponential{Distribution::Exponential, service_s * 1e6, 1, {}};
  for (uint32_t c : {1u, 4u}) {
    for (double rho : {0.5, 0.8}) {
      const double lambda = rho * c / service_s;
      const Queueing q = poisson_into_pool(lambda, exponential, c, 2'000'000, 11 + c);
      const double expected = mmc_wait_s(lambda, service_s, static_cast<int>(c));
      INFO(fmt::format("c = {}, rho = {}: wait {:.3f} us, Erlang C {:.3f} us", c, rho, q.wait_mean_s * 1e6, expected * 1e6));
      CHECK(q.wait_mean_s == Approx(expected).epsilon(0.05));
      CHECK(q.utilisation == Approx(rho).epsilon(0.01));
    }
  }
}

TEST_CASE("one processor with fixed demands waits as M/D/1 says, within 5 %, utilisation = lambda S within 1 %") {
  const double service_s = 100e-6;
  for (double rho : {0.5, 0.8}) {
    const double lambda = rho / service_s;
    const Queueing q = poisson_into_pool(lambda, ServiceTime::fixed(service_s * 1e6), 1, 2'000'000, 5);
    const double expected = md1_sojourn_s(lambda, service_s) - service_s;
    INFO(fmt::format("rho = {}: wait {:.3f} us, M/D/1 {:.3f} us", rho, q.wait_mean_s * 1e6, expected * 1e6));
    CHECK(q.wait_mean_s == Approx(expected).epsilon(0.05));
    CHECK(q.utilisation == Approx(rho).epsilon(0.01));
  }
}

TEST_CASE("a pool serves FIFO: each piece starts when it arrives or when the earliest processor frees") {
  ProcessorPool pool(2);
  const auto us = [](double v) { return Time::from_us(v); };
  auto a = pool.take(us(0), us(10));  // processor 1 until 10
  auto b = pool.take(us(1), us(10));  // processor 2 until 11
  auto c = pool.take(us(2), us(5));   // waits for processor 1: 10 to 15
  auto d = pool.take(us(3), us(1));   // waits behind c for processor 2: 11 to 12
  CHECK(a.start == us(0));
  CHECK(b.start == us(1));
  CHECK(c.start == us(10));
  CHECK(c.end == us(15));
  CHECK(c.queue_length == 0);
  CHECK(d.start == us(11));
  CHECK(d.queue_length == 1);  // c was waiting when d arrived
  auto e = pool.take(us(20), us(1));
  CHECK(e.start == us(20));
  CHECK(e.queue_length == 0);
}

TEST_CASE("each distribution: over a million draws, mean and coefficient of variation within 2 %") {
  const std::vector<ServiceTime> kinds{
      ServiceTime::fixed(250),
      {Distribution::Exponential, 250, 1, {}},
      {Distribution::Lognormal, 250, 0.5, {}},
      {Distribution::Lognormal, 250, 2, {}},
      {Distribution::Gamma, 250, 0.5, {}},
      {Distribution::Gamma, 250, 1.5, {}},
      {Distribution::Empirical, 0, 0, {{0, 50}, {0.5, 100}, {0.9, 400}, {0.99, 1000}, {1, 3000}}},
  };
  for (const ServiceTime& t : kinds) {
    ServiceStream s(t, 42, "test");
    const int n = 1'000'000;
    double sum = 0, sum2 = 0;
    for (int i = 0; i < n; ++i) {
      const double v = s.draw().us();
      sum += v;
      sum2 += v * v;
    }
    const double mean = sum / n;
    const double cv = std::sqrt(std::max(0.0, sum2 / n - mean * mean)) / mean;
    INFO(fmt::format("{} mean {} cv {}: drawn mean {:.3f}, cv {:.4f}", to_string(t.distribution), t.mean(),
                     t.coefficient_of_variation(), mean, cv));
    CHECK(mean == Approx(t.mean()).epsilon(0.02));
    if (t.distribution == Distribution::Fixed) CHECK(cv < 1e-9);
    else CHECK(cv == Approx(t.coefficient_of_variation()).epsilon(0.02));
  }
}

TEST_CASE("an empirical distribution reproduces its quantiles, and a table of samples reproduces theirs") {
  const ServiceTime t{Distribution::Empirical, 0, 0, {{0, 10}, {0.25, 20}, {0.5, 40}, {0.75, 80}, {0.99, 500}, {1, 900}}};
  ServiceStream s(t, 3, "test");
  std::vector<double> v(400'000);
  for (double& x : v) x = s.draw().us();
  std::sort(v.begin(), v.end());
  for (const auto& [p, us] : t.quantiles) {
    const double at = v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
    INFO(fmt::format("p = {}: drawn {:.2f}, table {}", p, at, us));
    CHECK(at == Approx(us).epsilon(0.02).margin(0.5));
  }
  // samples → table → draws: the samples' own quantiles come back
  std::mt19937_64 rng(9);
  std::lognormal_distribution<double> lognormal(4, 0.8);
  std::vector<double> samples(100'000);
  for (double& x : samples) x = lognormal(rng);
  const ServiceTime from_samples{Distribution::Empirical, 0, 0, quantile_table(samples)};
  CHECK(from_samples.quantiles.size() == 1001);
  std::sort(samples.begin(), samples.end());
  ServiceStream again(from_samples, 4, "test");
  std::vector<double> w(400'000);
  for (double& x : w) x = again.draw().us();
  std::sort(w.begin(), w.end());
  for (double p : {0.1, 0.5, 0.9, 0.99}) {
    const double want = samples[static_cast<size_t>(p * static_cast<double>(samples.size()))];
    const double got = w[static_cast<size_t>(p * static_cast<double>(w.size()))];
    INFO(fmt::format("p = {}: samples {:.2f}, drawn {:.2f}", p, want, got));
    CHECK(got == Approx(want).epsilon(0.03));
  }
}

TEST_CASE("streams of one seed give the same draws, different streams or seeds do not") {
  const ServiceTime t{Distribution::Gamma, 100, 0.7, {}};
  ServiceStream a(t, 1, "R1.front_end_write_us"), b(t, 1, "R1.front_end_write_us");
  ServiceStream c(t, 1, "R2.front_end_write_us"), d(t, 2, "R1.front_end_write_us");
  bool differ_c = false, differ_d = false;
  for (int i = 0; i < 100; ++i) {
    const Time x = a.draw();
    CHECK(x == b.draw());
    differ_c |= x != c.draw();
    differ_d |= x != d.draw();
  }
  CHECK(differ_c);
  CHECK(differ_d);
}

namespace {

// Writes acknowledged at the cache store (adaptive copy), Poisson: the
// response is the front end's wait plus its demand. Everything behind the
// acknowledgement is fast and plentiful.
std::string front_end_bound(uint32_t processors, const std::string& demand, double rate) {
  return fmt::format(R"(
seed = 3
duration_s = 21
[primary]
cache_slots = 65536
front_end_processors = {}
front_end_write_us = {}
disks = 16
disk_write_us = 1
disk_bandwidth_mb_per_s = 100000
[link]
distance_km = 0
overhead_us = 1
bandwidth_gbit_per_s = 100
[[volume]]
name = "db"
tracks = 1000000
mode = "adaptive-copy-disk"
[[workload]]
volume = "db"
rate_iops = {}
block_bytes = 4096
[measurement]
warmup_s = 1
timeseries_interval_s = 1
)",
                     processors, demand, rate);
}

RunResult simulate(const std::string& toml) {
  SimOptions o;
  o.progress = false;
  return simulate_in_child(parse_scenario(toml, "test"), o);
}

const ProcessorPoolResult& pool_of(const RunResult& r, std::string_view controller, std::string_view pool) {
  for (const auto& p : r.processor_pools)
    if (p.controller == controller && p.pool == pool) return p;
  throw std::runtime_error("no such pool");
}

}  // namespace

TEST_CASE("simulated: a front end of c processors is an M/M/c queue — response, wait and utilisation") {
  const double service_s = 100e-6;
  for (uint32_t c : {1u, 4u}) {
    const double rho = 0.8;
    const double rate = rho * c / service_s;
    const RunResult r = simulate(front_end_bound(c, "{ distribution = \"exponential\", mean_us = 100 }", rate));
    const ProcessorPoolResult& fe = pool_of(r, "R1", "front_end");
    const double wait = mmc_wait_s(rate, service_s, static_cast<int>(c));
    INFO(fmt::format("c = {}: response {:.2f} us (M/M/c {:.2f}), wait {:.2f} us, utilisation {:.4f}", c,
                     r.volumes[0].writes.response.mean_ns() / 1e3, (wait + service_s) * 1e6, fe.wait_mean_ms * 1e3,
                     fe.utilisation_mean));
    CHECK(r.invariant_violations == 0);
    CHECK(fe.processors == c);
    CHECK(fe.utilisation_mean == Approx(rho).epsilon(0.01));
    CHECK(fe.wait_mean_ms * 1e-3 == Approx(wait).epsilon(0.05));
    CHECK(r.volumes[0].writes.response.mean_ns() * 1e-9 == Approx(wait + service_s).epsilon(0.05));
    CHECK_FALSE(fe.saturated);
    CHECK(fe.queue_length_peak > 0);
    // every interval of the series carries it too
    REQUIRE(r.timeseries.size() > 10);
    CHECK(r.timeseries[10].processor_utilisation[0] == Approx(rho).epsilon(0.05));
  }
}

TEST_CASE("simulated: a front end offered more than it can do is reported saturated, with its queue") {
  const RunResult r = simulate(front_end_bound(1, "100", 12000));
  const ProcessorPoolResult& fe = pool_of(r, "R1", "front_end");
  CHECK(fe.saturated);
  CHECK(fe.offered_load == Approx(1.2).epsilon(0.02));
  CHECK(fe.utilisation_mean > 0.99);
  CHECK(fe.queue_length_peak > 1000);
  CHECK_THAT(summary_text(r), Catch::Contains("SATURATED"));
}

TEST_CASE("same seed, byte-identical JSON with distributions and processors on") {
  const std::string toml = "processors_shared = \"none\"\n" +
                           front_end_bound(2, "{ distribution = \"lognormal\", mean_us = 150, cv = 1.2 }", 9000);
  std::string varied = toml;
  // Every kind of stream varies: the disks, the link's overhead, the remote adapters.
  varied.replace(varied.find("disk_write_us = 1"), 17,
                 "disk_write_us = { distribution = \"gamma\", mean_us = 40, cv = 0.8 }\n"
                 "remote_adapter_copy_send_us = { distribution = \"exponential\", mean_us = 5 }\n"
                 "back_end_destage_us = { distribution = \"empirical\", quantiles = [[0, 1], [0.9, 5], [1, 30]] }");
  varied.replace(varied.find("overhead_us = 1"), 15, "overhead_us = { distribution = \"exponential\", mean_us = 3 }");
  varied.replace(varied.find("duration_s = 21"), 15, "duration_s = 3");
  const RunResult a = simulate(varied), b = simulate(varied);
  CHECK(to_json(a).dump() == to_json(b).dump());
  CHECK(timeseries_csv(a) == timeseries_csv(b));
  CHECK(pool_of(a, "R1", "back_end").operations > 0);
  CHECK(pool_of(a, "R1", "remote_adapter").operations > 0);
  std::string reseeded = varied;
  reseeded.replace(reseeded.find("seed = 3"), 8, "seed = 4");
  CHECK(to_json(simulate(reseeded)).dump() != to_json(a).dump());
}

TEST_CASE("shared processors: one pool serves a controller's three kinds, or both controllers") {
  std::string toml = front_end_bound(1, "50", 6000);
  toml.replace(toml.find("disk_write_us = 1"), 17, "disk_write_us = 1\nback_end_processors = 1\nback_end_destage_us = 50");
  const RunResult none = simulate(toml);
  const RunResult one = simulate("processors_shared = \"controller\"\n" + toml);
  // Apart, each pool is 30 % busy; together the one processor is 60 % busy
  // and the writes wait behind the destages.
  CHECK(pool_of(none, "R1", "front_end").utilisation_mean == Approx(0.3).epsilon(0.02));
  CHECK(pool_of(none, "R1", "back_end").utilisation_mean == Approx(0.3).epsilon(0.02));
  CHECK(pool_of(one, "R1", "front_end").shared_with == "R1 remote_adapter, R1 back_end");
  CHECK(pool_of(one, "R1", "front_end").offered_load == Approx(0.6).epsilon(0.02));
  CHECK(pool_of(one, "R1", "front_end").wait_mean_ms > 2 * pool_of(none, "R1", "front_end").wait_mean_ms);
  CHECK(one.volumes[0].writes.response.mean_ns() > none.volumes[0].writes.response.mean_ns());
}

TEST_CASE("processors_other_per_request_us: each host request holds a front-end processor that long, in no pool's figures") {
  std::string toml = front_end_bound(1, "50", 6000);
  toml.replace(toml.find("duration_s = 21"), 15, "duration_s = 6");  // 30,000 requests measured
  const RunResult plain = simulate(toml);
  const RunResult other = simulate("processors_other_per_request_us = 50\n" + toml);
  CHECK(plain.processors_other_busy_s == 0);
  for (const RunResult* r : {&plain, &other}) CHECK(r->invariant_violations == 0);
  // 6,000 requests a second, 50 us each: 0.3 of the one processor, beside the front end's own 0.3.
  const double requests_per_s = static_cast<double>(other.volumes[0].writes.response.count() +
                                                    other.volumes[0].reads.response.count()) / other.measured_s;
  CHECK(other.processors_other_busy_s / other.measured_s == Approx(requests_per_s * 50e-6).epsilon(0.02));
  CHECK(other.processors_other_busy_s / other.measured_s == Approx(0.3).epsilon(0.03));
  const ProcessorPoolResult& a = pool_of(plain, "R1", "front_end");
  const ProcessorPoolResult& b = pool_of(other, "R1", "front_end");
  // The same operations (a few at the window's edges start on either side of it).
  CHECK(std::llabs(static_cast<long long>(b.operations) - static_cast<long long>(a.operations)) <= 3);
  CHECK(b.utilisation_mean == Approx(a.utilisation_mean).epsilon(0.01));
  CHECK(b.offered_load == Approx(0.6).epsilon(0.03));  // the processor's load: its own work and the other
  // The requests queue behind the other work (M/D/1 at 0.6 against 0.3).
  CHECK(b.wait_mean_ms > 2 * a.wait_mean_ms);
  CHECK(other.volumes[0].writes.response.mean_ns() > plain.volumes[0].writes.response.mean_ns());
  CHECK_THAT(summary_text(other), Catch::Contains("other work on the processors"));
  // Same seed, same bytes.
  CHECK(to_json(simulate("processors_other_per_request_us = 50\n" + toml)).dump() == to_json(other).dump());
}

TEST_CASE("simulated: interval statistics drive each interval at its own rates, mix and request size") {
  const RunResult r = simulate(R"(
seed = 2
duration_s = 6
[[volume]]
name = "db"
tracks = 100000
[[workload]]
volume = "db"
arrival = "intervals"
intervals = [[0, 1000, 2000, 8192000, 16384000], [2, 0, 8000, 0, 262144000], [4, 500, 500, 2048000, 2048000, 4096]]
[measurement]
warmup_s = 0
timeseries_interval_s = 1
)");
  CHECK(r.invariant_violations == 0);
  REQUIRE(r.timeseries.size() >= 6);
  // Poisson counts per simulated second: within 4 standard deviations of each row's write rate.
  const double rates[] = {2000, 2000, 8000, 8000, 500, 500};
  for (size_t i = 0; i < 6; ++i) {
    INFO("second " << i << ": " << r.timeseries[i].write_iops << " writes/s");
    CHECK(std::fabs(r.timeseries[i].write_iops - rates[i]) < 4 * std::sqrt(rates[i]));
  }
  // Sizes: 8 KiB writes, then 32 KiB, then the row's 4 KiB; 8 KiB and 4 KiB reads.
  const OpStats& w = r.volumes[0].writes;
  const OpStats& rd = r.volumes[0].reads;
  const double expected_write_bytes = 8192.0 * 4000 + 32768.0 * 16000 + 4096.0 * 1000;  // near the means
  CHECK(static_cast<double>(w.bytes) == Approx(expected_write_bytes).epsilon(0.03));
  CHECK(static_cast<double>(rd.completed) == Approx(2000 + 1000).epsilon(0.06));
  CHECK(static_cast<double>(rd.bytes) / static_cast<double>(rd.completed) == Approx((8192.0 * 2000 + 4096.0 * 1000) / 3000).epsilon(0.03));
}

TEST_CASE("simulated: time_scale runs the rows' clock faster, their rates unchanged") {
  const RunResult r = simulate(R"(
seed = 2
duration_s = 3
[[volume]]
name = "db"
tracks = 100000
[[workload]]
volume = "db"
arrival = "intervals"
intervals = [[0, 0, 2000, 0, 16384000], [2, 0, 8000, 0, 65536000], [4, 0, 500, 0, 4096000]]
time_scale = 2
[measurement]
warmup_s = 0
timeseries_interval_s = 1
)");
  REQUIRE(r.timeseries.size() >= 3);
  const double rates[] = {2000, 8000, 500};
  for (size_t i = 0; i < 3; ++i) {
    INFO("second " << i << ": " << r.timeseries[i].write_iops << " writes/s");
    CHECK(std::fabs(r.timeseries[i].write_iops - rates[i]) < 4 * std::sqrt(rates[i]));
  }
}

namespace {

std::string trace_scenario(const std::string& path, const std::string& extra) {
  return fmt::format(R"(
duration_s = 30
[[volume]]
name = "db"
tracks = 100000
[[workload]]
volume = "db"
arrival = "trace"
trace = "{}"
{}
[measurement]
warmup_s = 0
timeseries_interval_s = 0.5
)",
                     path, extra);
}

std::string temp_file(const std::string& name, const std::string& text) {
  const std::string path = (std::filesystem::temp_directory_path() / (std::to_string(::getpid()) + "-" + name)).string();
  std::ofstream(path) << text;
  return path;
}

}  // namespace

TEST_CASE("simulated: an SPC trace issues exactly its requests at its times, split across tracks") {
  // 2 writes (one spans three 64 KiB tracks), 2 reads, 3 s from first to last (times count from the first record).
  const std::string path = temp_file("t.spc", "0,0,8192,W,1.0\n0,16,4096,R,2.0\n0,100,131072,w,3.0\n0,2000,512,r,4.0\n");
  const RunResult r = simulate(trace_scenario(path, ""));
  CHECK(r.volumes[0].writes.completed == 1 + 3);
  CHECK(r.volumes[0].reads.completed == 2);
  CHECK(r.volumes[0].writes.bytes == 8192 + 131072);
  CHECK(r.volumes[0].reads.bytes == 4096 + 512);
  CHECK(r.trace_requests_split == 1);
  // at its times: the writes at 0 s and 2 s fall in the intervals ending at 0.5 s and 2.5 s
  double first = -1, last = -1;
  for (const auto& t : r.timeseries)
    if (t.write_iops > 0) {
      if (first < 0) first = t.t_s;
      last = t.t_s;
    }
  CHECK(first == Approx(0.5));
  CHECK(last == Approx(2.5));
  // time_scale 2: twice as fast; loop: the trace again after its last record
  const RunResult fast = simulate(trace_scenario(path, "time_scale = 2"));
  double fast_last = -1;
  for (const auto& t : fast.timeseries)
    if (t.write_iops > 0) fast_last = t.t_s;
  CHECK(fast_last == Approx(1.5));
  const RunResult looped = simulate(trace_scenario(path, "loop = true"));
  // one pass every 3 + 1 s (its span and one mean gap): seven passes of 4 write pieces, then the
  // eighth pass's first write at 28 s (its second, at 30 s, is at the end of host I/O)
  CHECK(looped.volumes[0].writes.completed == 4 * 7 + 1);
  std::filesystem::remove(path);
}

TEST_CASE("simulated: an MSR trace replays its disk, times from Windows file time") {
  const std::string path = temp_file("t.msr",
                                     "128166372000000000,hm,1,Write,0,4096,100\n"
                                     "128166372010000000,hm,1,Read,65536,8192,100\n"
                                     "128166372020000000,hm,1,Write,131072,65536,100\n");
  const RunResult r = simulate(trace_scenario(path, "trace_format = \"msr\"\ntrace_device = 1"));
  CHECK(r.volumes[0].writes.completed == 2);
  CHECK(r.volumes[0].reads.completed == 1);
  CHECK(r.volumes[0].writes.bytes == 4096 + 65536);
  CHECK(r.trace_requests_split == 0);
  double last = -1;
  for (const auto& t : r.timeseries)
    if (t.write_iops > 0) last = t.t_s;
  CHECK(last == Approx(2.5));  // 2 s after the first record, sampled at 2.5
  std::filesystem::remove(path);
}

TEST_CASE("simulated: a trace is streamed, memory does not grow with its length (10^5 against 10^6 records)") {
  auto write_trace = [](const std::string& name, int records) {
    const std::string path = (std::filesystem::temp_directory_path() / (std::to_string(::getpid()) + "-" + name)).string();
    std::ofstream out(path);
    std::mt19937_64 rng(1);
    for (int i = 0; i < records; ++i)  // 50,000 requests a second, 8 KiB, uniform over the volume
      out << "0," << (rng() % 100000) * 128 << ",8192," << (i % 3 ? 'W' : 'R') << ',' << i * 2e-5 << '\n';
    return path;
  };
  auto peak_kb = [&](const std::string& path, double duration_s) {
    simulate(fmt::format(R"(
duration_s = {}
[primary]
cache_slots = 65536
[[volume]]
name = "db"
tracks = 100000
[[workload]]
volume = "db"
arrival = "trace"
trace = "{}"
[measurement]
warmup_s = 0
)",
                         duration_s, path));
    rusage after{};
    getrusage(RUSAGE_CHILDREN, &after);
    return after.ru_maxrss;  // the largest child so far: the shorter run goes first
  };
  const std::string small = write_trace("small.spc", 100'000), large = write_trace("large.spc", 1'000'000);
  const long small_kb = peak_kb(small, 2.1), large_kb = peak_kb(large, 20.1);
  INFO("peak memory: " << small_kb << " KiB for 10^5 records, " << large_kb << " KiB for 10^6");
  CHECK(static_cast<double>(large_kb) < 1.15 * static_cast<double>(small_kb));
  std::filesystem::remove(small);
  std::filesystem::remove(large);
}

TEST_CASE("simulated: a disk's first write of a track costs disk_first_write_us, every later one disk_write_us") {
  // 500 tracks written in turn at 250 writes/s for 5 s: each track's first
  // destage is a first write (500 of them), the rest rewrites.
  auto scenario = [](const std::string& first_write) {
    return fmt::format(R"(
seed = 3
duration_s = 5
[primary]
disks = 1
disk_write_us = 100
{}
disk_bandwidth_mb_per_s = 100000
[link]
distance_km = 0
[[volume]]
name = "db"
tracks = 500
[[workload]]
volume = "db"
rate_iops = 250
write_fraction = 1.0
addresses = "sequential"
block_bytes = 4096
[measurement]
warmup_s = 0
)",
                       first_write);
  };
  const RunResult plain = simulate(scenario(""));
  const RunResult same = simulate(scenario("disk_first_write_us = 100"));
  const RunResult slow = simulate(scenario("disk_first_write_us = 2000"));
  for (const RunResult* r : {&plain, &same, &slow}) CHECK(r->invariant_violations == 0);
  // The key at disk_write_us's value changes nothing that was measured.
  CHECK(to_json(same)["metrics"] == to_json(plain)["metrics"]);
  // 500 first writes each 1.9 ms longer, on each side's one disk.
  const double measured_s = slow.measured_s;
  const double extra_busy_s = (slow.disk_utilisation_R1_mean - plain.disk_utilisation_R1_mean) * measured_s;
  INFO(fmt::format("R1 disk busy {:.4f} -> {:.4f} of {:.1f} s", plain.disk_utilisation_R1_mean,
                   slow.disk_utilisation_R1_mean, measured_s));
  CHECK(extra_busy_s == Approx(500 * 1.9e-3).epsilon(0.03));
  CHECK((slow.disk_utilisation_R2_mean - plain.disk_utilisation_R2_mean) * measured_s == Approx(500 * 1.9e-3).epsilon(0.03));
  CHECK(slow.volumes[0].writes.response.count() == plain.volumes[0].writes.response.count());
}

TEST_CASE("simulated: a disk read of a track no write has reached costs disk_unwritten_read_us, of a written one disk_read_us") {
  // One read at a time of 1,000 tracks (and, with `writes`, one write at a
  // time beside it), a cache of 100 slots, disks that move bytes at once:
  // a read hit costs the front end's 250 us, a miss that and the disk read's
  // fixed part. Reads alone reach only tracks never written; with the
  // writes every track has been written (and destaged) before the measured
  // window opens at 3 s.
  auto scenario = [](bool writes, const std::string& unwritten) {
    return fmt::format(R"(
seed = 3
duration_s = 6
[primary]
cache_slots = 100
front_end_write_us = 250
disks = 4
disk_write_us = 0
disk_read_us = 100
{}
disk_bandwidth_mb_per_s = 100000
[link]
distance_km = 0
[[volume]]
name = "db"
tracks = 1000
mode = "sync"
[[workload]]
volume = "db"
arrival = "closed"
queue_depth = 1
write_fraction = 0.0
addresses = "uniform"
block_bytes = 4096
{}
[measurement]
warmup_s = 3
)",
                       unwritten,
                       writes ? "[[workload]]\nvolume = \"db\"\narrival = \"closed\"\nqueue_depth = 1\nwrite_fraction = 1.0\n"
                                "addresses = \"uniform\"\nblock_bytes = 4096\n"
                              : "");
  };
  // The mean read when each hit costs 250 us and each miss 250 + fixed us.
  auto expected_us = [](const RunResult& r, double fixed_us) {
    const VolumeResult& v = r.volumes.at(0);
    const double hits = static_cast<double>(v.read_hits), n = static_cast<double>(v.reads.completed);
    return (hits * 250 + (n - hits) * (250 + fixed_us + 65536 / 100000e6 * 1e6)) / n;
  };
  const RunResult plain = simulate(scenario(false, ""));
  const RunResult holes = simulate(scenario(false, "disk_unwritten_read_us = 10"));
  const RunResult written = simulate(scenario(true, "disk_unwritten_read_us = 10"));
  for (const RunResult* r : {&plain, &holes, &written}) {
    CHECK(r->invariant_violations == 0);
    REQUIRE(r->volumes.at(0).reads.completed > 1000);
    CHECK(r->volumes.at(0).read_hits < r->volumes.at(0).reads.completed / 5);  // 100 slots of 1,000 tracks
  }
  INFO(fmt::format("means: plain {:.2f}, holes {:.2f}, written {:.2f} us", plain.volumes[0].reads.response.mean_ns() / 1e3,
                   holes.volumes[0].reads.response.mean_ns() / 1e3, written.volumes[0].reads.response.mean_ns() / 1e3));
  // Absent, a read of a hole is any disk read.
  CHECK(plain.volumes[0].reads.response.mean_ns() / 1e3 == Approx(expected_us(plain, 100)).epsilon(0.005));
  CHECK(holes.volumes[0].reads.response.mean_ns() / 1e3 == Approx(expected_us(holes, 10)).epsilon(0.005));
  // Every track written by then: every miss a disk read of data.
  CHECK(written.volumes[0].reads.response.mean_ns() / 1e3 == Approx(expected_us(written, 100)).epsilon(0.01));
}

TEST_CASE("disk_device_servers: every disk of both sides on one device of N servers — none when N covers them, a bottleneck below the offered load") {
  // 1,500 writes a second to distinct tracks, each destaged on both sides:
  // 3,000 disk writes a second of 1 ms on 2 x 4 disks — 3 device servers busy.
  auto scenario = [](uint32_t servers) {
    return fmt::format(R"(
seed = 5
duration_s = 4
disk_device_servers = {}
[primary]
cache_slots = 65536
disks = 4
disk_write_us = 1000
disk_bandwidth_mb_per_s = 100000
[link]
distance_km = 0
overhead_us = 1
bandwidth_gbit_per_s = 100
[[volume]]
name = "db"
tracks = 1000000
mode = "sync"
[[workload]]
volume = "db"
rate_iops = 1500
write_fraction = 1.0
block_bytes = 4096
[measurement]
warmup_s = 1
timeseries_interval_s = 1
)",
                       servers);
  };
  const RunResult own = simulate(scenario(0));
  const RunResult covered = simulate(scenario(8));
  const RunResult loaded = simulate(scenario(4));
  const RunResult bound = simulate(scenario(2));
  for (const RunResult* r : {&own, &covered, &loaded, &bound}) CHECK(r->invariant_violations == 0);
  // Every disk its own device: 375 writes a second of 1 ms each.
  CHECK(own.disk_utilisation_R1_mean == Approx(0.375).epsilon(0.05));
  CHECK(own.disk_utilisation_R2_mean == Approx(0.375).epsilon(0.05));
  // A device with a server for every disk never makes one wait: the same run.
  CHECK(covered.disk_utilisation_R1_mean == own.disk_utilisation_R1_mean);
  CHECK(covered.disk_utilisation_R2_mean == own.disk_utilisation_R2_mean);
  CHECK(covered.local_wp_slots_peak == own.local_wp_slots_peak);
  CHECK(covered.wp_residence_mean_ms == own.wp_residence_mean_ms);
  // Four servers for three busy: the disks wait for the device, and drain.
  CHECK(loaded.disk_utilisation_R1_mean > own.disk_utilisation_R1_mean * 1.1);
  CHECK(loaded.disk_utilisation_R1_mean < 0.9);
  CHECK(loaded.wp_residence_mean_ms > own.wp_residence_mean_ms);
  // Two servers for three busy: saturated, the destages fall behind.
  CHECK(bound.disk_utilisation_R1_mean > 0.95);
  CHECK(bound.disk_utilisation_R2_mean > 0.95);
  CHECK(bound.local_wp_slots_peak > 10 * own.local_wp_slots_peak);
  // Sync writes do not wait for their destage: the host sees the same writes.
  CHECK(bound.volumes[0].writes.response.count() == own.volumes[0].writes.response.count());
  // Same seed, same bytes.
  CHECK(to_json(simulate(scenario(2))).dump() == to_json(bound).dump());
}

namespace {

// One sync write at a time (closed, depth 1) to distinct tracks at 0 km:
// R1's cache store 250 us, R2's store of a copy 50 us, the link 25 us each
// way; `top` is laid at the top level, and the disks take `disk_write_us`
// plus 512 B at `disk_mb_per_s`.
std::string unloaded_sync_writes(const std::string& top, double disk_write_us, double disk_mb_per_s) {
  return fmt::format(R"(
seed = 3
duration_s = 1
{}
[primary]
cache_slots = 65536
front_end_write_us = 250
disks = 4
disk_write_us = {}
disk_bandwidth_mb_per_s = {}
[secondary]
remote_adapter_copy_receive_us = 50
[link]
distance_km = 0
overhead_us = 25
bandwidth_gbit_per_s = 10
[[volume]]
name = "db"
tracks = 1000000
mode = "sync"
[[workload]]
volume = "db"
arrival = "closed"
queue_depth = 1
write_fraction = 1.0
block_bytes = 512
[measurement]
warmup_s = 0.1
timeseries_interval_s = 0.5
)",
                     top, disk_write_us, disk_mb_per_s);
}

}  // namespace

TEST_CASE("processors_wakeup_us: a controller loop's wake-up before a disk's completion — one on an unloaded read miss, none on a sync write's messages, none when 0") {
  // One request at a time (closed, depth 1) to distinct tracks, 0 km. A
  // read miss waits for R1's loop to wake for its disk read's completion; a
  // sync write's copy and acknowledgement come over the link, whose
  // overhead holds the receiver's wake-up: none is added to them.
  auto writes = [](const std::string& wakeup) { return unloaded_sync_writes(wakeup, 0, 100000); };
  auto reads = [](const std::string& wakeup) {
    std::string toml = unloaded_sync_writes(wakeup, 100, 1000);
    const std::string all_writes = "write_fraction = 1.0";
    toml.replace(toml.find(all_writes), all_writes.size(), "write_fraction = 0.0");
    return toml;
  };
  const RunResult plain = simulate(reads(""));
  const RunResult zero = simulate(reads("processors_wakeup_us = 0"));
  const RunResult fixed = simulate(reads("processors_wakeup_us = 100"));
  const RunResult varied = simulate(reads("processors_wakeup_us = { distribution = \"exponential\", mean_us = 100 }"));
  for (const RunResult* r : {&plain, &zero, &fixed, &varied}) CHECK(r->invariant_violations == 0);
  // 0 is no wake-up at all: the same bytes.
  CHECK(to_json(zero)["metrics"] == to_json(plain)["metrics"]);
  const OpStats& base = plain.volumes[0].reads;
  REQUIRE(base.completed > 1000);
  CHECK(plain.volumes[0].read_hits < base.completed / 100);  // a million tracks read at random: misses
  // A miss: the front end's read (the write's 250 us), the disk's read (200 us
  // by default) and 64 KiB at 1,000 MB/s.
  CHECK(base.response.mean_ns() / 1e3 == Approx(250 + 200 + 65.536).epsilon(0.01));
  // Fixed: 100 us more, at every percentile.
  CHECK(fixed.volumes[0].reads.response.mean_ns() - base.response.mean_ns() == Approx(100e3).epsilon(0.01));
  CHECK(fixed.volumes[0].reads.response.percentile_ns(99) - base.response.percentile_ns(99) == Approx(100e3).epsilon(0.02));
  // Exponential of mean 100 us: 100 us more on average, and a spread.
  CHECK(varied.volumes[0].reads.response.mean_ns() - base.response.mean_ns() == Approx(100e3).epsilon(0.05));
  CHECK(varied.volumes[0].reads.response.percentile_ns(99) > fixed.volumes[0].reads.response.percentile_ns(99));
  // It holds no processor: the front end's busy time is the reads' own.
  CHECK(fixed.processor_pools.at(0).utilisation_mean ==
        Approx(plain.processor_pools.at(0).utilisation_mean * static_cast<double>(fixed.volumes[0].reads.completed) /
               static_cast<double>(base.completed))
            .epsilon(0.02));
  // Same seed, same bytes.
  CHECK(to_json(simulate(reads("processors_wakeup_us = { distribution = \"exponential\", mean_us = 100 }"))).dump() ==
        to_json(varied).dump());

  // The sync write: 0.35 ms with or without wake-ups (its destages'
  // completions wake the loops after each write's acknowledgement is sent).
  const RunResult write_plain = simulate(writes(""));
  const RunResult write_woken = simulate(writes("processors_wakeup_us = 100"));
  CHECK(write_plain.volumes[0].writes.response.mean_ns() / 1e6 == Approx(0.35).epsilon(0.01));
  CHECK(std::abs(write_woken.volumes[0].writes.response.mean_ns() - write_plain.volumes[0].writes.response.mean_ns()) <
        1e3);
}

TEST_CASE("processors_wakeup_us: a loop still at its front-end or remote-adapter work takes a completion without a wake-up") {
  // Poisson reads of distinct tracks (misses) on R1's one front-end
  // processor (250 us a read), disks that take no time: each read's disk
  // completion comes as its front-end work ends. R1's loop is then idle
  // and wakes for it unless a later read is already queued for the front
  // end (an awake loop needs no wake-up): about (1 − ρ) × 100 us more than
  // without wake-ups, ρ the front end's utilisation.
  auto scenario = [](double iops, const std::string& wakeup) {
    return fmt::format(R"(
seed = 5
duration_s = 10
{}
[primary]
cache_slots = 1024
front_end_processors = 1
front_end_read_us = 250
disks = 8
disk_read_us = 0
disk_bandwidth_mb_per_s = 100000
[link]
distance_km = 0
overhead_us = 25
bandwidth_gbit_per_s = 10
[[volume]]
name = "db"
tracks = 1000000
mode = "sync"
[[workload]]
volume = "db"
arrival = "poisson"
rate_iops = {}
write_fraction = 0.0
block_bytes = 512
[measurement]
warmup_s = 0.5
)",
                       wakeup, iops);
  };
  auto added_us = [&](double iops) {
    const RunResult plain = simulate(scenario(iops, ""));
    const RunResult woken = simulate(scenario(iops, "processors_wakeup_us = 100"));
    CHECK(plain.invariant_violations == 0);
    CHECK(woken.invariant_violations == 0);
    // The front end's queue is the same: wake-ups hold no processor.
    CHECK(woken.processor_pools.at(0).utilisation_mean == Approx(plain.processor_pools.at(0).utilisation_mean).epsilon(0.01));
    return (woken.volumes[0].reads.response.mean_ns() - plain.volumes[0].reads.response.mean_ns()) / 1e3;
  };
  // ρ = 0.05: nearly always idle, a wake-up for nearly every read.
  const double light = added_us(200);
  CHECK(light > 92);
  CHECK(light <= 100.5);
  // ρ = 0.8: R1 mostly busy with the next read when a completion comes.
  const double heavy = added_us(3200);
  CHECK(heavy > 5);
  CHECK(heavy < 50);
}

TEST_CASE("processors_preemption_us: a step's messages leave before its preemption, what comes next waits for it — two on an unloaded sync write, none when 0") {
  // One write at a time (closed, depth 1) to distinct tracks, 0 km, disks
  // that take no time. A step's copy or answer leaves when its work ends;
  // the loop is then off its processor for the preemption P. At R1 the
  // host write's step ends at 250 us (P until 350), its destage's
  // completion reaches the loop when that preemption ends and its own
  // step keeps the loop off until 450: the acknowledgement, back at
  // 350.6 us, waits for it. Its step ends the write, preempted P again,
  // and the next write, sent at once, waits for that. 2P a write.
  auto scenario = [](const std::string& preemption) {
    return unloaded_sync_writes(preemption, 0, 100000);
  };
  const RunResult plain = simulate(scenario(""));
  const RunResult zero = simulate(scenario("processors_preemption_us = 0"));
  const RunResult fixed = simulate(scenario("processors_preemption_us = 100"));
  const RunResult varied =
      simulate(scenario("processors_preemption_us = { distribution = \"exponential\", mean_us = 100 }"));
  for (const RunResult* r : {&plain, &zero, &fixed, &varied}) CHECK(r->invariant_violations == 0);
  // 0 is no preemption at all: the same bytes.
  CHECK(to_json(zero)["metrics"] == to_json(plain)["metrics"]);
  const auto& base = plain.volumes[0].writes.response;
  CHECK(base.mean_ns() / 1e6 == Approx(0.35).epsilon(0.01));
  // Fixed: 200 us more, at every percentile.
  CHECK(fixed.volumes[0].writes.response.mean_ns() - base.mean_ns() == Approx(200e3).epsilon(0.01));
  CHECK(fixed.volumes[0].writes.response.percentile_ns(10) - base.percentile_ns(10) == Approx(200e3).epsilon(0.02));
  CHECK(fixed.volumes[0].writes.response.percentile_ns(99) - base.percentile_ns(99) == Approx(200e3).epsilon(0.02));
  // Exponential of mean 100 us: about 200 us more on average (more where
  // the host write's own preemption outlasts the acknowledgement's
  // round trip), and a spread.
  CHECK(varied.volumes[0].writes.response.mean_ns() - base.mean_ns() == Approx(200e3).epsilon(0.2));
  CHECK(varied.volumes[0].writes.response.percentile_ns(99) > fixed.volumes[0].writes.response.percentile_ns(99));
  // It holds no processor: the front end's busy time is the writes' own.
  CHECK(fixed.processor_pools.at(0).utilisation_mean ==
        Approx(plain.processor_pools.at(0).utilisation_mean * static_cast<double>(fixed.host_writes) /
               static_cast<double>(plain.host_writes))
            .epsilon(0.02));
  // Same seed, same bytes.
  CHECK(to_json(simulate(scenario("processors_preemption_us = { distribution = \"exponential\", mean_us = 100 }"))).dump() ==
        to_json(varied).dump());
}

TEST_CASE("processors_preemption_us: what reaches a preempted loop waits for it — read hits at one loop queue as M/D/1") {
  // Poisson read hits at R1 (a volume of 10 tracks, cached after the first
  // reads; no front-end demand): each read is answered as its step starts
  // and the loop is then off its processor for P = 100 us; a read arriving
  // meanwhile waits for it. R1's loop is then one FIFO server of service
  // time P whose customers leave at the start of their service: the mean
  // response is the M/D/1 wait λP² / (2(1 − λP)) (Pollaczek–Khinchine).
  auto scenario = [](double iops) {
    return fmt::format(R"(
seed = 11
duration_s = 20
processors_preemption_us = 100
[primary]
cache_slots = 65536
front_end_read_us = 0
disks = 1
disk_read_us = 0
disk_bandwidth_mb_per_s = 100000
[link]
distance_km = 0
[[volume]]
name = "db"
tracks = 10
mode = "sync"
[[workload]]
volume = "db"
arrival = "poisson"
rate_iops = {}
write_fraction = 0.0
block_bytes = 512
[measurement]
warmup_s = 1
)",
                       iops);
  };
  for (const double iops : {5000.0, 8000.0}) {
    INFO(iops << " IOPS");
    const RunResult r = simulate(scenario(iops));
    CHECK(r.invariant_violations == 0);
    const double p_s = 100e-6, rho = iops * p_s;
    const double expected_s = iops * p_s * p_s / (2 * (1 - rho));
    CHECK(r.volumes[0].reads.response.mean_ns() / 1e9 == Approx(expected_s).epsilon(0.05));
    // Without the wait it would be 0.
    CHECK(r.volumes[0].reads.response.mean_ns() / 1e9 > 0.4 * p_s);
  }
}

TEST_CASE("processors_preemption_us: work that reached the loop before a preemption does not wait for it") {
  // Two read hits at a time (closed, depth 2) at R1's two front-end
  // processors, 100 us each: both start together and end together, the
  // loop then preempted 50 us; the next two, sent at once, wait for it: every
  // read takes 150 us. Neither waits for the other's preemption — it
  // reached the loop before the preemption began; were a preemption
  // charged through the queue, one read of each pair would take 250 us.
  const RunResult r = simulate(R"(
seed = 13
duration_s = 2
processors_preemption_us = 50
[primary]
cache_slots = 65536
front_end_processors = 2
front_end_read_us = 100
disks = 1
disk_read_us = 0
disk_bandwidth_mb_per_s = 100000
[link]
distance_km = 0
[[volume]]
name = "db"
tracks = 10
mode = "sync"
[[workload]]
volume = "db"
arrival = "closed"
queue_depth = 2
write_fraction = 0.0
block_bytes = 512
[measurement]
warmup_s = 0.5
)");
  CHECK(r.invariant_violations == 0);
  const auto& reads = r.volumes[0].reads.response;
  REQUIRE(reads.count() > 1000);
  CHECK(reads.mean_ns() / 1e3 == Approx(150).epsilon(0.01));
  CHECK(reads.percentile_ns(99) / 1e3 == Approx(150).epsilon(0.02));
}
