// A small, deterministic 64-bit hasher for canonical state fingerprints.
#pragma once

#include <cstdint>

namespace mirrorsim {

class Hasher {
 public:
  Hasher& add(uint64_t x) {
    h_ ^= mix(x + 0x9e3779b97f4a7c15ull + (h_ << 6) + (h_ >> 2));
    return *this;
  }
  uint64_t value() const { return mix(h_); }

 private:
  static uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  uint64_t h_ = 0x243f6a8885a308d3ull;
};

}  // namespace mirrorsim
