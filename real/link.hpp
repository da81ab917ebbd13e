// The link between the two controllers: one TCP connection carrying the
// model's messages, with a fault-injecting wrapper between the model and
// the socket. Side A (R1 at the start) dials side B and redials whenever
// the connection is gone; side B adopts what its listener accepts.
//
// The wrapper shapes frames the way the scenario's link would:
//   delay      every frame leaves `delay` (+ jitter) after it was sent, in order
//   bandwidth  a token bucket: a frame's transmission starts when the previous
//              one's ended and lasts bytes / rate
//   loss       a lost frame breaks the connection: TCP cannot lose one frame
//              and deliver the next, and the model's sessions assume exactly
//              that (a session delivers in order or ends), so an injected
//              loss is a connection reset, detected at once by both sides
//   cut        both sides stop sending and ignore what arrives; heartbeats
//              then go unanswered and each side declares the link dead after
//              the failure-detection time, as with a cable pulled; side A does
//              not redial and side B refuses peers until the link is restored
// Liveness: heartbeats every quarter of the failure-detection time; no frame
// for the whole of it ends the connection (TCP_USER_TIMEOUT, at least a
// second, is the backstop for data the peer never acknowledges). A dial that
// is not up (connected, authenticated, HelloAck) within the detection time
// (at least 50 ms) is abandoned and redialled: a black hole or a proxy that
// accepts for an address it cannot reach must not keep the link down.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>

#include "model/io.hpp"
#include "real/connection.hpp"
#include "real/event_loop.hpp"
#include "real/geometry.hpp"
#include "real/net.hpp"
#include "real/protocol.hpp"

namespace mirrorsim::real {

class PeerLink {
 public:
  struct Callbacks {
    std::function<void()> on_up;  // a connection is ready for a session
    // The connection ended; `cause` Malformed: the peer sent a bad frame (a
    // bug there), Unauthenticated: bytes not from the key holder (a frame
    // failed its tag, or a redial failed to authenticate).
    std::function<void(const std::string& reason, CloseCause cause)> on_down;
    std::function<void(Message&, std::span<const uint8_t> image)> on_message;  // decoded and validated
  };

  // `peer_key`: what side A proves to side B when it dials (side B's
  // connections were authenticated by its listener).
  PeerLink(EventLoop& loop, Side side, uint64_t run_id, const Geometry& g, LinkShaping shaping, const Key& peer_key,
           Callbacks cb);
  ~PeerLink();

  // Side A: start dialling `peer` (and keep redialling while not cut).
  void dial(const Endpoint& peer);
  // Side B: a connection whose Hello named this run; replaces any current one.
  void adopt(std::shared_ptr<Connection> c);

  void send(const Message& m, std::span<const uint8_t> image = {});
  // The peer sent something well-formed that this side cannot take (beyond
  // a bound): the connection ends as for a malformed frame, saying why.
  void refuse(const std::string& reason) { drop("rejected a link message: " + reason, CloseCause::Malformed); }
  void cut();
  void restore();
  void shape(const LinkShaping& s);

  bool connected() const { return up_ != nullptr; }
  bool is_cut() const { return cut_; }
  uint64_t bytes_sent() const { return bytes_sent_; }
  uint64_t connections() const { return connections_; }
  const std::string& congestion_control() const { return congestion_control_; }
  // The largest frame body the link accepts: a CopyData with a whole track,
  // or an EstablishAck naming every track.
  static uint32_t max_body_bytes(const Geometry& g);

 private:
  void schedule_dial(Time after);
  void try_dial();
  void on_dial_ready(int fd);
  void dial_deadline();
  void end_dial_deadline();
  void on_hello_answer(const FrameView& f);
  void go_up(std::shared_ptr<Connection> c);
  void on_frame(const FrameView& f);
  void drop(const std::string& reason, CloseCause cause = CloseCause::Ended);
  void send_frame(FrameType type, std::span<const uint8_t> body, std::span<const uint8_t> image);
  void release_due();
  void heartbeat();

  EventLoop& loop_;
  Side side_;
  uint64_t run_id_;
  Geometry g_;
  LinkShaping shaping_;
  Key peer_key_;
  Callbacks cb_;
  std::optional<Endpoint> peer_;
  std::shared_ptr<Connection> up_;       // the connection carrying the session
  std::shared_ptr<Connection> dialled_;  // side A: connected, authenticating, waiting for HelloAck
  int connecting_fd_ = -1;
  // A dial (connect, authentication, Hello) that has not gone up by this
  // deadline is abandoned and redialled: whatever answers at the peer's
  // address without being the peer (a middlebox that accepts any connection,
  // a black hole that swallows the SYN) must not hold the link down.
  std::optional<EventLoop::TimerId> dial_timer_, dial_deadline_timer_, release_timer_, heartbeat_timer_;
  bool cut_ = false;
  Time last_received_;
  Time last_sent_;
  // Shaping
  std::deque<std::pair<Time, std::vector<uint8_t>>> held_;  // frames waiting for their release time
  Time transmit_free_;
  Time last_release_;
  std::mt19937_64 rng_;
  uint64_t bytes_sent_ = 0;
  uint64_t connections_ = 0;
  std::string congestion_control_;
};

}  // namespace mirrorsim::real
