// A pool of identical processors serving work in arrival order (FIFO, no
// preemption): the c-server queue of a controller's front-end, remote-
// adapter or back-end processors. Work is offered in non-decreasing arrival
// order (a discrete-event driver's `now`), so each piece's start is known
// when it arrives — the earliest moment a processor is free, or its arrival
// — and the driver needs one timer, at its end, instead of a queue of its
// own (the Kiefer–Wolfowitz recursion of a FIFO G/G/c queue).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <queue>
#include <vector>

#include "model/types.hpp"

namespace mirrorsim {

class ProcessorPool {
 public:
  explicit ProcessorPool(uint32_t processors = 1) : processors_(processors) {
    for (uint32_t i = 0; i < processors; ++i) free_at_.push(Time{});
  }
  struct Slot {
    Time start, end;
    uint32_t queue_length = 0;  // pieces waiting when this one arrived (not counting it)
  };
  // A piece of work arriving at `arrived` that needs `demand` of one processor.
  Slot take(Time arrived, Time demand) {
    while (!waiting_starts_.empty() && waiting_starts_.front() <= arrived) waiting_starts_.pop_front();
    Slot s;
    s.queue_length = static_cast<uint32_t>(waiting_starts_.size());
    const Time free = free_at_.top();
    free_at_.pop();
    s.start = free > arrived ? free : arrived;
    s.end = s.start + demand;
    free_at_.push(s.end);
    if (s.start > arrived) waiting_starts_.push_back(s.start);
    return s;
  }
  uint32_t processors() const { return processors_; }

 private:
  uint32_t processors_;
  std::priority_queue<Time, std::vector<Time>, std::greater<Time>> free_at_;  // each processor's
  std::deque<Time> waiting_starts_;  // starts still ahead, in order (FIFO starts do not fall)
};

}  // namespace mirrorsim
