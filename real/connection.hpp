// A framed, non-blocking stream connection on the event loop, authenticated
// (auth.hpp): it opens with the handshake — the client sends its challenge
// at once, the server answers — and only then delivers frames, each one's
// tag checked first. Frames a client sends before the handshake ends wait
// for it; the server sends nothing but the handshake (or a Refused) before.
// A bad frame, a failed handshake, a read error, the peer closing, or an
// output queue past its bound close the connection with a reason, reported
// once through on_closed; close_cause() then says which kind it was. Owners
// hold it by shared_ptr and may drop it from inside any of its callbacks.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "real/auth.hpp"
#include "real/event_loop.hpp"
#include "real/wire.hpp"

namespace mirrorsim::real {

enum class CloseCause : uint8_t {
  None,             // still open
  Ended,            // closed here, by the peer, or a socket error
  Unauthenticated,  // the handshake failed or never came, or a frame failed its tag: not the key holder's bytes
  Malformed,        // an authenticated frame the decoder refused: a bug on the other side
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // Takes ownership of the connected socket `fd`. `max_body_bytes` applies
  // once authenticated; before, only the handshake's tiny frames are read.
  static std::shared_ptr<Connection> make(EventLoop& loop, int fd, uint32_t max_body_bytes, std::string name, Party party,
                                          const Key& key);
  ~Connection();

  // The view is valid during the call only.
  void on_frame(std::function<void(const FrameView&)> f) { on_frame_ = std::move(f); }
  void on_closed(std::function<void(const std::string& reason)> f) { on_closed_ = std::move(f); }

  void send(FrameType type, std::span<const uint8_t> body) { send(type, body, {}); }
  // `image` follows the body unchecked by the frame CRC (a track image with
  // its own checksum; PeerMessage only; the tag covers it). Written straight
  // from the caller's buffers when nothing is queued; only what the socket
  // does not take at once is copied.
  void send(FrameType type, std::span<const uint8_t> body, std::span<const uint8_t> image);
  // Pre-framed bytes, header and body (the link wrapper queues whole frames); tagged here.
  void send_raw(std::span<const uint8_t> frame_bytes);
  // Reads and delivers whatever has arrived (before deciding the peer is silent).
  void poll_input() {
    if (fd_ >= 0) read_available();
  }
  void close(const std::string& reason, CloseCause cause = CloseCause::Ended);

  bool open() const { return fd_ >= 0; }
  bool authenticated() const { return tx_.has_value(); }
  CloseCause close_cause() const { return cause_; }
  int fd() const { return fd_; }
  const std::string& name() const { return name_; }
  void set_max_body_bytes(uint32_t n) {
    max_body_bytes_ = n;
    if (authenticated()) decoder_.set_max_body_bytes(n);
  }
  size_t queued_bytes() const { return out_.size() - out_pos_; }
  uint64_t bytes_sent() const { return bytes_sent_; }

  // Output beyond this is a peer that does not read: the connection closes.
  static constexpr size_t kOutputQueueMaxBytes = size_t{256} << 20;

 private:
  enum class Handshake : uint8_t { AwaitChallenge, AwaitResponse, AwaitProof, Done };
  Connection(EventLoop& loop, int fd, uint32_t max_body_bytes, std::string name, Party party, const Key& key);
  void on_events(uint32_t events);
  void read_available();
  void handshake(const FrameView& f);
  void authenticated_as(Party party);
  void flush();
  void write_or_queue(std::span<const std::span<const uint8_t>> parts);
  void send_untagged(FrameType type, std::span<const uint8_t> body);

  EventLoop& loop_;
  int fd_;
  std::string name_;
  uint32_t max_body_bytes_;
  FrameDecoder decoder_;
  Party party_;
  Key key_;  // the shared key, until the handshake ends
  Handshake handshake_;
  Nonce client_nonce_{}, server_nonce_{};
  std::optional<FrameMac> tx_, rx_;
  std::vector<Frame> waiting_;  // a client's frames sent before the handshake ended
  CloseCause cause_ = CloseCause::None;
  std::vector<uint8_t> out_;
  size_t out_pos_ = 0;
  bool want_write_ = false;
  uint64_t bytes_sent_ = 0;
  std::function<void(const FrameView&)> on_frame_;
  std::function<void(const std::string&)> on_closed_;
};

}  // namespace mirrorsim::real
