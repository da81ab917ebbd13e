// The real mode's devices as the model needs them: volumes of any size on
// sparse backing files (only what a run writes takes space), disk reads
// that are the device's.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <filesystem>

#include "helpers.hpp"
#include "real/clock.hpp"

using namespace mirrorsim;
using namespace mirrorsim::real;
using namespace mirrorsim::real::test;

namespace {

namespace fs = std::filesystem;

// The quickstart's volume (100,000 tracks of 64 KiB: 6.5 GB per side),
// one second of host I/O at a modest rate.
std::string large_volume_toml(double rate_iops = 1000) {
  return fmt::format(R"(
seed = 5
duration_s = 1

[primary]
cache_slots = 65536
track_bytes = 65536
disks = 4

[link]
distance_km = 0
links = 1
failure_detection_ms = 200

[[volume]]
name = "db"
tracks = 100000
mode = "sync"

[[workload]]
volume = "db"
arrival = "poisson"
rate_iops = {}
write_fraction = 0.7
block_bytes = 8192
addresses = "zipf"
zipf_theta = 0.9

[measurement]
warmup_s = 0.1
)",
                     rate_iops);
}

struct TempDir {
  fs::path path;
  TempDir() {
    std::string t = (fs::temp_directory_path() / "mirrorsim-devices-XXXXXX").string();
    path = ::mkdtemp(t.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

}  // namespace

TEST_CASE("a volume of 100000 tracks of 64 KiB runs as written: sparse backing files, quick start, verified") {
  const Scenario s = parse_scenario(large_volume_toml(), "large.toml");
  TempDir dir;
  RealOptions o = quiet_options();
  o.run_dir = dir.path.string();  // kept: the backing files are looked at below
  const Time started = monotonic_now();
  const RealRun r = run_real(s, o);
  const double took_s = (monotonic_now() - started).s();
  INFO(r.result.violation_report);
  INFO(verification_text(r.verification));
  REQUIRE(r.result.invariant_violations == 0);
  REQUIRE(r.verification.ok());
  REQUIRE(r.verification.disks_compared);
  // Every track is accounted for: the written ones read and compared, the
  // rest holes that the model too says hold version 0.
  CHECK(r.verification.tracks_compared + r.verification.tracks_unwritten == 100000);
  CHECK(r.verification.tracks_compared > 100);
  CHECK(r.verification.tracks_unwritten > 90000);
  CHECK(r.result.volumes.at(0).writes.completed > 300);
  // A second of host I/O; the start and the verification take seconds, not minutes.
  CHECK(took_s < 30);

  uint64_t apparent = 0, allocated = 0;
  for (const char* side : {"r1", "r2"})
    for (int d = 0; d < 4; ++d) {
      struct stat st{};
      const fs::path f = dir.path / side / fmt::format("disk{}.img", d);
      REQUIRE(::stat(f.c_str(), &st) == 0);
      apparent += static_cast<uint64_t>(st.st_size);
      allocated += static_cast<uint64_t>(st.st_blocks) * 512;
    }
  CHECK(apparent == 2ull * 100000 * 65536);
  // What the run wrote: at most ~1,000 writes of 8 KiB per side.
  INFO("allocated " << allocated << " of " << apparent);
  CHECK(allocated < apparent / 100);
  CHECK(allocated > 0);
}

TEST_CASE("the backing-file limit counts what the workloads can write, not the volume") {
  const Scenario s = parse_scenario(large_volume_toml(), "large.toml");
  RealOptions o = quiet_options();
  o.disk_bytes_max = 64ull << 20;  // 1 s at 1,000 IOPS writes at most ~12 MiB: accepted
  CHECK_NOTHROW(check_real_support(s, o));
  const Scenario busy = parse_scenario(large_volume_toml(20000), "busy.toml");  // ~14,000 writes: ~110 MiB
  try {
    check_real_support(busy, o);
    FAIL("accepted ~110 MiB of writes with a 64 MiB limit");
  } catch (const ScenarioError& e) {
    CHECK_THAT(e.what(), Catch::Contains("--disk-mib-max") && Catch::Contains("can write"));
  }
}
