// The finite ranges of every time, size and rate the model is configured
// with, and of the pairs the exhaustive checker builds. The scenario loader
// (config/keys.hpp) refuses values outside them, the counterexample reader
// (check/counterexample.cpp) too; scenarios/README.md lists them per key.
//
// Why these bounds: Time is int64 nanoseconds, ±2^63 ns = ±292 years. A run
// lasts at most kRunSMax (116 days); one delay (a service time, a latency,
// a think time, a timeout, one track's transfer at the slowest bandwidth)
// is at most kDelayUsMax or a track at the lowest bandwidth (below 2 days).
// The latest instant a run can reach — its end (10^16 ns), plus the drain
// allowance, plus chains of such delays — stays hundreds of times inside
// int64, so no conversion (Time::from_s, Time::from_us) or sum of times can
// overflow. Each lower bound keeps a value meaningful at nanosecond
// resolution: a positive interval that would round to 0 ns (a retry or
// sampling interval, a Poisson gap) would repeat at the same instant forever.
#pragma once

#include <cstdint>

namespace mirrorsim::limits {

// ---- time -------------------------------------------------------------------
inline constexpr double kRunSMax = 1e7;        // duration_s and every instant of the run (116 days)
inline constexpr double kIntervalSMin = 1e-6;  // duration_s, timeseries_interval_s: at least 1 us
inline constexpr double kDelayUsMax = 1e9;     // one delay in us: 1000 s
inline constexpr double kDelayMsMax = kDelayUsMax / 1e3;  // the same in ms
inline constexpr double kRetryMsMin = 1e-3;    // disk_retry_ms: at least 1 us between retries

// ---- distance, sizes, bandwidths ---------------------------------------------
inline constexpr double kDistanceKmMax = 1e5;  // 0.5 s one way; the Earth's circumference is 40,075 km
inline constexpr uint32_t kTrackBytesMin = 512;      // one sector; less is a unit slip (KiB for bytes)
inline constexpr uint32_t kTrackBytesMax = 1u << 24;  // 16 MiB; arrays use 64-128 KiB tracks
inline constexpr double kLinkGbitPerSMin = 1e-6;  // 1 kbit/s: a 16 MiB track in 37 hours
inline constexpr double kLinkGbitPerSMax = 1e5;   // 100 Tbit/s
inline constexpr double kDiskMbPerSMin = 1e-3;    // 1 kB/s: a 16 MiB track in 4.7 hours
inline constexpr double kDiskMbPerSMax = 1e7;     // 10 TB/s
inline constexpr uint32_t kProcessorsMax = 4096;  // per pool: a pool is one set of FIFO servers, heap-ordered

// ---- rates ----------------------------------------------------------------------
// A Poisson gap is at most 37 mean gaps (-ln 2^-53); at 10^-6 IOPS that is
// 3.7·10^7 s. At 10^7 IOPS the mean gap is 100 ns: nanosecond rounding
// changes the rate by well under 1 %.
inline constexpr double kRateIopsMin = 1e-6;
inline constexpr double kRateIopsMax = 1e7;

// ---- the exhaustive checker's pair (mirrorsim check, [check]) ----------------------
// A state holds both controllers' track tables and cache, the observer's
// records and everything in flight; these keep one state within tens of
// kilobytes and the branching (a host write to every track) within a few
// hundred events, far beyond what can be explored exhaustively anyway.
inline constexpr uint32_t kCheckWritesMax = 64;   // host writes (and reads) on one path
inline constexpr uint32_t kCheckTracksMax = 64;   // per volume
inline constexpr uint32_t kCheckVolumesMax = 8;
inline constexpr uint32_t kCheckCacheSlotsMax = 64;
inline constexpr uint32_t kCheckDisksMax = kCheckVolumesMax * kCheckTracksMax;  // per controller: one per track at most
inline constexpr uint32_t kCheckLinksMax = 8;
inline constexpr uint32_t kCheckFailuresMax = 16;  // of each kind on one path
inline constexpr uint64_t kCheckStatesMax = 1'000'000'000'000;  // max_states: 10^12
inline constexpr uint32_t kCheckDepthMax = 100'000;             // events on one path
inline constexpr uint64_t kCheckEventsMax = kCheckDepthMax;     // events in a counterexample file

}  // namespace mirrorsim::limits
