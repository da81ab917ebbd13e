// The real mode's devices as the model needs them: volumes of any size on
// sparse backing files (only what a run writes takes space), disk reads
// that are the device's.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "helpers.hpp"
#include "real/clock.hpp"
#include "real/disk.hpp"
#include "real/track_image.hpp"

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

TEST_CASE("a disk read is the device's: O_DIRECT, the page cache neither serves it nor keeps it") {
  // One volume of tracks of 12 KiB, so tracks straddle 4 KiB blocks and the
  // reads take their enclosing blocks.
  ControllerConfig c;
  c.track_bytes = 12 * 1024 + 512;
  c.disks = 1;
  c.volumes.push_back(VolumeConfig{});
  c.volumes.back().tracks = 64;
  const Geometry g = Geometry::of(c);
  TempDir dir;
  DiskOptions o;
  o.seed = 9;
  DiskSet disks(g, dir.path.string(), o, [] {});
  disks.format();
  REQUIRE(disks.direct_reads());
  disks.start();
  auto wait_one = [&] {
    const Time deadline = monotonic_now() + Time::from_s(10);
    for (;;) {
      auto done = disks.take_completions();
      if (!done.empty()) {
        REQUIRE(done.size() == 1);
        return std::move(done.front());
      }
      REQUIRE(monotonic_now() < deadline);
      ::usleep(1000);
    }
  };
  const TrackKey k{0, 37};
  AlignedBuffer image(g.track_bytes);
  write_image(image.span(), k, 5, g.track_bytes, 9);
  const Time submitted = monotonic_now();
  disks.submit_write(0, k, 5, image.span(), g.track_bytes, 1);
  const DiskCompletion w = wait_one();
  REQUIRE(w.ok);
  // The worker's CPU for the write (its thread's clock around pwrite +
  // fdatasync): some, and no more than the write took.
  CHECK(w.cpu_ns > 0);
  CHECK(w.cpu_ns <= (monotonic_now() - submitted).ns);
  // Out of the page cache, then read back by the disk worker.
  const std::string path = (dir.path / "disk0.img").string();
  const int fd = ::open(path.c_str(), O_RDONLY);
  REQUIRE(fd >= 0);
  REQUIRE(::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0);
  disks.submit_read(0, k);
  const Time read_submitted = monotonic_now();
  DiskCompletion r = wait_one();
  REQUIRE(r.ok);
  CHECK(r.version == 5);
  CHECK(r.cpu_ns > 0);
  CHECK(r.cpu_ns <= (monotonic_now() - read_submitted).ns);
  CHECK(std::memcmp(r.data.data(), image.data(), g.track_bytes) == 0);
  // A buffered read would have left the track's pages resident.
  struct stat st{};
  REQUIRE(::fstat(fd, &st) == 0);
  void* map = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_SHARED, fd, 0);
  REQUIRE(map != MAP_FAILED);
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> resident((static_cast<size_t>(st.st_size) + page - 1) / page);
  REQUIRE(::mincore(map, static_cast<size_t>(st.st_size), resident.data()) == 0);
  size_t cached = 0;
  for (unsigned char b : resident) cached += b & 1;
  CHECK(cached == 0);
  ::munmap(map, static_cast<size_t>(st.st_size));
  ::close(fd);
  // A track never written reads as version 0, generated.
  disks.submit_read(0, TrackKey{0, 63});
  r = wait_one();
  REQUIRE(r.ok);
  CHECK(r.version == 0);
  CHECK(check_image(std::span<const uint8_t>(r.data.data(), g.track_bytes), nullptr) == ImageCheck::Ok);
}

