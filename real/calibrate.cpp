#include "real/calibrate.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/prctl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

#include "real/clock.hpp"
#include "real/disk.hpp"
#include "real/event_loop.hpp"
#include "service/service_time.hpp"
#include "real/net.hpp"

namespace mirrorsim::real {
namespace {

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error(what + ": " + std::strerror(errno)); }

bool send_all(int fd, const uint8_t* p, size_t n) {
  while (n) {
    const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

bool recv_all(int fd, uint8_t* p, size_t n) {
  while (n) {
    const ssize_t r = ::recv(fd, p, n, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

// A connected loopback pair with the link's socket options; blocking.
std::pair<int, int> loopback_pair() {
  Endpoint bound;
  const int lfd = listen_on(Endpoint{"127.0.0.1", 0}, &bound);
  const int flags = ::fcntl(lfd, F_GETFL);
  ::fcntl(lfd, F_SETFL, flags & ~O_NONBLOCK);
  std::string why;
  const int c = connect_blocking(bound, 2000, &why);
  if (c < 0) throw std::runtime_error(why);
  const int s = ::accept(lfd, nullptr, nullptr);
  ::close(lfd);
  if (s < 0) fail("accept");
  for (int fd : {c, s}) {
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    set_link_options(fd, 10'000);
  }
  return {c, s};
}

}  // namespace

Quantiles quantiles_of(std::vector<double> us) {
  Quantiles q;
  if (us.empty()) return q;
  std::sort(us.begin(), us.end());
  auto at = [&](double p) { return us[std::min(us.size() - 1, static_cast<size_t>(p * static_cast<double>(us.size())))]; };
  q.p50_us = at(0.5);
  q.p99_us = at(0.99);
  q.mean_us = std::accumulate(us.begin(), us.end(), 0.0) / static_cast<double>(us.size());
  return q;
}

DiskCalibration calibrate_disk(const std::string& dir, int ops) {
  DiskCalibration d;
  const std::string path = dir + "/mirrorsim-calibrate.tmp";
  const uint64_t file_bytes = 64ull << 20;
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) fail("cannot create " + path);
  // Reads are measured as the disk workers read: O_DIRECT, bypassing the page cache.
  const int rfd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_DIRECT);
  const int rfd_errno = errno;
  ::unlink(path.c_str());  // gone when closed, whatever happens
  if (rfd < 0) {
    ::close(fd);
    errno = rfd_errno;
    fail("cannot open " + path + " with O_DIRECT (disk reads are measured bypassing the page cache)");
  }
  AlignedBuffer buf(d.large_bytes);
  std::memset(buf.data(), 0x5a, buf.size());
  // Pre-written, as the backing files are: the first write into unallocated
  // space is slower and would not measure the steady state.
  for (uint64_t off = 0; off < file_bytes; off += buf.size())
    if (::pwrite(fd, buf.data(), buf.size(), static_cast<off_t>(off)) != static_cast<ssize_t>(buf.size())) fail("pwrite " + path);
  ::fdatasync(fd);
  std::mt19937_64 rng(1);
  // Each I/O's wall time, and the calling thread's CPU over it: the
  // device's time is the difference (see DiskCalibration).
  auto measure = [&](uint32_t bytes, std::vector<double>* device, std::vector<double>* cpu) {
    std::vector<double> us;
    const uint64_t slots = file_bytes / bytes;
    for (int i = 0; i < ops; ++i) {
      const uint64_t off = (rng() % slots) * bytes;
      const int64_t c = thread_cpu_ns();
      const Time t = monotonic_now();
      if (::pwrite(fd, buf.data(), bytes, static_cast<off_t>(off)) != static_cast<ssize_t>(bytes)) fail("pwrite " + path);
      if (::fdatasync(fd) != 0) fail("fdatasync " + path);
      us.push_back((monotonic_now() - t).us());
      const double cpu_us = static_cast<double>(thread_cpu_ns() - c) / 1e3;
      cpu->push_back(cpu_us);
      device->push_back(std::max(0.0, us.back() - cpu_us));
    }
    return quantiles_of(us);
  };
  std::vector<double> small_us, small_cpu_us, large_us, large_cpu_us;
  d.small = measure(d.small_bytes, &small_us, &small_cpu_us);
  d.large = measure(d.large_bytes, &large_us, &large_cpu_us);
  d.write_cpu = quantiles_of(small_cpu_us);
  d.small_device = quantiles_of(small_us);
  d.large_device = quantiles_of(large_us);
  // Sparse files whose holes the first writes fill, a track apart, in
  // random order (see DiskCalibration); unlinked at once, gone when closed.
  auto sparse_files = [&](uint32_t n) {
    std::vector<int> fds;
    for (uint32_t w = 0; w < n; ++w) {
      const std::string sparse_path = fmt::format("{}/mirrorsim-calibrate-sparse-{}.tmp", dir, w);
      const int sfd = ::open(sparse_path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      if (sfd < 0) {
        for (int f : fds) ::close(f);
        fail("cannot create " + sparse_path);
      }
      ::unlink(sparse_path.c_str());
      fds.push_back(sfd);
    }
    return fds;
  };
  auto first_write = [&](int wfd, uint64_t hole) {
    errno = 0;  // a short write sets none: EIO then
    if (::pwrite(wfd, buf.data(), d.first_write_bytes, static_cast<off_t>(hole * d.first_write_bytes)) !=
            static_cast<ssize_t>(d.first_write_bytes) ||
        ::fdatasync(wfd) != 0)
      return errno ? errno : EIO;
    return 0;
  };
  // First writes by one writer alone, after idle gaps: the device's time.
  std::vector<double> first_us;
  {
    const auto fds = sparse_files(1);
    const int n = std::max(1, 5 * ops);
    std::vector<uint64_t> holes(static_cast<size_t>(n));
    std::iota(holes.begin(), holes.end(), uint64_t{0});
    std::shuffle(holes.begin(), holes.end(), rng);
    std::exponential_distribution<double> gap(1.0 / d.first_write_gap_mean_us);
    std::vector<double> first_cpu_us;
    for (uint64_t h : holes) {
      const Time until = monotonic_now() + Time::from_us(gap(rng));
      const timespec ts{static_cast<time_t>(until.ns / 1'000'000'000), static_cast<long>(until.ns % 1'000'000'000)};
      ::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
      const int64_t c = thread_cpu_ns();
      const Time t = monotonic_now();
      if (const int e = first_write(fds[0], h)) {
        ::close(fds[0]);
        fail(fmt::format("pwrite + fdatasync into a sparse file in {}: {}", dir, std::strerror(e)));
      }
      const double wall_us = (monotonic_now() - t).us();
      const double cpu_us = static_cast<double>(thread_cpu_ns() - c) / 1e3;
      first_cpu_us.push_back(cpu_us);
      first_us.push_back(std::max(0.0, wall_us - cpu_us));  // the device's time
    }
    ::close(fds[0]);
    d.first_write = quantiles_of(first_us);
    d.first_write_cpu = quantiles_of(first_cpu_us);
  }
  // The device's concurrency: first writes back to back, one writer, then
  // device_probe_writers at once, each for device_probe_s.
  auto back_to_back_per_s = [&](uint32_t writers) {
    const auto fds = sparse_files(writers);
    std::vector<uint64_t> done(writers, 0);
    std::vector<int> failed(writers, 0);
    const Time start = monotonic_now();
    const Time end = start + Time::from_s(d.device_probe_s);
    std::vector<std::thread> threads;
    for (uint32_t w = 0; w < writers; ++w)
      threads.emplace_back([&, w] {
        for (uint64_t h = 0; monotonic_now() < end; ++h) {
          // Holes in a scattered order (a permutation of 100,000 tracks), as a run's destages land.
          if ((failed[w] = first_write(fds[w], (h * 2654435761u) % 100000u)) != 0) return;
          ++done[w];
        }
      });
    for (auto& t : threads) t.join();
    const double elapsed_s = (monotonic_now() - start).s();
    for (int f : fds) ::close(f);
    uint64_t total = 0;
    for (uint32_t w = 0; w < writers; ++w) {
      if (failed[w]) fail(fmt::format("pwrite + fdatasync into a sparse file in {}: {}", dir, std::strerror(failed[w])));
      total += done[w];
    }
    return static_cast<double>(total) / elapsed_s;
  };
  d.device_one_writer_per_s = back_to_back_per_s(1);
  d.device_many_writers_per_s = back_to_back_per_s(d.device_probe_writers);
  d.device_servers = static_cast<uint32_t>(std::clamp(
      std::lround(d.device_many_writers_per_s / std::max(1e-9, d.device_one_writer_per_s)), 1L,
      static_cast<long>(d.device_probe_writers)));
  // Reads: at random offsets of the same (written, synced) file.
  auto measure_reads = [&](uint32_t bytes, std::vector<double>* device, std::vector<double>* cpu) {
    std::vector<double> us;
    const uint64_t slots = file_bytes / bytes;
    for (int i = 0; i < ops; ++i) {
      const uint64_t off = (rng() % slots) * bytes;
      const int64_t c = thread_cpu_ns();
      const Time t = monotonic_now();
      if (::pread(rfd, buf.data(), bytes, static_cast<off_t>(off)) != static_cast<ssize_t>(bytes))
        fail("O_DIRECT pread of " + path);
      us.push_back((monotonic_now() - t).us());
      const double cpu_us = static_cast<double>(thread_cpu_ns() - c) / 1e3;
      cpu->push_back(cpu_us);
      device->push_back(std::max(0.0, us.back() - cpu_us));
    }
    return quantiles_of(us);
  };
  // Reads of holes: a sparse file as large as a quickstart volume's disk,
  // nothing written to it, read at random track offsets.
  std::vector<double> unwritten_us;
  {
    const std::string hole_path = dir + "/mirrorsim-calibrate-holes.tmp";
    const int hfd = ::open(hole_path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (hfd < 0) fail("cannot create " + hole_path);
    const uint64_t tracks = 100000;
    const int hrfd = ::ftruncate(hfd, static_cast<off_t>(tracks * d.first_write_bytes)) == 0
                         ? ::open(hole_path.c_str(), O_RDONLY | O_CLOEXEC | O_DIRECT)
                         : -1;
    ::unlink(hole_path.c_str());
    ::close(hfd);
    if (hrfd < 0) fail("cannot make a sparse file " + hole_path + " to read with O_DIRECT");
    for (int i = 0; i < ops; ++i) {
      const uint64_t off = (rng() % tracks) * d.first_write_bytes;
      const int64_t c = thread_cpu_ns();
      const Time t = monotonic_now();
      if (::pread(hrfd, buf.data(), d.first_write_bytes, static_cast<off_t>(off)) != static_cast<ssize_t>(d.first_write_bytes)) {
        ::close(hrfd);
        fail("O_DIRECT pread of a hole in " + hole_path);
      }
      const double wall_us = (monotonic_now() - t).us();
      unwritten_us.push_back(std::max(0.0, wall_us - static_cast<double>(thread_cpu_ns() - c) / 1e3));
    }
    ::close(hrfd);
    d.unwritten_read = quantiles_of(unwritten_us);
  }
  std::vector<double> read_small_us, read_small_cpu_us, read_large_us, read_large_cpu_us;
  d.read_small = measure_reads(d.small_bytes, &read_small_us, &read_small_cpu_us);
  d.read_large = measure_reads(d.large_bytes, &read_large_us, &read_large_cpu_us);
  d.read_cpu = quantiles_of(read_small_cpu_us);
  const Quantiles read_small_device = quantiles_of(read_small_us);
  const Quantiles read_large_device = quantiles_of(read_large_us);
  ::close(rfd);
  ::close(fd);
  // The slope between the sizes' medians; where the large I/O's median is
  // not above the small one's (a device whose fixed part hides the size, a
  // noisy machine), no slope can be fitted: the bandwidth is then the large
  // I/O's bytes over its whole median, a lower bound, and said so.
  auto slope = [&](const Quantiles& small, const Quantiles& large, bool* fitted) {
    const double s = (large.p50_us - small.p50_us) / static_cast<double>(d.large_bytes - d.small_bytes);
    *fitted = s > 0;
    return s > 0 ? s : std::max(1e-6, large.p50_us / d.large_bytes);
  };
  // All of it on the device's times: the CPU is the processors' (see DiskCalibration).
  const double slope_us_per_byte = slope(d.small_device, d.large_device, &d.bandwidth_fitted);
  d.bandwidth_mb_per_s = 1.0 / slope_us_per_byte;  // bytes per µs = MB/s
  d.latency_us = std::max(0.0, d.small_device.p50_us - d.small_bytes * slope_us_per_byte);
  bool read_fitted = false;
  const double read_slope_us_per_byte = slope(read_small_device, read_large_device, &read_fitted);
  d.read_bandwidth_mb_per_s = 1.0 / read_slope_us_per_byte;
  d.read_latency_us = std::max(0.0, read_small_device.p50_us - d.small_bytes * slope_us_per_byte);
  // The fixed parts: what the model adds bytes / bandwidth to (one
  // bandwidth key for both: the writes', which the destages are).
  for (double us : small_us) d.write_fixed_us.push_back(std::max(0.0, us - d.small_bytes * slope_us_per_byte));
  for (double us : first_us) d.first_write_fixed_us.push_back(std::max(0.0, us - d.first_write_bytes * slope_us_per_byte));
  for (double us : unwritten_us)
    d.unwritten_read_fixed_us.push_back(std::max(0.0, us - d.first_write_bytes * slope_us_per_byte));
  for (double us : read_small_us) d.read_fixed_us.push_back(std::max(0.0, us - d.small_bytes * slope_us_per_byte));
  return d;
}

std::vector<double> loopback_round_trips_us(uint32_t payload_bytes, int round_trips, double gap_mean_us) {
  auto [c, s] = loopback_pair();
  const uint32_t answer_bytes = 64;
  std::thread echo([s = s, payload_bytes, answer_bytes, round_trips] {
    std::vector<uint8_t> in(payload_bytes), out(answer_bytes, 1);
    for (int i = 0; i < round_trips + 10; ++i) {
      if (!recv_all(s, in.data(), in.size()) || !send_all(s, out.data(), out.size())) break;
    }
  });
  std::vector<uint8_t> out(payload_bytes, 2), in(answer_bytes);
  std::vector<double> us;
  std::mt19937_64 rng(7);
  for (int i = 0; i < round_trips + 10; ++i) {
    if (gap_mean_us > 0) {
      const double gap_us = std::exponential_distribution<double>(1.0 / gap_mean_us)(rng);
      const Time until = monotonic_now() + Time::from_us(gap_us);
      const timespec ts{static_cast<time_t>(until.ns / 1'000'000'000), static_cast<long>(until.ns % 1'000'000'000)};
      ::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
    }
    const Time t = monotonic_now();
    if (!send_all(c, out.data(), out.size()) || !recv_all(c, in.data(), in.size())) break;
    if (i >= 10) us.push_back((monotonic_now() - t).us());  // the first ones warm the path up
  }
  ::close(c);
  echo.join();
  ::close(s);
  return us;
}

constexpr double kOverheadGapMeanUs = 1000;

LinkCalibration calibrate_link(int round_trips) {
  LinkCalibration l;
  l.small_rtt = quantiles_of(loopback_round_trips_us(l.small_bytes, round_trips));
  // The overhead's samples from round trips apart as open arrivals are
  // (exponential gaps, 1 ms mean): on a VM an idle vCPU is slow to wake,
  // and every message of a run at a host's rate finds its receiver idle.
  for (double us : loopback_round_trips_us(l.small_bytes, round_trips, kOverheadGapMeanUs))
    l.overhead_samples_us.push_back(us / 2);
  l.large_rtt = quantiles_of(loopback_round_trips_us(l.large_bytes, round_trips));
  l.overhead_us = std::max(0.0, l.small_rtt.p50_us / 2);
  l.bulk_gbit_per_s = loopback_bulk_bytes_per_s(512ull << 20) * 8 / 1e9;
  // Where the large round trip's median is not above the small one's, no
  // slope can be fitted: the bulk throughput stands in, and is said so.
  const double slope_us_per_byte =
      (l.large_rtt.p50_us - l.small_rtt.p50_us) / static_cast<double>(l.large_bytes - l.small_bytes);
  l.bandwidth_fitted = slope_us_per_byte > 0;
  l.bandwidth_gbit_per_s = l.bandwidth_fitted ? 8.0 / slope_us_per_byte / 1e3 : l.bulk_gbit_per_s;
  return l;
}

double disk_stream_bytes_per_s(const std::string& dir, uint32_t block_bytes, uint64_t total_bytes) {
  const std::string path = dir + "/mirrorsim-stream.tmp";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) fail("cannot create " + path);
  ::unlink(path.c_str());
  AlignedBuffer buf(block_bytes);
  std::memset(buf.data(), 0x3c, buf.size());
  for (uint64_t off = 0; off < total_bytes; off += block_bytes)
    if (::pwrite(fd, buf.data(), block_bytes, static_cast<off_t>(off)) != static_cast<ssize_t>(block_bytes)) fail("pwrite " + path);
  ::fdatasync(fd);
  const Time t = monotonic_now();
  for (uint64_t off = 0; off < total_bytes; off += block_bytes) {
    if (::pwrite(fd, buf.data(), block_bytes, static_cast<off_t>(off)) != static_cast<ssize_t>(block_bytes)) fail("pwrite " + path);
    if (::fdatasync(fd) != 0) fail("fdatasync " + path);
  }
  const double s = (monotonic_now() - t).s();
  ::close(fd);
  return static_cast<double>(total_bytes) / s;
}

double disk_parallel_bytes_per_s(const std::string& dir, uint32_t block_bytes, uint32_t streams, double seconds) {
  const uint64_t file_bytes = 32ull << 20;
  std::vector<int> fds;
  AlignedBuffer buf(std::max<uint32_t>(block_bytes, 1 << 20));
  std::memset(buf.data(), 0x3c, buf.size());
  for (uint32_t i = 0; i < streams; ++i) {
    const std::string path = fmt::format("{}/mirrorsim-parallel-{}.tmp", dir, i);
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) fail("cannot create " + path);
    ::unlink(path.c_str());
    for (uint64_t off = 0; off < file_bytes; off += buf.size())
      if (::pwrite(fd, buf.data(), buf.size(), static_cast<off_t>(off)) != static_cast<ssize_t>(buf.size())) fail("pwrite " + path);
    ::fdatasync(fd);
    fds.push_back(fd);
  }
  std::vector<uint64_t> written(streams, 0);
  std::vector<std::thread> threads;
  const Time t0 = monotonic_now();
  const Time end = t0 + Time::from_s(seconds);
  for (uint32_t i = 0; i < streams; ++i)
    threads.emplace_back([&, i] {
      uint64_t off = 0;
      while (monotonic_now() < end) {
        if (::pwrite(fds[i], buf.data(), block_bytes, static_cast<off_t>(off)) != static_cast<ssize_t>(block_bytes)) break;
        if (::fdatasync(fds[i]) != 0) break;
        written[i] += block_bytes;
        off = (off + block_bytes) % (file_bytes - block_bytes);
      }
    });
  for (auto& t : threads) t.join();
  const double s = (monotonic_now() - t0).s();
  for (int fd : fds) ::close(fd);
  uint64_t total = 0;
  for (uint64_t w : written) total += w;
  return static_cast<double>(total) / s;
}

std::vector<double> delay_line_lateness_us(int timers, double gap_mean_us) {
  int slack_was = ::prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
  ::prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  EventLoop loop;
  std::mt19937_64 rng(3);
  std::exponential_distribution<double> gap(1.0 / gap_mean_us);
  std::vector<double> us;
  us.reserve(static_cast<size_t>(std::max(timers, 0)));
  for (int i = 0; i < timers; ++i) {
    const Time due = monotonic_now() + Time::from_us(gap(rng));
    bool fired = false;
    loop.at(due, [&] {
      us.push_back((monotonic_now() - due).us());
      fired = true;
    });
    loop.run_until([&] { return fired; }, due + Time::from_s(1));
  }
  if (slack_was > 0) ::prctl(PR_SET_TIMERSLACK, static_cast<unsigned long>(slack_was), 0, 0, 0);
  return us;
}

double loopback_bulk_bytes_per_s(uint64_t total_bytes) {
  auto [c, s] = loopback_pair();
  const size_t chunk = 1 << 20;
  std::thread sink([s = s, total_bytes, chunk] {
    std::vector<uint8_t> in(chunk);
    uint64_t got = 0;
    while (got < total_bytes) {
      const ssize_t r = ::recv(s, in.data(), in.size(), 0);
      if (r <= 0) break;
      got += static_cast<uint64_t>(r);
    }
    const uint8_t done = 1;
    send_all(s, &done, 1);
  });
  std::vector<uint8_t> out(chunk, 7);
  const Time t = monotonic_now();
  for (uint64_t sent = 0; sent < total_bytes; sent += chunk) send_all(c, out.data(), chunk);
  uint8_t done;
  recv_all(c, &done, 1);
  const double sec = (monotonic_now() - t).s();
  ::close(c);
  sink.join();
  ::close(s);
  return static_cast<double>(total_bytes) / sec;
}

// ---- the controllers' CPU, from a probe run ---------------------------------

CpuProbeOptions cpu_probe_for(const Scenario& s) {
  CpuProbeOptions o;
  o.track_bytes = s.primary.track_bytes;
  o.cache_slots = std::min<uint32_t>(s.primary.cache_slots, 4096);
  o.disks = s.primary.disks;
  if (!s.volumes.empty()) o.mode = std::string(to_string(s.volumes.front().mode));
  if (!s.workloads.empty()) {
    o.block_bytes = s.workloads.front().block_bytes;
    o.write_fraction = s.workloads.front().write_fraction;
  }
  o.seed = s.seed + 7919;  // never the seed of the runs compared
  return o;
}

std::string cpu_probe_toml(const CpuProbeOptions& o) {
  // Zero distance and the raw link: the CPU of the controllers, not of the
  // emulation; Poisson arrivals, as the hosts of the shipped scenarios;
  // uniform addresses over four times the cache, so that even a short probe
  // has read misses (disk reads) beside its hits.
  return fmt::format(R"(# the CPU probe of mirrorsim calibrate
seed = {seed}
duration_s = {duration}

[primary]
cache_slots = {slots}
track_bytes = {track}
disks = {disks}

[link]
distance_km = 0
links = 1
failure_detection_ms = 200

[[volume]]
name = "probe"
tracks = {tracks}
mode = "{mode}"
skew_tracks = 64

[[workload]]
volume = "probe"
arrival = "poisson"
rate_iops = {rate}
write_fraction = {wf}
block_bytes = {block}
addresses = "uniform"

[measurement]
warmup_s = {warmup}
)",
                     fmt::arg("seed", o.seed), fmt::arg("duration", o.duration_s), fmt::arg("slots", o.cache_slots),
                     fmt::arg("track", o.track_bytes), fmt::arg("disks", o.disks), fmt::arg("mode", o.mode),
                     fmt::arg("rate", o.rate_iops), fmt::arg("wf", o.write_fraction), fmt::arg("block", o.block_bytes),
                     fmt::arg("warmup", std::min(0.5, 0.2 * o.duration_s)), fmt::arg("tracks", 4 * o.cache_slots));
}

CpuCalibration calibrate_cpu(const CpuProbeOptions& o) {
  const Scenario s = parse_scenario(cpu_probe_toml(o), "the CPU probe");
  RealOptions real = o.real;
  real.emulate_link = false;
  real.progress = false;
  const RealRun r = run_real(s, real);
  if (!r.verification.ok() || r.result.invariant_violations)
    throw std::runtime_error(fmt::format("the CPU probe run failed its verification:\n{}", r.result.violation_report));
  CpuCalibration c;
  c.scenario_toml = s.resolved_toml;
  c.window_s = s.duration_s - s.measurement.warmup_s;
  for (const auto& v : r.result.volumes) {
    c.writes += v.writes.completed;
    c.reads += v.reads.completed;
  }
  c.requests = r.window_requests;
  c.cpu = r.cpu;
  c.other_cpu_us_per_request = r.other_cpu_us_per_request();
  c.loop_wakeup_mean_us = r.loop_wakeup_mean_us;
  c.loop_switches = r.loop_switches;
  if (r.machine_cpu_s >= 0 && r.result.measured_s > 0) {
    c.machine_processors_busy = r.machine_cpu_s / r.result.measured_s;
    c.operations_processors_busy =
        c.machine_processors_busy - c.other_cpu_us_per_request * static_cast<double>(r.window_requests) / 1e6 / r.result.measured_s;
  }
  return c;
}

CpuCalibration pooled(const std::vector<CpuCalibration>& probes) {
  if (probes.empty()) throw std::logic_error("pooled: no probe");
  CpuCalibration c = probes.front();
  if (probes.size() == 1) return c;
  c.window_s = c.writes = c.reads = c.requests = c.loop_switches = 0;
  c.cpu = {};
  // Weighted means over the probes that knew the figure (>= 0).
  struct Mean {
    double sum = 0, weight = 0;
    void add(double x, double w) {
      if (x >= 0 && w > 0) sum += x * w, weight += w;
    }
    double value() const { return weight > 0 ? sum / weight : -1; }
  } machine, operations, other, wakeup;
  for (const CpuCalibration& p : probes) {
    c.window_s += p.window_s;
    c.writes += p.writes;
    c.reads += p.reads;
    c.requests += p.requests;
    c.loop_switches += p.loop_switches;
    for (size_t side = 0; side < c.cpu.size(); ++side) c.cpu[side].merge(p.cpu[side]);
    machine.add(p.machine_processors_busy, p.window_s);
    operations.add(p.operations_processors_busy, p.window_s);
    other.add(p.other_cpu_us_per_request, static_cast<double>(p.requests));
    wakeup.add(p.loop_wakeup_mean_us, static_cast<double>(p.loop_switches));
  }
  c.machine_processors_busy = machine.value();
  c.operations_processors_busy = operations.value();
  c.other_cpu_us_per_request = other.value();
  c.loop_wakeup_mean_us = wakeup.value();
  return c;
}

uint32_t processors_available() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) != 0) fail("sched_getaffinity");
  return static_cast<uint32_t>(CPU_COUNT(&set));
}

