// mirrorsim real: one scenario on real devices — R1 and R2 as processes, TCP
// between them, backing files for disks — verified at the end; summary on
// stdout in the same shape as `mirrorsim run`.
#include <cerrno>
#include <csignal>
#include <fstream>
#include <iostream>

#include <boost/program_options.hpp>
#include <fmt/format.h>

#include "cli/command.hpp"
#include "cli/command_line.hpp"
#include "cli/scenario_args.hpp"
#include "real/auth.hpp"
#include "real/interrupt.hpp"
#include "real/real_run.hpp"

namespace mirrorsim::cli {
namespace {

namespace po = boost::program_options;

int real_main(int argc, char** argv) {
  po::options_description opts("mirrorsim real SCENARIO [options]");
  std::vector<std::string> sets;
  std::string out_path, timeseries_path, secondary, key_file, dir, disk_failure = "eio", state_dir = "/dev/shm";
  double jitter_us = 0, loss = 0, disk_latency_us = 0, drain_timeout_s = 0;
  Whole<uint64_t> disk_mib_max = 2048;
  MemoryFlag memory;
  opts.add_options()                                                                                    //
      ("help,h", "this help")                                                                            //
      ("set", po::value(&sets)->composing(), "override a scenario value: --set volume.db.tracks=4096")  //
      ("seed", po::value<std::string>(), "random seed (overrides the scenario's)")                         //
      ("out", po::value(&out_path), "write the results as self-describing JSON")                        //
      ("timeseries", po::value(&timeseries_path), "write the time series as CSV")                       //
      ("secondary", po::value(&secondary), "use the `mirrorsim secondary` at HOST:PORT as R2 (default: start one here)")  //
      ("key", po::value(&key_file), "the --secondary's key file (mode 0600; see `mirrorsim secondary --new-key`)")  //
      ("dir", po::value(&dir), "run directory (kept); default: a temporary one, removed afterwards")     //
      ("state-dir", po::value(&state_dir)->default_value(state_dir), "where the controllers' state files live")  //
      ("o-direct", "write the backing files with O_DIRECT (reads always are)")                         //
      ("page-cache-reads", "where the file system refuses O_DIRECT, read through the page cache instead of refusing")  //
      ("raw-link", "use the link as it is: no emulated distance delay or bandwidth limit")               //
      ("link-jitter-us", po::value(&jitter_us), "added one-way jitter, uniform in [0, this)")            //
      ("link-loss", po::value(&loss), "probability that a frame is lost; a loss breaks the connection")  //
      ("disk-failure", po::value(&disk_failure)->default_value(disk_failure),
       "what a failed disk answers writes with: eio | enospc")                                          //
      ("disk-latency-us", po::value(&disk_latency_us), "added latency of every disk I/O")                //
      ("drain-timeout-s", po::value(&drain_timeout_s),
       "after host I/O, how long the pair may take to drain (default 30; async: 30 + async.cycle_time_min_s)")  //
      ("disk-mib-max", po::value(&disk_mib_max)->default_value(disk_mib_max),
       "refuse runs that can write more backing file per controller (MiB)")                            //
      ("controller-logs", "show the controllers' log lines on stderr")                                  //
      ("quiet,q", "no progress on stderr");
  memory.add_to(opts);
  po::variables_map vm;
  if (const auto exit = parse_command_line(
          "real", argc, argv, opts, vm,
          "Runs SCENARIO on real devices: R1 and R2 as processes, TCP between them (the scenario's\n"
          "distance emulated as delay), backing files as disks, the failure schedule as real faults.\n"
          "Then verifies R2 == R1 block by block, every acknowledged write against what survives, and\n"
          "replays both controllers under the invariant observer. Response times are measured at R1.\n"
          "Exit code 0 when verified, 1 on any finding or failure, 2 on bad input.\n"))
    return *exit;
  real::RealOptions o;
  auto bad = [](const std::string& what) {
    fmt::print(stderr, "mirrorsim real: {}\n", what);
    return kExitBadInput;
  };
  if (!secondary.empty()) {
    std::string why;
    const auto e = real::parse_endpoint(secondary, &why);
    if (!e) return bad("--secondary " + why);
    o.secondary = *e;
  }
  if (!key_file.empty()) {
    if (secondary.empty()) return bad("--key is the key of a --secondary: the controllers started here get a fresh one");
    try {
      o.secondary_key = real::read_key_file(key_file);
    } catch (const real::KeyFileError& e) {
      return bad(e.what());
    }
  }
  if (disk_failure == "eio") o.disk_failure_errno = EIO;
  else if (disk_failure == "enospc") o.disk_failure_errno = ENOSPC;
  else return bad(fmt::format("--disk-failure '{}': expected eio or enospc", disk_failure));
  if (!(loss >= 0 && loss <= 1)) return bad(fmt::format("--link-loss {}: expected a probability in [0, 1]", loss));
  if (jitter_us < 0) return bad(fmt::format("--link-jitter-us {}: expected ≥ 0", jitter_us));
  if (disk_latency_us < 0) return bad(fmt::format("--disk-latency-us {}: expected ≥ 0", disk_latency_us));
  if (vm.count("drain-timeout-s") && !(drain_timeout_s > 0))
    return bad(fmt::format("--drain-timeout-s {}: expected > 0", drain_timeout_s));
  o.run_dir = dir;
  o.keep_run_dir = !dir.empty();
  o.state_dir = state_dir;
  o.o_direct = vm.count("o-direct") > 0;
  o.page_cache_reads = vm.count("page-cache-reads") > 0;
  o.emulate_link = vm.count("raw-link") == 0;
  o.link_jitter_us = jitter_us;
  o.link_loss = loss;
  o.disk_added_latency_us = disk_latency_us;
  if (vm.count("drain-timeout-s")) o.drain_timeout_s = drain_timeout_s;
  if (disk_mib_max.value == 0 || disk_mib_max.value > (UINT64_MAX >> 20))
    return bad(fmt::format("--disk-mib-max {}: expected 1 to {} MiB", disk_mib_max.value, UINT64_MAX >> 20));
  o.disk_bytes_max = disk_mib_max.value << 20;
  o.progress = vm.count("quiet") == 0;
  o.controller_logs = vm.count("controller-logs") > 0;
  o.stop_on_signals = true;

  Scenario scenario;
  try {
    std::optional<std::string> seed;
    if (vm.count("seed")) seed = vm["seed"].as<std::string>();
    scenario = load_scenario_with_overrides(vm["scenario"].as<std::string>(), sets, seed);
    real::check_real_support(scenario, o);
    check_resources(scenario, memory.limits(), Driver::Real);
  } catch (const ScenarioError& e) {
    fmt::print(stderr, "mirrorsim real: {}\n", e.what());
    return kExitBadInput;
  }
  std::signal(SIGPIPE, SIG_IGN);
  if (o.progress) fmt::print(stderr, "mirrorsim real {} (seed {})\n", scenario.source, scenario.seed);
  real::RealRun run;
  // A SIGINT or SIGTERM ends the run wherever it is (whatever that made
  // fail); the controllers are stopped and the run's files removed by then.
  auto interrupted = [] {
    const int sig = real::interrupted_signal();
    fmt::print(stderr, "\nmirrorsim real: interrupted by {}: controllers stopped, the run's files removed\n",
               sig == SIGINT ? "SIGINT" : "SIGTERM");
    return 128 + sig;
  };
  try {
    run = real::run_real(scenario, o);
  } catch (const ScenarioError& e) {
    if (real::interrupted_signal()) return interrupted();
    fmt::print(stderr, "mirrorsim real: {}\n", e.what());
    return kExitBadInput;
  } catch (const std::exception& e) {
    if (real::interrupted_signal()) return interrupted();
    fmt::print(stderr, "mirrorsim real: the run failed: {}\n", e.what());
    return kExitFailed;
  }
  if (real::interrupted_signal()) return interrupted();
  fmt::print("{}", summary_text(run.result));
  fmt::print("{}", real::cpu_text(run.cpu[0], run.cpu[1], scenario.duration_s - scenario.measurement.warmup_s));
  fmt::print("{}", real::machine_cpu_text(run));
  fmt::print("{}", real::verification_text(run.verification));
  bool written = true;
  if (!out_path.empty()) {
    nlohmann::json j = to_json(run.result);
    j["verification"] = real::to_json(run.verification);
    j["controller_cpu"] = {{"r1", real::to_json(run.cpu[0])}, {"r2", real::to_json(run.cpu[1])}};
    j["machine_cpu"] = real::machine_cpu_json(run);
    written &= write_text_file("real", out_path, json_text(j) + "\n");
  }
  if (!timeseries_path.empty()) written &= write_text_file("real", timeseries_path, timeseries_csv(run.result));
  if (run.result.invariant_violations) {
    fmt::print(stderr, "\n{}", run.result.violation_report);
    return kExitFailed;
  }
  if (run.result.drain_failed) {
    fmt::print(stderr, "mirrorsim real: {}\n", run.result.end_state);
    return kExitFailed;
  }
  return written ? kExitOk : kExitFailed;
}

const Registration registration{{"real", "run a scenario on real processes, TCP and files, and verify it", real_main}};

}  // namespace
}  // namespace mirrorsim::cli