TEST_CASE("each controller's CPU per operation kind: measured per step, attributed to its pool, logged and replayed") {
  const RealRun r = run_real(small_scenario(Small{.duration_s = 1.2, .rate_iops = 1500}), quiet_options());
  INFO(r.result.violation_report);
  REQUIRE(r.verification.ok());
  const CpuStats& r1 = r.cpu[0];
  const CpuStats& r2 = r.cpu[1];
  const uint64_t writes = r.result.volumes.at(0).writes.completed;
  const uint64_t reads = r.result.volumes.at(0).reads.completed;
  INFO(cpu_text(r1, r2, 1.1));
  // One operation per host request at R1's front end (the window is the
  // steps' time there, the hosts' send time in the result: nearly the same).
  CHECK(r1.of(CpuKind::Write).operations == Approx(writes).epsilon(0.05));
  CHECK(r1.of(CpuKind::Read).operations == Approx(reads).epsilon(0.1));
  CHECK(r2.pool_operations(Pool::FrontEnd) == 0);  // R2 serves no host
  // Every copy R1 sends (sync: one per write) R2 receives; R1 receives as
  // many acknowledgements — while the link holds (a busy machine can starve
  // a heartbeat past the detection time: the pair suspends, and owed copies
  // go later, by the resync).
  CHECK(r1.of(CpuKind::CopySend).operations > 0);
  CHECK(r2.of(CpuKind::CopyReceive).operations > 0);
  if (r.verification.link_connections == 1) {
    CHECK(r1.of(CpuKind::CopySend).operations == Approx(writes).epsilon(0.05));
    CHECK(r2.of(CpuKind::CopyReceive).operations == Approx(r1.of(CpuKind::CopySend).operations).epsilon(0.05));
    CHECK(r1.of(CpuKind::AckReceive).operations == Approx(r1.of(CpuKind::CopySend).operations).epsilon(0.05));
  }
  CHECK(r1.of(CpuKind::Destage).operations > 0);
  CHECK(r2.of(CpuKind::Destage).operations > 0);
  for (const CpuStats* s : {&r1, &r2})
    for (size_t k = 0; k < kCpuKinds; ++k) {
      const CpuKindStats& ks = s->of(static_cast<CpuKind>(k));
      CHECK(ks.sample_us.size() == std::min<uint64_t>(ks.operations, CpuStats::kReservoir));
      double sum_us = 0;
      size_t out_of_range = 0;  // a step costs microseconds, not a tenth of a second
      for (double us : ks.sample_us) {
        out_of_range += us < 0 || us >= 1e5;
        sum_us += us;
      }
      CHECK(out_of_range == 0);
      // Each operation's CPU is counted once: the sample is all of them here.
      if (ks.operations <= CpuStats::kReservoir) CHECK(sum_us == Approx(ks.cpu_s * 1e6).epsilon(1e-6));
    }
  // A write costs the front end something, and the pools' CPU (the event
  // loop's, and the back end's disk workers' for each I/O) is not more than
  // the run was long.
  CHECK(r1.of(CpuKind::Write).cpu_s > 0);
  CHECK(r1.pool_cpu_s(Pool::FrontEnd) + r1.pool_cpu_s(Pool::RemoteAdapter) + r1.pool_cpu_s(Pool::BackEnd) < 1.1);
  // The run's processor-pool results, as the simulator's: one processor per
  // pool, busy for the CPU measured in the window.
  REQUIRE(r.result.processor_pools.size() == 6);
  for (size_t i = 0; i < 6; ++i) {
    const ProcessorPoolResult& p = r.result.processor_pools[i];
    const CpuStats& s = i < 3 ? r1 : r2;
    const auto pool = static_cast<Pool>(i % 3);
    INFO(p.controller << " " << p.pool);
    CHECK(p.pool == to_string(pool));
    CHECK(p.processors == 1);
    CHECK(p.busy_s == Approx(s.pool_cpu_s(pool)).epsilon(0.05).margin(1e-4));
    CHECK(p.utilisation_mean == Approx(p.busy_s / 1.1).epsilon(0.02).margin(1e-5));
  }
  CHECK(r.result.processor_pools[0].utilisation_mean > 0);
}
