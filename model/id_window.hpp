// A map from ids that are handed out in increasing order (host request
// ids) to values, for the millions of requests a run issues and answers
// soon after: a window of slots from the oldest open id to the newest, so
// that inserting and erasing cost no allocation once the window has grown.
// Ids that arrive out of order, or below the window after it moved on, go
// to a small map beside it. Memory: the span between the oldest open id and
// the newest one (a request that never completes keeps the window from
// moving; every driver answers every request it issues).
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <unordered_map>

namespace mirrorsim {

template <class T>
class IdWindow {
 public:
  // Inserts or replaces the value of `id`.
  T& insert(uint64_t id, T value) {
    if (slots_.empty() && stray_.empty()) base_ = id;
    if (id < base_) return stray_[id] = std::move(value);
    const uint64_t offset = id - base_;
    if (offset > kGapMax) return stray_[id] = std::move(value);  // a wild id: not worth a window that wide
    if (offset >= slots_.size()) slots_.resize(offset + 1);
    if (!slots_[offset]) ++open_;
    slots_[offset] = std::move(value);
    return *slots_[offset];
  }
  T* find(uint64_t id) {
    if (id >= base_ && id - base_ < slots_.size()) return slots_[id - base_] ? &*slots_[id - base_] : nullptr;
    auto it = stray_.find(id);
    return it == stray_.end() ? nullptr : &it->second;
  }
  // Removes `id`; false if it was not there.
  bool erase(uint64_t id) {
    if (id >= base_ && id - base_ < slots_.size()) {
      auto& slot = slots_[id - base_];
      if (!slot) return false;
      slot.reset();
      --open_;
      while (!slots_.empty() && !slots_.front()) {
        slots_.pop_front();
        ++base_;
      }
      return true;
    }
    return stray_.erase(id) > 0;
  }
  bool empty() const { return open_ == 0 && stray_.empty(); }
  size_t size() const { return open_ + stray_.size(); }

 private:
  static constexpr uint64_t kGapMax = 1u << 24;
  std::deque<std::optional<T>> slots_;
  uint64_t base_ = 0;
  size_t open_ = 0;
  std::unordered_map<uint64_t, T> stray_;
};

}  // namespace mirrorsim
