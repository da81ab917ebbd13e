#include "real/connection.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace mirrorsim::real {

std::shared_ptr<Connection> Connection::make(EventLoop& loop, int fd, uint32_t max_body_bytes, std::string name) {
  std::shared_ptr<Connection> c(new Connection(loop, fd, max_body_bytes, std::move(name)));
  std::weak_ptr<Connection> weak = c;
  loop.add(fd, EPOLLIN | EPOLLRDHUP, [weak](uint32_t ev) {
    if (auto self = weak.lock()) self->on_events(ev);
  });
  return c;
}

Connection::Connection(EventLoop& loop, int fd, uint32_t max_body_bytes, std::string name)
    : loop_(loop), fd_(fd), name_(std::move(name)), decoder_(max_body_bytes) {}

Connection::~Connection() {
  if (fd_ >= 0) {
    loop_.remove(fd_);
    ::close(fd_);
  }
}

void Connection::close(const std::string& reason) {
  if (fd_ < 0) return;
  loop_.remove(fd_);
  ::close(fd_);
  fd_ = -1;
  out_.clear();
  out_pos_ = 0;
  if (on_closed_) {
    auto cb = std::move(on_closed_);
    on_closed_ = nullptr;
    on_frame_ = nullptr;
    cb(reason);
  }
}

void Connection::send(FrameType type, std::span<const uint8_t> body, std::span<const uint8_t> image) {
  if (fd_ < 0) return;
  uint8_t header[kFrameHeaderBytes];
  write_frame_header(header, type, body, image.size());
  const std::span<const uint8_t> parts[] = {std::span<const uint8_t>(header, kFrameHeaderBytes), body, image};
  write_or_queue(parts);
}

void Connection::send_raw(std::span<const uint8_t> frame_bytes) {
  if (fd_ < 0) return;
  const std::span<const uint8_t> parts[] = {frame_bytes};
  write_or_queue(parts);
}

void Connection::write_or_queue(std::span<const std::span<const uint8_t>> parts) {
  size_t total = 0;
  for (const auto& p : parts) total += p.size();
  size_t written = 0;
  if (queued_bytes() == 0) {
    out_.clear();
    out_pos_ = 0;
    iovec iov[4];
    int n_iov = 0;
    for (const auto& p : parts)
      if (!p.empty() && n_iov < 4) iov[n_iov++] = iovec{const_cast<uint8_t*>(p.data()), p.size()};
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<size_t>(n_iov);
    ssize_t n;
    do {
      n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      close(fmt::format("send failed: {}", std::strerror(errno)));
      return;
    }
    written = n > 0 ? static_cast<size_t>(n) : 0;
    bytes_sent_ += written;
    if (written == total) return;
  }
  // The rest waits in the output queue for the socket to drain.
  size_t skip = written;
  for (const auto& p : parts) {
    if (skip >= p.size()) {
      skip -= p.size();
      continue;
    }
    out_.insert(out_.end(), p.begin() + static_cast<ptrdiff_t>(skip), p.end());
    skip = 0;
  }
  flush();
}

void Connection::flush() {
  while (fd_ >= 0 && out_pos_ < out_.size()) {
    const ssize_t n = ::send(fd_, out_.data() + out_pos_, out_.size() - out_pos_, MSG_NOSIGNAL);
    if (n > 0) {
      out_pos_ += static_cast<size_t>(n);
      bytes_sent_ += static_cast<uint64_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    close(fmt::format("send failed: {}", std::strerror(errno)));
    return;
  }
  if (fd_ < 0) return;
  if (queued_bytes() > kOutputQueueMaxBytes) {
    close(fmt::format("{} bytes queued for a peer that does not read (limit {})", queued_bytes(), kOutputQueueMaxBytes));
    return;
  }
  const bool want = out_pos_ < out_.size();
  if (want != want_write_) {
    want_write_ = want;
    loop_.modify(fd_, EPOLLIN | EPOLLRDHUP | (want ? EPOLLOUT : 0u));
  }
  if (!want) {
    out_.clear();
    out_pos_ = 0;
  }
}

void Connection::on_events(uint32_t events) {
  auto keep = shared_from_this();
  if (events & EPOLLOUT) flush();
  if (fd_ >= 0 && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) read_available();
}

void Connection::read_available() {
  // Bounded: at most a few reads per wake-up, so one busy connection cannot
  // starve the loop; epoll reports the rest again. Bytes land in the
  // decoder's buffer and frames are handed out in place.
  constexpr size_t kReadBytes = 256 * 1024;
  for (int reads = 0; reads < 8 && fd_ >= 0; ++reads) {
    const auto room = decoder_.prepare(kReadBytes);
    const ssize_t n = ::recv(fd_, room.data(), room.size(), 0);
    if (n > 0) {
      decoder_.commit(static_cast<size_t>(n));
      while (fd_ >= 0) {
        const auto f = decoder_.next_view();
        if (!f) break;
        if (on_frame_) on_frame_(*f);
      }
      if (fd_ >= 0 && decoder_.failed()) {
        close("rejected a frame: " + decoder_.error());
        return;
      }
      if (static_cast<size_t>(n) < kReadBytes) return;
      continue;
    }
    if (n == 0) {
      close(decoder_.buffered() ? fmt::format("closed by the peer in the middle of a frame ({} bytes of it received)",
                                              decoder_.buffered())
                                : std::string("closed by the peer"));
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    close(fmt::format("receive failed: {}", std::strerror(errno)));
    return;
  }
}

}  // namespace mirrorsim::real
