#include "check/counterexample.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "model/limits.hpp"
#include "report/json_read.hpp"

namespace mirrorsim::check {

namespace {

using mirrorsim::to_string;  // Version is an integer: no argument-dependent lookup
using json = nlohmann::json;
using Kind = WorldEvent::Kind;

constexpr std::string_view kFormat = "mirrorsim-check-counterexample";
constexpr int kFormatVersion = 1;

// The spelling of World's own event names (model/world.cpp).
constexpr std::array<std::pair<Kind, std::string_view>, 17> kKinds{{
    {Kind::Deliver, "deliver"},
    {Kind::CompleteDisk, "complete-disk-io"},
    {Kind::FireTimer, "fire-timer"},
    {Kind::Notify, "notify-reachability"},
    {Kind::HostWrite, "host-write"},
    {Kind::HostRead, "host-read"},
    {Kind::LinkDown, "link-down"},
    {Kind::LinkUp, "link-up"},
    {Kind::Crash, "crash"},
    {Kind::Restart, "restart"},
    {Kind::DiskFailure, "disk-failure"},
    {Kind::DiskRepair, "disk-repair"},
    {Kind::Disaster, "disaster"},
    {Kind::Suspend, "suspend"},
    {Kind::Resume, "resume"},
    {Kind::Failover, "failover"},
    {Kind::Failback, "failback"},
}};

std::string_view kind_name(Kind k) {
  for (const auto& [kind, name] : kKinds)
    if (kind == k) return name;
  return "?";
}

json volume_json(const VolumeConfig& v) {
  return {{"name", v.name},          {"tracks", v.tracks}, {"mode", to_string(v.mode)}, {"skew_tracks", v.skew_tracks},
          {"domino", v.domino},      {"consistency_group", v.consistency_group}};
}

json async_json(const AsyncConfig& a) {
  return {{"cycle_time_min_ns", a.cycle_time_min.ns},
          {"transmit_sets_max", a.transmit_sets_max},
          {"coordination_max_ns", a.coordination_max.ns},
          {"cache_fraction_max", a.cache_fraction_max},
          {"spill_bytes_max", a.spill_bytes_max},
          {"spill_bytes_per_s", a.spill_bytes_per_s},
          {"pacing_threshold_fraction", a.pacing_threshold_fraction},
          {"pacing_delay_max_ns", a.pacing_delay_max.ns},
          {"link_limbo_ns", a.link_limbo.ns},
          {"consistency_groups", a.consistency_groups}};
}

json controller_json(const ControllerConfig& c) {
  json vols = json::array();
  for (const auto& v : c.volumes) vols.push_back(volume_json(v));
  return {{"cache_slots", c.cache_slots},
          {"write_pending_limit", c.write_pending_limit},
          {"track_bytes", c.track_bytes},
          {"disks", c.disks},
          {"cache_nonvolatile", c.cache_nonvolatile},
          {"round_trips_per_write", c.round_trips_per_write},
          {"copies_in_flight_max", c.copies_in_flight_max},
          {"destages_per_disk_max", c.destages_per_disk_max},
          {"disk_retry_interval_ns", c.disk_retry_interval.ns},
          {"delayed_requests_max", c.delayed_requests_max},
          {"mutant", to_string(c.mutant)},
          {"async", async_json(c.async)},
          {"volumes", vols}};
}

json event_json(const WorldEvent& e) {
  return {{"kind", kind_name(e.kind)}, {"side", to_string(e.side)}, {"index", e.index},
          {"volume", e.key.volume},    {"track", e.key.track},       {"flag", e.flag},
          {"text", to_string(e)}};
}

// ---- reading a counterexample file: every value checked, with its place ------

// Line and column of every value of a JSON text, by JSON pointer
// ("/world/side_a/cache_slots"). nlohmann::json keeps no positions, so the
// text is read a second time with its SAX parser through an iterator that
// counts lines and columns of what the parser consumed: when the parser
// reports a value, the last token that started is that value.
class Positions {
 public:
  size_t line = 1;
  size_t column = 1;

  void advance(std::string_view text) {
    for (const char c : text) step(c);
  }
  void record(std::string_view text);
  // "line:col", or "" when unknown.
  std::string of_value(const std::string& pointer) const { return text_of(values_, pointer); }
  std::string of_key(const std::string& pointer) const { return text_of(keys_, pointer); }

