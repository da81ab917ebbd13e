#include "model/config.hpp"

#include <algorithm>
#include <cmath>

namespace mirrorsim {

std::string_view to_string(Mutant m) {
  switch (m) {
    case Mutant::None: return "none";
    case Mutant::RemoteWpResetOnSend: return "remote-wp-reset-on-send";
    case Mutant::LocalWpResetOnDestageStart: return "local-wp-reset-on-destage-start";
    case Mutant::SyncAckBeforeRemoteAck: return "sync-ack-before-remote-ack";
    case Mutant::SecondaryAppliesOlder: return "secondary-applies-older";
    case Mutant::EvictWpSlot: return "evict-wp-slot";
    case Mutant::ResyncSkipsInvalidTracks: return "resync-skips-invalid-tracks";
    case Mutant::SemiSyncTwoOutstanding: return "semi-sync-two-outstanding";
    case Mutant::AsyncAppliesPartialCycle: return "async-applies-partial-cycle";
    case Mutant::AsyncSwitchBeforeTransmitAcked: return "async-switch-before-transmit-acked";
    case Mutant::AsyncFoldKeepsOlder: return "async-fold-keeps-older";
    case Mutant::AsyncGroupSplitBoundary: return "async-group-split-boundary";
  }
  return "?";
}

const std::vector<Mutant>& all_mutants() {
  static const std::vector<Mutant> all{
      Mutant::RemoteWpResetOnSend,     Mutant::LocalWpResetOnDestageStart, Mutant::SyncAckBeforeRemoteAck,
      Mutant::SecondaryAppliesOlder,   Mutant::EvictWpSlot,                Mutant::ResyncSkipsInvalidTracks,
      Mutant::SemiSyncTwoOutstanding,  Mutant::AsyncAppliesPartialCycle,   Mutant::AsyncSwitchBeforeTransmitAcked,
      Mutant::AsyncFoldKeepsOlder,     Mutant::AsyncGroupSplitBoundary,
  };
  return all;
}

bool parse_mutant(std::string_view text, Mutant& out) {
  if (text == "none") {
    out = Mutant::None;
    return true;
  }
  for (Mutant m : all_mutants())
    if (to_string(m) == text) {
      out = m;
      return true;
    }
  return false;
}

uint32_t ControllerConfig::write_pending_slots_max() const {
  const double n = std::floor(write_pending_limit * static_cast<double>(cache_slots) + 1e-9);
  return std::max<uint32_t>(1, static_cast<uint32_t>(std::min<double>(n, cache_slots)));
}

}  // namespace mirrorsim

namespace mirrorsim {

uint32_t AsyncConfig::delta_set_slots_max(uint32_t cache_slots) const {
  const double n = std::floor(cache_fraction_max * static_cast<double>(cache_slots) + 1e-9);
  return std::max<uint32_t>(1, static_cast<uint32_t>(std::min<double>(n, cache_slots)));
}

}  // namespace mirrorsim