// ---- the calibration file ----------------------------------------------------

std::vector<std::pair<double, double>> quantile_table(std::vector<double> us) {
  std::vector<std::pair<double, double>> t;
  if (us.empty()) return t;
  std::sort(us.begin(), us.end());
  std::vector<double> p;
  for (int i = 0; i <= 19; ++i) p.push_back(i * 0.05);
  p.insert(p.end(), {0.99, 0.999, 1.0});
  for (double q : p) {
    // Linear between the order statistics around q · (n − 1).
    const double x = q * static_cast<double>(us.size() - 1);
    const size_t lo = static_cast<size_t>(std::floor(x));
    const size_t hi = std::min(us.size() - 1, lo + 1);
    double v = us[lo] + (us[hi] - us[lo]) * (x - static_cast<double>(lo));
    if (!std::isfinite(v) || v < 0) v = 0;
    if (!t.empty()) v = std::max(v, t.back().second);
    t.emplace_back(q, v);
  }
  return t;
}

namespace {

std::string table_text(const std::vector<std::pair<double, double>>& t) {
  std::string s = "{ distribution = \"empirical\", quantiles = [";
  for (size_t i = 0; i < t.size(); ++i)
    s += fmt::format("{}[{}, {:.3f}]", i ? ", " : "", t[i].first == 0 ? "0.0" : t[i].first == 1 ? "1.0" : fmt::format("{:g}", t[i].first),
                     t[i].second);
  return s + "] }";
}

double mean_of(const std::vector<double>& v) {
  return v.empty() ? 0 : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

// Fewer wake-ups than this in the probe: no empirical distribution of them.
constexpr size_t kWakeupSamplesMin = 200;

double quantile_of(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(std::floor(q * static_cast<double>(v.size() - 1)))];
}

}  // namespace

