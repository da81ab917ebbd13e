// Vocabulary of the reference model: time, identifiers, versions, modes.
#pragma once

#include <compare>
#include <cstdint>
#include <string_view>

namespace mirrorsim {

[[noreturn]] void time_out_of_range(double value, const char* unit);  // throws std::out_of_range

// Simulated (or driver) time: one strong type, integer nanoseconds so that
// arithmetic is exact and runs are reproducible.
struct Time {
  int64_t ns = 0;

  static constexpr Time from_ns(int64_t v) { return Time{v}; }
  // Rounded to the nearest nanosecond. A value that is not finite or lies
  // beyond ±2^63 ns (±292 years) has no Time: the conversion throws
  // std::out_of_range instead of the undefined float-to-integer overflow.
  // Callers keep their inputs within model/limits.hpp, so a throw is a
  // caller's bug reported, never a wrong time used.
  static constexpr Time from_us(double v) { return from_rounded_ns(v * 1e3, v, "us"); }
  static constexpr Time from_s(double v) { return from_rounded_ns(v * 1e9, v, "s"); }
  static constexpr Time max() { return Time{INT64_MAX}; }
  constexpr double us() const { return static_cast<double>(ns) / 1e3; }
  constexpr double s() const { return static_cast<double>(ns) / 1e9; }

  constexpr auto operator<=>(const Time&) const = default;
  constexpr Time operator+(Time o) const { return Time{ns + o.ns}; }
  constexpr Time operator-(Time o) const { return Time{ns - o.ns}; }
  constexpr Time& operator+=(Time o) { ns += o.ns; return *this; }

 private:
  static constexpr Time from_rounded_ns(double ns_value, double value, const char* unit) {
    // The negated test also refuses NaN. Near 2^63 doubles are 1024 apart,
    // so adding 0.5 cannot carry a value inside the bound out of it.
    if (!(ns_value > -0x1p63 && ns_value < 0x1p63)) time_out_of_range(value, unit);
    return Time{static_cast<int64_t>(ns_value + (ns_value >= 0 ? 0.5 : -0.5))};
  }
};

using VolumeId = uint16_t;
using TrackNo = uint32_t;
using RequestId = uint64_t;
using Epoch = uint32_t;
using Generation = uint32_t;

struct TrackKey {
  VolumeId volume = 0;
  TrackNo track = 0;
  constexpr auto operator<=>(const TrackKey&) const = default;
};

// A track's version: the primary generation in the high 32 bits (bumped at
// failover and at every hand-over of the primary role), a per-track sequence
// in the low 32. A write accepted by a new primary therefore always carries a
// version above anything the old primary ever assigned, even writes that were
// lost with it.
using Version = uint64_t;
constexpr Version make_version(Generation g, uint32_t seq) { return (static_cast<Version>(g) << 32) | seq; }
constexpr Generation version_generation(Version v) { return static_cast<Generation>(v >> 32); }
constexpr uint32_t version_sequence(Version v) { return static_cast<uint32_t>(v); }

// The two physical controllers. Side A starts with the primary (R1)
// personality and side B with the secondary (R2); failover and failback move
// the personalities, the sides stay.
enum class Side : uint8_t { A = 0, B = 1 };
constexpr Side peer_of(Side s) { return s == Side::A ? Side::B : Side::A; }
constexpr int index_of(Side s) { return static_cast<int>(s); }

enum class Role : uint8_t { Primary, Secondary };

enum class Mode : uint8_t { Sync, SemiSync, AdaptiveCopyWp, AdaptiveCopyDisk, Async };

// Pair state as the primary sees it.
//  suspended     the secondary is not being updated; writes mark invalid tracks
//  establishing  handshake sent, waiting for the secondary's answer
//  syncing       mirrored, but invalid tracks are still owed to the secondary
//  synchronized  mirrored, nothing owed but copies of in-flight writes
enum class PairState : uint8_t { Suspended, Establishing, Syncing, Synchronized };

enum class RejectReason : uint8_t {
  WriteDisabled,  // this controller holds the secondary personality
  NotReady,       // volume not ready: recovering, handing over, or demoted
  Domino,         // domino option: the secondary is unreachable
  IoError,        // a read could not be served from cache or disk
  Crashed,        // the controller crashed with the request in progress
  QueueFull,      // too many host requests already waiting at the write-pending limit
  BadAddress,     // no such volume or track
};

// The events of a failure schedule (scenario `[[failure]]` entries).
enum class FailureEvent : uint8_t {
  LinkDown,       // all links, or `link`
  LinkUp,
  LinkDegrade,    // set bandwidth_gbit_per_s (and/or added latency) on all links, or `link`
  Crash,          // controller: crash; cache lost unless non-volatile
  Restart,        // controller
  DiskFailure,    // controller, disk: every I/O fails until repaired
  DiskRepair,     // controller, disk
  Disaster,       // the site of the current primary: controller crash and links cut
  Failover,       // operator, at the secondary: take over the primary role
  Failback,       // operator, at the current primary: resync the peer, hand the role back
  Suspend,        // operator, at the current primary
  Resume,
};
// Why an asynchronous session dropped (suspended, its delta sets turned into
// invalid tracks): the delta sets needed more cache than
// async_cache_fraction_max allows and no spill pool could take them, or
// every link stayed down beyond the limbo time.
enum class DropReason : uint8_t { CacheLimit, LinkLimbo };
// Why an asynchronous host write was held before it was accepted.
enum class HoldReason : uint8_t { Pacing, Coordination };

// A controller's processor pools (service/processor_pool.hpp): host I/O,
// the link's messages, the disks' I/O.
enum class Pool : uint8_t { FrontEnd, RemoteAdapter, BackEnd };
inline constexpr int kPools = 3;
inline constexpr int index_of(Pool p) { return static_cast<int>(p); }

std::string_view to_string(FailureEvent);
std::string_view to_string(DropReason);  // "cache-limit", "link-limbo"
std::string_view to_string(HoldReason);  // "pacing", "coordination"
std::string_view to_string(Pool);  // "front_end", "remote_adapter", "back_end"

std::string_view to_string(Side);
std::string_view to_string(Role);
std::string_view to_string(Mode);
std::string_view to_string(PairState);
std::string_view to_string(RejectReason);
// Parses the scenario spelling of a mode ("sync", "semi-sync", ...).
bool parse_mode(std::string_view text, Mode& out);

}  // namespace mirrorsim
