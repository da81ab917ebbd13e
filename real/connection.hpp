// A framed, non-blocking stream connection on the event loop. Frames come
// out checked (wire.hpp); a bad frame, a read error, the peer closing, or an
// output queue past its bound close the connection with a reason, reported
// once through on_closed. Owners hold it by shared_ptr and may drop it from
// inside any of its callbacks.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "real/event_loop.hpp"
#include "real/wire.hpp"

namespace mirrorsim::real {

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // Takes ownership of the connected socket `fd`.
  static std::shared_ptr<Connection> make(EventLoop& loop, int fd, uint32_t max_body_bytes, std::string name);
  ~Connection();

  // The view is valid during the call only.
  void on_frame(std::function<void(const FrameView&)> f) { on_frame_ = std::move(f); }
  void on_closed(std::function<void(const std::string& reason)> f) { on_closed_ = std::move(f); }

  void send(FrameType type, std::span<const uint8_t> body) { send(type, body, {}); }
  // `image` follows the body unchecked by the frame CRC (a track image with
  // its own checksum; PeerMessage only). Written straight from the caller's
  // buffers when nothing is queued; only what the socket does not take at
  // once is copied.
  void send(FrameType type, std::span<const uint8_t> body, std::span<const uint8_t> image);
  // Pre-framed bytes (the link wrapper queues whole frames).
  void send_raw(std::span<const uint8_t> frame_bytes);
  // Reads and delivers whatever has arrived (before deciding the peer is silent).
  void poll_input() {
    if (fd_ >= 0) read_available();
  }
  void close(const std::string& reason);

  bool open() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  const std::string& name() const { return name_; }
  void set_max_body_bytes(uint32_t n) { decoder_.set_max_body_bytes(n); }
  size_t queued_bytes() const { return out_.size() - out_pos_; }
  uint64_t bytes_sent() const { return bytes_sent_; }

  // Output beyond this is a peer that does not read: the connection closes.
  static constexpr size_t kOutputQueueMaxBytes = size_t{256} << 20;

 private:
  Connection(EventLoop& loop, int fd, uint32_t max_body_bytes, std::string name);
  void on_events(uint32_t events);
  void read_available();
  void flush();
  void write_or_queue(std::span<const std::span<const uint8_t>> parts);

  EventLoop& loop_;
  int fd_;
  std::string name_;
  FrameDecoder decoder_;
  std::vector<uint8_t> out_;
  size_t out_pos_ = 0;
  bool want_write_ = false;
  uint64_t bytes_sent_ = 0;
  std::function<void(const FrameView&)> on_frame_;
  std::function<void(const std::string&)> on_closed_;
};

}  // namespace mirrorsim::real
