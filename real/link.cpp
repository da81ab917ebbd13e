#include "real/link.hpp"

#include <poll.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "real/clock.hpp"
#include "real/messages.hpp"
#include "real/track_image.hpp"

namespace mirrorsim::real {
namespace {

Time dial_retry(const LinkShaping& s) {
  return Time::from_ns(std::clamp<int64_t>(s.failure_detection_ns / 4, 2'000'000, 50'000'000));
}

// TCP_USER_TIMEOUT, the backstop behind the heartbeats: data the peer does
// not acknowledge for this long fails the connection. Never below a second,
// so a receiver that is alive but briefly starved of CPU (a zero window on a
// busy machine) is not mistaken for a dead one; the heartbeats detect a dead
// or cut link within the scenario's detection time.
uint32_t user_timeout_ms(const LinkShaping& s) {
  return static_cast<uint32_t>(std::max<int64_t>(s.failure_detection_ns / 1'000'000, 1000));
}

// How long a dial may take from connect() to HelloAck: the scenario's
// failure detection (a peer that cannot answer within it is not reachable),
// never below 50 ms, so a busy machine's peer is not abandoned mid-handshake.
Time dial_timeout(const LinkShaping& s) { return Time::from_ns(std::max<int64_t>(s.failure_detection_ns, 50'000'000)); }

}  // namespace

uint32_t PeerLink::max_body_bytes(const Geometry& g) {
  const uint64_t copy = 64 + static_cast<uint64_t>(g.track_bytes);
  const uint64_t lists = 64 + 6 * g.total_tracks;
  return static_cast<uint32_t>(std::min<uint64_t>(std::max(copy, lists), 1u << 30));
}

PeerLink::PeerLink(EventLoop& loop, Side side, uint64_t run_id, const Geometry& g, LinkShaping shaping,
                   const Key& peer_key, Callbacks cb)
    : loop_(loop),
      side_(side),
      run_id_(run_id),
      g_(g),
      shaping_(shaping),
      peer_key_(peer_key),
      cb_(std::move(cb)),
      rng_(run_id ^ 0x6c696e6bu) {}

PeerLink::~PeerLink() {
  for (auto* t : {&dial_timer_, &dial_deadline_timer_, &release_timer_, &heartbeat_timer_})
    if (*t) loop_.cancel(**t);
  if (connecting_fd_ >= 0) {
    loop_.remove(connecting_fd_);
    ::close(connecting_fd_);
  }
  for (auto* c : {&up_, &dialled_})
    if (*c) {
      (*c)->on_closed(nullptr);
      (*c)->close("link shut down");
    }
}

void PeerLink::dial(const Endpoint& peer) {
  peer_ = peer;
  try_dial();
}

void PeerLink::schedule_dial(Time after) {
  if (!peer_ || cut_ || dial_timer_) return;
  dial_timer_ = loop_.at(monotonic_now() + after, [this] {
    dial_timer_.reset();
    try_dial();
  });
}

void PeerLink::try_dial() {
  if (!peer_ || cut_ || up_ || dialled_ || connecting_fd_ >= 0) return;
  int fd = -1;
  try {
    fd = connect_to(*peer_);
  } catch (const std::exception&) {
    fd = -1;
  }
  if (fd < 0) {
    schedule_dial(dial_retry(shaping_));
    return;
  }
  connecting_fd_ = fd;
  loop_.add(fd, EPOLLOUT, [this, fd](uint32_t) { on_dial_ready(fd); });
  dial_deadline_timer_ = loop_.at(monotonic_now() + dial_timeout(shaping_), [this] { dial_deadline(); });
}

void PeerLink::dial_deadline() {
  dial_deadline_timer_.reset();
  // What arrived while this process was not running counts, as in heartbeat().
  if (connecting_fd_ >= 0) {
    pollfd p{connecting_fd_, POLLOUT, 0};
    if (::poll(&p, 1, 0) == 1) {
      on_dial_ready(connecting_fd_);
      if (dialled_) dial_deadline_timer_ = loop_.at(monotonic_now() + dial_timeout(shaping_), [this] { dial_deadline(); });
      return;
    }
    loop_.remove(connecting_fd_);
    ::close(connecting_fd_);
    connecting_fd_ = -1;
    schedule_dial(dial_retry(shaping_));
    return;
  }
  if (!dialled_) return;
  auto c = dialled_;  // kept alive through its own callbacks
  c->poll_input();    // may answer (up) or close (redialled)
  if (dialled_) c->close(fmt::format("no HelloAck within {:.0f} ms of dialling", dial_timeout(shaping_).us() / 1e3));
}

void PeerLink::end_dial_deadline() {
  if (!dial_deadline_timer_) return;
  loop_.cancel(*dial_deadline_timer_);
  dial_deadline_timer_.reset();
}

void PeerLink::on_dial_ready(int fd) {
  loop_.remove(fd);
  connecting_fd_ = -1;
  if (connect_result(fd) != 0 || cut_) {
    ::close(fd);
    end_dial_deadline();
    schedule_dial(dial_retry(shaping_));
    return;
  }
  congestion_control_ = set_link_options(fd, user_timeout_ms(shaping_));
  dialled_ = Connection::make(loop_, fd, kHelloFrameMaxBytes, "link to " + peer_->text(), Party::Client, peer_key_);
  dialled_->on_frame([this](const FrameView& f) { on_hello_answer(f); });
  dialled_->on_closed([this](const std::string& reason) {
    // A peer that fails to prove it holds the key is no peer: heard of
    // (an impostor at the peer's address, or a wrong key). A peer that is
    // merely not there yet, or refuses for now, is just redialled.
    const bool rejected = dialled_ && dialled_->close_cause() == CloseCause::Unauthenticated &&
                          reason.rfind("rejected", 0) == 0;
    dialled_.reset();
    end_dial_deadline();
    if (rejected && cb_.on_down) cb_.on_down(reason, CloseCause::Unauthenticated);
    schedule_dial(dial_retry(shaping_));
  });
  Hello h;
  h.kind = ConnectionKind::Peer;
  h.run_id = run_id_;
  h.side = side_;
  dialled_->send(FrameType::Hello, encode(h));
}

void PeerLink::on_hello_answer(const FrameView& f) {
  auto c = dialled_;
  if (f.type == FrameType::HelloAck) {
    dialled_.reset();
    end_dial_deadline();
    c->set_max_body_bytes(max_body_bytes(g_));
    go_up(c);
    return;
  }
  // Refused (the peer is not configured yet, or the link is cut there) or
  // anything else: close and try again later.
  c->close(f.type == FrameType::Refused ? "refused by the peer" : "unexpected answer to Hello");
}

void PeerLink::adopt(std::shared_ptr<Connection> c) {
  if (up_) drop("replaced by a new connection from the peer");
  congestion_control_ = set_link_options(c->fd(), user_timeout_ms(shaping_));
  c->set_max_body_bytes(max_body_bytes(g_));
  go_up(std::move(c));
}

void PeerLink::go_up(std::shared_ptr<Connection> c) {
  up_ = std::move(c);
  ++connections_;
  up_->on_frame([this](const FrameView& f) { on_frame(f); });
  up_->on_closed([this](const std::string& reason) { drop(reason, up_ ? up_->close_cause() : CloseCause::Ended); });
  last_received_ = last_sent_ = monotonic_now();
  transmit_free_ = last_release_ = Time{};
  heartbeat();
  if (cb_.on_up) cb_.on_up();
}

void PeerLink::drop(const std::string& reason, CloseCause cause) {
  if (!up_) return;
  auto c = std::move(up_);
  up_.reset();
  c->on_closed(nullptr);
  c->close(reason);
  held_.clear();
  for (auto* t : {&release_timer_, &heartbeat_timer_})
    if (*t) {
      loop_.cancel(**t);
      t->reset();
    }
  if (cb_.on_down) cb_.on_down(reason, cause);
  schedule_dial(dial_retry(shaping_));
}

void PeerLink::heartbeat() {
  heartbeat_timer_.reset();
  if (!up_) return;
  const Time now = monotonic_now();
  const Time detection = Time::from_ns(shaping_.failure_detection_ns);
  // What arrived while this process was not running counts: a loop that was
  // itself stalled must not blame the peer.
  if (now - last_received_ > detection) up_->poll_input();
  if (!up_) return;
  if (now - last_received_ > detection) {
    drop(fmt::format("no frame from the peer for {:.0f} ms", (now - last_received_).us() / 1e3));
    return;
  }
  const Time interval = Time::from_ns(std::max<int64_t>(shaping_.failure_detection_ns / 4, 1'000'000));
  if (now - last_sent_ >= interval) send_frame(FrameType::Heartbeat, {}, {});
  if (up_) heartbeat_timer_ = loop_.at(now + interval, [this] { heartbeat(); });
}

void PeerLink::send(const Message& m, std::span<const uint8_t> image) {
  if (!up_) return;  // no session can carry it: lost, the model hears the link is down
  thread_local std::vector<uint8_t> body;
  body.clear();
  ByteWriter w(body);
  encode_message(w, m);
  send_frame(FrameType::PeerMessage, body, image);
}

void PeerLink::send_frame(FrameType type, std::span<const uint8_t> body, std::span<const uint8_t> image) {
  if (!up_ || cut_) return;
  if (shaping_.loss_probability > 0 && std::uniform_real_distribution<double>(0, 1)(rng_) < shaping_.loss_probability) {
    drop("injected frame loss (a lost frame breaks the connection)");
    return;
  }
  const Time now = monotonic_now();
  const size_t bytes = kFrameHeaderBytes + body.size() + image.size() + kFrameTagBytes;
  last_sent_ = now;
  bytes_sent_ += bytes;
  const bool shaped = shaping_.delay_ns > 0 || shaping_.jitter_ns > 0 || shaping_.bandwidth_bytes_per_s > 0;
  if (!shaped && held_.empty()) {
    up_->send(type, body, image);  // straight from the cache slot to the socket
    return;
  }
  std::vector<uint8_t> frame;
  frame.reserve(bytes);
  append_frame(frame, type, body, image);  // tagged when it leaves (send_raw), in the order frames leave
  const Time start = std::max(now, transmit_free_);
  transmit_free_ = shaping_.bandwidth_bytes_per_s > 0
                       ? start + Time::from_ns(static_cast<int64_t>(1e9 * static_cast<double>(bytes) / shaping_.bandwidth_bytes_per_s))
                       : start;
  int64_t jitter = 0;
  if (shaping_.jitter_ns > 0) jitter = std::uniform_int_distribution<int64_t>(0, shaping_.jitter_ns - 1)(rng_);
  const Time release = std::max(last_release_, transmit_free_ + Time::from_ns(shaping_.delay_ns + jitter));
  last_release_ = release;
  held_.emplace_back(release, std::move(frame));
  if (!release_timer_) release_timer_ = loop_.at(held_.front().first, [this] { release_due(); });
}

void PeerLink::release_due() {
  release_timer_.reset();
  const Time now = monotonic_now();
  while (up_ && !held_.empty() && held_.front().first <= now) {
    auto frame = std::move(held_.front().second);
    held_.pop_front();
    up_->send_raw(frame);
  }
  if (up_ && !held_.empty()) release_timer_ = loop_.at(held_.front().first, [this] { release_due(); });
}

void PeerLink::on_frame(const FrameView& f) {
  if (cut_) return;  // a cut link delivers nothing
  last_received_ = monotonic_now();
  if (f.type == FrameType::Heartbeat) {
    if (!f.body.empty()) drop("rejected a Heartbeat frame with a body", CloseCause::Malformed);
    return;
  }
  if (f.type != FrameType::PeerMessage) {
    drop(fmt::format("rejected an unexpected {} frame on the link", to_string(f.type)), CloseCause::Malformed);
    return;
  }
  ByteReader r(std::span<const uint8_t>(f.body.data(), f.checked_bytes));
  auto m = decode_message(r, g_);
  if (!m || !r.finish("message")) {
    drop("rejected a link message: " + r.error(), CloseCause::Malformed);
    return;
  }
  const std::span<const uint8_t> image(f.body.data() + f.checked_bytes, f.body.size() - f.checked_bytes);
  std::string bad;
  const auto* c = std::get_if<CopyData>(&*m);
  const auto* d = std::get_if<CycleData>(&*m);
  if (c || d) {
    // The messages that carry a track image: it must be the one they name.
    const char* what = c ? "CopyData" : "CycleData";
    const TrackKey key = c ? c->key : d->key;
    const Version version = c ? c->version : d->version;
    ImageHeader h;
    const ImageCheck check = image.size() > g_.track_bytes ? ImageCheck::BadLength : check_image(image, &h);
    if (check != ImageCheck::Ok)
      bad = fmt::format("{} of track {} v{}: its track image fails ({})", what, to_string(key), to_string(version),
                        to_string(check));
    else if (h.key != key || h.version != version)
      bad = fmt::format("{} of track {} v{} carries the image of track {} v{}", what, to_string(key), to_string(version),
                        to_string(h.key), to_string(h.version));
  } else if (!image.empty()) {
    bad = fmt::format("{} frame carries {} unchecked bytes", to_string(*m), image.size());
  }
  if (!bad.empty()) {
    drop("rejected a link message: " + bad, CloseCause::Malformed);
    return;
  }
  if (cb_.on_message) cb_.on_message(*m, image);
}

void PeerLink::cut() {
  if (cut_) return;
  cut_ = true;
  held_.clear();
  if (dial_timer_) {
    loop_.cancel(*dial_timer_);
    dial_timer_.reset();
  }
  if (dialled_) {
    dialled_->on_closed(nullptr);
    dialled_->close("link cut");
    dialled_.reset();
  }
  if (connecting_fd_ >= 0) {
    loop_.remove(connecting_fd_);
    ::close(connecting_fd_);
    connecting_fd_ = -1;
  }
  end_dial_deadline();
  // The connection stays open and silent: the heartbeat timeout ends it.
}

void PeerLink::restore() {
  if (!cut_) return;
  cut_ = false;
  // Frames were dropped during the cut: a session that lived through it
  // would wait for them forever, so it ends here if the heartbeat timeout
  // has not ended it already.
  drop("the link cut ended the session");
  try_dial();
}

void PeerLink::shape(const LinkShaping& s) { shaping_ = s; }

}  // namespace mirrorsim::real