 private:
  using Map = std::map<std::string, std::pair<size_t, size_t>>;
  static std::string text_of(const Map& m, const std::string& pointer) {
    const auto it = m.find(pointer);
    return it == m.end() ? "" : fmt::format("{}:{}", it->second.first, it->second.second);
  }
  void step(char c) {
    if (c == '\n') {
      ++line;
      column = 1;
    } else if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) {  // one column per UTF-8 character
      ++column;
    }
  }
  // Called for each character the parser consumes, before `step`.
  void scan(char c) {
    const auto here = std::pair(line, column);
    if (in_string_) {
      if (escape_) escape_ = false;
      else if (c == '\\') escape_ = true;
      else if (c == '"') in_string_ = false;
    } else if (c == '"') {
      in_string_ = true;
      token_ = here;
    } else if (c == '{' || c == '[') {
      token_ = here;
      in_word_ = false;
    } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == ':' || c == ']' || c == '}') {
      in_word_ = false;
    } else if (!in_word_) {  // a number or a literal starts
      token_ = here;
      in_word_ = true;
    }
    step(c);
  }

  struct Iterator {
    using iterator_category = std::forward_iterator_tag;
    using value_type = char;
    using difference_type = std::ptrdiff_t;
    using pointer = const char*;
    using reference = const char&;
    const char* at;
    Positions* positions;
    const char& operator*() const { return *at; }
    Iterator& operator++() {
      positions->scan(*at);
      ++at;
      return *this;
    }
    Iterator operator++(int) {
      Iterator before = *this;
      ++*this;
      return before;
    }
    bool operator==(const Iterator& o) const { return at == o.at; }
    bool operator!=(const Iterator& o) const { return at != o.at; }
  };

  class Recorder;

  Map values_;
  Map keys_;
  std::pair<size_t, size_t> token_{1, 1};
  bool in_string_ = false;
  bool escape_ = false;
  bool in_word_ = false;
};

// RFC 6901: '~' and '/' escaped in a pointer's reference tokens.
std::string pointer_token(std::string_view name) {
  std::string out;
  for (const char c : name) out += c == '~' ? "~0" : c == '/' ? "~1" : std::string(1, c);
  return out;
}

class Positions::Recorder : public nlohmann::json_sax<json> {
 public:
  explicit Recorder(Positions& p) : p_(p) {}
  bool null() override { return value(); }
  bool boolean(bool) override { return value(); }
  bool number_integer(number_integer_t) override { return value(); }
  bool number_unsigned(number_unsigned_t) override { return value(); }
  bool number_float(number_float_t, const string_t&) override { return value(); }
  bool string(string_t&) override { return value(); }
  bool binary(binary_t&) override { return value(); }
  bool start_object(std::size_t) override {
    value();
    stack_.push_back({last_, true, "", 0});
    return true;
  }
  bool key(string_t& k) override {
    stack_.back().key = k;
    p_.keys_[pointer()] = p_.token_;
    return true;
  }
  bool end_object() override {
    stack_.pop_back();
    return true;
  }
  bool start_array(std::size_t) override {
    value();
    stack_.push_back({last_, false, "", 0});
    return true;
  }
  bool end_array() override {
    stack_.pop_back();
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }

 private:
  struct Level {
    std::string self;  // the container's own pointer
    bool object = false;
    std::string key;   // objects: the current member
    size_t index = 0;  // arrays: the next element
  };
  // The pointer of the value being read now.
  std::string pointer() const {
    if (stack_.empty()) return "";
    const Level& l = stack_.back();
    return l.self + "/" + (l.object ? pointer_token(l.key) : std::to_string(l.index));
  }
  bool value() {
    last_ = pointer();
    p_.values_[last_] = p_.token_;
    if (!stack_.empty() && !stack_.back().object) ++stack_.back().index;
    return true;
  }

  Positions& p_;
  std::vector<Level> stack_;
  std::string last_;
};

void Positions::record(std::string_view text) {
  Recorder recorder(*this);
  line = column = 1;
  json::sax_parse(Iterator{text.data(), this}, Iterator{text.data() + text.size(), this}, &recorder);
}

