#include "model/cache.hpp"

namespace mirrorsim {

Cache::Cache(uint32_t slots) : slots_(slots) {
  // The slots are fresh: only the free list needs building.
  free_.reserve(slots);
  for (int32_t i = static_cast<int32_t>(slots) - 1; i >= 0; --i) free_.push_back(i);
}

void Cache::clear() {
  for (auto& s : slots_) s = Slot{};
  free_.clear();
  for (int32_t i = static_cast<int32_t>(slots_.size()) - 1; i >= 0; --i) free_.push_back(i);
  lru_head_ = lru_tail_ = -1;
  lru_count_ = 0;
}

int32_t Cache::allocate(TrackKey key, TrackKey* evicted, bool* did_evict) {
  *did_evict = false;
  int32_t i = -1;
  if (!free_.empty()) {
    i = free_.back();
    free_.pop_back();
  } else if (lru_head_ >= 0) {
    i = lru_head_;
    lru_remove(i);
    *evicted = slots_[static_cast<size_t>(i)].key;
    *did_evict = true;
  } else {
    return -1;
  }
  Slot& s = slots_[static_cast<size_t>(i)];
  s = Slot{};
  s.key = key;
  s.in_use = true;
  return i;
}

void Cache::release(int32_t i) {
  if (slots_[static_cast<size_t>(i)].in_lru) lru_remove(i);
  slots_[static_cast<size_t>(i)] = Slot{};
  free_.push_back(i);
}

void Cache::set_clean(int32_t i, bool clean) {
  Slot& s = slots_[static_cast<size_t>(i)];
  if (clean == s.in_lru) return;
  if (clean) lru_push_back(i);
  else lru_remove(i);
}

void Cache::lru_remove(int32_t i) {
  Slot& s = slots_[static_cast<size_t>(i)];
  if (s.lru_prev >= 0) slots_[static_cast<size_t>(s.lru_prev)].lru_next = s.lru_next;
  else lru_head_ = s.lru_next;
  if (s.lru_next >= 0) slots_[static_cast<size_t>(s.lru_next)].lru_prev = s.lru_prev;
  else lru_tail_ = s.lru_prev;
  s.lru_prev = s.lru_next = -1;
  s.in_lru = false;
  --lru_count_;
}

void Cache::lru_push_back(int32_t i) {
  Slot& s = slots_[static_cast<size_t>(i)];
  s.lru_prev = lru_tail_;
  s.lru_next = -1;
  if (lru_tail_ >= 0) slots_[static_cast<size_t>(lru_tail_)].lru_next = i;
  else lru_head_ = i;
  lru_tail_ = i;
  s.in_lru = true;
  ++lru_count_;
}

}  // namespace mirrorsim
