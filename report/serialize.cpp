#include "report/serialize.hpp"

#include <stdexcept>

#include <fmt/format.h>

#include "report/json_read.hpp"

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

// Timeseries rows are arrays of the TimeSample fields in declaration order.
constexpr size_t kTimeSampleFields = 11 + kProcessorColumns + 4;

void ops_from(const json& j, const std::string& where, OpStats& s) {
  using namespace json_read;
  s.completed = integer_at<uint64_t>(j, "completed", where);
  s.rejected = integer_at<uint64_t>(j, "rejected", where);
  s.bytes = integer_at<uint64_t>(j, "bytes", where);
  // As nonzero_buckets() writes them: (index, count) pairs, ascending, each
  // index one the histogram has.
  const std::string buckets_where = path(where, "buckets");
  const json& buckets = array_at(j, "buckets", where);
  std::vector<std::pair<uint32_t, uint64_t>> nonzero;
  for (size_t i = 0; i < buckets.size(); ++i) {
    const std::string at = path(buckets_where, i);
    const json& pair = array(buckets[i], at, 2);
    const auto index = integer<uint32_t>(pair[0], path(at, 0));
    if (index >= s.response.bucket_count())
      throw Malformed(fmt::format("{}: bucket {} beyond the histogram's {}", at, index, s.response.bucket_count()));
    if (!nonzero.empty() && index <= nonzero.back().first)
      throw Malformed(fmt::format("{}: bucket {} after bucket {}: ascending expected", at, index, nonzero.back().first));
    nonzero.emplace_back(index, integer<uint64_t>(pair[1], path(at, 1)));
  }
  s.response.restore(nonzero, integer_at<uint64_t>(j, "count", where), number_at(j, "sum_ns", where),
                     integer_at<int64_t>(j, "min_ns", where), integer_at<int64_t>(j, "max_ns", where));
  const std::string samples_where = path(where, "samples");
  const json& samples_json = array_at(j, "samples", where);
  std::vector<int64_t> samples;
  samples.reserve(samples_json.size());
  for (size_t i = 0; i < samples_json.size(); ++i) samples.push_back(integer<int64_t>(samples_json[i], path(samples_where, i)));
  const auto seen = integer_at<uint64_t>(j, "seen", where);
  if (samples.size() > seen)
    throw Malformed(fmt::format("{}: {} samples of {} seen", samples_where, samples.size(), seen));
  s.samples.restore(std::move(samples), seen);
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
                    {"read_hits", v.read_hits},
                    {"delayed_writes", v.delayed_writes},
                    {"delayed_write_s", v.delayed_write_s}});
  j["full_volumes"] = vols;
  json ts = json::array();
  for (const auto& t : r.timeseries) {
    json row = {t.t_s, t.remote_wp_tracks, t.local_wp_slots, t.invalid_remote_tracks, t.delayed_writes,
                t.writes_at_risk, t.bytes_at_risk, t.link_utilisation, t.write_iops, t.write_response_mean_ms,
                t.pair_state};
    for (double u : t.processor_utilisation) row.push_back(u);
    for (const json& x : {json(t.rpo_s), json(t.cycle_time_s), json(t.delta_set_slots), json(t.pacing_delay_mean_ms)})
      row.push_back(x);
    ts.push_back(std::move(row));
  }
  j["timeseries"] = ts;
  j["violation_report"] = r.violation_report;
  j["trace_json"] = r.trace_json;
  return json::to_msgpack(j);
}

