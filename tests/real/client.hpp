// A blocking test client speaking the controllers' frames: it
// authenticates (or not, or badly) and records every byte it sends, so a
// test can replay them on another connection.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

#include "real/auth.hpp"
#include "real/clock.hpp"
#include "real/net.hpp"
#include "real/protocol.hpp"
#include "real/wire.hpp"

namespace mirrorsim::real::test {

class Client {
 public:
  explicit Client(const Endpoint& to) {
    std::string why;
    fd_ = connect_blocking(to, 2000, &why);
    if (fd_ < 0) throw std::runtime_error(why);
  }
  ~Client() {
    if (fd_ >= 0) ::close(fd_);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  void send_bytes(std::span<const uint8_t> b) {
    sent_.insert(sent_.end(), b.begin(), b.end());
    (void)::send(fd_, b.data(), b.size(), MSG_NOSIGNAL);
  }
  // One frame: tagged once authenticated. `flip_bit`: that bit of the
  // frame as sent (header, body, image, tag) is flipped after tagging.
  void send(FrameType t, const std::vector<uint8_t>& body, std::span<const uint8_t> image = {},
            std::optional<size_t> flip_bit = std::nullopt) {
    std::vector<uint8_t> out;
    append_frame(out, t, body, image);
    if (tx_) {
      const std::span<const uint8_t> parts[] = {out};
      const auto tag = tx_->sign(parts);
      out.insert(out.end(), tag.begin(), tag.end());
    }
    if (flip_bit) out.at(*flip_bit / 8) ^= static_cast<uint8_t>(1u << (*flip_bit % 8));
    send_bytes(out);
  }
  // The next frame, or nullopt when the connection closed (or nothing came in time).
  std::optional<Frame> next(int timeout_ms = 3000) {
    const Time deadline = monotonic_now() + Time::from_us(timeout_ms * 1e3);
    for (;;) {
      if (auto f = decoder_.next()) return f;
      if (decoder_.failed()) return std::nullopt;
      const int64_t left = (deadline - monotonic_now()).ns / 1'000'000;
      pollfd p{fd_, POLLIN, 0};
      if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) return std::nullopt;
      uint8_t buf[65536];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        closed_ = true;
        return std::nullopt;
      }
      decoder_.feed(std::span<const uint8_t>(buf, static_cast<size_t>(n)));
    }
  }
  // True when the controller closes the connection within the time (after
  // any frames it still sends, such as a Refused).
  bool closed_by_peer(int timeout_ms = 3000) {
    const Time deadline = monotonic_now() + Time::from_us(timeout_ms * 1e3);
    while (!closed_) {
      const int64_t left = (deadline - monotonic_now()).ns / 1'000'000;
      if (left <= 0) return false;
      if (!next(static_cast<int>(left)) && !closed_ && decoder_.failed()) {
        // Undecodable bytes from the peer: drain until it closes.
        uint8_t buf[4096];
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
        if (::recv(fd_, buf, sizeof buf, 0) <= 0) closed_ = true;
      }
    }
    return true;
  }

  // The handshake with `key`. True when the controller proved it holds the
  // same key; with `prove_anyway` the client then sends its proof even if
  // not (what a client with a wrong key that ignores the answer does).
  bool authenticate(const Key& key, bool prove_anyway = false) {
    const Nonce mine = random_nonce();
    send(FrameType::AuthChallenge, encode(AuthChallenge{kProtocolVersion, mine}));
    const auto f = next();
    if (!f || f->type != FrameType::AuthResponse) return false;
    ByteReader r(f->body);
    const auto a = decode_auth_response(r);
    if (!a) return false;
    const bool genuine = proofs_equal(a->proof, handshake_proof(key, Party::Server, mine, a->nonce));
    if (!genuine && !prove_anyway) return false;
    send(FrameType::AuthProof, encode_auth_proof(handshake_proof(key, Party::Client, mine, a->nonce)));
    const SessionKeys k = session_keys(key, mine, a->nonce);
    tx_.emplace(k.client_to_server);
    rx_.emplace(k.server_to_client);
    // A client that knows it was refused reads the controller's untagged
    // Refused; otherwise everything from now on is tagged.
    if (genuine) decoder_.expect_tags(&*rx_);
    return genuine;
  }
  void hello(ConnectionKind kind, uint64_t run_id = 0, Side side = Side::A) {
    Hello h;
    h.kind = kind;
    h.run_id = run_id;
    h.side = side;
    send(FrameType::Hello, encode(h));
  }
  // Authenticates and says a control Hello; true when acknowledged.
  bool open_control(const Key& key) {
    if (!authenticate(key)) return false;
    hello(ConnectionKind::Control);
    const auto f = next();
    return f && f->type == FrameType::HelloAck;
  }
  std::optional<Status> status() {
    send(FrameType::StatusRequest, {});
    const auto f = next();
    if (!f || f->type != FrameType::Status) return std::nullopt;
    ByteReader r(f->body);
    return decode_status(r);
  }
  const std::vector<uint8_t>& sent() const { return sent_; }
  bool closed() const { return closed_; }

 private:
  int fd_ = -1;
  FrameDecoder decoder_{64 << 20};
  std::optional<FrameMac> tx_, rx_;
  std::vector<uint8_t> sent_;
  bool closed_ = false;
};

// The status of the controller at `at`, over a connection of its own.
inline std::optional<Status> status_of(const Endpoint& at, const Key& key) {
  Client c(at);
  if (!c.open_control(key)) return std::nullopt;
  return c.status();
}

}  // namespace mirrorsim::real::test
