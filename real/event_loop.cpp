#include "real/event_loop.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

#include "real/clock.hpp"

namespace mirrorsim::real {
namespace {

constexpr int kMaxEvents = 64;

[[noreturn]] void fail(const char* what) { throw std::runtime_error(std::string(what) + ": " + std::strerror(errno)); }

uint64_t pack(uint32_t generation, int fd) { return (static_cast<uint64_t>(generation) << 32) | static_cast<uint32_t>(fd); }

}  // namespace

EventLoop::EventLoop() {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) fail("epoll_create1");
  timer_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (timer_fd_ < 0) fail("timerfd_create");
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) fail("eventfd");
  add(timer_fd_, EPOLLIN, [this](uint32_t) {
    uint64_t expirations;
    while (::read(timer_fd_, &expirations, sizeof expirations) > 0) {
    }
    armed_at_ = Time::max();
    run_due_timers();
  });
  add(wake_fd_, EPOLLIN, [this](uint32_t) {
    uint64_t n;
    while (::read(wake_fd_, &n, sizeof n) > 0) {
    }
    if (on_wake_) on_wake_();
  });
}

EventLoop::~EventLoop() {
  ::close(timer_fd_);
  ::close(wake_fd_);
  ::close(epoll_fd_);
}

void EventLoop::add(int fd, uint32_t events, Handler h) {
  const uint32_t gen = next_generation_++;
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = pack(gen, fd);
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) fail("epoll_ctl ADD");
  fds_[fd] = Registration{gen, std::make_shared<Handler>(std::move(h))};
}

void EventLoop::modify(int fd, uint32_t events) {
  auto it = fds_.find(fd);
  if (it == fds_.end()) return;
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = pack(it->second.generation, fd);
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev) != 0) fail("epoll_ctl MOD");
}

void EventLoop::remove(int fd) {
  if (fds_.erase(fd)) epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
}

EventLoop::TimerId EventLoop::at(Time when, std::function<void()> fn) {
  const TimerId id = next_timer_++;
  timer_fns_.emplace(id, std::move(fn));
  timers_.push(Due{when, id});
  if (when < armed_at_) arm_timerfd();
  return id;
}

void EventLoop::cancel(TimerId id) { timer_fns_.erase(id); }

void EventLoop::wake() {
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(wake_fd_, &one, sizeof one);
}

void EventLoop::arm_timerfd() {
  while (!timers_.empty() && !timer_fns_.count(timers_.top().id)) timers_.pop();
  const Time next = timers_.empty() ? Time::max() : timers_.top().at;
  if (next == armed_at_) return;
  itimerspec spec{};
  if (next != Time::max()) {
    // An absolute time in the past fires at once; zero would disarm.
    const int64_t ns = std::max<int64_t>(next.ns, 1);
    spec.it_value.tv_sec = ns / 1'000'000'000;
    spec.it_value.tv_nsec = ns % 1'000'000'000;
  }
  if (timerfd_settime(timer_fd_, TFD_TIMER_ABSTIME, &spec, nullptr) != 0) fail("timerfd_settime");
  armed_at_ = next;
}

void EventLoop::run_due_timers() {
  // Bounded: timers armed by a callback for "now" run in the next batch, so
  // a callback that re-arms itself at once cannot starve the descriptors.
  // Each due timer is looked up again just before it runs: an earlier
  // callback of the batch may have cancelled it (its owner is gone).
  const Time now = monotonic_now();
  std::vector<TimerId> due;
  while (!timers_.empty() && timers_.top().at <= now) {
    due.push_back(timers_.top().id);
    timers_.pop();
  }
  for (const TimerId id : due) {
    auto it = timer_fns_.find(id);
    if (it == timer_fns_.end()) continue;
    auto fn = std::move(it->second);
    timer_fns_.erase(it);
    fn();
    if (stopped_) break;
  }
  arm_timerfd();
}

TimerGroup::~TimerGroup() { cancel_all(); }

EventLoop::TimerId TimerGroup::at(Time when, std::function<void()> fn) {
  // The id is known only once armed: the callback finds itself through a
  // shared slot.
  auto id = std::make_shared<EventLoop::TimerId>(0);
  const EventLoop::TimerId armed = loop_.at(when, [this, id, fn = std::move(fn)] {
    ids_.erase(*id);  // before fn, which may destroy this group's owner
    fn();
  });
  *id = armed;
  ids_.insert(armed);
  return armed;
}

void TimerGroup::cancel(EventLoop::TimerId id) {
  if (ids_.erase(id)) loop_.cancel(id);
}

void TimerGroup::cancel_all() {
  for (const EventLoop::TimerId id : ids_) loop_.cancel(id);
  ids_.clear();
}

bool EventLoop::dispatch_once(Time deadline) {
  int timeout_ms = -1;
  if (deadline != Time::max()) {
    const int64_t left_ns = (deadline - monotonic_now()).ns;
    if (left_ns <= 0) return false;
    timeout_ms = static_cast<int>(std::min<int64_t>((left_ns + 999'999) / 1'000'000, 1'000'000));
  }
  epoll_event events[kMaxEvents];
  idle_since_ = monotonic_now();
  const int n = epoll_wait(epoll_fd_, events, kMaxEvents, timeout_ms);
  woke_at_ = monotonic_now();
  if (n < 0) {
    if (errno == EINTR) return true;
    fail("epoll_wait");
  }
  for (int i = 0; i < n && !stopped_; ++i) {
    const int fd = static_cast<int>(events[i].data.u64 & 0xFFFFFFFFu);
    const uint32_t gen = static_cast<uint32_t>(events[i].data.u64 >> 32);
    auto it = fds_.find(fd);
    if (it == fds_.end() || it->second.generation != gen) continue;  // removed by an earlier handler
    auto handler = it->second.handler;  // keeps it alive if the handler removes itself
    (*handler)(events[i].events);
  }
  return true;
}

void EventLoop::run(Time deadline) {
  stopped_ = false;
  while (!stopped_ && dispatch_once(deadline)) {
  }
}

bool EventLoop::run_until(const std::function<bool()>& done, Time deadline) {
  stopped_ = false;
  while (!stopped_) {
    if (done()) return true;
    if (!dispatch_once(deadline)) return done();
  }
  return done();
}

}  // namespace mirrorsim::real
