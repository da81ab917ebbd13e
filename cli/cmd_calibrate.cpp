// mirrorsim calibrate: this machine's disk and loopback link, printed as the
// scenario keys that describe them (for --set, or to paste into a file).
#include <iostream>

#include <boost/program_options.hpp>
#include <fmt/format.h>

#include "cli/command.hpp"
#include "cli/command_line.hpp"
#include "real/calibrate.hpp"

namespace mirrorsim::cli {
namespace {

namespace po = boost::program_options;

int calibrate_main(int argc, char** argv) {
  po::options_description opts("mirrorsim calibrate [options]");
  std::string dir = "/tmp";
  Whole<uint32_t> ops = 300;
  opts.add_options()                                                                          //
      ("help,h", "this help")                                                                  //
      ("dir", po::value(&dir)->default_value(dir), "directory on the file system to measure")  //
      ("ops", po::value(&ops)->default_value(ops), "measurements per size (disk writes, round trips)");
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
    std::cout << opts << "\nMeasures pwrite + fdatasync on a file in DIR and request/response over loopback TCP,\n"
                         "and prints the scenario keys that describe them (the model: a disk I/O takes\n"
                         "latency + bytes / bandwidth; a message takes overhead + bytes / bandwidth one way).\n";
    return kExitOk;
  }
  if (ops.value < 10 || ops.value > 1'000'000) {
    fmt::print(stderr, "mirrorsim calibrate: --ops {}: expected 10 to 1000000\n", ops.value);
    return kExitBadInput;
  }
  try {
    const real::DiskCalibration d = real::calibrate_disk(dir, static_cast<int>(ops.value));
    const real::LinkCalibration l = real::calibrate_link(static_cast<int>(ops.value) * 10);
    fmt::print("# mirrorsim calibrate: {} on this machine\n", dir);
    fmt::print("# disk  pwrite + fdatasync  {} B: p50 {:.1f} us, p99 {:.1f} us;  {} B: p50 {:.1f} us, p99 {:.1f} us\n",
               d.small_bytes, d.small.p50_us, d.small.p99_us, d.large_bytes, d.large.p50_us, d.large.p99_us);
    fmt::print("# link  loopback round trip  {} B: p50 {:.1f} us, p99 {:.1f} us;  {} B: p50 {:.1f} us, p99 {:.1f} us;"
               "  bulk {:.1f} Gbit/s\n",
               l.small_bytes, l.small_rtt.p50_us, l.small_rtt.p99_us, l.large_bytes, l.large_rtt.p50_us,
               l.large_rtt.p99_us, l.bulk_gbit_per_s);
    fmt::print("primary.disk_write_us={:.1f}\n", d.latency_us);
    fmt::print("primary.disk_bandwidth_mb_per_s={:.0f}\n", d.bandwidth_mb_per_s);
    fmt::print("secondary.disk_write_us={:.1f}\n", d.latency_us);
    fmt::print("secondary.disk_bandwidth_mb_per_s={:.0f}\n", d.bandwidth_mb_per_s);
    fmt::print("link.distance_km=0\n");
    fmt::print("link.overhead_us={:.2f}\n", l.overhead_us);
    fmt::print("link.bandwidth_gbit_per_s={:.2f}\n", l.bandwidth_gbit_per_s);
  } catch (const std::exception& e) {
    fmt::print(stderr, "mirrorsim calibrate: {}\n", e.what());
    return kExitFailed;
  }
  return kExitOk;
}

const Registration registration{{"calibrate", "measure this machine's disk and loopback link as scenario keys",
                                  calibrate_main}};

}  // namespace
}  // namespace mirrorsim::cli
