#include "check/counterexample.hpp"

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include <fmt/format.h>

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
    {Kind::DiskFail, "disk-fail"},
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

Kind parse_kind(const std::string& s, const std::string& where) {
  for (const auto& [kind, name] : kKinds)
    if (name == s) return kind;
  throw TraceError(fmt::format("{}: unknown event kind '{}'", where, s));
}

Side parse_side(const std::string& s, const std::string& where) {
  if (s == "A") return Side::A;
  if (s == "B") return Side::B;
  throw TraceError(fmt::format("{}: unknown side '{}' (A or B)", where, s));
}

json volume_json(const VolumeConfig& v) {
  return {{"name", v.name}, {"tracks", v.tracks}, {"mode", to_string(v.mode)}, {"skew_tracks", v.skew_tracks},
          {"domino", v.domino}};
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
          {"volumes", vols}};
}

ControllerConfig controller_from_json(const json& j, const std::string& where) {
  using namespace json_read;
  ControllerConfig c;
  c.cache_slots = integer_at<uint32_t>(j, "cache_slots", where);
  c.write_pending_limit = number_at(j, "write_pending_limit", where, true);
  c.track_bytes = integer_at<uint32_t>(j, "track_bytes", where);
  c.disks = integer_at<uint32_t>(j, "disks", where);
  c.cache_nonvolatile = boolean_at(j, "cache_nonvolatile", where);
  c.round_trips_per_write = integer_at<uint32_t>(j, "round_trips_per_write", where);
  c.copies_in_flight_max = integer_at<uint32_t>(j, "copies_in_flight_max", where);
  c.destages_per_disk_max = integer_at<uint32_t>(j, "destages_per_disk_max", where);
  c.disk_retry_interval = Time::from_ns(integer_at<int64_t>(j, "disk_retry_interval_ns", where));
  c.delayed_requests_max = integer_at<uint32_t>(j, "delayed_requests_max", where);
  const auto mutant = string_at(j, "mutant", where);
  if (!parse_mutant(mutant, c.mutant)) throw TraceError(fmt::format("{}.mutant: unknown mutant '{}'", where, mutant));
  const json& volumes = array_at(j, "volumes", where);
  for (size_t i = 0; i < volumes.size(); ++i) {
    const std::string at = path(path(where, "volumes"), i);
    const json& v = volumes[i];
    VolumeConfig vc;
    vc.name = string_at(v, "name", at);
    vc.tracks = integer_at<TrackNo>(v, "tracks", at);
    const auto mode = string_at(v, "mode", at);
    if (!parse_mode(mode, vc.mode)) throw TraceError(fmt::format("{}.mode: unknown mode '{}'", at, mode));
    vc.skew_tracks = integer_at<uint32_t>(v, "skew_tracks", at);
    vc.domino = boolean_at(v, "domino", at);
    c.volumes.push_back(std::move(vc));
  }
  if (c.cache_slots == 0 || c.disks == 0 || c.volumes.empty())
    throw TraceError(fmt::format("{}: a controller needs cache slots, disks and volumes", where));
  return c;
}

json bounds_json(const Bounds& b) {
  return {{"writes", b.writes},
          {"reads", b.reads},
          {"link_failures", b.link_failures},
          {"crashes", b.crashes},
          {"disk_errors", b.disk_errors},
          {"disasters", b.disasters},
          {"operator_actions", b.operator_actions},
          {"max_states", b.max_states},
          {"max_depth", b.max_depth}};
}

Bounds bounds_from_json(const json& j) {
  using json_read::integer_at;
  Bounds b;
  b.writes = integer_at<uint32_t>(j, "writes", "bounds");
  b.reads = integer_at<uint32_t>(j, "reads", "bounds");
  b.link_failures = integer_at<uint32_t>(j, "link_failures", "bounds");
  b.crashes = integer_at<uint32_t>(j, "crashes", "bounds");
  b.disk_errors = integer_at<uint32_t>(j, "disk_errors", "bounds");
  b.disasters = integer_at<uint32_t>(j, "disasters", "bounds");
  b.operator_actions = integer_at<uint32_t>(j, "operator_actions", "bounds");
  b.max_states = integer_at<uint64_t>(j, "max_states", "bounds");
  b.max_depth = integer_at<uint32_t>(j, "max_depth", "bounds");
  return b;
}

