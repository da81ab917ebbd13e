// The controller's cache: a fixed number of slots at track granularity.
//
// A slot holds one track's data and the state of the work in flight on it.
// The write-pending indicators themselves live in the track table; a slot
// whose track has either indicator set, or any work in flight, is pinned and
// never evicted. Clean slots sit on an LRU list and are reused oldest first.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "model/types.hpp"

namespace mirrorsim {

struct SyncWaiter {
  RequestId req = 0;
  Version version = 0;
};

struct Slot {
  TrackKey key;
  bool in_use = false;
  Version version = 0;        // version of the data in the slot (valid when has_data)
  bool has_data = false;      // false until the first disk read or write fills it
  bool reading = false;       // a disk read into this slot is in flight
  bool copy_read = false;     // ...issued by the background copier (counts against the copy window)
  bool resync_copy = false;   // the copier turned this track's invalid-remote flag into remote WP
  uint32_t local_dirty_bytes = 0;   // bytes changed since the last destage was issued
  bool destage_queued = false;
  std::optional<Version> destaging;  // version being written to the local disk, if any
  uint32_t copies_in_flight = 0;  // copies of this track sent and not yet acknowledged
  Version sent_version = 0;   // newest version sent to the peer in this session
  bool copy_queued = false;
  uint32_t remote_dirty_bytes = 0;  // bytes changed since the last copy was sent
  std::vector<SyncWaiter> sync_waiters;  // host writes acknowledged on the peer's ack
  std::vector<RequestId> read_waiters;   // host reads acknowledged when the read lands
  int32_t lru_prev = -1;
  int32_t lru_next = -1;
  bool in_lru = false;
};

class Cache {
 public:
  Cache() = default;
  explicit Cache(uint32_t slots);

  uint32_t size() const { return static_cast<uint32_t>(slots_.size()); }
  Slot& operator[](int32_t i) { return slots_[static_cast<size_t>(i)]; }
  const Slot& operator[](int32_t i) const { return slots_[static_cast<size_t>(i)]; }

  // A free slot if there is one, else the least recently used clean slot
  // (whose previous track is returned in `evicted`), else -1.
  int32_t allocate(TrackKey key, TrackKey* evicted, bool* did_evict);
  void release(int32_t i);  // back to the free list
  // Puts a clean slot at the most-recently-used end, or takes a pinned one off.
  void set_clean(int32_t i, bool clean);
  uint32_t free_count() const { return static_cast<uint32_t>(free_.size()); }
  uint32_t clean_count() const { return lru_count_; }
  int32_t lru_head() const { return lru_head_; }  // least recently used clean slot, -1 if none
  // Drops every slot (volatile cache lost).
  void clear();

  template <class F>
  void for_each_in_use(F&& f) {
    for (int32_t i = 0; i < static_cast<int32_t>(slots_.size()); ++i)
      if (slots_[static_cast<size_t>(i)].in_use) f(i, slots_[static_cast<size_t>(i)]);
  }

 private:
  void lru_remove(int32_t i);
  void lru_push_back(int32_t i);

  std::vector<Slot> slots_;
  std::vector<int32_t> free_;  // popped from the back; filled so slot 0 is used first
  int32_t lru_head_ = -1;      // least recently used clean slot
  int32_t lru_tail_ = -1;
  uint32_t lru_count_ = 0;
};

}  // namespace mirrorsim
