// mirrorsim calibrate: this machine's disk, loopback link, processors and
// controller CPU per operation, printed as the scenario keys that describe
// the disk and link (for --set), and with --out all of it as a calibration
// file of scenario keys.
#include <unistd.h>

#include <csignal>
#include <ctime>
#include <iostream>

#include <boost/program_options.hpp>
#include <fmt/format.h>

#include "cli/command.hpp"
#include "cli/command_line.hpp"
#include "real/calibrate.hpp"

namespace mirrorsim::cli {
namespace {

namespace po = boost::program_options;

std::string now_utc() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "this machine";
  return buf;
}

int calibrate_main(int argc, char** argv) {
  po::options_description opts("mirrorsim calibrate [options]");
  std::string dir = "/tmp";
  std::string out_path;
  Whole<uint32_t> ops = 300;
  double probe_iops = 1000, probe_s = 2;
  opts.add_options()                                                                          //
      ("help,h", "this help")                                                                  //
      ("dir", po::value(&dir)->default_value(dir), "directory on the file system to measure")  //
      ("ops", po::value(&ops)->default_value(ops), "measurements per size (disk writes, disk reads, round trips ×10)")  //
      ("out", po::value(&out_path), "write every measurement as scenario keys (TOML, empirical distributions)")  //
      ("probe-iops", po::value(&probe_iops)->default_value(probe_iops), "host rate of the CPU probe run")  //
      ("probe-s", po::value(&probe_s)->default_value(probe_s), "length of the CPU probe run (s)")          //
      ("no-probe", "skip the CPU probe run (its keys are then left out of --out)");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(opts).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    fmt::print(stderr, "mirrorsim calibrate: {}\n\n", e.what());
    std::cerr << opts;
    return kExitBadInput;
  }
  if (vm.count("help")) {
    std::cout << opts << "\nMeasures pwrite + fdatasync and O_DIRECT preads on a file in DIR, request/response over\n"
                         "loopback TCP, the processors available, and (a short probe run of the real pair) the CPU a\n"
                         "controller spends per operation kind; prints the scenario keys that describe the disk and\n"
                         "link (the model: a disk I/O takes latency + bytes / bandwidth; a message takes overhead +\n"
                         "bytes / bandwidth one way) and, with --out, writes all of it as scenario keys in TOML for\n"
                         "`mirrorsim run SCENARIO --calibration FILE`.\n";
    return kExitOk;
  }
  if (ops.value < 10 || ops.value > 1'000'000) {
    fmt::print(stderr, "mirrorsim calibrate: --ops {}: expected 10 to 1000000\n", ops.value);
    return kExitBadInput;
  }
  if (!(probe_iops >= 10 && probe_iops <= 1e6)) {
    fmt::print(stderr, "mirrorsim calibrate: --probe-iops {}: expected 10 to 1000000\n", probe_iops);
    return kExitBadInput;
  }
  if (!(probe_s >= 0.5 && probe_s <= 600)) {
    fmt::print(stderr, "mirrorsim calibrate: --probe-s {}: expected 0.5 to 600\n", probe_s);
    return kExitBadInput;
  }
  std::signal(SIGPIPE, SIG_IGN);
  try {
    real::Calibration c;
    c.host = host_name();
    c.date = now_utc();
    c.dir = dir;
    c.disk = real::calibrate_disk(dir, static_cast<int>(ops.value));
    c.link = real::calibrate_link(static_cast<int>(ops.value) * 10);
    c.processors = real::processors_available();
    if (!vm.count("no-probe")) {
      real::CpuProbeOptions p;
      p.rate_iops = probe_iops;
      p.duration_s = probe_s;
      p.real.temp_parent = dir;
      c.cpu = real::calibrate_cpu(p);
    }
    fmt::print("{}", real::calibration_text(c));
    if (!out_path.empty() && !write_text_file("calibrate", out_path, real::calibration_toml(c))) return kExitFailed;
  } catch (const std::exception& e) {
    fmt::print(stderr, "mirrorsim calibrate: {}\n", e.what());
    return kExitFailed;
  }
  return kExitOk;
}

const Registration registration{{"calibrate", "measure this machine's disk, link, processors and controller CPU as scenario keys",
                                  calibrate_main}};

}  // namespace
}  // namespace mirrorsim::cli
