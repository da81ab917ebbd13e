#include "check/counterexample.hpp"

#include <array>
#include <fstream>
#include <utility>

#include <fmt/format.h>

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

Kind parse_kind(const std::string& s) {
  for (const auto& [kind, name] : kKinds)
    if (name == s) return kind;
  throw TraceError(fmt::format("unknown event kind '{}'", s));
}

Side parse_side(const std::string& s) {
  if (s == "A") return Side::A;
  if (s == "B") return Side::B;
  throw TraceError(fmt::format("unknown side '{}' (A or B)", s));
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

ControllerConfig controller_from_json(const json& j) {
  ControllerConfig c;
  c.cache_slots = j.at("cache_slots").get<uint32_t>();
  c.write_pending_limit = j.at("write_pending_limit").get<double>();
  c.track_bytes = j.at("track_bytes").get<uint32_t>();
  c.disks = j.at("disks").get<uint32_t>();
  c.cache_nonvolatile = j.at("cache_nonvolatile").get<bool>();
  c.round_trips_per_write = j.at("round_trips_per_write").get<uint32_t>();
  c.copies_in_flight_max = j.at("copies_in_flight_max").get<uint32_t>();
  c.destages_per_disk_max = j.at("destages_per_disk_max").get<uint32_t>();
  c.disk_retry_interval = Time::from_ns(j.at("disk_retry_interval_ns").get<int64_t>());
  c.delayed_requests_max = j.at("delayed_requests_max").get<uint32_t>();
  const auto mutant = j.at("mutant").get<std::string>();
  if (!parse_mutant(mutant, c.mutant)) throw TraceError(fmt::format("unknown mutant '{}'", mutant));
  for (const json& v : j.at("volumes")) {
    VolumeConfig vc;
    vc.name = v.at("name").get<std::string>();
    vc.tracks = v.at("tracks").get<TrackNo>();
    const auto mode = v.at("mode").get<std::string>();
    if (!parse_mode(mode, vc.mode)) throw TraceError(fmt::format("unknown mode '{}'", mode));
    vc.skew_tracks = v.at("skew_tracks").get<uint32_t>();
    vc.domino = v.at("domino").get<bool>();
    c.volumes.push_back(std::move(vc));
  }
  if (c.cache_slots == 0 || c.disks == 0 || c.volumes.empty())
    throw TraceError("a controller needs cache slots, disks and volumes");
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
  Bounds b;
  b.writes = j.at("writes").get<uint32_t>();
  b.reads = j.at("reads").get<uint32_t>();
  b.link_failures = j.at("link_failures").get<uint32_t>();
  b.crashes = j.at("crashes").get<uint32_t>();
  b.disk_errors = j.at("disk_errors").get<uint32_t>();
  b.disasters = j.at("disasters").get<uint32_t>();
  b.operator_actions = j.at("operator_actions").get<uint32_t>();
  b.max_states = j.at("max_states").get<uint64_t>();
  b.max_depth = j.at("max_depth").get<uint32_t>();
  return b;
}

json event_json(const WorldEvent& e) {
  return {{"kind", kind_name(e.kind)}, {"side", to_string(e.side)}, {"index", e.index},
          {"volume", e.key.volume},    {"track", e.key.track},       {"flag", e.flag},
          {"text", to_string(e)}};
}

// Checks what World::apply would otherwise trust: the event must be one the
// World can apply at that point. Replay re-checks against the live state.
WorldEvent event_from_json(const json& j) {
  WorldEvent e;
  e.kind = parse_kind(j.at("kind").get<std::string>());
  e.side = parse_side(j.at("side").get<std::string>());
  e.index = j.at("index").get<uint32_t>();
  e.key = TrackKey{j.at("volume").get<VolumeId>(), j.at("track").get<TrackNo>()};
  e.flag = j.at("flag").get<bool>();
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
  try {
    if (j.value("format", "") != kFormat) throw TraceError(fmt::format("not a {} file", kFormat));
    if (j.at("version").get<int>() != kFormatVersion)
      throw TraceError(fmt::format("format version {} (this build reads {})", j.at("version").dump(), kFormatVersion));
    Counterexample cx;
    const json& w = j.at("world");
    cx.world.links = w.at("links").get<uint32_t>();
    if (cx.world.links == 0) throw TraceError("links must be at least 1");
    cx.world.side_a = controller_from_json(w.at("side_a"));
    cx.world.side_b = controller_from_json(w.at("side_b"));
    cx.bounds = bounds_from_json(j.at("bounds"));
    for (const json& e : j.at("events")) cx.events.push_back(event_from_json(e));
    cx.rest_at_end = j.at("rest_at_end").get<bool>();
    cx.shortest = j.at("shortest").get<bool>();
    return cx;
  } catch (const json::exception& e) {
    throw TraceError(e.what());
  }
}

void save_counterexample(const Counterexample& cx, const std::string& path) {
  std::ofstream f(path);
  f << to_json(cx).dump(2) << '\n';
  if (!f) throw TraceError(fmt::format("{}: cannot write", path));
}

Counterexample load_counterexample(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw TraceError(fmt::format("{}: cannot open", path));
  try {
    return counterexample_from_json(json::parse(f));
  } catch (const json::exception& e) {
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
