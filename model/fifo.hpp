// A first-in first-out queue on one vector: cheap to copy when small or
// empty (the exhaustive checker copies controllers on every transition, and
// an empty std::deque allocates a 512-byte node).
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

namespace mirrorsim {

template <class T>
class Fifo {
 public:
  bool empty() const { return head_ == items_.size(); }
  size_t size() const { return items_.size() - head_; }
  const T& front() const { return items_[head_]; }
  T& front() { return items_[head_]; }
  const T& back() const { return items_.back(); }
  void push_back(T x) { items_.push_back(std::move(x)); }
  void pop_front() {
    ++head_;
    // Reclaim the consumed prefix once it is most of the vector.
    if (head_ == items_.size()) {
      items_.clear();
      head_ = 0;
    } else if (head_ >= 32 && head_ * 2 >= items_.size()) {
      items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
  }
  void clear() {
    items_.clear();
    head_ = 0;
  }
  auto begin() const { return items_.begin() + static_cast<std::ptrdiff_t>(head_); }
  auto end() const { return items_.end(); }
  bool operator==(const Fifo& o) const { return std::equal(begin(), end(), o.begin(), o.end()); }

 private:
  std::vector<T> items_;
  size_t head_ = 0;
};

}  // namespace mirrorsim