json event_json(const WorldEvent& e) {
  return {{"kind", kind_name(e.kind)}, {"side", to_string(e.side)}, {"index", e.index},
          {"volume", e.key.volume},    {"track", e.key.track},       {"flag", e.flag},
          {"text", to_string(e)}};
}

// Checks what World::apply would otherwise trust: the event must be one the
// World can apply at that point. Replay re-checks against the live state.
WorldEvent event_from_json(const json& j, const std::string& where) {
  using namespace json_read;
  WorldEvent e;
  e.kind = parse_kind(string_at(j, "kind", where), path(where, "kind"));
  e.side = parse_side(string_at(j, "side", where), path(where, "side"));
  e.index = integer_at<uint32_t>(j, "index", where);
  e.key = TrackKey{integer_at<VolumeId>(j, "volume", where), integer_at<TrackNo>(j, "track", where)};
  e.flag = boolean_at(j, "flag", where);
  return e;
}

}  // namespace

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

Counterexample counterexample_from_json(const json& j) {
  using namespace json_read;
  try {
    const auto format = j.is_object() ? j.find("format") : j.end();
    if (format == j.end() || !format->is_string() || format->get_ref<const std::string&>() != kFormat)
      throw TraceError(fmt::format("not a {} file", kFormat));
    if (const json& version = member(j, "version", ""); !version.is_number_integer() || version != kFormatVersion)
      throw TraceError(fmt::format("format version {} (this build reads {})",
                                   version.is_primitive() ? version.dump() : version.type_name(), kFormatVersion));
    Counterexample cx;
    const json& w = member(j, "world", "");
    cx.world.links = integer_at<uint32_t>(w, "links", "world");
    if (cx.world.links == 0) throw TraceError("world.links must be at least 1");
    cx.world.side_a = controller_from_json(member(w, "side_a", "world"), "world.side_a");
    cx.world.side_b = controller_from_json(member(w, "side_b", "world"), "world.side_b");
    cx.bounds = bounds_from_json(member(j, "bounds", ""));
    const json& events = array_at(j, "events", "");
    for (size_t i = 0; i < events.size(); ++i) cx.events.push_back(event_from_json(events[i], path("events", i)));
    cx.rest_at_end = boolean_at(j, "rest_at_end", "");
    cx.shortest = boolean_at(j, "shortest", "");
    return cx;
  } catch (const Malformed& e) {
    throw TraceError(e.what());
  }
}

void save_counterexample(const Counterexample& cx, const std::string& path) {
  errno = 0;
  std::ofstream f(path);
  f << to_json(cx).dump(2) << '\n';
  f.close();  // what is still buffered fails here (a full disk), not in the destructor, unseen
  if (!f) throw TraceError(fmt::format("{}: cannot write: {}", path, errno ? std::strerror(errno) : "write failed"));
}

Counterexample load_counterexample(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw TraceError(fmt::format("{}: cannot open", path));
  std::stringstream text;
  text << f.rdbuf();
  if (!f) throw TraceError(fmt::format("{}: cannot read", path));
  try {
    return counterexample_from_json(json_read::parse_text(text.str()));
  } catch (const json_read::Malformed& e) {
    throw TraceError(fmt::format("{}: {}", path, e.what()));
  } catch (const TraceError& e) {
    throw TraceError(fmt::format("{}: {}", path, e.what()));
  }
}

json to_json(const Stats& s) {
  return {{"states", s.states},
          {"transitions", s.transitions},
          {"end_states", s.end_states},
          {"max_depth", s.max_depth},
          {"seconds", s.seconds},
          {"states_per_s", s.states_per_second()},
          {"visited_table_bytes", s.visited_bytes},
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