std::string empirical_text(std::vector<double> samples_us) {
  // Every sample's quantile up to 1,001 points (service/service_time.hpp),
  // not the 23 of a calibration file: a heavy tail drawn through a few
  // points interpolates a mean the samples do not have.
  return table_text(mirrorsim::quantile_table(std::move(samples_us)));
}

std::vector<double> loop_wakeup_samples_us(const CpuCalibration& c) {
  std::vector<double> v = c.cpu[0].wakeups().sample_us;
  const auto& b = c.cpu[1].wakeups().sample_us;
  v.insert(v.end(), b.begin(), b.end());
  return v;
}

std::vector<double> loop_preemption_samples_us(const CpuCalibration& c) {
  std::vector<double> v = c.cpu[0].preemptions().sample_us;
  const auto& b = c.cpu[1].preemptions().sample_us;
  v.insert(v.end(), b.begin(), b.end());
  return v;
}

std::string calibration_toml(const Calibration& c) {
  const DiskCalibration& d = c.disk;
  const LinkCalibration& l = c.link;
  std::string t = fmt::format("# calibration.toml, written by mirrorsim calibrate on {} at {}\n", c.host, c.date);
  t += "# Scenario keys measured on this machine; `mirrorsim run SCENARIO --calibration FILE` applies them.\n";
  t += fmt::format("# disk ({}): {} pwrite + fdatasync and {} O_DIRECT preads at random offsets of a pre-written 64 MiB "
                   "file, at {} and {} bytes;\n",
                   c.dir, d.write_fixed_us.size() * 2, d.read_fixed_us.size() * 2, d.small_bytes, d.large_bytes);
  t += fmt::format("#   each I/O's device time is its wall time less the calling thread's CPU over it (writes p50 {:.1f} us "
                   "of {:.1f}, first writes {:.1f} us, reads {:.1f} us of CPU): that CPU is the processors' — a real run's "
                   "back_end operations hold their disk workers' CPU, and the CPU probe measures them so;\n",
                   d.write_cpu.p50_us, d.small.p50_us, d.first_write_cpu.p50_us, d.read_cpu.p50_us);
  t += fmt::format("#   the bandwidth is the slope between the sizes' median device times (writes {:.1f} MB/s, reads "
                   "{:.1f} MB/s), each {}-byte I/O's device time less its bytes / bandwidth a sample of the fixed part.\n",
                   d.bandwidth_mb_per_s, d.read_bandwidth_mb_per_s, d.small_bytes);
  if (!d.bandwidth_fitted)
    t += fmt::format("#   NOTE: the {}-byte writes' median device time ({:.1f} us) was not above the {}-byte ones' ({:.1f} "
                     "us): no slope; the bandwidth written is the large write's bytes over its median, a lower bound.\n",
                     d.large_bytes, d.large_device.p50_us, d.small_bytes, d.small_device.p50_us);
  if (!d.first_write_fixed_us.empty())
    t += fmt::format("#   first writes: {} pwrite + fdatasync of {} bytes into holes of a sparse file (a track each, the "
                     "extent allocated and journalled first, as a run's first write of a track is), by one writer "
                     "after exponential idle gaps of {:.0f} ms mean (the device's own time, nothing queued ahead); each "
                     "one's device time less its bytes / bandwidth a sample of disk_first_write_us.\n",
                     d.first_write_fixed_us.size(), d.first_write_bytes, d.first_write_gap_mean_us / 1e3);
  if (!d.unwritten_read_fixed_us.empty())
    t += fmt::format("#   reads of tracks never written: {} O_DIRECT preads of {} bytes from holes of a sparse file (no "
                     "extent: the file system answers zeros, as a run's read miss of a track no write has reached); "
                     "each one's device time less its bytes / bandwidth (at least 0) a sample of disk_unwritten_read_us.\n",
                     d.unwritten_read_fixed_us.size(), d.first_write_bytes);
  if (d.device_servers > 0)
    t += fmt::format("#   the device's concurrency: first writes back to back for {:.1f} s, one writer {:.0f} a second, {} "
                     "writers at once {:.0f} a second: it serves {:.2f} at a time, disk_device_servers = {} (one device "
                     "under both controllers' backing files; the simulator queues the disks' I/Os for it).\n",
                     d.device_probe_s, d.device_one_writer_per_s, d.device_probe_writers, d.device_many_writers_per_s,
                     d.device_many_writers_per_s / std::max(1e-9, d.device_one_writer_per_s), d.device_servers);
  t += "#   R1 and R2 share this machine's device: both sides get the same disk figures.\n";
  t += fmt::format("# link: {} loopback TCP round trips of {} bytes there and 64 back (TCP_NODELAY), exponential gaps "
                   "of 1 ms mean between them (open arrivals: the receiver wakes from idle); half of each is a sample of "
                   "the one-way overhead; the bandwidth is the slope to {} bytes, back to back (bulk streaming {:.1f} "
                   "Gbit/s).\n",
                   l.overhead_samples_us.size(), l.small_bytes, l.large_bytes, l.bulk_gbit_per_s);
  if (!l.bandwidth_fitted)
    t += fmt::format("#   NOTE: the {}-byte round trips' median ({:.1f} us) was not above the {}-byte ones' ({:.1f} us): no "
                     "slope; the bandwidth written is the bulk throughput.\n",
                     l.large_bytes, l.large_rtt.p50_us, l.small_bytes, l.small_rtt.p50_us);
  t += fmt::format("# processors: {} available to this process (sched_getaffinity), shared by everything a loopback "
                   "pair runs: both controllers' event-loop threads (each serving its three pools) and their disk "
                   "workers' I/O; one pool of them serves both controllers.\n",
                   c.processors);
  t += fmt::format("# CPU per operation: thread CPU clock around each controller step and its commands' system calls, "
                   "in a {:.1f} s probe run of the real pair ({} writes, {} reads measured; its own scenario and seed), "
                   "samples of up to {} operations per kind.\n",
                   c.cpu.window_s, c.cpu.writes, c.cpu.reads, CpuStats::kReservoir);
  if (d.device_servers > 0)
    t += fmt::format("\ndisk_device_servers = {}   # one device of this many servers under every disk of both "
                     "controllers\n",
                     d.device_servers);
  else
    t += "\n";
  t += "processors_shared = \"pair\"   # one pool, [primary] front_end_processors, serves both controllers: one machine\n";
  if (c.cpu.other_cpu_us_per_request >= 0)
    t += fmt::format("processors_other_per_request_us = {:.1f}   # the probe's machine: {:.3f} processors busy, {:.3f} of "
                     "them the controllers' operations; the rest (the hosts, the event loops between steps) per host "
                     "request\n",
                     c.cpu.other_cpu_us_per_request, c.cpu.machine_processors_busy, c.cpu.operations_processors_busy);
  // The loops' wake-ups as the loops measured them (a disk completion that
  // found its loop idle: from its posting to the loop running), when the
  // probe has enough of them; else the kernel's mean, as an exponential.
  const std::vector<double> woken = loop_wakeup_samples_us(c.cpu);
  const std::string schedstat =
      c.cpu.loop_wakeup_mean_us >= 0
          ? fmt::format("; the kernel's mean wait of a woken loop {:.1f} us over {} switches in (schedstat)",
                        c.cpu.loop_wakeup_mean_us, c.cpu.loop_switches)
          : std::string();
  if (woken.size() >= kWakeupSamplesMin)
    t += fmt::format("processors_wakeup_us = {}   # the probe's controllers' event loops, woken by a disk completion "
                     "while idle, ran {:.1f} us (mean of {} samples, p99 {:.1f} us) after it was posted{}\n",
                     table_text(quantile_table(woken)), mean_of(woken), woken.size(), quantile_of(woken, 0.99),
                     schedstat);
  else if (c.cpu.loop_wakeup_mean_us >= 0)
    t += fmt::format("processors_wakeup_us = {{ distribution = \"exponential\", mean_us = {:.1f} }}   # {} wake-ups "
                     "sampled by the loops (fewer than {}): the kernel's mean{}; exponential is an assumption\n",
                     c.cpu.loop_wakeup_mean_us, woken.size(), kWakeupSamplesMin, schedstat);
  // The loops' preemptions in mid-step, as the loops measured them (each
  // step's wall time less its thread's CPU): every quantile, since nearly
  // all are 0 and the rest is a tail a few points would misdraw.
  const std::vector<double> preempted = loop_preemption_samples_us(c.cpu);
  if (preempted.size() >= kWakeupSamplesMin)
    t += fmt::format("processors_preemption_us = {}   # the probe's controllers' event loops, off their processor in "
                     "mid-step (a step's wall time less its thread's CPU): mean {:.1f} us over {} steps sampled, p50 "
                     "{:.1f} us, p99 {:.1f} us, p99.9 {:.1f} us\n",
                     empirical_text(preempted), mean_of(preempted), preempted.size(), quantile_of(preempted, 0.5),
                     quantile_of(preempted, 0.99), quantile_of(preempted, 0.999));
  else if (!preempted.empty())
    t += fmt::format("# processors_preemption_us: not written: {} steps sampled in the probe (fewer than {})\n",
                     preempted.size(), kWakeupSamplesMin);
  // A kind one side did not do in the probe (R2 serves no host, R1 receives
  // no copy) gets the other side's figure, and says so.
  auto cpu_key = [&](int side, CpuKind k, const char* key, const char* comment) {
    const std::vector<double>* samples = &c.cpu.cpu[side].of(k).sample_us;
    std::string note;
    if (samples->empty() && !c.cpu.cpu[1 - side].of(k).sample_us.empty()) {
      samples = &c.cpu.cpu[1 - side].of(k).sample_us;
      note = fmt::format(" ({} did none in the probe: {}'s figure)", side == 0 ? "R1" : "R2", side == 0 ? "R2" : "R1");
    }
    if (samples->empty()) return fmt::format("# {}: not measured (no such operation in the probe run)\n", key);
    return fmt::format("{} = {}   # {}{}, mean {:.1f} us\n", key, table_text(quantile_table(*samples)), comment, note,
                       mean_of(*samples));
  };
  for (int side = 0; side < 2; ++side) {
    t += fmt::format("\n[{}]\n", side == 0 ? "primary" : "secondary");
    t += fmt::format("disk_write_us = {}   # fixed part of a disk write, us\n", table_text(quantile_table(d.write_fixed_us)));
    if (!d.first_write_fixed_us.empty())
      t += fmt::format("disk_first_write_us = {}   # fixed part of a write into a hole (the extent allocated first), us\n",
                       table_text(quantile_table(d.first_write_fixed_us)));
    t += fmt::format("disk_read_us = {}   # fixed part of a disk read, us\n", table_text(quantile_table(d.read_fixed_us)));
    if (!d.unwritten_read_fixed_us.empty())
      t += fmt::format("disk_unwritten_read_us = {}   # fixed part of a read of a track never written (a hole), us\n",
                       table_text(quantile_table(d.unwritten_read_fixed_us)));
    t += fmt::format("disk_bandwidth_mb_per_s = {:.1f}\n", d.bandwidth_mb_per_s);
    if (side == 0) t += fmt::format("front_end_processors = {}   # the processors available\n", c.processors);
    t += cpu_key(side, CpuKind::Write, "front_end_write_us", "CPU per host write");
    t += cpu_key(side, CpuKind::Read, "front_end_read_us", "CPU per host read");
    t += cpu_key(side, CpuKind::CopySend, "remote_adapter_copy_send_us", "CPU to send a copy");
    t += cpu_key(side, CpuKind::CopyReceive, "remote_adapter_copy_receive_us",
                 "CPU to receive a copy or command and send its answer");
    t += cpu_key(side, CpuKind::AckReceive, "remote_adapter_ack_receive_us", "CPU to receive an acknowledgement");
    t += cpu_key(side, CpuKind::Destage, "back_end_destage_us",
                 "CPU of a destage: its submission, the disk worker's pwrite + fdatasync, its completion (not the "
                 "device's time)");
    t += cpu_key(side, CpuKind::DiskRead, "back_end_disk_read_us",
                 "CPU of a disk read: its submission, the disk worker's pread, its completion (not the device's time)");
  }
  t += "\n[link]\n";
  t += fmt::format("overhead_us = {}   # one-way fixed part: half the small round trip\n",
                   table_text(quantile_table(l.overhead_samples_us)));
  t += fmt::format("bandwidth_gbit_per_s = {:.3f}\n", l.bandwidth_gbit_per_s);
  return t;
}

