// Internal to config/: the keys of every scenario table and the rule that
// decodes, checks and prints each key's value.
//
// One list per table (the `visit_keys` overloads, in file order) drives
// reading a document, writing the resolved TOML and recognising dotted keys,
// so the three can never disagree about which keys exist or what they accept.
// A visitor is called as v(key, field, rule) or v(key, field, rule, kRequired);
// the field is const when the visitor only reads the scenario.
#pragma once

#include <cmath>
#include <concepts>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "config/toml.hpp"

#include "config/scenario.hpp"
#include "model/limits.hpp"

namespace mirrorsim::config {

// Where errors are reported: a position in the document's source, or — for
// an override (`--set`, a sweep value) — always the override itself, since
// positions in the regenerated document would mean nothing to the user.
struct Origin {
  std::string source;                       // file name used in positions
  std::optional<std::string> override_where;

  std::string position(const toml::source_region& at) const;
  [[noreturn]] void fail(const toml::source_region& at, const std::string& message) const;
};

// Raised by a rule on a value it refuses: "<key>: expected <what>, got <value>".
class Refusal {
 public:
  Refusal(const Origin& origin, std::string key) : origin_(origin), key_(std::move(key)) {}
  // `at` is the offending node: the value itself, or one element of it.
  [[noreturn]] void operator()(const toml::node& at, std::string_view expected, std::string_view hint = {}) const;
  const Origin& origin() const { return origin_; }
  const std::string& key() const { return key_; }

 private:
  const Origin& origin_;
  std::string key_;
};

// ---- TOML text ------------------------------------------------------------

std::string toml_string(std::string_view text);       // a TOML basic string
std::string real_text(double value);             // shortest text that reads back as the same double
std::optional<std::string> toml_text(const toml::node& node);  // scalars and arrays; nullopt for tables, dates, times
std::string describe(const toml::node& node);
// toml_text, with inline tables too ({ k = v, ... }: a service time); nullopt for dates and times.
std::optional<std::string> inline_text(const toml::node& node);    // for "got ...": the value, or "a table"

// The candidate closest to a misspelt `word`, if one is close enough to suggest.
std::optional<std::string_view> closest(std::string_view word, const std::vector<std::string_view>& candidates);

// ---- rules ----------------------------------------------------------------

enum class Presence : uint8_t { Optional, Required };
inline constexpr Presence kRequired = Presence::Required;

// An integer in [min, max]. A float is refused even when it is whole: counts
// are never fractional, so 1.0 slots is more likely a mistake than a count.
template <std::unsigned_integral T>
struct Integer {
  T min = 0;
  T max = std::numeric_limits<T>::max();

  bool bounded() const { return max != std::numeric_limits<T>::max(); }
  std::string expected() const;
  T decode(const toml::node& node, const Refusal& refuse) const;
  std::string text(T value) const { return std::to_string(value); }
};

// A finite number in an interval; integers are accepted (100 km is 100.0 km).
struct Real {
  double min = 0;
  double max = std::numeric_limits<double>::infinity();
  bool min_open = false;
  bool max_open = false;

  bool contains(double v) const;
  std::string expected() const;
  double decode(const toml::node& node, const Refusal& refuse) const;
  std::string text(double value) const { return real_text(value); }
};

struct Flag {
  std::string expected() const { return "true or false"; }
  bool decode(const toml::node& node, const Refusal& refuse) const;
  std::string text(bool value) const { return value ? "true" : "false"; }
};

// One of a fixed set of spellings.
template <class T>
struct Choice {
  std::vector<std::pair<std::string_view, T>> spellings;

  std::string expected() const;
  T decode(const toml::node& node, const Refusal& refuse) const;
  std::string text(const T& value) const;
};

// A volume name: it appears in dotted keys (volume.<name>.mode), so no dots.
struct Name {
  static constexpr size_t kLengthMax = 64;
  std::string expected() const { return "a name of 1 to 64 letters, digits, '_' or '-'"; }
  std::string decode(const toml::node& node, const Refusal& refuse) const;
  std::string text(const std::string& value) const { return toml_string(value); }
};

// A non-empty array of distinct names (of volumes, say).
struct Names {
  std::string expected() const { return "a non-empty array of distinct names, each " + Name{}.expected(); }
  std::vector<std::string> decode(const toml::node& node, const Refusal& refuse) const;
  std::string text(const std::vector<std::string>& values) const;
};

// A non-empty array of numbers, each within `element`, strictly increasing.
struct AscendingReals {
  Real element;