// "/world/side_a/cache_slots" as the dotted name people read: world.side_a.cache_slots.
std::string dotted(const std::string& pointer) {
  std::string out;
  for (size_t i = 0; i < pointer.size(); ++i) {
    if (pointer[i] == '/') out += i ? "." : "";
    else if (pointer[i] == '~' && i + 1 < pointer.size()) out += pointer[++i] == '0' ? '~' : '/';
    else out += pointer[i];
  }
  return out.empty() ? "the document" : out;
}

// The value as a message shows it, cut when long.
std::string shown(const json& v) {
  std::string text = v.dump();
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

// Reads a counterexample document, checking every value against the ranges
// the explorer builds its pair within (model/limits.hpp): what the
// scenario loader would refuse for a [check], this refuses too (a slot
// count of -1 or 1.5, 0 round trips, 512-byte tracks at least). Errors name
// source:line:col when positions are known.
class Reader {
 public:
  Reader(const json& document, const Positions* positions, std::string source)
      : doc_(document), positions_(positions), source_(std::move(source)) {}

  Counterexample counterexample() const {
    const json& j = doc_;
    if (!j.is_object()) fail("", "expected an object");
    only_keys(j, "", {"format", "version", "mutant", "world", "bounds", "events", "rest_at_end", "shortest"});
    if (const std::string format = text(j, "", "format"); format != kFormat)
      fail("/format", fmt::format("not a {} file (format: {})", kFormat, shown(j.at("format"))));
    if (integer(j, "", "version", 0, UINT32_MAX) != kFormatVersion)
      fail("/version", fmt::format("format version {} (this build reads {})", j.at("version").dump(), kFormatVersion));
    text(j, "", "mutant");  // the sides' mutants are the ones used

    Counterexample cx;
    const json& w = object(j, "", "world");
    only_keys(w, "/world", {"links", "side_a", "side_b"});
    cx.world.links = static_cast<uint32_t>(integer(w, "/world", "links", 1, limits::kCheckLinksMax));
    cx.world.side_a = controller(object(w, "/world", "side_a"), "/world/side_a");
    cx.world.side_b = controller(object(w, "/world", "side_b"), "/world/side_b");
    same_volumes(cx.world.side_a, cx.world.side_b);

    const json& b = object(j, "", "bounds");
    const std::string bp = "/bounds";
    only_keys(b, bp, {"writes", "reads", "link_failures", "crashes", "disk_failures", "disasters", "operator_actions",
                      "max_states", "max_depth"});
    auto count = [&](const char* key, uint32_t max) { return static_cast<uint32_t>(integer(b, bp, key, 0, max)); };
    cx.bounds.writes = count("writes", limits::kCheckWritesMax);
    cx.bounds.reads = count("reads", limits::kCheckWritesMax);
    cx.bounds.link_failures = count("link_failures", limits::kCheckFailuresMax);
    cx.bounds.crashes = count("crashes", limits::kCheckFailuresMax);
    cx.bounds.disk_failures = count("disk_failures", limits::kCheckFailuresMax);
    cx.bounds.disasters = count("disasters", limits::kCheckFailuresMax);
    cx.bounds.operator_actions = count("operator_actions", limits::kCheckFailuresMax);
    cx.bounds.max_states = integer(b, bp, "max_states", 1, limits::kCheckStatesMax);
    cx.bounds.max_depth = static_cast<uint32_t>(integer(b, bp, "max_depth", 1, limits::kCheckDepthMax));

    const json& events = member(j, "", "events");
    if (!events.is_array() || events.size() > limits::kCheckEventsMax)
      fail("/events", fmt::format("expected an array of at most {} events", limits::kCheckEventsMax));
    for (size_t i = 0; i < events.size(); ++i) cx.events.push_back(event(events[i], fmt::format("/events/{}", i)));
    cx.rest_at_end = flag(j, "", "rest_at_end");
    cx.shortest = flag(j, "", "shortest");
    return cx;
  }

 private:
  [[noreturn]] void fail(const std::string& pointer, const std::string& message, bool at_key = false) const {
    const std::string at = positions_ ? (at_key ? positions_->of_key(pointer) : positions_->of_value(pointer)) : "";
    const std::string place = source_.empty() ? at : at.empty() ? source_ : source_ + ":" + at;
    throw TraceError(place.empty() ? message : place + ": " + message);
  }
  [[noreturn]] void refuse(const std::string& pointer, const json& v, std::string_view expected) const {
    fail(pointer, fmt::format("{}: expected {}, got {}", dotted(pointer), expected, shown(v)));
  }

  const json& member(const json& obj, const std::string& at, const char* key) const {
    const auto it = obj.find(key);
    if (it == obj.end()) fail(at, fmt::format("missing key '{}' in {}", key, dotted(at)));
    return *it;
  }
  const json& object(const json& obj, const std::string& at, const char* key) const {
    const json& v = member(obj, at, key);
    if (!v.is_object()) refuse(at + "/" + key, v, "an object");
    return v;
  }
  void only_keys(const json& obj, const std::string& at, std::initializer_list<std::string_view> known) const {
    for (auto it = obj.begin(); it != obj.end(); ++it)
      if (std::find(known.begin(), known.end(), it.key()) == known.end())
        fail(at + "/" + pointer_token(it.key()), fmt::format("unknown key '{}' in {}", it.key(), dotted(at)), true);
  }
  uint64_t integer(const json& obj, const std::string& at, const char* key, uint64_t min, uint64_t max) const {
    const json& v = member(obj, at, key);
    const std::string expected = min == max ? std::to_string(min) : fmt::format("an integer in [{}, {}]", min, max);
    // A float is refused even when whole: counts are never fractional.
    if (!v.is_number_integer() || (v.is_number_integer() && !v.is_number_unsigned() && v.get<int64_t>() < 0))
      refuse(at + "/" + key, v, expected);
    const uint64_t n = v.get<uint64_t>();
    if (n < min || n > max) refuse(at + "/" + key, v, expected);
    return n;
  }
  bool flag(const json& obj, const std::string& at, const char* key) const {
    const json& v = member(obj, at, key);
    if (!v.is_boolean()) refuse(at + "/" + key, v, "true or false");
    return v.get<bool>();
  }
  std::string text(const json& obj, const std::string& at, const char* key) const {
    const json& v = member(obj, at, key);
    if (!v.is_string()) refuse(at + "/" + key, v, "a string");
    return v.get<std::string>();
  }

  ControllerConfig controller(const json& c, const std::string& at) const {
    only_keys(c, at, {"cache_slots", "write_pending_limit", "track_bytes", "disks", "cache_nonvolatile",
                      "round_trips_per_write", "copies_in_flight_max", "destages_per_disk_max",
                      "disk_retry_interval_ns", "delayed_requests_max", "mutant", "async", "volumes"});
    ControllerConfig cc;
    cc.cache_slots = static_cast<uint32_t>(integer(c, at, "cache_slots", 1, limits::kCheckCacheSlotsMax));
    const json& wp = member(c, at, "write_pending_limit");
    if (!wp.is_number() || !(wp.get<double>() > 0 && wp.get<double>() <= 1))
      refuse(at + "/write_pending_limit", wp, "a number in (0, 1]");
    cc.write_pending_limit = wp.get<double>();
    cc.track_bytes = static_cast<uint32_t>(integer(c, at, "track_bytes", limits::kTrackBytesMin, limits::kTrackBytesMax));
    cc.disks = static_cast<uint32_t>(integer(c, at, "disks", 1, limits::kCheckDisksMax));
    cc.cache_nonvolatile = flag(c, at, "cache_nonvolatile");
    cc.round_trips_per_write = static_cast<uint32_t>(integer(c, at, "round_trips_per_write", 1, 2));
    cc.copies_in_flight_max = static_cast<uint32_t>(integer(c, at, "copies_in_flight_max", 1, UINT32_MAX));
    cc.destages_per_disk_max = static_cast<uint32_t>(integer(c, at, "destages_per_disk_max", 1, UINT32_MAX));
    cc.disk_retry_interval = Time::from_ns(static_cast<int64_t>(
        integer(c, at, "disk_retry_interval_ns", static_cast<uint64_t>(limits::kRetryMsMin * 1e6),
                static_cast<uint64_t>(limits::kDelayMsMax * 1e6))));
    cc.delayed_requests_max = static_cast<uint32_t>(integer(c, at, "delayed_requests_max", 1, UINT32_MAX));
    const std::string mutant = text(c, at, "mutant");
    if (!parse_mutant(mutant, cc.mutant)) refuse(at + "/mutant", c.at("mutant"), "a mutant name, or \"none\"");
    const json& volumes = member(c, at, "volumes");
    if (!volumes.is_array() || volumes.empty() || volumes.size() > limits::kCheckVolumesMax)
      refuse(at + "/volumes", volumes, fmt::format("an array of 1 to {} volumes", limits::kCheckVolumesMax));
    for (size_t i = 0; i < volumes.size(); ++i) {
      const std::string vp = fmt::format("{}/volumes/{}", at, i);
      const json& v = volumes[i];
      if (!v.is_object()) refuse(vp, v, "an object");
      only_keys(v, vp, {"name", "tracks", "mode", "skew_tracks", "domino", "consistency_group"});
      VolumeConfig vc;
      vc.name = text(v, vp, "name");
      const bool name_ok = !vc.name.empty() && vc.name.size() <= 64 && std::all_of(vc.name.begin(), vc.name.end(), [](char ch) {
        return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
      });
      if (!name_ok) refuse(vp + "/name", v.at("name"), "a name of 1 to 64 letters, digits, '_' or '-'");
      vc.tracks = static_cast<TrackNo>(integer(v, vp, "tracks", 1, limits::kCheckTracksMax));
      const std::string mode = text(v, vp, "mode");
      if (!parse_mode(mode, vc.mode))
        refuse(vp + "/mode", v.at("mode"), "one of \"sync\", \"semi-sync\", \"adaptive-copy-wp\", \"adaptive-copy-disk\", \"async\"");
      vc.skew_tracks = static_cast<uint32_t>(integer(v, vp, "skew_tracks", 0, UINT32_MAX));
      vc.domino = flag(v, vp, "domino");
      // (Files of an earlier version have no async keys: the defaults then.)
      if (v.contains("consistency_group"))
        vc.consistency_group = static_cast<uint16_t>(integer(v, vp, "consistency_group", 0, limits::kCheckVolumesMax - 1));
      cc.volumes.push_back(std::move(vc));
    }
    if (c.contains("async")) cc.async = async_config(object(c, at, "async"), at + "/async");
    const bool async = !cc.volumes.empty() && cc.volumes.front().mode == Mode::Async;
    for (size_t i = 0; i < cc.volumes.size(); ++i) {
      if ((cc.volumes[i].mode == Mode::Async) != async)
        fail(fmt::format("{}/volumes/{}/mode", at, i), "a pair's volumes are all async or none");
      if (async && cc.volumes[i].consistency_group >= cc.consistency_groups())
        fail(fmt::format("{}/volumes/{}/consistency_group", at, i),
             fmt::format("group {} of {} consistency groups", cc.volumes[i].consistency_group, cc.consistency_groups()));
    }
    return cc;
  }

  AsyncConfig async_config(const json& a, const std::string& at) const {
    only_keys(a, at, {"cycle_time_min_ns", "transmit_sets_max", "coordination_max_ns", "cache_fraction_max",
                      "spill_bytes_max", "spill_bytes_per_s", "pacing_threshold_fraction", "pacing_delay_max_ns",
                      "link_limbo_ns", "consistency_groups"});
    const uint64_t delay_max = static_cast<uint64_t>(limits::kDelayUsMax * 1e3);
    auto fraction = [&](const char* key) {
      const json& v = member(a, at, key);
      if (!v.is_number() || !(v.get<double>() > 0 && v.get<double>() <= 1)) refuse(at + "/" + key, v, "a number in (0, 1]");
      return v.get<double>();
    };
    AsyncConfig c;
    c.cycle_time_min = Time::from_ns(static_cast<int64_t>(integer(a, at, "cycle_time_min_ns", 1, delay_max)));
    c.transmit_sets_max = static_cast<uint32_t>(integer(a, at, "transmit_sets_max", 1, 16));
    c.coordination_max = Time::from_ns(static_cast<int64_t>(integer(a, at, "coordination_max_ns", 0, delay_max)));
    c.cache_fraction_max = fraction("cache_fraction_max");
    c.spill_bytes_max = integer(a, at, "spill_bytes_max", 0, uint64_t{1} << 50);
    const json& bw = member(a, at, "spill_bytes_per_s");
    if (!bw.is_number() || !(bw.get<double>() >= limits::kDiskMbPerSMin * 1e6 && bw.get<double>() <= limits::kDiskMbPerSMax * 1e6))
      refuse(at + "/spill_bytes_per_s", bw, "a bandwidth in bytes per second");
    c.spill_bytes_per_s = bw.get<double>();
    c.pacing_threshold_fraction = fraction("pacing_threshold_fraction");
    c.pacing_delay_max = Time::from_ns(static_cast<int64_t>(integer(a, at, "pacing_delay_max_ns", 0, delay_max)));
    c.link_limbo = Time::from_ns(static_cast<int64_t>(integer(a, at, "link_limbo_ns", 0, delay_max)));
    const json& groups = member(a, at, "consistency_groups");
    if (!groups.is_array() || groups.size() > limits::kCheckVolumesMax)
      refuse(at + "/consistency_groups", groups, fmt::format("an array of at most {} names", limits::kCheckVolumesMax));
    for (size_t i = 0; i < groups.size(); ++i) {
      if (!groups[i].is_string() || groups[i].get<std::string>().size() > 64)
        refuse(fmt::format("{}/consistency_groups/{}", at, i), groups[i], "a name");
      c.consistency_groups.push_back(groups[i].get<std::string>());
    }
    return c;
  }

  // The two sides mirror the same volumes, tracks of the same size.
  void same_volumes(const ControllerConfig& a, const ControllerConfig& b) const {
    bool same = a.volumes.size() == b.volumes.size() && a.track_bytes == b.track_bytes;
    for (size_t i = 0; same && i < a.volumes.size(); ++i)
      same = a.volumes[i].name == b.volumes[i].name && a.volumes[i].tracks == b.volumes[i].tracks;
    if (!same)
      fail("/world/side_b", "world.side_b: its volumes (names, tracks) and track_bytes must be those of world.side_a");
  }

  WorldEvent event(const json& e, const std::string& at) const {
    if (!e.is_object()) refuse(at, e, "an object");
    only_keys(e, at, {"kind", "side", "index", "volume", "track", "flag", "text"});
    WorldEvent ev;
    const std::string kind = text(e, at, "kind");
    const auto k = std::find_if(kKinds.begin(), kKinds.end(), [&](const auto& p) { return p.second == kind; });
    if (k == kKinds.end()) refuse(at + "/kind", e.at("kind"), "an event kind such as \"host-write\" or \"deliver\"");
    ev.kind = k->first;
    const std::string side = text(e, at, "side");
    if (side != "R1" && side != "R2") refuse(at + "/side", e.at("side"), "\"R1\" or \"R2\"");
    ev.side = side == "R1" ? Side::A : Side::B;
    ev.index = static_cast<uint32_t>(integer(e, at, "index", 0, UINT32_MAX));
    ev.key = TrackKey{static_cast<VolumeId>(integer(e, at, "volume", 0, UINT16_MAX)),
                      static_cast<TrackNo>(integer(e, at, "track", 0, UINT32_MAX))};
    ev.flag = flag(e, at, "flag");
    if (e.contains("text")) text(e, at, "text");  // for the reader; replay prints its own
    return ev;
  }

  const json& doc_;
  const Positions* positions_;
  std::string source_;
};

// A counterexample file is a regular file of at most
// kCounterexampleFileBytesMax bytes, read without blocking on a FIFO (as
// config/scenario.cpp reads a scenario).
std::string read_trace_file(const std::string& path) {
  if (path.find('\0') != std::string::npos) throw TraceError("a path cannot contain a NUL character");
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) throw TraceError(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw TraceError(fmt::format("{}: cannot read: {}", path, std::strerror(errno)));
  if (!S_ISREG(st.st_mode)) throw TraceError(fmt::format("{}: cannot read: not a regular file", path));
  if (static_cast<uintmax_t>(st.st_size) > kCounterexampleFileBytesMax)
    throw TraceError(fmt::format("{}: {} bytes: a counterexample file is at most {} MiB", path, st.st_size,
                                 kCounterexampleFileBytesMax >> 20));
  std::string text(static_cast<size_t>(st.st_size), '\0');
  size_t used = 0;
  while (used < text.size()) {
    const ssize_t n = ::read(fd, text.data() + used, text.size() - used);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw TraceError(fmt::format("{}: cannot read: {}", path, std::strerror(errno)));
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  text.resize(used);  // a file that shrank meanwhile: what is there
  return text;
}

}  // namespace

json bounds_json(const Bounds& b) {
  return {{"writes", b.writes},
          {"reads", b.reads},
          {"link_failures", b.link_failures},
          {"crashes", b.crashes},
          {"disk_failures", b.disk_failures},
          {"disasters", b.disasters},
          {"operator_actions", b.operator_actions},
          {"max_states", b.max_states},
          {"max_depth", b.max_depth}};
}

json to_json(const Counterexample& cx) {
  json events = json::array();
  for (const WorldEvent& e : cx.events) events.push_back(event_json(e));
  return {{"format", kFormat},
          {"version", kFormatVersion},
          {"mutant", to_string(cx.world.side_a.mutant)},
          {"world", {{"links", cx.world.links}, {"side_a", controller_json(cx.world.side_a)},
                     {"side_b", controller_json(cx.world.side_b)}}},
          {"bounds", bounds_json(cx.bounds)},
          {"events", events},
          {"rest_at_end", cx.rest_at_end},
          {"shortest", cx.shortest}};
}

Counterexample counterexample_from_json(const json& j) { return Reader(j, nullptr, "").counterexample(); }

void save_counterexample(const Counterexample& cx, const std::string& path) {
  if (path.find('\0') != std::string::npos) throw TraceError("a path cannot contain a NUL character");
  std::ofstream f(path);
  f << to_json(cx).dump(2, ' ', false, json::error_handler_t::replace) << '\n';
  f.close();  // what is still buffered fails here (a full disk), not in the destructor, unseen
  if (!f) throw TraceError(fmt::format("{}: cannot write: {}", path, errno ? std::strerror(errno) : "write failed"));
}

Counterexample parse_counterexample(std::string_view text, const std::string& source) {
  // Nesting first: copying a JSON value recurses once per level, and a file
  // of nested arrays would overflow the stack (a counterexample nests 4 deep).
  {
    Positions at;
    size_t depth = 0;
    bool in_string = false, escape = false;
    for (size_t i = 0; i < text.size(); ++i) {
      const char c = text[i];
      if (in_string) {
        if (escape) escape = false;
        else if (c == '\\') escape = true;
        else if (c == '"') in_string = false;
      } else if (c == '"') {
        in_string = true;
      } else if (c == '[' || c == '{') {
        if (++depth > json_read::kDepthMax) {
          at.advance(text.substr(0, i));
          throw TraceError(fmt::format("{}:{}:{}: not a counterexample: nested deeper than {} levels", source, at.line,
                                       at.column, json_read::kDepthMax));
        }
      } else if ((c == ']' || c == '}') && depth > 0) {
        --depth;
      }
    }
  }
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    // The byte offset of the error, as a line and column.
    Positions at;
    at.advance(text.substr(0, std::min<size_t>(e.byte > 0 ? e.byte - 1 : 0, text.size())));
    throw TraceError(fmt::format("{}:{}:{}: not JSON: {}", source, at.line, at.column, e.what()));
  }
  Positions positions;
  positions.record(text);
  return Reader(j, &positions, source).counterexample();
}

