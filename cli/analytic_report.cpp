#include "cli/analytic_report.hpp"

#include <cmath>

#include <fmt/format.h>

#include "model/analytic.hpp"

namespace mirrorsim::cli {

namespace {

std::string versus(double analytic, double simulated) {
  if (!std::isfinite(analytic)) return fmt::format("analytic unbounded (saturated), simulated {:.4f}", simulated);
  const double diff = analytic != 0 ? 100.0 * (simulated - analytic) / analytic : 0.0;
  return fmt::format("analytic {:.4f}, simulated {:.4f} ({:+.1f} %)", analytic, simulated, diff);
}

}  // namespace

std::string analytic_report(const Scenario& s, const RunResult& r) {
  using namespace analytic;
  std::string out = "\nanalytic reference (model/analytic) beside the simulated figures\n";
  std::vector<std::string> global;
  if (!s.failures.empty()) global.push_back("the failure schedule perturbs the steady state the models assume");
  if (s.link.network_model != "cm02") global.push_back("link.network_model lv08 adds SimGrid's TCP factors the models leave out");

  const double bw = s.link.bandwidth_gbit_per_s * 1e9 / 8.0;
  const double latency_s = s.link.one_way_latency_us() * 1e-6;
  // The front end's store at R1 and the remote adapter's at R2, at their means.
  const double c1 = s.primary.front_end_write_us.mean() * 1e-6, c2 = s.secondary.remote_adapter_copy_receive_us.mean() * 1e-6;
  for (const auto& p : r.processor_pools)
    if (p.utilisation_mean > 0.05)
      global.push_back(fmt::format("{} {} processors are {:.0f} % busy: the models leave their queueing out", p.controller,
                                   p.pool, 100 * p.utilisation_mean));
  const int rt = static_cast<int>(s.link.round_trips_per_write);
  for (const ControllerScenario* c : {&s.primary, &s.secondary})
    for (const ServiceTime* t : {&c->front_end_write_us, &c->remote_adapter_copy_receive_us, &c->disk_write_us})
      if (t->distribution != Distribution::Fixed) {
        global.push_back("service times vary: the models use their means");
        goto noted;
      }
noted:
  for (const auto& g : global) out += "  note: " + g + "\n";

  // Copies of every volume share the links: Poisson writes spread evenly.
  double writes_per_s = 0;
  bool all_poisson = true;
  for (const auto& w : s.workloads) {
    if (w.arrival == Arrival::Poisson) writes_per_s += w.rate_iops * w.write_fraction;
    else all_poisson = false;
  }
  for (size_t vi = 0; vi < s.volumes.size(); ++vi) {
    const VolumeScenario& vol = s.volumes[vi];
    const VolumeResult& vr = r.volumes[vi];
    std::vector<const WorkloadScenario*> ws;
    for (const auto& w : s.workloads)
      if (w.volume_index == vi) ws.push_back(&w);
    out += fmt::format("  volume {} ({}):\n", vol.name, to_string(vol.mode));
    std::vector<std::string> fails;
    if (ws.empty()) fails.push_back("no workload");
    for (const auto* w : ws)
      if (w->arrival != Arrival::Poisson) fails.push_back("closed-loop arrivals depend on the responses (the queues assume Poisson)");
    for (const auto* w : ws)
      if (w->block_bytes != ws.front()->block_bytes) fails.push_back("workloads with different block sizes");
    if (!fails.empty()) {
      for (const auto& f : fails) out += "    not modelled: " + f + "\n";
      continue;
    }
    double lambda = 0;
    for (const auto* w : ws) lambda += w->rate_iops * w->write_fraction;
    const double block = ws.front()->block_bytes;
    const UnloadedWrite uw{c1, c2, latency_s, bw, rt, block};
    const double copy_service = (64 + block) / bw;
    const double per_link = writes_per_s / s.link.links;
    const double link_wait = md1_sojourn_s(per_link, copy_service) - copy_service;
    const double sim_mean_ms = vr.writes.response.mean_ns() / 1e6;
    switch (vol.mode) {
      case Mode::Sync:
        out += fmt::format("    write response mean, ms: {}\n", versus((unloaded_sync_write_s(uw) + link_wait) * 1e3, sim_mean_ms));
        out += fmt::format("      = unloaded {:.4f} + copy waiting for its link {:.4f} (M/D/1, link utilisation {:.1f} %)\n",
                           unloaded_sync_write_s(uw) * 1e3, link_wait * 1e3, 100 * per_link * copy_service);
        break;
      case Mode::SemiSync: {
        // The volume's writes pass a gate one remote round trip at a time:
        // a write waits like an M/D/1 customer whose service is that trip.
        const double trip = unloaded_sync_write_s(uw) - c1 + link_wait;
        const double wait = md1_sojourn_s(lambda, trip) - trip;
        out += fmt::format("    write response mean, ms: {}\n", versus((c1 + wait) * 1e3, sim_mean_ms));
        out += fmt::format("      = cache store {:.4f} + waiting for the previous remote write {:.4f} (M/D/1, gate "
                           "busy {:.1f} % of the time)\n",
                           c1 * 1e3, wait * 1e3, 100 * lambda * trip);
        break;
      }
      case Mode::AdaptiveCopyWp:
      case Mode::AdaptiveCopyDisk:
      case Mode::Async:
        out += fmt::format("    write response mean, ms: {}\n", versus(unloaded_async_write_s(uw) * 1e3, sim_mean_ms));
        if (vr.delayed_writes) out += "      (delayed fast writes add to it: see the write-pending limit below)\n";
        if (vol.mode == Mode::Async && r.async && (r.async->coordination_holds || r.async->paced_writes))
          out += "      (coordination holds and write pacing add to it: see the async figures)\n";
        break;
    }
  }

  // Async: the steady-state cycle time and data exposure of one consistency
  // group written uniformly, whole tracks at a time (model/analytic.hpp).
  if (r.async) {
    std::vector<std::string> fails;
    if (controller_config(s, Side::A).consistency_groups() != 1) fails.push_back("more than one consistency group");
    if (!all_poisson) fails.push_back("not every workload is Poisson");
    uint64_t tracks = 0;
    for (const auto& v : s.volumes) tracks += v.tracks;
    for (const auto& w : s.workloads) {
      if (w.addresses != AddressPattern::Uniform) fails.push_back(fmt::format("{} addresses (the folding count assumes uniform ones)", to_string(w.addresses)));
      if (w.block_bytes != s.primary.track_bytes) fails.push_back("writes of less than a track (a folded track is sent with its dirty bytes)");
      if (w.start_s > 0 || w.stop_s) fails.push_back("workloads that start or stop within the run");
    }
    if (s.volumes.size() > 1) fails.push_back("several volumes (the reference spreads writes over one)");
    if (fails.empty() && writes_per_s > 0) {
      AsyncCycle a;
      a.writes_per_s = writes_per_s;
      a.tracks = static_cast<double>(tracks);
      a.track_message_bytes = s.primary.track_bytes + 64.0;
      a.bandwidth_bytes_per_s = bw * s.link.links;
      a.cycle_time_min_s = s.async.cycle_time_min_s;
      a.fixed_s = 2 * latency_s;
      const AsyncCycleReference ref = async_cycle(a);
      const double transmit_s = ref.link_bound ? ref.cycle_time_s
                                               : ref.tracks_per_cycle * a.track_message_bytes / a.bandwidth_bytes_per_s + a.fixed_s;
      out += fmt::format("  async cycles ({}):\n", ref.link_bound ? "the link sets the cycle time" : "at the minimum cycle time");
      out += fmt::format("    cycle time mean, s: {}\n", versus(ref.cycle_time_s, r.async->cycle_time_mean_s));
      out += fmt::format("    data exposure mean, s: {}\n", versus(transmit_s + ref.cycle_time_s / 2, r.async->rpo_mean_s));
      out += fmt::format("    data exposure max, s: {}\n", versus(transmit_s + ref.cycle_time_s, r.async->rpo_max_s));
      out += fmt::format("    folding ratio: {}\n", versus(writes_per_s * ref.cycle_time_s / ref.tracks_per_cycle, r.async->folding_ratio));
    } else {
      out += "  async cycles: not modelled here:\n";
      for (const auto& f : fails) out += "    - " + f + "\n";
    }
  }

  // The write-pending limit as a CTMC: one FIFO disk, every write a slot of its own.
  std::vector<std::string> wp_fails;
  if (!all_poisson) wp_fails.push_back("closed-loop arrivals");
  if (s.primary.disks != 1) wp_fails.push_back(fmt::format("R1 has {} disks (the CTMC models one FIFO disk)", s.primary.disks));
  for (const auto& w : s.workloads) {
    if (w.addresses == AddressPattern::Zipf || w.addresses == AddressPattern::Hotspot)
      wp_fails.push_back(fmt::format("{} addresses rewrite tracks still in cache (the CTMC needs a slot per write)",
                                     w.addresses == AddressPattern::Zipf ? "zipf" : "hotspot"));
    if (w.write_fraction < 1) wp_fails.push_back("reads also occupy the disk");
  }
  uint64_t volume_tracks = 0;
  for (const auto& v : s.volumes) volume_tracks += v.tracks;
  if (volume_tracks < 100ull * s.primary.cache_slots)
    wp_fails.push_back("the volumes are not much larger than the cache (writes hit cached tracks)");
  if (wp_fails.empty() && !s.workloads.empty()) {
    const double block = s.workloads.front().block_bytes;
    const double service = s.primary.disk_write_us.mean() * 1e-6 + block / (s.primary.disk_bandwidth_mb_per_s * 1e6);
    const int slots = static_cast<int>(controller_config(s, Side::A).write_pending_slots_max());
    const WritePendingQueue q = write_pending_queue(writes_per_s, service, slots);
    uint64_t delayed = 0, writes = 0;
    double delayed_s = 0;
    for (const auto& v : r.volumes) {
      delayed += v.delayed_writes;
      writes += v.writes.completed;
      delayed_s += v.delayed_write_s;
    }
    out += fmt::format("  write-pending limit ({} slots, destage {:.3f} ms, disk utilisation {:.1f} %; CTMC of {} states):\n",
                       slots, service * 1e3, 100 * q.utilisation, q.states);
    out += fmt::format("    probability a write is delayed: {}\n",
                       versus(q.delay_probability, writes ? static_cast<double>(delayed) / writes : 0.0));
    out += fmt::format("    mean delay per write, ms: {}\n",
                       versus(q.mean_delay_s * 1e3, writes ? delayed_s / writes * 1e3 : 0.0));
    out += fmt::format("    mean slots holding WP data: {}\n", versus(q.wp_slots_mean, r.wp_slots_mean));
  } else {
    out += "  write-pending limit: not modelled here:\n";
    for (const auto& f : wp_fails) out += "    - " + f + "\n";
  }

  // Adaptive copy: copies in flight as M/G/infinity.
  bool adaptive = !s.volumes.empty();
  for (const auto& v : s.volumes) adaptive &= v.mode == Mode::AdaptiveCopyWp;
  if (adaptive && all_poisson && !s.workloads.empty()) {
    const UnloadedWrite uw{c1, c2, latency_s, bw, rt, static_cast<double>(s.workloads.front().block_bytes)};
    const double residence = unloaded_sync_write_s(uw) - c1;
    out += fmt::format("  secondary fully in sync (adaptive-copy-wp, M/G/inf copies): fraction of time {}\n",
                       versus(in_sync_fraction(writes_per_s, residence), r.in_sync_fraction));
  } else {
    out += "  secondary fully in sync: modelled for adaptive-copy-wp volumes under Poisson writes only\n";
  }
  return out;
}

}  // namespace mirrorsim::cli