RunResult deserialize(std::span<const uint8_t> bytes) {
  using namespace json_read;
  try {
    const json j = parse_msgpack(bytes);
    RunResult r;
    r.mirrorsim_version = string_at(j, "mirrorsim_version", "");
    r.driver = string_at(j, "driver", "");
    r.engine_version = string_at(j, "engine_version", "");
    const json& config = array_at(j, "engine_config", "");
    for (size_t i = 0; i < config.size(); ++i) r.engine_config.push_back(string(config[i], path("engine_config", i)));
    r.seed = integer_at<uint64_t>(j, "seed", "");
    r.scenario = member(j, "scenario", "");
    if (!r.scenario.is_object()) throw Malformed(fmt::format("scenario: an object expected, found {}", type_of(r.scenario)));
    check_utf8(r.scenario, "scenario");
    r.scenario_toml = string_at(j, "scenario_toml", "");
    const json& percentiles = array_at(j, "percentiles", "");
    for (size_t i = 0; i < percentiles.size(); ++i) {
      const double p = number(percentiles[i], path("percentiles", i), true);
      if (!(p > 0 && p < 100)) throw Malformed(fmt::format("percentiles[{}]: {} is not in (0, 100)", i, p));
      r.percentiles.push_back(p);
    }
    const json& m = member(j, "metrics", "");
    r.ended_s = number_at(m, "ended_s", "metrics");
    r.measured_s = number_at(m, "measured_s", "metrics");
    const json& volumes = array_at(j, "full_volumes", "");
    for (size_t i = 0; i < volumes.size(); ++i) {
      const std::string where = path("full_volumes", i);
      const json& v = volumes[i];
      VolumeResult vr;
      vr.name = string_at(v, "name", where);
      const auto mode = integer_at<uint8_t>(v, "mode", where);
      if (mode > static_cast<uint8_t>(Mode::Async))
        throw Malformed(fmt::format("{}.mode: {} is not a mode", where, mode));
      vr.mode = static_cast<Mode>(mode);
      ops_from(member(v, "writes", where), path(where, "writes"), vr.writes);
      ops_from(member(v, "reads", where), path(where, "reads"), vr.reads);
      vr.read_hits = integer_at<uint64_t>(v, "read_hits", where);
      if (vr.read_hits > vr.reads.completed)
        throw Malformed(fmt::format("{}.read_hits: {} of {} reads completed", where, vr.read_hits, vr.reads.completed));
      vr.delayed_writes = integer_at<uint64_t>(v, "delayed_writes", where);
      vr.delayed_write_s = number_at(v, "delayed_write_s", where);
      r.volumes.push_back(std::move(vr));
    }
    r.wp_slots_mean = number_at(m, "wp_slots_mean", "metrics");
    r.in_sync_fraction = number_at(m, "in_sync_fraction", "metrics");
    r.wp_episodes_per_s = number_at(m, "wp_episodes_per_s", "metrics");
    r.wp_residence_mean_ms = number_at(m, "wp_residence_mean_ms", "metrics");
    r.remote_wp_tracks_peak = integer_at<uint64_t>(m, "remote_wp_tracks_peak", "metrics");
    r.local_wp_slots_peak = integer_at<uint64_t>(m, "local_wp_slots_peak", "metrics");
    r.invalid_remote_tracks_peak = integer_at<uint64_t>(m, "invalid_remote_tracks_peak", "metrics");
    r.writes_at_risk_peak = integer_at<uint64_t>(m, "writes_at_risk_peak", "metrics");
    r.bytes_at_risk_peak = integer_at<uint64_t>(m, "bytes_at_risk_peak", "metrics");
    r.link_utilisation_R1_to_R2_mean = number_at(m, "link_utilisation_R1_to_R2_mean", "metrics");
    r.link_utilisation_R2_to_R1_mean = number_at(m, "link_utilisation_R2_to_R1_mean", "metrics");
    r.disk_utilisation_R1_mean = number_at(m, "disk_utilisation_R1_mean", "metrics");
    r.disk_utilisation_R1_max = number_at(m, "disk_utilisation_R1_max", "metrics");
    r.disk_utilisation_R2_mean = number_at(m, "disk_utilisation_R2_mean", "metrics");
    r.disk_utilisation_R2_max = number_at(m, "disk_utilisation_R2_max", "metrics");
    // Results written before the key existed had no such work.
    if (m.contains("processors_other_busy_s"))
      r.processors_other_busy_s = number_at(m, "processors_other_busy_s", "metrics");
    const json& pools = array_at(m, "processor_pools", "metrics");
    for (size_t i = 0; i < pools.size(); ++i) {
      const std::string where = path("metrics.processor_pools", i);
      const json& x = pools[i];
      ProcessorPoolResult p;
      p.controller = string_at(x, "controller", where);
      p.pool = string_at(x, "pool", where);
      p.processors = integer_at<uint32_t>(x, "processors", where);
      p.shared_with = string_at(x, "shared_with", where);
      p.operations = integer_at<uint64_t>(x, "operations", where);
      p.busy_s = number_at(x, "busy_s", where);
      p.utilisation_mean = number_at(x, "utilisation_mean", where);
      p.utilisation_max = number_at(x, "utilisation_max", where);
      p.wait_mean_ms = number_at(x, "wait_mean_ms", where);
      p.queue_length_peak = integer_at<uint64_t>(x, "queue_length_peak", where);
      p.offered_load = number_at(x, "offered_load", where);
      p.saturated = boolean_at(x, "saturated", where);
      r.processor_pools.push_back(std::move(p));
    }
    r.copies_sent = integer_at<uint64_t>(m, "copies_sent", "metrics");
    r.disk_io_errors = integer_at<uint64_t>(m, "disk_io_errors", "metrics");
    const json& resyncs = array_at(m, "resyncs", "metrics");
    for (size_t i = 0; i < resyncs.size(); ++i) {
      const std::string where = path("metrics.resyncs", i);
      const json& x = resyncs[i];
      ResyncResult rr;
      rr.start_s = number_at(x, "start_s", where);
      if (const json& end = member(x, "end_s", where); !end.is_null()) rr.end_s = number(end, path(where, "end_s"));
      rr.invalid_tracks_at_start = integer_at<uint64_t>(x, "invalid_tracks_at_start", where);
      r.resyncs.push_back(rr);
    }
    const json& losses = array_at(m, "losses", "metrics");
    for (size_t i = 0; i < losses.size(); ++i) {
      const std::string where = path("metrics.losses", i);
      const json& x = losses[i];
      LossResult l;
      l.cause = string_at(x, "cause", where);
      l.at_s = number_at(x, "at_s", where);
      l.acked_by = string_at(x, "acked_by", where);
      l.writes = integer_at<uint64_t>(x, "writes", where);
      l.bytes = integer_at<uint64_t>(x, "bytes", where);
      l.writes_acked_while_mirrored = integer_at<uint64_t>(x, "writes_acked_while_mirrored", where);
      const std::string by_volume = path(where, "writes_by_volume");
      const json& counts = array(member(x, "writes_by_volume", where), by_volume, r.volumes.size());
      for (size_t v = 0; v < counts.size(); ++v) l.writes_by_volume.push_back(integer<uint64_t>(counts[v], path(by_volume, v)));
      r.losses.push_back(std::move(l));
    }
    if (const json& aj = member(m, "async", "metrics"); !aj.is_null()) {
      const std::string where = "metrics.async";
      AsyncResult a;
      const json& groups = array_at(aj, "consistency_groups", where);
      for (size_t i = 0; i < groups.size(); ++i) a.consistency_groups.push_back(string(groups[i], path(path(where, "consistency_groups"), i)));
      a.cycles = integer_at<uint64_t>(aj, "cycles", where);
      a.cycle_time_mean_s = number_at(aj, "cycle_time_mean_s", where);
      a.cycle_time_p95_s = number_at(aj, "cycle_time_p95_s", where);
      a.cycle_time_max_s = number_at(aj, "cycle_time_max_s", where);
      a.rpo_mean_s = number_at(aj, "rpo_mean_s", where);
      a.rpo_p95_s = number_at(aj, "rpo_p95_s", where);
      a.rpo_max_s = number_at(aj, "rpo_max_s", where);
      a.delta_set_slots_peak = integer_at<uint64_t>(aj, "delta_set_slots_peak", where);
      a.delta_set_slots_mean = number_at(aj, "delta_set_slots_mean", where);
      a.delta_set_cache_fraction_peak = number_at(aj, "delta_set_cache_fraction_peak", where);
      a.bytes_written = integer_at<uint64_t>(aj, "bytes_written", where);
      a.bytes_transmitted = integer_at<uint64_t>(aj, "bytes_transmitted", where);
      a.folding_ratio = number_at(aj, "folding_ratio", where);
      a.writes_folded = integer_at<uint64_t>(aj, "writes_folded", where);
      a.paced_writes = integer_at<uint64_t>(aj, "paced_writes", where);
      a.pacing_delay_mean_ms = number_at(aj, "pacing_delay_mean_ms", where);
      a.pacing_delay_max_ms = number_at(aj, "pacing_delay_max_ms", where);
      a.coordination_holds = integer_at<uint64_t>(aj, "coordination_holds", where);
      a.coordination_hold_mean_ms = number_at(aj, "coordination_hold_mean_ms", where);
      a.tracks_spilled = integer_at<uint64_t>(aj, "tracks_spilled", where);
      a.spill_bytes_peak = integer_at<uint64_t>(aj, "spill_bytes_peak", where);
      const json& drops = array_at(aj, "drops", where);
      for (size_t i = 0; i < drops.size(); ++i) {
        const std::string at = path(path(where, "drops"), i);
        a.drops.push_back(SessionDropResult{number_at(drops[i], "at_s", at), string_at(drops[i], "reason", at),
                                            integer_at<uint64_t>(drops[i], "tracks", at)});
      }
      if (const json& f = member(aj, "rpo_at_failover_s", where); !f.is_null())
        a.rpo_at_failover_s = number(f, path(where, "rpo_at_failover_s"));
      r.async = std::move(a);
    }
    r.invariant_violations = integer_at<uint64_t>(m, "invariant_violations", "metrics");
    r.quiesced_at_end = boolean_at(m, "quiesced_at_end", "metrics");
    r.end_state = string_at(m, "end_state", "metrics");
    r.drain_failed = boolean_at(m, "drain_failed", "metrics");
    r.host_writes = integer_at<uint64_t>(m, "host_writes", "metrics");
    r.trace_requests_split = integer_at<uint64_t>(m, "trace_requests_split", "metrics");
    r.engine_activities = integer_at<uint64_t>(m, "engine_activities", "metrics");
    const json& timeseries = array_at(j, "timeseries", "");
    for (size_t i = 0; i < timeseries.size(); ++i) {
      const std::string where = path("timeseries", i);
      const json& t = array(timeseries[i], where, kTimeSampleFields);
      auto field = [&](size_t f) { return path(where, f); };
      TimeSample s;
      s.t_s = number(t[0], field(0));
      s.remote_wp_tracks = integer<uint64_t>(t[1], field(1));
      s.local_wp_slots = integer<uint64_t>(t[2], field(2));
      s.invalid_remote_tracks = integer<uint64_t>(t[3], field(3));
      s.delayed_writes = integer<uint64_t>(t[4], field(4));
      s.writes_at_risk = integer<uint64_t>(t[5], field(5));
      s.bytes_at_risk = integer<uint64_t>(t[6], field(6));
      s.link_utilisation = number(t[7], field(7));
      s.write_iops = number(t[8], field(8));
      s.write_response_mean_ms = number(t[9], field(9));
      s.pair_state = string(t[10], field(10));
      for (size_t p = 0; p < kProcessorColumns; ++p) s.processor_utilisation[p] = number(t[11 + p], field(11 + p));
      constexpr size_t a = 11 + kProcessorColumns;
      s.rpo_s = number(t[a], field(a));
      s.cycle_time_s = number(t[a + 1], field(a + 1));
      s.delta_set_slots = integer<uint64_t>(t[a + 2], field(a + 2));
      s.pacing_delay_mean_ms = number(t[a + 3], field(a + 3));
      r.timeseries.push_back(std::move(s));
    }
    r.violation_report = string_at(j, "violation_report", "");
    r.trace_json = string_at(j, "trace_json", "");
    return r;
  } catch (const Malformed& e) {
    throw Malformed(std::string("malformed run result: ") + e.what());
  }
}

}  // namespace mirrorsim
