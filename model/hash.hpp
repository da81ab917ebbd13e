// The fold behind every state fingerprint (controller, observer, world),
// which the exhaustive checker computes on every transition: one multiply a
// word, each step a bijection of the running value, a full avalanche only at
// the end. Deterministic across runs and machines.
#pragma once

#include <cstdint>

namespace mirrorsim {

class StateFold {
 public:
  StateFold& add(uint64_t x) {
    h_ = (h_ ^ x) * 0x9e3779b97f4a7c15ull;
    h_ ^= h_ >> 29;
    return *this;
  }
  uint64_t value() const {
    uint64_t z = h_;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }

 private:
  uint64_t h_ = 0x243f6a8885a308d3ull;
};

// Flags packed into a word, the first in bit 0: one word of a fingerprint
// instead of one per flag (injective: each flag has its own bit).
template <class... Flags>
constexpr uint64_t pack_flags(Flags... flags) {
  static_assert(sizeof...(Flags) <= 64);
  uint64_t bits = 0;
  unsigned bit = 0;
  ((bits |= static_cast<uint64_t>(static_cast<bool>(flags)) << bit++), ...);
  return bits;
}

}  // namespace mirrorsim