std::string cpu_probe_text(const CpuCalibration& cpu, const std::string& head, const std::string& indent) {
  std::string t = fmt::format("{}{:.1f} s of the real pair, {} writes, {} reads; mean CPU per operation:\n", head,
                              cpu.window_s, cpu.writes, cpu.reads);
  if (cpu.other_cpu_us_per_request >= 0)
    t += fmt::format("{}the machine {:.3f} processors busy, the operations {:.3f}: other {:.1f} us per host request\n",
                     indent, cpu.machine_processors_busy, cpu.operations_processors_busy, cpu.other_cpu_us_per_request);
  if (cpu.loop_wakeup_mean_us >= 0)
    t += fmt::format("{}the controllers' event loops, woken, waited {:.1f} us for a processor (mean of {} switches in)\n",
                     indent, cpu.loop_wakeup_mean_us, cpu.loop_switches);
  if (const std::vector<double> woken = loop_wakeup_samples_us(cpu); !woken.empty())
    t += fmt::format("{}woken by a disk completion while idle, they ran {:.1f} us after it was posted (mean of {} "
                     "samples; p50 {:.1f} us, p99 {:.1f} us, worst {:.1f} us)\n",
                     indent, mean_of(woken), woken.size(), quantile_of(woken, 0.5), quantile_of(woken, 0.99),
                     quantile_of(woken, 1.0));
  if (const std::vector<double> preempted = loop_preemption_samples_us(cpu); !preempted.empty())
    t += fmt::format("{}off their processor in mid-step {:.1f} us a step (mean of {} steps; p50 {:.1f} us, p99 {:.1f} "
                     "us, p99.9 {:.1f} us, worst {:.1f} us)\n",
                     indent, mean_of(preempted), preempted.size(), quantile_of(preempted, 0.5),
                     quantile_of(preempted, 0.99), quantile_of(preempted, 0.999), quantile_of(preempted, 1.0));
  for (int side = 0; side < 2; ++side) {
    t += fmt::format("{}{}", indent, side == 0 ? "R1" : "R2");
    for (size_t k = 0; k + 1 < kCpuKinds; ++k) {
      const CpuKindStats& ks = cpu.cpu[side].of(static_cast<CpuKind>(k));
      if (ks.operations)
        t += fmt::format("  {} {:.1f} us", to_string(static_cast<CpuKind>(k)), ks.cpu_s * 1e6 / static_cast<double>(ks.operations));
    }
    t += "\n";
  }
  return t;
}

