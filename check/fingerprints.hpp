// The set of states already reached, as 64-bit fingerprints in one open-
// addressing table (linear probing, at most 3/4 full): 8 bytes a slot, 10.7
// to 21 bytes a stored state depending on where the last doubling left the
// load, plus 2 bytes a slot when depths are kept.
//
// Two distinct states share a fingerprint with probability about n²/2⁶⁵ for
// n states (3·10⁻⁶ at 10⁷ states); one of them is then never expanded.
#pragma once

#include <cstdint>
#include <vector>

namespace mirrorsim::check {

class FingerprintTable {
 public:
  // With depths, insert() also admits a known fingerprint reached by a
  // shorter path than before (and records the shorter depth).
  explicit FingerprintTable(bool with_depth) : with_depth_(with_depth) { resize(1u << 12); }

  // True when the fingerprint is new (or, with depths, now reached at a
  // smaller depth).
  bool insert(uint64_t fp, uint32_t depth) {
    if (fp == kEmpty) fp = 1;  // 0 marks an empty slot
    if ((size_ + 1) * 4 > keys_.size() * 3) resize(keys_.size() * 2);
    size_t i = fp & mask_;
    while (keys_[i] != kEmpty) {
      if (keys_[i] == fp) {
        if (!with_depth_ || depths_[i] <= clamp(depth)) return false;
        depths_[i] = clamp(depth);
        return true;
      }
      i = (i + 1) & mask_;
    }
    keys_[i] = fp;
    if (with_depth_) depths_[i] = clamp(depth);
    ++size_;
    return true;
  }
  // Starts loading the slot where `fp` would be looked up: called as soon as
  // a fingerprint is known, the lookup later finds it in the cache.
  void prefetch(uint64_t fp) const { __builtin_prefetch(&keys_[(fp == kEmpty ? 1 : fp) & mask_]); }
  uint64_t size() const { return size_; }
  uint64_t bytes() const { return keys_.size() * (sizeof(uint64_t) + (with_depth_ ? sizeof(uint16_t) : 0)); }

 private:
  static constexpr uint64_t kEmpty = 0;
  static uint16_t clamp(uint32_t d) { return d > UINT16_MAX ? UINT16_MAX : static_cast<uint16_t>(d); }

  void resize(size_t slots) {
    std::vector<uint64_t> old_keys(slots, kEmpty);
    std::vector<uint16_t> old_depths(with_depth_ ? slots : 0, 0);
    old_keys.swap(keys_);
    old_depths.swap(depths_);
    mask_ = slots - 1;
    for (size_t j = 0; j < old_keys.size(); ++j) {
      if (old_keys[j] == kEmpty) continue;
      size_t i = old_keys[j] & mask_;
      while (keys_[i] != kEmpty) i = (i + 1) & mask_;
      keys_[i] = old_keys[j];
      if (with_depth_) depths_[i] = old_depths[j];
    }
  }

  bool with_depth_;
  std::vector<uint64_t> keys_;
  std::vector<uint16_t> depths_;
  size_t mask_ = 0;
  uint64_t size_ = 0;
};

}  // namespace mirrorsim::check
