#include "report/result.hpp"

#include <fmt/format.h>

namespace mirrorsim {

namespace {

nlohmann::json response_json(const OpStats& s, const std::vector<double>& percentiles, double measured_s) {
  nlohmann::json j;
  j["completed"] = s.completed;
  j["rejected"] = s.rejected;
  j["iops"] = measured_s > 0 ? static_cast<double>(s.completed) / measured_s : 0.0;
  j["mb_per_s"] = measured_s > 0 ? static_cast<double>(s.bytes) / 1e6 / measured_s : 0.0;
  nlohmann::json rt;
  rt["mean"] = s.response.mean_ns() / 1e6;
  for (double p : percentiles) rt[fmt::format("p{}", p)] = s.response.percentile_ns(p) / 1e6;
  rt["max"] = static_cast<double>(s.response.max_ns()) / 1e6;
  j["response_ms"] = rt;
  return j;
}

std::string ms(double ns) { return fmt::format("{:.3f}", ns / 1e6); }

double read_hit_fraction(const VolumeResult& v) {
  return v.reads.completed > 0 ? static_cast<double>(v.read_hits) / static_cast<double>(v.reads.completed) : 0.0;
}

}  // namespace

uint64_t RunResult::writes_lost() const {
  uint64_t n = 0;
  for (const auto& l : losses) n += l.writes;
  return n;
}

nlohmann::json async_json(const AsyncResult& a) {
  nlohmann::json j;
  j["consistency_groups"] = a.consistency_groups;
  j["cycles"] = a.cycles;
  j["cycle_time_mean_s"] = a.cycle_time_mean_s;
  j["cycle_time_p95_s"] = a.cycle_time_p95_s;
  j["cycle_time_max_s"] = a.cycle_time_max_s;
  j["rpo_mean_s"] = a.rpo_mean_s;
  j["rpo_p95_s"] = a.rpo_p95_s;
  j["rpo_max_s"] = a.rpo_max_s;
  j["delta_set_slots_peak"] = a.delta_set_slots_peak;
  j["delta_set_slots_mean"] = a.delta_set_slots_mean;
  j["delta_set_cache_fraction_peak"] = a.delta_set_cache_fraction_peak;
  j["bytes_written"] = a.bytes_written;
  j["bytes_transmitted"] = a.bytes_transmitted;
  j["folding_ratio"] = a.folding_ratio;
  j["writes_folded"] = a.writes_folded;
  j["paced_writes"] = a.paced_writes;
  j["pacing_delay_mean_ms"] = a.pacing_delay_mean_ms;
  j["pacing_delay_max_ms"] = a.pacing_delay_max_ms;
  j["coordination_holds"] = a.coordination_holds;
  j["coordination_hold_mean_ms"] = a.coordination_hold_mean_ms;
  j["tracks_spilled"] = a.tracks_spilled;
  j["spill_bytes_peak"] = a.spill_bytes_peak;
  nlohmann::json drops = nlohmann::json::array();
  for (const auto& d : a.drops) drops.push_back({{"at_s", d.at_s}, {"reason", d.reason}, {"tracks", d.tracks}});
  j["drops"] = drops;
  j["rpo_at_failover_s"] = a.rpo_at_failover_s ? nlohmann::json(*a.rpo_at_failover_s) : nlohmann::json(nullptr);
  return j;
}

std::string json_text(const nlohmann::json& j, int indent) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

nlohmann::json to_json(const RunResult& r) {
  nlohmann::json j;
  j["mirrorsim_version"] = r.mirrorsim_version;
  j["driver"] = r.driver;
  j["engine_version"] = r.engine_version;
  j["engine_config"] = r.engine_config;
  j["seed"] = r.seed;
  j["scenario"] = r.scenario;
  nlohmann::json m;
  m["ended_s"] = r.ended_s;
  m["measured_s"] = r.measured_s;
  nlohmann::json vols = nlohmann::json::array();
  for (const auto& v : r.volumes) {
    nlohmann::json vj;
    vj["name"] = v.name;
    vj["mode"] = std::string(to_string(v.mode));
    vj["writes"] = response_json(v.writes, r.percentiles, r.measured_s);
    vj["reads"] = response_json(v.reads, r.percentiles, r.measured_s);
    vj["read_hits"] = v.read_hits;
    vj["read_hit_fraction"] = read_hit_fraction(v);
    vj["delayed_writes"] = v.delayed_writes;
    vj["delayed_write_s"] = v.delayed_write_s;
    vols.push_back(vj);
  }
  m["volumes"] = vols;
  m["wp_slots_mean"] = r.wp_slots_mean;
  m["in_sync_fraction"] = r.in_sync_fraction;
  m["wp_episodes_per_s"] = r.wp_episodes_per_s;
  m["wp_residence_mean_ms"] = r.wp_residence_mean_ms;
  m["remote_wp_tracks_peak"] = r.remote_wp_tracks_peak;
  m["local_wp_slots_peak"] = r.local_wp_slots_peak;
  m["invalid_remote_tracks_peak"] = r.invalid_remote_tracks_peak;
  m["writes_at_risk_peak"] = r.writes_at_risk_peak;
  m["bytes_at_risk_peak"] = r.bytes_at_risk_peak;
  m["link_utilisation_R1_to_R2_mean"] = r.link_utilisation_R1_to_R2_mean;
  m["link_utilisation_R2_to_R1_mean"] = r.link_utilisation_R2_to_R1_mean;
  m["disk_utilisation_R1_mean"] = r.disk_utilisation_R1_mean;
  m["disk_utilisation_R1_max"] = r.disk_utilisation_R1_max;
  m["disk_utilisation_R2_mean"] = r.disk_utilisation_R2_mean;
  m["disk_utilisation_R2_max"] = r.disk_utilisation_R2_max;
  m["processors_other_busy_s"] = r.processors_other_busy_s;
  nlohmann::json pools = nlohmann::json::array();
  for (const auto& p : r.processor_pools)
    pools.push_back({{"controller", p.controller},
                     {"pool", p.pool},
                     {"processors", p.processors},
                     {"shared_with", p.shared_with},
                     {"operations", p.operations},
                     {"busy_s", p.busy_s},
                     {"utilisation_mean", p.utilisation_mean},
                     {"utilisation_max", p.utilisation_max},
                     {"wait_mean_ms", p.wait_mean_ms},
                     {"queue_length_peak", p.queue_length_peak},
                     {"offered_load", p.offered_load},
                     {"saturated", p.saturated}});
  m["processor_pools"] = pools;
  m["copies_sent"] = r.copies_sent;
  m["disk_io_errors"] = r.disk_io_errors;
  nlohmann::json rs = nlohmann::json::array();
  for (const auto& x : r.resyncs) {
    nlohmann::json xj;
    xj["start_s"] = x.start_s;
    xj["end_s"] = x.end_s ? nlohmann::json(*x.end_s) : nlohmann::json(nullptr);
    xj["duration_s"] = x.end_s ? nlohmann::json(*x.end_s - x.start_s) : nlohmann::json(nullptr);
    xj["invalid_tracks_at_start"] = x.invalid_tracks_at_start;
    rs.push_back(xj);
  }
  m["resyncs"] = rs;
  nlohmann::json ls = nlohmann::json::array();
  for (const auto& l : r.losses) {
    nlohmann::json lj;
    lj["cause"] = l.cause;
    lj["at_s"] = l.at_s;
    lj["acked_by"] = l.acked_by;
    lj["writes"] = l.writes;
    lj["bytes"] = l.bytes;
    lj["writes_acked_while_mirrored"] = l.writes_acked_while_mirrored;
    lj["writes_by_volume"] = l.writes_by_volume;
    ls.push_back(lj);
  }
  m["losses"] = ls;
  m["async"] = r.async ? async_json(*r.async) : nlohmann::json(nullptr);
  m["writes_lost"] = r.writes_lost();
  m["invariant_violations"] = r.invariant_violations;
  m["quiesced_at_end"] = r.quiesced_at_end;
  m["end_state"] = r.end_state;
  m["drain_failed"] = r.drain_failed;
  m["host_writes"] = r.host_writes;
  m["trace_requests_split"] = r.trace_requests_split;
  m["engine_activities"] = r.engine_activities;
  m["engine_activities_per_write"] =
      r.host_writes ? static_cast<double>(r.engine_activities) / static_cast<double>(r.host_writes) : 0.0;
  j["metrics"] = m;
  if (!r.violation_report.empty()) j["violation_report"] = r.violation_report;
  return j;
}

std::vector<std::pair<std::string, double>> summary_metrics(const RunResult& r) {
  std::vector<std::pair<std::string, double>> m;
  auto add = [&](std::string name, double v) { m.emplace_back(std::move(name), v); };
  for (const auto& v : r.volumes) {
    for (const auto* op : {&v.writes, &v.reads}) {
      const std::string kind = op == &v.writes ? "write" : "read";
      add(v.name + "." + kind + "_iops", r.measured_s > 0 ? static_cast<double>(op->completed) / r.measured_s : 0);
      add(v.name + "." + kind + "_mb_per_s", r.measured_s > 0 ? static_cast<double>(op->bytes) / 1e6 / r.measured_s : 0);
      add(v.name + "." + kind + "_response_mean_ms", op->response.mean_ns() / 1e6);
      for (double p : r.percentiles)
        add(fmt::format("{}.{}_response_p{}_ms", v.name, kind, p), op->response.percentile_ns(p) / 1e6);
      add(v.name + "." + kind + "_response_max_ms", static_cast<double>(op->response.max_ns()) / 1e6);
      add(v.name + "." + kind + "s_rejected", static_cast<double>(op->rejected));
    }
    add(v.name + ".read_hits", static_cast<double>(v.read_hits));
    add(v.name + ".read_hit_fraction", read_hit_fraction(v));
    const double writes = static_cast<double>(v.writes.completed);
    add(v.name + ".delayed_writes", static_cast<double>(v.delayed_writes));
    add(v.name + ".delayed_write_fraction", writes > 0 ? static_cast<double>(v.delayed_writes) / writes : 0);
    add(v.name + ".delayed_write_s", v.delayed_write_s);
  }
  add("wp_slots_mean", r.wp_slots_mean);
  add("in_sync_fraction", r.in_sync_fraction);
  add("wp_residence_mean_ms", r.wp_residence_mean_ms);
  add("remote_wp_tracks_peak", static_cast<double>(r.remote_wp_tracks_peak));
  add("local_wp_slots_peak", static_cast<double>(r.local_wp_slots_peak));
  add("invalid_remote_tracks_peak", static_cast<double>(r.invalid_remote_tracks_peak));
  add("writes_at_risk_peak", static_cast<double>(r.writes_at_risk_peak));
  add("bytes_at_risk_peak", static_cast<double>(r.bytes_at_risk_peak));
  add("link_utilisation_R1_to_R2_mean", r.link_utilisation_R1_to_R2_mean);
  add("link_utilisation_R2_to_R1_mean", r.link_utilisation_R2_to_R1_mean);
  add("disk_utilisation_R1_mean", r.disk_utilisation_R1_mean);
  add("disk_utilisation_R2_mean", r.disk_utilisation_R2_mean);
  for (const auto& p : r.processor_pools) {
    add(fmt::format("{}_utilisation_{}_mean", p.pool, p.controller), p.utilisation_mean);
    add(fmt::format("{}_wait_{}_mean_ms", p.pool, p.controller), p.wait_mean_ms);
  }
  double resync_s = 0;
  for (const auto& x : r.resyncs)
    if (x.end_s) resync_s += *x.end_s - x.start_s;
  add("resync_s", resync_s);
  // Async columns are there for every run (0 unless async), so that a sweep
  // over modes has one set of columns.
  const AsyncResult a = r.async.value_or(AsyncResult{});
  add("cycle_time_mean_s", a.cycle_time_mean_s);
  add("cycle_time_p95_s", a.cycle_time_p95_s);
  add("cycle_time_max_s", a.cycle_time_max_s);
  add("rpo_mean_s", a.rpo_mean_s);
  add("rpo_p95_s", a.rpo_p95_s);
  add("rpo_max_s", a.rpo_max_s);
  add("delta_set_slots_peak", static_cast<double>(a.delta_set_slots_peak));
  add("delta_set_cache_fraction_peak", a.delta_set_cache_fraction_peak);
  add("async_bytes_written", static_cast<double>(a.bytes_written));
  add("async_bytes_transmitted", static_cast<double>(a.bytes_transmitted));
  add("folding_ratio", a.folding_ratio);
  add("paced_writes", static_cast<double>(a.paced_writes));
  add("pacing_delay_mean_ms", a.pacing_delay_mean_ms);
  add("pacing_delay_max_ms", a.pacing_delay_max_ms);
  add("coordination_holds", static_cast<double>(a.coordination_holds));
  add("spill_bytes_peak", static_cast<double>(a.spill_bytes_peak));
  add("session_drops", static_cast<double>(a.drops.size()));
  add("writes_lost", static_cast<double>(r.writes_lost()));
  add("invariant_violations", static_cast<double>(r.invariant_violations));
  return m;
}

std::string summary_text(const RunResult& r) {
  std::string s;
  s += fmt::format("mirrorsim {} ({}), seed {}, {:.3f} s measured of {:.3f} s\n", r.mirrorsim_version, r.driver,
                   r.seed, r.measured_s, r.ended_s);
  for (const auto& v : r.volumes) {
    s += fmt::format("\nvolume {} ({})\n", v.name, to_string(v.mode));
    for (const auto* op : {&v.writes, &v.reads}) {
      const bool w = op == &v.writes;
      if (op->completed == 0 && op->rejected == 0) continue;
      const double iops = r.measured_s > 0 ? static_cast<double>(op->completed) / r.measured_s : 0;
      const double mbps = r.measured_s > 0 ? static_cast<double>(op->bytes) / 1e6 / r.measured_s : 0;
      s += fmt::format("  {:<6} {:>9} done {:>10.1f} IOPS {:>9.2f} MB/s", w ? "writes" : "reads", op->completed, iops,
                       mbps);
      if (op->rejected) s += fmt::format("   {} rejected", op->rejected);
      s += "\n  response ms  mean " + ms(op->response.mean_ns());
      for (double p : r.percentiles) s += fmt::format("  p{} {}", p, ms(op->response.percentile_ns(p)));
      s += "  max " + ms(static_cast<double>(op->response.max_ns())) + "\n";
      if (!w)
        s += fmt::format("  read hits {} ({:.1f} %), the rest waited for a disk read\n", v.read_hits,
                         100 * read_hit_fraction(v));
    }
    s += fmt::format("  delayed fast writes {} ({:.3f} s waiting in all)\n", v.delayed_writes, v.delayed_write_s);
  }
  s += "\npair\n";
  s += fmt::format("  cache: mean {:.1f} slots holding WP data, each for {:.3f} ms on average\n", r.wp_slots_mean,
                   r.wp_residence_mean_ms);
  s += fmt::format("  remote_wp_tracks_peak {}   local_wp_slots_peak {}   invalid_remote_tracks_peak {}\n",
                   r.remote_wp_tracks_peak, r.local_wp_slots_peak, r.invalid_remote_tracks_peak);
  s += fmt::format("  link utilisation  R1 to R2 mean {:.1f} %   R2 to R1 mean {:.1f} %\n",
                   100 * r.link_utilisation_R1_to_R2_mean, 100 * r.link_utilisation_R2_to_R1_mean);
  s += fmt::format("  disk utilisation  R1 mean {:.1f} % max {:.1f} %   R2 mean {:.1f} % max {:.1f} %\n",
                   100 * r.disk_utilisation_R1_mean, 100 * r.disk_utilisation_R1_max, 100 * r.disk_utilisation_R2_mean,
                   100 * r.disk_utilisation_R2_max);
  for (const auto& p : r.processor_pools) {
    if (p.operations == 0 && p.busy_s == 0) continue;
    s += fmt::format("  {} {:<14} {:>3} processor{}  utilisation mean {:.1f} % max {:.1f} %   wait mean {:.3f} ms, "
                     "queue peak {}{}{}\n",
                     p.controller, p.pool, p.processors, p.processors == 1 ? " " : "s", 100 * p.utilisation_mean, 100 * p.utilisation_max,
                     p.wait_mean_ms, p.queue_length_peak, p.shared_with.empty() ? "" : " (shared with " + p.shared_with + ")",
                     p.saturated ? fmt::format("   SATURATED: offered load {:.2f} × its processors", p.offered_load) : "");
  }
  if (r.processors_other_busy_s > 0 && r.measured_s > 0)
    s += fmt::format("  other work on the processors (processors_other_per_request_us): {:.3f} processors busy\n",
                     r.processors_other_busy_s / r.measured_s);
  s += fmt::format("  data at risk (RPO)  writes_at_risk_peak {}, bytes_at_risk_peak {}\n", r.writes_at_risk_peak,
                   r.bytes_at_risk_peak);
  if (r.resyncs.empty()) s += "  resyncs: none\n";
  for (const auto& x : r.resyncs) {
    if (x.end_s)
      s += fmt::format("  resync at {:.3f} s: {} invalid tracks, {:.3f} s to synchronize\n", x.start_s,
                       x.invalid_tracks_at_start, *x.end_s - x.start_s);
    else
      s += fmt::format("  resync at {:.3f} s: {} invalid tracks, not finished\n", x.start_s, x.invalid_tracks_at_start);
  }
  for (const auto& l : r.losses)
    s += fmt::format("  data lost at {} ({:.3f} s): {} acknowledged writes, {} bytes ({} acknowledged while mirrored)\n",
                     l.cause, l.at_s, l.writes, l.bytes, l.writes_acked_while_mirrored);
  if (r.async) {
    const AsyncResult& a = *r.async;
    s += fmt::format("  async cycles {}: cycle time mean {:.3f} s, p95 {:.3f} s, max {:.3f} s\n", a.cycles,
                     a.cycle_time_mean_s, a.cycle_time_p95_s, a.cycle_time_max_s);
    s += fmt::format("  data exposure (RPO) mean {:.3f} s, p95 {:.3f} s, max {:.3f} s\n", a.rpo_mean_s, a.rpo_p95_s,
                     a.rpo_max_s);
    s += fmt::format("  delta sets: peak {} slots ({:.1f} % of the cache), mean {:.1f}; written {} B, transmitted {} B "
                     "(folding {:.2f}:1, {} writes folded)\n",
                     a.delta_set_slots_peak, 100 * a.delta_set_cache_fraction_peak, a.delta_set_slots_mean,
                     a.bytes_written, a.bytes_transmitted, a.folding_ratio, a.writes_folded);
    s += fmt::format("  write pacing: {} writes paced, mean {:.3f} ms, max {:.3f} ms; coordination holds {} (mean {:.3f} "
                     "ms)\n",
                     a.paced_writes, a.pacing_delay_mean_ms, a.pacing_delay_max_ms, a.coordination_holds,
                     a.coordination_hold_mean_ms);
    if (a.tracks_spilled) s += fmt::format("  spill pool: {} tracks spilled, peak {} B\n", a.tracks_spilled, a.spill_bytes_peak);
    for (const auto& d : a.drops)
      s += fmt::format("  session dropped at {:.3f} s: {} ({} tracks made invalid)\n", d.at_s, d.reason, d.tracks);
    if (a.rpo_at_failover_s) s += fmt::format("  R2 took over {:.3f} s behind R1 (data exposure at the failover)\n", *a.rpo_at_failover_s);
  }
  if (r.disk_io_errors) s += fmt::format("  disk I/O errors {}\n", r.disk_io_errors);
  s += fmt::format("  end: {}\n", r.quiesced_at_end ? "drained, R2 == R1 checked" : r.end_state);
  if (r.trace_requests_split) s += fmt::format("  trace records split across tracks: {}\n", r.trace_requests_split);
  s += fmt::format("\ninvariant violations: {}\n", r.invariant_violations);
  return s;
}

std::string processor_column(size_t i) {
  return fmt::format("{}_utilisation_{}", to_string(static_cast<Pool>(i % kPools)), i < kPools ? "R1" : "R2");
}

std::string timeseries_csv(const RunResult& r) {
  std::string s =
      "t_s,remote_wp_tracks,local_wp_slots,invalid_remote_tracks,delayed_writes,writes_at_risk,bytes_at_risk,"
      "link_utilisation,write_iops,write_response_mean_ms,";
  for (size_t i = 0; i < kProcessorColumns; ++i) s += processor_column(i) + ",";
  s += "pair_state,rpo_s,cycle_time_s,delta_set_slots,pacing_delay_mean_ms\n";
  for (const auto& x : r.timeseries) {
    s += fmt::format("{:.6f},{},{},{},{},{},{},{:.6f},{:.3f},{:.6f},", x.t_s, x.remote_wp_tracks, x.local_wp_slots,
                     x.invalid_remote_tracks, x.delayed_writes, x.writes_at_risk, x.bytes_at_risk, x.link_utilisation,
                     x.write_iops, x.write_response_mean_ms);
    for (double u : x.processor_utilisation) s += fmt::format("{:.6f},", u);
    s += fmt::format("{},{:.6f},{:.6f},{},{:.6f}\n", x.pair_state, x.rpo_s, x.cycle_time_s, x.delta_set_slots,
                     x.pacing_delay_mean_ms);
  }
  return s;
}

}  // namespace mirrorsim