std::string calibration_text(const Calibration& c) {
  const DiskCalibration& d = c.disk;
  const LinkCalibration& l = c.link;
  std::string t = fmt::format("# mirrorsim calibrate: {} on this machine\n", c.dir);
  t += fmt::format("# disk  pwrite + fdatasync  {} B: p50 {:.1f} us, p99 {:.1f} us;  {} B: p50 {:.1f} us, p99 {:.1f} us\n",
                   d.small_bytes, d.small.p50_us, d.small.p99_us, d.large_bytes, d.large.p50_us, d.large.p99_us);
  t += fmt::format("# disk  of which the thread's CPU: writes p50 {:.1f} us, first writes p50 {:.1f} us, reads p50 {:.1f} "
                   "us (the processors' share; the disk keys are the device's time, the rest)\n",
                   d.write_cpu.p50_us, d.first_write_cpu.p50_us, d.read_cpu.p50_us);
  if (!d.first_write_fixed_us.empty())
    t += fmt::format("# disk  first writes into holes, {} B by one writer, device time: p50 {:.1f} us, p99 {:.1f} "
                     "us, mean {:.1f} us\n",
                     d.first_write_bytes, d.first_write.p50_us, d.first_write.p99_us, d.first_write.mean_us);
  if (d.device_servers > 0)
    t += fmt::format("# disk  first writes back to back: one writer {:.0f}/s, {} writers {:.0f}/s: {:.2f} at a time\n",
                     d.device_one_writer_per_s, d.device_probe_writers, d.device_many_writers_per_s,
                     d.device_many_writers_per_s / std::max(1e-9, d.device_one_writer_per_s));
  if (!d.unwritten_read_fixed_us.empty())
    t += fmt::format("# disk  O_DIRECT pread of holes (tracks never written), {} B, device time: p50 {:.1f} us, p99 {:.1f} "
                     "us\n",
                     d.first_write_bytes, d.unwritten_read.p50_us, d.unwritten_read.p99_us);
  t += fmt::format("# disk  O_DIRECT pread      {} B: p50 {:.1f} us, p99 {:.1f} us;  {} B: p50 {:.1f} us, p99 {:.1f} us\n",
                   d.small_bytes, d.read_small.p50_us, d.read_small.p99_us, d.large_bytes, d.read_large.p50_us,
                   d.read_large.p99_us);
  t += fmt::format("# link  loopback round trip  {} B: p50 {:.1f} us, p99 {:.1f} us;  {} B: p50 {:.1f} us, p99 {:.1f} us;"
                   "  bulk {:.1f} Gbit/s\n",
                   l.small_bytes, l.small_rtt.p50_us, l.small_rtt.p99_us, l.large_bytes, l.large_rtt.p50_us,
                   l.large_rtt.p99_us, l.bulk_gbit_per_s);
  t += fmt::format("# processors available: {}\n", c.processors);
  if (c.cpu.window_s > 0) t += cpu_probe_text(c.cpu, "# CPU probe: ", "#   ");
  for (const char* side : {"primary", "secondary"}) {
    t += fmt::format("{}.disk_write_us={:.1f}\n", side, d.latency_us);
    if (!d.first_write_fixed_us.empty())
      t += fmt::format("{}.disk_first_write_us={:.1f}\n", side,
                       std::max(0.0, d.first_write.p50_us - d.first_write_bytes / d.bandwidth_mb_per_s));
    t += fmt::format("{}.disk_read_us={:.1f}\n", side, d.read_latency_us);
    if (!d.unwritten_read_fixed_us.empty())
      t += fmt::format("{}.disk_unwritten_read_us={:.1f}\n", side,
                       std::max(0.0, d.unwritten_read.p50_us - d.first_write_bytes / d.bandwidth_mb_per_s));
    t += fmt::format("{}.disk_bandwidth_mb_per_s={:.0f}\n", side, d.bandwidth_mb_per_s);
  }
  if (d.device_servers > 0) t += fmt::format("disk_device_servers={}\n", d.device_servers);
  t += "link.distance_km=0\n";
  t += fmt::format("link.overhead_us={:.2f}\n", l.overhead_us);
  t += fmt::format("link.bandwidth_gbit_per_s={:.2f}\n", l.bandwidth_gbit_per_s);
  return t;
}

}  // namespace mirrorsim::real
