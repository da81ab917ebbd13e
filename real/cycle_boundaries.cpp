#include "real/cycle_boundaries.hpp"

#include <algorithm>
#include <limits>

#include <fmt/format.h>

namespace mirrorsim::real {

std::string span_text(const std::optional<CycleHistory::Span>& s) {
  if (!s) return "none";
  return s->first == s->last ? fmt::format("{}", s->last) : fmt::format("{}–{}", s->first, s->last);
}

namespace {

// A kind of disagreement, counted, with its first example.
struct Tally {
  uint64_t n = 0;
  std::string first;
  void add(std::string what) {
    if (n++ == 0) first = std::move(what);
  }
  void report(const std::function<void(std::string)>& finding, const std::string& what) const {
    if (n == 0) return;
    finding(n == 1 ? fmt::format("{}: {}", what, first) : fmt::format("{} ({} of them), the first: {}", what, n, first));
  }
};

}  // namespace

CycleHistory::CycleHistory(const ControllerConfig& c) : volumes_(c.volumes) {
  groups_.resize(c.consistency_groups());
  uint64_t total = 0;
  for (const VolumeConfig& v : volumes_) {
    volume_base_.push_back(total);
    total += v.tracks;
  }
  if (groups_.empty()) return;
  // A fresh pair starts in sync with both sides empty: R1's cycles run from
  // time 0, their first boundary (0) the image of nothing written.
  base_.assign(total, 0);
  acked_max_.assign(total, 0);
  before_.assign(total, 0);
  captured_.resize(total);
}

uint16_t CycleHistory::group_of_index(uint64_t index) const {
  const auto v = static_cast<size_t>(std::upper_bound(volume_base_.begin(), volume_base_.end(), index) - volume_base_.begin() - 1);
  return volumes_[v].consistency_group;
}

void CycleHistory::forget(uint16_t g, std::string why) {
  Group& G = groups_[g];
  if (!G.known) return;
  G.known = false;
  G.unknown_why = std::move(why);
}

void CycleHistory::after_step(Side side, const Controller& c, Time at, std::span<const Command> out) {
  if (groups_.empty()) return;
  for (const Command& cmd : out) {
    if (const auto* a = std::get_if<AckHost>(&cmd)) {
      // An async write is acknowledged in the step that captures it, into
      // the cycle open at that point of the step (commands come in order).
      if (!a->write || volumes_[a->key.volume].mode != Mode::Async) continue;
      const Group& G = groups_[volumes_[a->key.volume].consistency_group];
      const uint64_t index = volume_base_[a->key.volume] + a->key.track;
      acked_max_[index] = std::max(acked_max_[index], a->version);
      if (!G.known || side != G.primary) continue;
      auto& list = captured_[index];
      if (a->version <= base_[index] || (!list.empty() && list.back().version >= a->version)) continue;
      list.push_back(Captured{a->version, G.open_cycle});
    } else if (const auto* sw = std::get_if<CycleSwitched>(&cmd)) {
      if (sw->group >= groups_.size()) continue;
      Group& G = groups_[sw->group];
      if (!G.known || side != G.primary) continue;
      if (sw->cycle != G.open_cycle) {
        forget(sw->group, fmt::format("at {:.3f} s R1 switched cycle {} while cycle {} was open", at.s(), sw->cycle,
                                      G.open_cycle));
        continue;
      }
      G.last_switched = sw->cycle;
      G.open_cycle = sw->cycle + 1;
    } else if (const auto* st = std::get_if<CyclesStarted>(&cmd)) {
      // Cycles (re)start with R2's image equal to R1's: the new base.
      if (st->group >= groups_.size()) continue;
      Group& G = groups_[st->group];
      G = Group{};
      G.primary = side;
      G.generation = c.generation();
      G.base_cycle = st->cycle - 1;
      G.open_cycle = st->cycle;
      G.last_switched = st->cycle - 1;
      for (VolumeId v = 0; v < volumes_.size(); ++v) {
        if (volumes_[v].consistency_group != st->group || volumes_[v].mode != Mode::Async) continue;
        for (TrackNo t = 0; t < volumes_[v].tracks; ++t) {
          const uint64_t index = volume_base_[v] + t;
          base_[index] = c.content_version(TrackKey{v, t});
          before_[index] = acked_max_[index];
          captured_[index].clear();
        }
      }
    } else if (const auto* d = std::get_if<SessionDropped>(&cmd)) {
      for (uint16_t g = 0; g < groups_.size(); ++g)
        if (groups_[g].primary == side)
          forget(g, fmt::format("the session dropped at {:.3f} s ({})", at.s(), to_string(d->reason)));
    }
  }
  // Cycles end without a drop too: a suspension, a demotion, a restart
  // (delta sets are not kept across one). A crash only ends them.
  if (c.crashed()) return;
  for (uint16_t g = 0; g < groups_.size(); ++g)
    if (groups_[g].known && groups_[g].primary == side && (c.role() != Role::Primary || !c.async_active()))
      forget(g, fmt::format("R1's cycles stopped at {:.3f} s (suspended, demoted or restarted)", at.s()));
}

std::optional<CycleHistory::Span> CycleHistory::boundaries_holding(uint64_t index, Version v) const {
  const Group& G = groups_[group_of_index(index)];
  const auto& list = captured_[index];
  uint64_t first = 0;
  std::optional<uint64_t> next;  // the cycle that next wrote the track
  if (v == base_[index]) {
    first = G.base_cycle;
    if (!list.empty()) next = list.front().cycle;
  } else {
    const auto it = std::find_if(list.begin(), list.end(), [&](const Captured& c) { return c.version == v; });
    if (it == list.end()) return std::nullopt;
    first = it->cycle;
    if (it + 1 != list.end()) next = (it + 1)->cycle;
  }
  const uint64_t last = std::min(next ? *next - 1 : std::numeric_limits<uint64_t>::max(), G.last_switched);
  // Empty: folded within its cycle (a newer version of the same cycle), or
  // captured in the cycle still open.
  if (first > last) return std::nullopt;
  return Span{first, last};
}

std::optional<uint64_t> CycleHistory::cycle_of(uint64_t index, Version v) const {
  if (v <= base_[index]) return groups_[group_of_index(index)].base_cycle;
  for (const Captured& c : captured_[index])
    if (c.version == v) return c.cycle;
  return std::nullopt;
}

bool CycleHistory::acked_before(uint64_t index, Version v) const {
  return v > base_[index] && v <= before_[index] && !cycle_of(index, v);
}

std::vector<GroupBoundary> check_boundaries(const CycleHistory& h, const ControllerConfig& c, const Geometry& geo,
                                            const std::function<std::optional<Version>(Side, uint64_t)>& held,
                                            const std::vector<std::vector<Version>>& acked,
                                            const std::function<void(std::string)>& finding) {
  std::vector<GroupBoundary> out;
  for (uint16_t g = 0; g < h.groups(); ++g) {
    GroupBoundary r;
    r.group = g < c.async.consistency_groups.size() ? c.async.consistency_groups[g] : fmt::format("{}", g);
    const CycleHistory::Group& G = h.group(g);
    r.base_cycle = G.base_cycle;
    r.cycles_switched = G.last_switched;
    std::vector<VolumeId> vols;
    for (VolumeId v = 0; v < c.volumes.size(); ++v)
      if (c.volumes[v].mode == Mode::Async && c.volumes[v].consistency_group == g) vols.push_back(v);
    const Side secondary = peer_of(G.primary);
    r.secondary = secondary;
    if (!G.known) r.not_checked_why = G.unknown_why;
    else if (vols.empty() || !held(secondary, geo.volume_base[vols.front()]))
      r.not_checked_why = fmt::format("{}'s image cannot be read", secondary == Side::B ? "R2 (side B)" : "side A");
    if (!r.not_checked_why.empty()) {
      out.push_back(std::move(r));
      continue;
    }
    r.checked = true;
    const std::string in_group = fmt::format("async group {}", r.group);
    std::optional<CycleHistory::Span> group_span = CycleHistory::Span{G.base_cycle, G.last_switched};
    bool volumes_at_boundaries = true;
    auto rewritten = [&](Version v) { return version_generation(v) > G.generation; };
    for (VolumeId v : vols) {
      GroupBoundary::Volume vr;
      vr.name = c.volumes[v].name;
      std::optional<CycleHistory::Span> span = CycleHistory::Span{G.base_cycle, G.last_switched};
      Tally off;
      for (TrackNo t = 0; t < c.volumes[v].tracks; ++t) {
        const uint64_t index = geo.volume_base[v] + t;
        const Version has = held(secondary, index).value_or(0);
        if (rewritten(has)) {
          ++r.tracks_rewritten;
          continue;
        }
        const auto s = h.boundaries_holding(index, has);
        if (!s) {
          const auto cycle = h.cycle_of(index, has);
          off.add(fmt::format("track {} holds v{}, {}", to_string(TrackKey{v, t}), to_string(has),
                              cycle ? fmt::format("captured in cycle {} but not its newest version there, or in the "
                                                  "cycle still open",
                                                  *cycle)
                                    : std::string("a version none of R1's cycles captured")));
          span.reset();
          continue;
        }
        ++r.tracks_at_boundary;
        if (!span) continue;
        const CycleHistory::Span before = *span;
        span->first = std::max(span->first, s->first);
        span->last = std::min(span->last, s->last);
        if (span->first > span->last) {
          off.add(fmt::format("track {} holds v{}, the image of boundaries {}, the volume's tracks before it {}",
                              to_string(TrackKey{v, t}), to_string(has), span_text(*s), span_text(before)));
          span.reset();
        }
      }
      off.report(finding, fmt::format("{}: R2's volume {} is at no cycle boundary", in_group, vr.name));
      vr.boundaries = span;
      if (!span) {
        volumes_at_boundaries = false;
        group_span.reset();
      } else if (group_span) {
        group_span->first = std::max(group_span->first, span->first);
        group_span->last = std::min(group_span->last, span->last);
        if (group_span->first > group_span->last) group_span.reset();
      }
      r.volumes.push_back(std::move(vr));
    }
    if (volumes_at_boundaries && !group_span) {
      std::string each;
      for (const auto& vr : r.volumes) each += fmt::format("{}{} at {}", each.empty() ? "" : ", ", vr.name, span_text(vr.boundaries));
      finding(fmt::format("{}: R2's volumes are at different cycle boundaries: {}", in_group, each));
    }
    r.boundaries = group_span;
    if (group_span) r.boundary = group_span->last;
    if (!r.boundary) {
      out.push_back(std::move(r));
      continue;
    }
    // Every acknowledged write: lost exactly when captured after the boundary.
    Tally uncaptured, lost_before, kept_after;
    for (VolumeId v : vols) {
      for (TrackNo t = 0; t < c.volumes[v].tracks; ++t) {
        const uint64_t index = geo.volume_base[v] + t;
        const Version has = held(secondary, index).value_or(0);
        if (rewritten(has)) continue;
        for (const Version a : acked[index]) {
          if (rewritten(a)) continue;  // acknowledged by a later primary
          if (h.acked_before(index, a)) {
            ++r.writes_before_cycles;
            continue;
          }
          ++r.writes_acked;
          const auto cycle = h.cycle_of(index, a);
          const bool lost = a > has;
          if (lost) ++r.writes_lost;
          if (!cycle) {
            uncaptured.add(fmt::format("v{} of track {}", to_string(a), to_string(TrackKey{v, t})));
            continue;
          }
          const bool after = *cycle > *r.boundary;
          if (after) ++r.writes_after_boundary;
          if (lost && !after)
            lost_before.add(fmt::format("v{} of track {}, captured in cycle {}", to_string(a), to_string(TrackKey{v, t}), *cycle));
          if (!lost && after)
            kept_after.add(fmt::format("v{} of track {}, captured in cycle {}", to_string(a), to_string(TrackKey{v, t}), *cycle));
        }
      }
    }
    uncaptured.report(finding, fmt::format("{}: acknowledged writes that none of R1's cycles captured", in_group));
    lost_before.report(finding, fmt::format("{}: acknowledged writes lost although R2's boundary {} holds their cycle",
                                            in_group, *r.boundary));
    kept_after.report(finding, fmt::format("{}: R2 holds acknowledged writes of cycles after its boundary {}", in_group,
                                           *r.boundary));
    out.push_back(std::move(r));
  }
  return out;
}

std::string boundaries_text(const std::vector<GroupBoundary>& b) {
  std::string s;
  for (const GroupBoundary& r : b) {
    if (!r.checked) {
      s += fmt::format("  async group {}: R2's boundary not checked: {}\n", r.group, r.not_checked_why);
      continue;
    }
    std::string vols;
    for (const auto& v : r.volumes) vols += fmt::format("{}{} {}", vols.empty() ? "" : ", ", v.name, span_text(v.boundaries));
    s += fmt::format("  async group {}: R2 at {} (R1 switched up to cycle {}, the replayed R2 applied {}; volumes at "
                     "boundaries {}); {} tracks at it, {} rewritten later; {} acknowledged writes checked, {} after "
                     "the boundary, {} lost{}\n",
                     r.group, r.boundary ? fmt::format("the boundary of cycle {}", *r.boundary) : "no cycle boundary",
                     r.cycles_switched, r.model_applied_cycle ? fmt::format("{}", *r.model_applied_cycle) : "?", vols,
                     r.tracks_at_boundary, r.tracks_rewritten, r.writes_acked, r.writes_after_boundary, r.writes_lost,
                     r.writes_before_cycles ? fmt::format(" ({} more before the cycles started)", r.writes_before_cycles) : "");
  }
  return s;
}

nlohmann::json to_json(const std::vector<GroupBoundary>& b) {
  nlohmann::json j = nlohmann::json::array();
  for (const GroupBoundary& r : b) {
    nlohmann::json g;
    g["group"] = r.group;
    g["checked"] = r.checked;
    if (!r.checked) g["not_checked_why"] = r.not_checked_why;
    g["cycles_switched"] = r.cycles_switched;
    g["boundary"] = r.boundary ? nlohmann::json(*r.boundary) : nlohmann::json(nullptr);
    g["model_applied_cycle"] = r.model_applied_cycle ? nlohmann::json(*r.model_applied_cycle) : nlohmann::json(nullptr);
    nlohmann::json vols = nlohmann::json::array();
    for (const auto& v : r.volumes) {
      nlohmann::json vj;
      vj["volume"] = v.name;
      if (v.boundaries) vj["boundaries"] = {v.boundaries->first, v.boundaries->last};
      else vj["boundaries"] = nullptr;
      vols.push_back(vj);
    }
    g["volumes"] = vols;
    g["tracks_at_boundary"] = r.tracks_at_boundary;
    g["tracks_rewritten"] = r.tracks_rewritten;
    g["writes_acked"] = r.writes_acked;
    g["writes_before_cycles"] = r.writes_before_cycles;
    g["writes_after_boundary"] = r.writes_after_boundary;
    g["writes_lost"] = r.writes_lost;
    j.push_back(g);
  }
  return j;
}

}  // namespace mirrorsim::real
