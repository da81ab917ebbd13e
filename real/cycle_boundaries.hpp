// Async mode after a real run: is R2 at a cycle boundary, and which
// acknowledged writes came after it?
//
// The replay rebuilds R1 from its input log, so it knows the cycles R1's
// process really took: CycleHistory records, per consistency group, the
// image the cycles started from (R2's image equal to R1's then) and every
// version R1 captured, with the cycle it was captured in. check_boundaries
// then takes what R2's disks and non-volatile cache really hold (the
// controllers' digests, not the model) and asks, volume by volume, which
// boundaries that image is: for each track the cycles between the one that
// wrote the version R2 holds and the next one that wrote the track; a
// volume is at a boundary if those ranges meet, and a group if its volumes'
// ranges meet at one. Against the hosts' log of acknowledged writes, a write
// is lost exactly when it was captured after that boundary.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/controller.hpp"
#include "model/io.hpp"
#include "real/geometry.hpp"

namespace mirrorsim::real {

class CycleHistory {
 public:
  explicit CycleHistory(const ControllerConfig& c);

  // After every replayed step of either controller (`at`: its time, for messages).
  void after_step(Side side, const Controller& c, Time at, std::span<const Command> out);

  struct Group {
    // The cycles ran without a break since base_cycle: no drop, no suspension,
    // no restart of their primary (a crash only ends them: what R1 did
    // before it died stays known).
    bool known = true;
    std::string unknown_why;  // when not known
    Side primary = Side::A;   // whose cycles
    Generation generation = 1;  // the primary's versions carry it
    uint64_t base_cycle = 0;    // the boundary the cycles started from
    uint64_t open_cycle = 1;    // the capture cycle
    uint64_t last_switched = 0; // the newest boundary (a switch closed that cycle)
  };
  size_t groups() const { return groups_.size(); }
  const Group& group(uint16_t g) const { return groups_[g]; }

  // The boundaries [first, last] whose image gives track `index` version
  // `v`; nullopt at none (a version never captured, or folded away within
  // its cycle). `last` is at most last_switched.
  struct Span {
    uint64_t first = 0;
    uint64_t last = 0;
  };
  std::optional<Span> boundaries_holding(uint64_t index, Version v) const;
  // The cycle that captured `v` of the track (base_cycle for a version the
  // starting image held); nullopt: not one of these cycles' versions.
  std::optional<uint64_t> cycle_of(uint64_t index, Version v) const;
  // `v` was acknowledged before the cycles started and their starting image
  // does not hold it (lost with a volatile cache, or at a failover, before
  // them): the observer accounts for that loss, not these cycles.
  bool acked_before(uint64_t index, Version v) const;

 private:
  struct Captured {
    Version version = 0;
    uint64_t cycle = 0;
  };
  void forget(uint16_t g, std::string why);
  uint16_t group_of_index(uint64_t index) const;

  std::vector<VolumeConfig> volumes_;
  std::vector<uint64_t> volume_base_;
  std::vector<Group> groups_;
  std::vector<Version> base_;                  // per track: its version at base_cycle
  std::vector<Version> acked_max_;             // per track: the newest version any primary acknowledged
  std::vector<Version> before_;                // per track: acked_max_ when the cycles started
  std::vector<std::vector<Captured>> captured_;  // per track: versions captured since, oldest first
};

// What check_boundaries found for one consistency group.
struct GroupBoundary {
  std::string group;
  bool checked = false;
  std::string not_checked_why;
  Side secondary = Side::B;      // whose image was checked (the peer of the cycles' primary)
  uint64_t base_cycle = 0;       // the boundary R1's cycles (re)started from
  uint64_t cycles_switched = 0;  // R1's newest boundary
  // The boundaries R2's image is, for every volume of the group (several
  // when no write came between them: one image), and the newest of them;
  // nullopt when it is at none.
  std::optional<CycleHistory::Span> boundaries;
  std::optional<uint64_t> boundary;
  struct Volume {
    std::string name;
    std::optional<CycleHistory::Span> boundaries;  // the boundaries its image matches
  };
  std::vector<Volume> volumes;
  std::optional<uint64_t> model_applied_cycle;  // the replayed R2's last applied cycle (filled by the caller)
  uint64_t tracks_at_boundary = 0;
  uint64_t tracks_rewritten = 0;     // written by a later primary (after a failover): not comparable
  uint64_t writes_acked = 0;         // by the hosts, on the tracks compared, while the cycles ran
  uint64_t writes_before_cycles = 0;  // acknowledged before the cycles started, not in their starting image
  uint64_t writes_after_boundary = 0;  // of them, captured after the boundary
  uint64_t writes_lost = 0;          // of them, not held by R2
};

// `held(side, index)`: the version that side holds for the track (disk or
// non-volatile cache), nullopt when its image cannot be read. `acked`: the
// hosts' acknowledged versions per track index. Every disagreement goes to
// `finding`.
std::vector<GroupBoundary> check_boundaries(const CycleHistory& h, const ControllerConfig& c, const Geometry& g,
                                            const std::function<std::optional<Version>(Side, uint64_t)>& held,
                                            const std::vector<std::vector<Version>>& acked,
                                            const std::function<void(std::string)>& finding);

std::string boundaries_text(const std::vector<GroupBoundary>& b);
std::string span_text(const std::optional<CycleHistory::Span>& s);  // "3", "3–5", "none"
nlohmann::json to_json(const std::vector<GroupBoundary>& b);

}  // namespace mirrorsim::real
