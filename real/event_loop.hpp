// A single-threaded epoll loop: file descriptors with callbacks, one-shot
// timers on CLOCK_MONOTONIC (a timerfd armed at the earliest, nanosecond
// resolution), and wake-ups from other threads through an eventfd.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <queue>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "model/types.hpp"

namespace mirrorsim::real {

class EventLoop {
 public:
  using Handler = std::function<void(uint32_t events)>;
  using TimerId = uint64_t;

  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // `events` are EPOLLIN/EPOLLOUT/...; the handler gets what happened.
  void add(int fd, uint32_t events, Handler h);
  void modify(int fd, uint32_t events);
  void remove(int fd);  // safe from inside a handler

  // Runs fn once at `when` (monotonic clock), or at once if past.
  TimerId at(Time when, std::function<void()> fn);
  void cancel(TimerId id);

  // Called on the loop's thread after another thread called wake().
  void on_wake(std::function<void()> fn) { on_wake_ = std::move(fn); }
  void wake();  // thread-safe

  // Dispatches events and timers until stop() or `deadline` passes.
  void run(Time deadline = Time::max());
  // Dispatches until done() holds (checked after every batch) or the deadline.
  bool run_until(const std::function<bool()>& done, Time deadline);
  void stop() { stopped_ = true; }
  // The current batch of events: when the loop began to wait for it
  // (entered epoll_wait, monotonic clock) and when it woke with it. An event
  // posted at or after idle_since() found the loop idle, and waited
  // woke_at() − its posting for the loop to run: the loop's wake-up.
  Time idle_since() const { return idle_since_; }
  Time woke_at() const { return woke_at_; }


 private:
  struct Registration {
    uint32_t generation = 0;
    std::shared_ptr<Handler> handler;
  };
  struct Due {
    Time at;
    TimerId id;
    bool operator>(const Due& o) const { return at != o.at ? at > o.at : id > o.id; }
  };
  void arm_timerfd();
  void run_due_timers();
  bool dispatch_once(Time deadline);

  int epoll_fd_ = -1;
  int timer_fd_ = -1;
  int wake_fd_ = -1;
  bool stopped_ = false;
  uint32_t next_generation_ = 1;
  std::unordered_map<int, Registration> fds_;
  std::priority_queue<Due, std::vector<Due>, std::greater<>> timers_;
  std::unordered_map<TimerId, std::function<void()>> timer_fns_;
  TimerId next_timer_ = 1;
  Time armed_at_ = Time::max();
  std::function<void()> on_wake_;
  Time idle_since_;
  Time woke_at_;
};

// Timers that end with their owner: every timer armed through the group
// and not yet run is cancelled when the group is destroyed (or
// cancel_all()), so no callback of an object that is gone ever runs.
class TimerGroup {
 public:
  explicit TimerGroup(EventLoop& loop) : loop_(loop) {}
  ~TimerGroup();
  TimerGroup(const TimerGroup&) = delete;
  TimerGroup& operator=(const TimerGroup&) = delete;
  EventLoop::TimerId at(Time when, std::function<void()> fn);
  void cancel(EventLoop::TimerId id);
  void cancel_all();
  size_t pending() const { return ids_.size(); }

 private:
  EventLoop& loop_;
  std::unordered_set<EventLoop::TimerId> ids_;
};

}  // namespace mirrorsim::real