Counterexample load_counterexample(const std::string& path) {
  return parse_counterexample(read_trace_file(path), path);
}

json to_json(const Stats& s) {
  return {{"states", s.states},
          {"transitions", s.transitions},
          {"end_states", s.end_states},
          {"max_depth", s.max_depth},
          {"seconds", s.seconds},
          {"states_per_s", s.states_per_second()},
          {"visited_table_bytes", s.visited_bytes},
          {"memory_bytes", s.memory_bytes},
          {"bytes_per_state", s.bytes_per_state()}};
}

json to_json(const Finding& f) {
  json j{{"kind", to_string(f.kind)}, {"what", f.what}};
  j["invariant"] = f.invariant ? json(fmt::format("I{}", static_cast<int>(*f.invariant))) : json(nullptr);
  return j;
}

json to_json(const Result& r) {
  json j{{"outcome", to_string(r.outcome)}, {"stats", to_json(r.stats)}};
  j["finding"] = r.finding ? to_json(*r.finding) : json(nullptr);
  j["counterexample"] = r.counterexample ? to_json(*r.counterexample) : json(nullptr);
  j["shallow_search"] = to_json(r.shallow_stats);
  if (r.shortest_stats.transitions > 0) j["shortest_search"] = to_json(r.shortest_stats);
  return j;
}

}  // namespace mirrorsim::check
