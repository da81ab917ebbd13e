// Simulator throughput, measured side by side in one run:
//  - simulated host writes per wall second: the sync quickstart, closed loop
//    at queue depth 32, N writes (default 1,000,000);
//  - a baseline on the same machine: bare SimGrid comms and timer wake-ups
//    per wall second (what each simulated write is made of);
//  - SimGrid activities per simulated write, and the peak memory of runs
//    with N/4 and N writes (flat memory: the two should be close);
//  - the floor: SimGrid alone doing what the driver asks of it for one
//    quickstart write (the same platform, its two comms and its timers) with
//    no model at all. Its rate over bare comms is the ceiling of the ratio.
// Each simulation runs in its own forked child (one SimGrid engine per process).
#include <simgrid/kernel/Timer.hpp>
#include <simgrid/s4u.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include "config/scenario.hpp"
#include "model/io.hpp"
#include "sim/fork.hpp"

using namespace mirrorsim;
namespace sg = simgrid::s4u;

namespace {

double wall_s(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

struct Measured {
  RunResult result;
  double wall_s = 0;
  long max_rss_kb = 0;
};

// A run in a child, timed from the parent, with the child's peak memory.
Measured measure(const Scenario& s) {
  const auto t0 = std::chrono::steady_clock::now();
  rusage before{};
  getrusage(RUSAGE_CHILDREN, &before);
  SimOptions o;
  o.progress = false;
  Measured m;
  m.result = simulate_in_child(s, o);
  m.wall_s = wall_s(t0);
  rusage after{};
  getrusage(RUSAGE_CHILDREN, &after);
  m.max_rss_kb = after.ru_maxrss;  // the largest child so far: runs go smallest first
  return m;
}

// `measure(engine)` in a child with an engine of its own (one per
// process): the rate it returns, read back through a pipe.
template <class F>
double rate_in_child(F&& measure) {
  int fds[2];
  if (pipe(fds) != 0) return 0;
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    int argc = 1;
    char name[] = "sim_bench";
    char* argv[] = {name, nullptr};
    sg::Engine e(&argc, argv);
    xbt_log_control_set("root.thres:critical");
    const double rate = measure(e);
    (void)!write(fds[1], &rate, sizeof rate);
    _exit(0);
  }
  close(fds[1]);
  double rate = 0;
  (void)!read(fds[0], &rate, sizeof rate);
  close(fds[0]);
  waitpid(pid, nullptr, 0);
  return rate;
}

// Bare SimGrid, in a child: how many comms (with a receiver actor) and how
// many timer wake-ups it completes per wall second.
double baseline_per_s(bool comms, int n) {
  return rate_in_child([&](sg::Engine& e) {
    sg::Engine::set_config("network/model:CM02");
    sg::Engine::set_config("network/TCP-gamma:1e18");
    auto* z = sg::create_full_zone("z");
    auto* a = z->create_host("a", 1e9);
    auto* b = z->create_host("b", 1e9);
    auto* l = z->create_link("l", 1e15)->set_latency(1e-4);
    z->add_route(a->get_netpoint(), b->get_netpoint(), nullptr, nullptr, {sg::LinkInRoute(l)}, false);
    z->seal();
    auto* mb = sg::Mailbox::by_name("m");
    if (comms) {
      auto r = sg::Actor::create("r", b, [mb, n] {
        for (int i = 0; i < n; ++i) delete mb->get<int>();
      });
      mb->set_receiver(r);
      // One comm in flight at a time, so the network model stays small.
      sg::Actor::create("s", a, [mb, n] {
        for (int i = 0; i < n; ++i) mb->put(new int(i), 1000);
      });
    } else {
      sg::Actor::create("s", a, [n] {
        for (int i = 0; i < n; ++i) sg::this_actor::sleep_for(1e-6);
      });
    }
    const auto t0 = std::chrono::steady_clock::now();
    e.run();
    return n / wall_s(t0);
  });
}

// SimGrid alone, in a child: the driver's platform for the quickstart (a
// port host per side and link, two links of 10 Gbit/s and 100 km each way,
// one message at a time per direction) and, per write, what the driver asks
// of SimGrid with no model behind it: a front-end timer (250 us), the copy
// (8 KiB and its header) on the next link, the remote adapter's timer at R2
// (50 us), the acknowledgement back, and a disk timer at each side. Closed
// loop at depth 32, callbacks in maestro, as in the driver. Writes per
// second.
double floor_writes_per_s(uint64_t n) {
  return rate_in_child([&](sg::Engine& e) {
    for (const char* c : {"network/model:CM02", "network/TCP-gamma:0", "network/crosstraffic:0"}) sg::Engine::set_config(c);
    namespace kt = simgrid::kernel::timer;
    struct Pair {
      std::array<std::array<sg::Host*, 2>, 2> port{};  // [link][side]
      uint32_t next_link = 0;
      uint64_t left = 0, done = 0;
      std::vector<sg::CommPtr> retired;
    } pair;
    pair.left = n;
    auto* z = sg::create_full_zone("pair");
    for (int l = 0; l < 2; ++l) {
      for (int side = 0; side < 2; ++side) pair.port[l][side] = z->create_host(fmt::format("port{}-{}", l, side), 1e9);
      for (int d = 0; d < 2; ++d) {
        auto* link = z->create_link(fmt::format("link{}-{}", l, d), 10e9 / 8)->set_latency(525e-6);
        link->set_concurrency_limit(1);
        z->add_route(pair.port[l][d]->get_netpoint(), pair.port[l][1 - d]->get_netpoint(), nullptr, nullptr,
                     {sg::LinkInRoute(link)}, false);
      }
    }
    z->seal();
    // The comm's data says which way it went: 1 a copy (to R2), 2 an acknowledgement.
    static int kCopy = 1, kAck = 2;
    auto send = [&pair](int* kind, uint32_t link, double bytes) {
      const int from = kind == &kCopy ? 0 : 1;
      sg::CommPtr c = sg::Comm::sendto_init(pair.port[link][from], pair.port[link][1 - from]);
      c->set_payload_size(bytes);
      c->set_data(kind);
      c->start();
      pair.retired.push_back(std::move(c));  // held until its callback ran
    };
    std::function<void()> next_write = [&] {
      if (pair.left == 0) return;
      --pair.left;
      kt::Timer::set(sg::Engine::get_clock() + 250e-6, [&] {
        send(&kCopy, pair.next_link, 8192 + kMessageHeaderBytes);
        pair.next_link = 1 - pair.next_link;
      });
    };
    sg::Activity::on_completion_cb([&](const sg::Activity& a) {
      const int* kind = a.get_data<int>();
      if (!kind) return;
      const double now = sg::Engine::get_clock();
      kt::Timer::set(now + 1e-3, [] {});  // this side's destage
      if (kind == &kCopy) {
        kt::Timer::set(now + 50e-6, [&] { send(&kAck, pair.next_link, kMessageHeaderBytes); });
      } else {
        ++pair.done;
        next_write();
      }
    });
    // Drop the comms whose callbacks ran, now and then (the driver does it at every event).
    std::function<void()> sweep = [&] {
      std::erase_if(pair.retired, [](const sg::CommPtr& c) { return c->get_state() == sg::Activity::State::FINISHED; });
      if (pair.left > 0) kt::Timer::set(sg::Engine::get_clock() + 1e-2, sweep);
    };
    sweep();
    for (int i = 0; i < 32; ++i) next_write();
    const auto t0 = std::chrono::steady_clock::now();
    e.run();
    return static_cast<double>(pair.done) / wall_s(t0);
  });
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // children are forked: nothing may sit in the buffer
  const uint64_t writes = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1'000'000;
  const std::string scenario_path = argc > 2 ? argv[2] : "scenarios/quickstart.toml";
  Scenario base = load_scenario_file(scenario_path);
  auto with_writes = [&](uint64_t n) {
    Scenario s = base;
    // 23,600 writes/s at depth 32 and 1.357 ms: the duration leaves room to issue them all.
    set_values(s, {{"workload.0.arrival", "closed", "bench"},
                   {"workload.0.queue_depth", "32", "bench"},
                   {"workload.0.write_fraction", "1.0", "bench"},
                   {"workload.0.requests", std::to_string(n), "bench"},
                   {"measurement.warmup_s", "0", "bench"},
                   {"measurement.timeseries_interval_s", "1", "bench"},
                   {"duration_s", fmt::format("{}", static_cast<double>(n) / 20000.0 + 1), "bench"}});
    return s;
  };
  fmt::print("sync quickstart (100 km, 10 Gbit/s), closed loop at queue depth 32\n");
  const Measured small = measure(with_writes(writes / 4));
  const Measured big = measure(with_writes(writes));
  const double sim_writes_per_s = static_cast<double>(big.result.host_writes) / big.wall_s;
  const double per_write = static_cast<double>(big.result.engine_activities) / static_cast<double>(big.result.host_writes);
  const double comms = baseline_per_s(true, 500'000);
  const double timers = baseline_per_s(false, 500'000);
  const double floor = floor_writes_per_s(writes);
  fmt::print("  {:>9} writes: {:6.2f} s wall, {:>9.0f} simulated writes/s, peak memory {:6.1f} MB\n",
             small.result.host_writes, small.wall_s, static_cast<double>(small.result.host_writes) / small.wall_s,
             small.max_rss_kb / 1024.0);
  fmt::print("  {:>9} writes: {:6.2f} s wall, {:>9.0f} simulated writes/s, peak memory {:6.1f} MB\n",
             big.result.host_writes, big.wall_s, sim_writes_per_s, big.max_rss_kb / 1024.0);
  fmt::print("  SimGrid activities per simulated write: {:.2f}\n", per_write);
  fmt::print("baseline, bare SimGrid 3.32 on this machine: {:.0f} comms/s, {:.0f} timer wake-ups/s\n", comms, timers);
  fmt::print("ratio: simulated writes/s = {:.3f} x bare comms/s = {:.3f} x bare timer wake-ups/s\n",
             sim_writes_per_s / comms, sim_writes_per_s / timers);
  fmt::print("floor, SimGrid alone with a write's comms and timers and no model: {:.0f} writes/s = {:.3f} x bare comms/s "
             "(the ratio's ceiling); the model, its observers and the driver take {:.0f} % of a simulated write\n",
             floor, floor / comms, 100.0 * (1.0 - sim_writes_per_s / floor));
  // The machine drifts 30-50 % from minute to minute: three short rounds,
  // each the simulator, bare comms and the floor back to back, and the
  // median of their ratios.
  std::vector<double> ratios, ceilings;
  for (int round = 1; round <= 3; ++round) {
    const Measured m = measure(with_writes(writes / 4));
    const double w = static_cast<double>(m.result.host_writes) / m.wall_s;
    const double c = baseline_per_s(true, 125'000);
    const double f = floor_writes_per_s(writes / 4);
    ratios.push_back(w / c);
    ceilings.push_back(f / c);
    fmt::print("round {}: {:.0f} simulated writes/s, {:.0f} bare comms/s, floor {:.0f} writes/s: ratio {:.3f}, ceiling {:.3f}\n",
               round, w, c, f, w / c, f / c);
  }
  std::sort(ratios.begin(), ratios.end());
  std::sort(ceilings.begin(), ceilings.end());
  fmt::print("median of the rounds: ratio {:.3f} x bare comms/s (ceiling {:.3f})\n", ratios[1], ceilings[1]);
  fmt::print("memory growth from {} to {} writes: {:+.1f} %\n", small.result.host_writes, big.result.host_writes,
             100.0 * (static_cast<double>(big.max_rss_kb) / static_cast<double>(small.max_rss_kb) - 1));
  fmt::print("invariant violations: {} and {}\n", small.result.invariant_violations, big.result.invariant_violations);
  return small.result.invariant_violations || big.result.invariant_violations ? 1 : 0;
}
