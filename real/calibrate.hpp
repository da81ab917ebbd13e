// Measures this machine's disk and loopback link in the terms of the
// scenario's parameters, for `mirrorsim calibrate` and `mirrorsim validate`.
//
//   disk: pwrite + fdatasync of one block at random offsets of a pre-written
//         file, at two sizes; the model's disk time is latency + bytes /
//         bandwidth, so the two medians give both
//   link: request/response over loopback TCP (TCP_NODELAY, the controllers'
//         congestion control) at two payload sizes; one way is overhead +
//         bytes / bandwidth, so half the small round trip is the overhead and
//         the slope between the sizes the bandwidth a message sees; plus bulk
//         streaming throughput for reference
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mirrorsim::real {

struct Quantiles {
  double p50_us = 0, p99_us = 0, mean_us = 0;
};

struct DiskCalibration {
  uint32_t small_bytes = 4096, large_bytes = 1 << 20;
  Quantiles small, large;             // pwrite + fdatasync
  double latency_us = 0;              // fitted: fixed part of an I/O
  double bandwidth_mb_per_s = 0;      // fitted: 10^6 bytes/s
};

struct LinkCalibration {
  uint32_t small_bytes = 64, large_bytes = 65536;
  Quantiles small_rtt, large_rtt;     // round trip: payload there, 64-byte answer back
  double overhead_us = 0;             // fitted: one-way fixed part
  double bandwidth_gbit_per_s = 0;    // fitted: what one message sees
  double bulk_gbit_per_s = 0;         // streaming, for reference
};

// `dir`: where the temporary file goes (the run's file system). `ops` per size.
DiskCalibration calibrate_disk(const std::string& dir, int ops);
LinkCalibration calibrate_link(int round_trips);
// Round trips of `payload_bytes` there and a 64-byte answer back, in µs:
// back to back, or (gap_mean_us > 0) separated by exponentially distributed
// pauses, as open arrivals are — on a virtual machine an idle vCPU is slow to
// wake, and that shows in both.
std::vector<double> loopback_round_trips_us(uint32_t payload_bytes, int round_trips, double gap_mean_us = 0);
// Sequential writes of `block_bytes` each, pwrite + fdatasync, one stream:
// bytes per second.
double disk_stream_bytes_per_s(const std::string& dir, uint32_t block_bytes, uint64_t total_bytes);
// `streams` concurrent sequential writers (one file each, as the backing
// files are), `block_bytes` per pwrite + fdatasync, for `seconds`: total
// bytes per second. A mirrored pair on one machine shares its device between
// R1's and R2's streams.
double disk_parallel_bytes_per_s(const std::string& dir, uint32_t block_bytes, uint32_t streams, double seconds);
double loopback_bulk_bytes_per_s(uint64_t total_bytes);

Quantiles quantiles_of(std::vector<double> us);

}  // namespace mirrorsim::real
