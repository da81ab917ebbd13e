#include "report/serialize.hpp"

#include <stdexcept>

namespace mirrorsim {

namespace {
using nlohmann::json;

json ops(const OpStats& s) {
  return {{"completed", s.completed},
          {"rejected", s.rejected},
          {"bytes", s.bytes},
          {"buckets", s.response.nonzero_buckets()},
          {"count", s.response.count()},
          {"sum_ns", s.response.sum_ns()},
          {"min_ns", s.response.min_ns()},
          {"max_ns", s.response.max_ns()},
          {"samples", s.samples.samples()},
          {"seen", s.samples.seen()}};
}

void ops_from(const json& j, OpStats& s) {
  s.completed = j.at("completed");
  s.rejected = j.at("rejected");
  s.bytes = j.at("bytes");
  s.response.restore(j.at("buckets").get<std::vector<std::pair<uint32_t, uint64_t>>>(), j.at("count"), j.at("sum_ns"),
                     j.at("min_ns"), j.at("max_ns"));
  s.samples.restore(j.at("samples").get<std::vector<int64_t>>(), j.at("seen"));
}
}  // namespace

std::vector<uint8_t> serialize(const RunResult& r) {
  json j = to_json(r);  // every scalar metric, by the same names as --out
  j["scenario_toml"] = r.scenario_toml;
  j["percentiles"] = r.percentiles;
  json vols = json::array();
  for (const auto& v : r.volumes)
    vols.push_back({{"name", v.name},
                    {"mode", static_cast<int>(v.mode)},
                    {"writes", ops(v.writes)},
                    {"reads", ops(v.reads)},
                    {"delayed_writes", v.delayed_writes},
                    {"delayed_write_s", v.delayed_write_s}});
  j["full_volumes"] = vols;
  json ts = json::array();
  for (const auto& t : r.timeseries)
    ts.push_back({t.t_s, t.remote_wp_tracks, t.local_wp_slots, t.invalid_remote_tracks, t.delayed_writes,
                  t.writes_at_risk, t.bytes_at_risk, t.link_utilisation, t.write_iops, t.write_response_mean_ms,
                  t.pair_state});
  j["timeseries"] = ts;
  j["violation_report"] = r.violation_report;
  return json::to_msgpack(j);
}

RunResult deserialize(const std::vector<uint8_t>& bytes) {
  json j;
  try {
    j = json::from_msgpack(bytes);
  } catch (const json::exception& e) {
    throw std::runtime_error(std::string("malformed run result: ") + e.what());
  }
  try {
    RunResult r;
    r.mirrorsim_version = j.at("mirrorsim_version");
    r.driver = j.at("driver");
    r.engine_version = j.at("engine_version");
    r.engine_config = j.at("engine_config").get<std::vector<std::string>>();
    r.seed = j.at("seed");
    r.scenario = j.at("scenario");
    r.scenario_toml = j.at("scenario_toml");
    r.percentiles = j.at("percentiles").get<std::vector<double>>();
    const json& m = j.at("metrics");
    r.simulated_s = m.at("simulated_s");
    r.measured_s = m.at("measured_s");
    for (const json& v : j.at("full_volumes")) {
      VolumeResult vr;
      vr.name = v.at("name");
      vr.mode = static_cast<Mode>(v.at("mode").get<int>());
      ops_from(v.at("writes"), vr.writes);
      ops_from(v.at("reads"), vr.reads);
      vr.delayed_writes = v.at("delayed_writes");
      vr.delayed_write_s = v.at("delayed_write_s");
      r.volumes.push_back(std::move(vr));
    }
    r.mean_wp_slots = m.at("mean_wp_slots");
    r.in_sync_fraction = m.at("in_sync_fraction");
    r.wp_episodes_per_s = m.at("wp_episodes_per_s");
    r.wp_residence_mean_ms = m.at("wp_residence_mean_ms");
    r.peak_remote_wp_tracks = m.at("peak_remote_wp_tracks");
    r.peak_local_wp_slots = m.at("peak_local_wp_slots");
    r.peak_invalid_remote_tracks = m.at("peak_invalid_remote_tracks");
    r.peak_writes_at_risk = m.at("peak_writes_at_risk");
    r.peak_bytes_at_risk = m.at("peak_bytes_at_risk");
    r.link_utilisation_to_secondary = m.at("link_utilisation_to_secondary");
    r.link_utilisation_to_primary = m.at("link_utilisation_to_primary");
    r.disk_utilisation_r1_mean = m.at("disk_utilisation_r1_mean");
    r.disk_utilisation_r1_max = m.at("disk_utilisation_r1_max");
    r.disk_utilisation_r2_mean = m.at("disk_utilisation_r2_mean");
    r.disk_utilisation_r2_max = m.at("disk_utilisation_r2_max");
    r.copies_sent = m.at("copies_sent");
    r.disk_errors = m.at("disk_errors");
    for (const json& x : m.at("resyncs")) {
      ResyncResult rr;
      rr.start_s = x.at("start_s");
      if (!x.at("end_s").is_null()) rr.end_s = x.at("end_s").get<double>();
      rr.invalid_tracks_at_start = x.at("invalid_tracks_at_start");
      r.resyncs.push_back(rr);
    }
    for (const json& x : m.at("losses")) {
      LossResult l;
      l.cause = x.at("cause");
      l.at_s = x.at("at_s");
      l.acked_by = x.at("acked_by");
      l.writes = x.at("writes");
      l.bytes = x.at("bytes");
      l.writes_acked_while_mirrored = x.at("writes_acked_while_mirrored");
      l.writes_by_volume = x.at("writes_by_volume").get<std::vector<uint64_t>>();
      r.losses.push_back(l);
    }
    r.invariant_violations = m.at("invariant_violations");
    r.quiesced_at_end = m.at("quiesced_at_end");
    r.end_state = m.at("end_state");
    r.drain_failed = m.at("drain_failed");
    r.host_writes = m.at("host_writes");
    r.engine_activities = m.at("engine_activities");
    for (const json& t : j.at("timeseries")) {
      TimeSample s;
      s.t_s = t[0];
      s.remote_wp_tracks = t[1];
      s.local_wp_slots = t[2];
      s.invalid_remote_tracks = t[3];
      s.delayed_writes = t[4];
      s.writes_at_risk = t[5];
      s.bytes_at_risk = t[6];
      s.link_utilisation = t[7];
      s.write_iops = t[8];
      s.write_response_mean_ms = t[9];
      s.pair_state = t[10];
      r.timeseries.push_back(s);
    }
    r.violation_report = j.at("violation_report");
    return r;
  } catch (const json::exception& e) {
    throw std::runtime_error(std::string("malformed run result: ") + e.what());
  }
}

}  // namespace mirrorsim