  std::string expected() const;
  std::vector<double> decode(const toml::node& node, const Refusal& refuse) const;
  std::string text(const std::vector<double>& values) const;
};

// A service time in µs: a number (fixed), or an inline table naming a
// distribution — { distribution = "exponential", mean_us = 250 },
// "lognormal" and "gamma" with mean_us and cv, "empirical" with
// quantiles = [[probability, us], ...] (0 to 1) or samples_csv = "file"
// (one number of µs a line, relative to the scenario's folder). The mean
// and every value lie in `range`.
struct ServiceTimeRule {
  Real range;
  static constexpr double kCvMax = 10;
  static constexpr size_t kQuantilesMax = 100'000;
  static constexpr size_t kSamplesMax = 10'000'000;

  std::string expected() const;
  ServiceTime decode(const toml::node& node, const Refusal& refuse) const;
  std::string text(const ServiceTime& value) const;
};

// Measured interval statistics: an array of rows [t_s, read_iops,
// write_iops, read_bytes_per_s, write_bytes_per_s] (a sixth number:
// write_block_bytes), or the name of a CSV with those columns and a header
// line, relative to the scenario's folder. t_s rises strictly from ≥ 0.
struct IntervalsRule {
  static constexpr size_t kRowsMax = 1'000'000;
  std::string expected() const;
  std::vector<WorkloadInterval> decode(const toml::node& node, const Refusal& refuse) const;
  std::string text(const std::vector<WorkloadInterval>& rows) const;
};

extern const Choice<Mode> kModes;
extern const Choice<TraceFormat> kTraceFormats;
// A file named relative to the scenario, resolved to an absolute path.
struct FilePath {
  std::string expected() const { return "a file name"; }
  std::string decode(const toml::node& node, const Refusal& refuse) const;
  std::string text(const std::string& value) const { return value.empty() ? "" : toml_string(value); }
};
extern const Choice<ProcessorsShared> kProcessorsShared;
extern const Choice<Arrival> kArrivals;
extern const Choice<AddressPattern> kAddressPatterns;
extern const Choice<FailureEvent> kFailureEvents;
extern const Choice<Side> kControllers;          // "R1" = side A, "R2" = side B
extern const Choice<std::string> kNetworkModels;

// ---- the keys of each table, in file order --------------------------------

template <class C, class S>
concept Either = std::same_as<std::remove_const_t<C>, S>;

// The ranges shared by keys of one kind. Every time, size and rate key has
// a finite range (model/limits.hpp says why each bound is where it is), so
// that no conversion — seconds or microseconds to int64 nanoseconds, bytes
// over a bandwidth, a rate to inter-arrival gaps, a distance to a latency —
// can overflow or round a positive interval to nothing.
inline constexpr Real kInstantS{.min = 0, .max = limits::kRunSMax};                      // a moment of the run
inline constexpr Real kIntervalS{.min = limits::kIntervalSMin, .max = limits::kRunSMax};  // a positive length of time
inline constexpr Real kDelayUs{.min = 0, .max = limits::kDelayUsMax};                     // one delay
inline constexpr Real kDelayMs{.min = 0, .max = limits::kDelayMsMax};
inline constexpr Real kLinkGbitPerS{.min = limits::kLinkGbitPerSMin, .max = limits::kLinkGbitPerSMax};
inline const ServiceTimeRule kServiceTimeUs{kDelayUs};
inline constexpr Integer<uint32_t> kProcessors{.min = 1, .max = limits::kProcessorsMax};
inline constexpr Real kFraction{.min = 0, .max = 1, .min_open = true};  // of slots or tracks, (0, 1]

// The scalar keys at the top level (the tables are listed in kTopLevelTables).
template <class V, Either<Scenario> S>
void visit_keys(V& v, S& s) {
  // A TOML integer is an int64.
  v("seed", s.seed, Integer<uint64_t>{.max = std::numeric_limits<int64_t>::max()});
  v("duration_s", s.duration_s, kIntervalS);
  v("processors_shared", s.processors_shared, kProcessorsShared);
  v("processors_other_per_request_us", s.processors_other_per_request_us, kDelayUs);
  v("disk_device_servers", s.disk_device_servers, Integer<uint32_t>{.min = 0, .max = limits::kProcessorsMax});
  v("processors_wakeup_us", s.processors_wakeup_us, kServiceTimeUs);
  v("processors_preemption_us", s.processors_preemption_us, kServiceTimeUs);
}

// Keys that were renamed, with what replaces them: an old scenario file is
// told what to write instead of "unknown key".
inline const std::vector<std::pair<std::string_view, std::string_view>> kRetiredKeys{
    {"cache_store_us",
     "cache_store_us is now two keys: front_end_write_us (a host write's cache store, front-end processors) and "
     "remote_adapter_copy_receive_us (storing a received copy before its answer leaves)"},
    {"disk_latency_us", "disk_latency_us is now two keys: disk_write_us and disk_read_us"},
};

inline const std::vector<std::string_view> kTopLevelTables{
    "primary", "secondary", "link", "volume", "async", "consistency_group", "workload", "failure", "measurement", "sweep", "check"};

template <class V, Either<ControllerScenario> C>
void visit_keys(V& v, C& c) {
  // Counts that size memory (cache_slots, disks) are bounded by the resource
  // estimate (config/resources.hpp), not by a range.
  v("cache_slots", c.cache_slots, Integer<uint32_t>{.min = 1});
  v("track_bytes", c.track_bytes, Integer<uint32_t>{.min = limits::kTrackBytesMin, .max = limits::kTrackBytesMax});
  v("write_pending_limit", c.write_pending_limit, kFraction);
  v("cache_nonvolatile", c.cache_nonvolatile, Flag{});
  v("front_end_processors", c.front_end_processors, kProcessors);
  v("front_end_write_us", c.front_end_write_us, kServiceTimeUs);
  v("front_end_read_us", c.front_end_read_us, kServiceTimeUs);
  v("front_end_per_kib_us", c.front_end_per_kib_us, kDelayUs);
  v("remote_adapter_processors", c.remote_adapter_processors, kProcessors);
  v("remote_adapter_copy_send_us", c.remote_adapter_copy_send_us, kServiceTimeUs);
  v("remote_adapter_copy_receive_us", c.remote_adapter_copy_receive_us, kServiceTimeUs);
  v("remote_adapter_ack_receive_us", c.remote_adapter_ack_receive_us, kServiceTimeUs);
  v("remote_adapter_per_kib_us", c.remote_adapter_per_kib_us, kDelayUs);
  v("back_end_processors", c.back_end_processors, kProcessors);
  v("back_end_destage_us", c.back_end_destage_us, kServiceTimeUs);
  v("back_end_disk_read_us", c.back_end_disk_read_us, kServiceTimeUs);
  v("back_end_per_kib_us", c.back_end_per_kib_us, kDelayUs);
  v("disks", c.disks, Integer<uint32_t>{.min = 1});
  v("disk_write_us", c.disk_write_us, kServiceTimeUs);
  v("disk_first_write_us", c.disk_first_write_us, kServiceTimeUs);
  v("disk_read_us", c.disk_read_us, kServiceTimeUs);
  v("disk_unwritten_read_us", c.disk_unwritten_read_us, kServiceTimeUs);
  v("disk_bandwidth_mb_per_s", c.disk_bandwidth_mb_per_s,
    Real{.min = limits::kDiskMbPerSMin, .max = limits::kDiskMbPerSMax});
  v("destages_per_disk_max", c.destages_per_disk_max, Integer<uint32_t>{.min = 1});
  v("copies_in_flight_max", c.copies_in_flight_max, Integer<uint32_t>{.min = 1});
  // Retrying a failed disk at once would be a busy loop at one instant.
  v("disk_retry_ms", c.disk_retry_ms, Real{.min = limits::kRetryMsMin, .max = limits::kDelayMsMax});
}

template <class V, Either<LinkScenario> L>
void visit_keys(V& v, L& l) {
  v("distance_km", l.distance_km, Real{.min = 0, .max = limits::kDistanceKmMax});
  v("overhead_us", l.overhead_us, kServiceTimeUs);
  v("bandwidth_gbit_per_s", l.bandwidth_gbit_per_s, kLinkGbitPerS);
  v("links", l.links, Integer<uint32_t>{.min = 1});
  v("round_trips_per_write", l.round_trips_per_write, Integer<uint32_t>{.min = 1, .max = 2});
  v("failure_detection_ms", l.failure_detection_ms, kDelayMs);
  v("network_model", l.network_model, kNetworkModels);
}

template <class V, Either<VolumeScenario> Vol>
void visit_keys(V& v, Vol& vol) {
  v("name", vol.name, Name{}, kRequired);
  v("tracks", vol.tracks, Integer<uint32_t>{.min = 1}, kRequired);
  v("mode", vol.mode, kModes);
  v("skew_tracks", vol.skew_tracks, Integer<uint32_t>{});
  v("domino", vol.domino, Flag{});
}

template <class V, Either<AsyncScenario> A>
void visit_keys(V& v, A& a) {
  v("cycle_time_min_s", a.cycle_time_min_s, Real{.min = 1e-3, .max = limits::kDelayUsMax / 1e6});
  v("transmit_sets_max", a.transmit_sets_max, Integer<uint32_t>{.min = 1, .max = 16});
  v("coordination_max_ms", a.coordination_max_ms, kDelayMs);
  v("async_cache_fraction_max", a.async_cache_fraction_max, kFraction);
  v("spill_bytes_max", a.spill_bytes_max, Integer<uint64_t>{.max = uint64_t{1} << 50});
  v("spill_bandwidth_mb_per_s", a.spill_bandwidth_mb_per_s,
    Real{.min = limits::kDiskMbPerSMin, .max = limits::kDiskMbPerSMax});
  v("pacing_threshold_fraction", a.pacing_threshold_fraction, kFraction);
  v("pacing_delay_max_ms", a.pacing_delay_max_ms, kDelayMs);
  v("link_limbo_s", a.link_limbo_s, Real{.min = 0, .max = limits::kDelayUsMax / 1e6});
}

template <class V, Either<ConsistencyGroupScenario> G>
void visit_keys(V& v, G& g) {
  v("name", g.name, Name{}, kRequired);
  v("volumes", g.volumes, Names{}, kRequired);
}

template <class V, Either<WorkloadScenario> W>
void visit_keys(V& v, W& w) {
  v("volume", w.volume, Name{}, kRequired);
  v("arrival", w.arrival, kArrivals);
  // Positive even for closed workloads, which ignore it: a zero rate has no
  // meaningful Poisson process behind it, whichever arrival is chosen later.
  v("rate_iops", w.rate_iops, Real{.min = limits::kRateIopsMin, .max = limits::kRateIopsMax});
  v("queue_depth", w.queue_depth, Integer<uint32_t>{.min = 1});
  v("think_us", w.think_us, kDelayUs);
  v("write_fraction", w.write_fraction, Real{.min = 0, .max = 1});
  v("block_bytes", w.block_bytes, Integer<uint32_t>{.min = limits::kTrackBytesMin, .max = limits::kTrackBytesMax});
  v("addresses", w.addresses, kAddressPatterns);
  v("zipf_theta", w.zipf_theta, Real{.min = 0, .max = 10, .min_open = true});
  v("hotspot_fraction", w.hotspot_fraction, kFraction);
  v("hotspot_probability", w.hotspot_probability, Real{.min = 0, .max = 1});
  v("start_s", w.start_s, kInstantS);
  v("stop_s", w.stop_s, kInstantS);
  v("requests", w.requests, Integer<uint64_t>{.min = 1});
  v("intervals", w.intervals, IntervalsRule{});
  v("time_scale", w.time_scale, Real{.min = 1e-6, .max = 1e6});
  v("trace", w.trace, FilePath{});
  v("trace_format", w.trace_format, kTraceFormats);
  v("trace_device", w.trace_device, Integer<uint32_t>{});
  v("loop", w.loop, Flag{});
}

template <class V, Either<FailureScenario> F>
void visit_keys(V& v, F& f) {
  v("at_s", f.at_s, kInstantS, kRequired);
  v("event", f.event, kFailureEvents, kRequired);
  v("controller", f.controller, kControllers);
  v("disk", f.disk, Integer<uint32_t>{});
  v("link", f.link, Integer<uint32_t>{});
  v("bandwidth_gbit_per_s", f.bandwidth_gbit_per_s, kLinkGbitPerS);
  v("added_latency_us", f.added_latency_us, kDelayUs);
}

template <class V, Either<MeasurementScenario> M>
void visit_keys(V& v, M& m) {
  v("warmup_s", m.warmup_s, kInstantS);
  v("percentiles", m.percentiles, AscendingReals{Real{.min = 0, .max = 100, .min_open = true, .max_open = true}});
  v("timeseries_interval_s", m.timeseries_interval_s, kIntervalS);
}

// Maxima that keep one state of the explorer small (model/limits.hpp).
template <class V, Either<CheckScenario> C>
void visit_keys(V& v, C& c) {
  v("writes", c.writes, Integer<uint32_t>{.min = 1, .max = limits::kCheckWritesMax});
  v("tracks", c.tracks, Integer<uint32_t>{.min = 1, .max = limits::kCheckTracksMax});
  v("volumes", c.volumes, Integer<uint32_t>{.min = 1, .max = limits::kCheckVolumesMax});
  v("cache_slots", c.cache_slots, Integer<uint32_t>{.min = 1, .max = limits::kCheckCacheSlotsMax});
  v("links", c.links, Integer<uint32_t>{.min = 1, .max = limits::kCheckLinksMax});
  v("link_failures", c.link_failures, Integer<uint32_t>{.max = limits::kCheckFailuresMax});
  v("crashes", c.crashes, Integer<uint32_t>{.max = limits::kCheckFailuresMax});
  v("disk_failures", c.disk_failures, Integer<uint32_t>{.max = limits::kCheckFailuresMax});
  v("disasters", c.disasters, Integer<uint32_t>{.max = limits::kCheckFailuresMax});
  v("operator_actions", c.operator_actions, Integer<uint32_t>{.max = limits::kCheckFailuresMax});
  v("max_states", c.max_states, Integer<uint64_t>{.min = 1, .max = limits::kCheckStatesMax});
}

struct KeyLister {
  std::vector<std::string_view> keys;
  template <class T, class Rule>
  void operator()(std::string_view key, const T&, const Rule&, Presence = Presence::Optional) {
    keys.push_back(key);
  }
};

// The key names of one table, in file order.
template <class S>
std::vector<std::string_view> keys_of() {
  KeyLister lister;
  const S s{};
  visit_keys(lister, s);
  return lister.keys;
}

// ---- rule templates -------------------------------------------------------

template <std::unsigned_integral T>
std::string Integer<T>::expected() const {
  if (!bounded()) return "an integer ≥ " + std::to_string(min);
  if (max == min + 1) return std::to_string(min) + " or " + std::to_string(max);
  return "an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
}

template <std::unsigned_integral T>
T Integer<T>::decode(const toml::node& node, const Refusal& refuse) const {
  const auto* integer = node.as_integer();
  if (!integer) refuse(node, expected());
  const int64_t v = integer->get();
  if (v < 0 || static_cast<uint64_t>(v) < min) refuse(node, expected());
  if (static_cast<uint64_t>(v) > max)
    refuse(node, bounded() ? expected() : "an integer ≤ " + std::to_string(max));
  return static_cast<T>(v);
}

template <class T>
std::string Choice<T>::expected() const {
  std::string text = "one of ";
  for (size_t i = 0; i < spellings.size(); ++i) text += (i ? ", " : "") + toml_string(spellings[i].first);
  return text;
}

template <class T>
T Choice<T>::decode(const toml::node& node, const Refusal& refuse) const {
  const auto* string = node.as_string();
  if (!string) refuse(node, expected());
  std::vector<std::string_view> names;
  for (const auto& [name, value] : spellings) {
    if (name == string->get()) return value;
    names.push_back(name);
  }
  const auto suggestion = closest(string->get(), names);
  refuse(node, expected(), suggestion ? "did you mean " + toml_string(*suggestion) + "?" : "");
}

template <class T>
std::string Choice<T>::text(const T& value) const {
  for (const auto& [name, v] : spellings)
    if (v == value) return toml_string(name);
  // Only a field set directly in the struct can hold an unlisted value; print
  // it so that reading the text back reports it instead of hiding it.
  if constexpr (std::is_same_v<T, std::string>) return toml_string(value);
  return toml_string("?");
}

}  // namespace mirrorsim::config
