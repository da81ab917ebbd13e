#include "real/calibrate.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <numeric>
#include <random>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

#include "real/clock.hpp"
#include "real/disk.hpp"
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
  ::unlink(path.c_str());  // gone when closed, whatever happens
  AlignedBuffer buf(d.large_bytes);
  std::memset(buf.data(), 0x5a, buf.size());
  // Pre-written, as the backing files are: the first write into unallocated
  // space is slower and would not measure the steady state.
  for (uint64_t off = 0; off < file_bytes; off += buf.size())
    if (::pwrite(fd, buf.data(), buf.size(), static_cast<off_t>(off)) != static_cast<ssize_t>(buf.size())) fail("pwrite " + path);
  ::fdatasync(fd);
  std::mt19937_64 rng(1);
  auto measure = [&](uint32_t bytes) {
    std::vector<double> us;
    const uint64_t slots = file_bytes / bytes;
    for (int i = 0; i < ops; ++i) {
      const uint64_t off = (rng() % slots) * bytes;
      const Time t = monotonic_now();
      if (::pwrite(fd, buf.data(), bytes, static_cast<off_t>(off)) != static_cast<ssize_t>(bytes)) fail("pwrite " + path);
      if (::fdatasync(fd) != 0) fail("fdatasync " + path);
      us.push_back((monotonic_now() - t).us());
    }
    return quantiles_of(us);
  };
  d.small = measure(d.small_bytes);
  d.large = measure(d.large_bytes);
  ::close(fd);
  const double slope_us_per_byte =
      std::max(1e-6, (d.large.p50_us - d.small.p50_us) / static_cast<double>(d.large_bytes - d.small_bytes));
  d.bandwidth_mb_per_s = 1.0 / slope_us_per_byte;  // bytes per µs = MB/s
  d.latency_us = std::max(0.0, d.small.p50_us - d.small_bytes * slope_us_per_byte);
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

LinkCalibration calibrate_link(int round_trips) {
  LinkCalibration l;
  l.small_rtt = quantiles_of(loopback_round_trips_us(l.small_bytes, round_trips));
  l.large_rtt = quantiles_of(loopback_round_trips_us(l.large_bytes, round_trips));
  l.overhead_us = std::max(0.0, l.small_rtt.p50_us / 2);
  const double slope_us_per_byte =
      std::max(1e-7, (l.large_rtt.p50_us - l.small_rtt.p50_us) / static_cast<double>(l.large_bytes - l.small_bytes));
  l.bandwidth_gbit_per_s = 8.0 / slope_us_per_byte / 1e3;
  l.bulk_gbit_per_s = loopback_bulk_bytes_per_s(512ull << 20) * 8 / 1e9;
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

}  // namespace mirrorsim::real
