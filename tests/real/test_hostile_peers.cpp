// A controller facing bad input on its port: garbage, truncated, oversized
// and unexpected frames, and link messages with damaged track images; and
// outsiders — no key, a wrong key, a replayed handshake, a flipped bit in an
// authenticated frame, on a control connection and on the link. It refuses
// each with a reason, closes that connection, applies nothing, and keeps
// serving: the run in progress goes on and verifies. Key files, as the
// `mirrorsim` command meets them.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "client.hpp"
#include "helpers.hpp"
#include "real/clock.hpp"
#include "real/event_loop.hpp"
#include "real/geometry.hpp"
#include "real/link.hpp"
#include "real/messages.hpp"
#include "real/protocol.hpp"
#include "real/spawn.hpp"
#include "real/track_image.hpp"
#include "tests/cli/run_mirrorsim.hpp"

using namespace mirrorsim;
using namespace mirrorsim::real;
using namespace mirrorsim::real::test;

namespace {

constexpr uint64_t kRunId = 0x5eed;

struct Fixture {
  std::string dir;
  Key key = random_key();
  LocalController controller;
  explicit Fixture(bool exit_after_run = true) {
    dir = fmt::format("/tmp/mirrorsim-hostile-{}", ::getpid());
    ServeOptions o;
    o.dir = dir;
    o.quiet = true;
    o.exit_after_run = exit_after_run;
    o.key = key;
    controller = spawn_controller(o, Time::from_s(10));
  }
  ~Fixture() {
    kill_controller(controller, SIGKILL);
    ::unlink(state_file_path("/dev/shm", dir).c_str());
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  bool alive() const { return ::waitpid(controller.pid, nullptr, WNOHANG) == 0; }
  Status status() {
    const auto s = status_of(controller.endpoint, key);
    REQUIRE(s);
    return *s;
  }
  // An authenticated connection that has said its Hello.
  std::unique_ptr<Client> client(ConnectionKind kind) {
    auto c = std::make_unique<Client>(controller.endpoint);
    REQUIRE(c->authenticate(key));
    c->hello(kind, kRunId);
    const auto f = c->next();
    REQUIRE(f);
    REQUIRE(f->type == FrameType::HelloAck);
    return c;
  }
};

std::vector<uint8_t> copy_data_body(TrackKey k, Version v, uint32_t bytes) {
  std::vector<uint8_t> b;
  ByteWriter w(b);
  encode_message(w, CopyData{1, k, v, bytes, false});
  return b;
}

}  // namespace

TEST_CASE("garbage, truncated, oversized and unexpected frames are refused and the controller keeps serving") {
  Fixture fx;
  // Configure it as R2 of a run, the way `mirrorsim real` does.
  auto control_connection = fx.client(ConnectionKind::Control);
  Client& control = *control_connection;
  Configure cfg;
  cfg.run_id = kRunId;
  cfg.side = Side::B;
  cfg.scenario_toml = small_scenario(Small{}).resolved_toml;
  cfg.log_bytes = 16 << 20;
  control.send(FrameType::Configure, encode(cfg));
  const auto configured = control.next(20000);
  REQUIRE(configured);
  REQUIRE(configured->type == FrameType::Configured);

  SECTION("bytes that are not a frame") {
    Client c(fx.controller.endpoint);
    const std::vector<uint8_t> garbage(100, 0xAB);
    c.send_bytes(garbage);
    CHECK(c.closed_by_peer());
  }
  SECTION("a frame announcing a body far over the limit") {
    auto cp = fx.client(ConnectionKind::Control);
    Client& c = *cp;
    std::vector<uint8_t> header;
    append_frame(header, FrameType::Configure, std::vector<uint8_t>(10));
    const uint32_t huge = 1u << 30;
    std::memcpy(header.data() + 8, &huge, 4);
    std::memcpy(header.data() + 12, &huge, 4);
    c.send_bytes(std::span<const uint8_t>(header.data(), kFrameHeaderBytes));
    CHECK(c.closed_by_peer());
  }
  SECTION("a frame cut off in the middle, then the connection closed") {
    auto cp = fx.client(ConnectionKind::Control);
    Client& c = *cp;
    std::vector<uint8_t> f;
    append_frame(f, FrameType::StatusRequest, std::vector<uint8_t>(200, 1));
    c.send_bytes(std::span<const uint8_t>(f.data(), 30));
  }
  SECTION("a first frame that is not a Hello, and a Hello of another protocol version") {
    Client a(fx.controller.endpoint);
    REQUIRE(a.authenticate(fx.key));
    a.send(FrameType::StatusRequest, {});
    const auto refused = a.next();
    REQUIRE(refused);
    CHECK(refused->type == FrameType::Refused);
    ByteReader r(refused->body);
    CHECK_THAT(decode_refusal(r), Catch::Contains("expected Hello"));
    CHECK(a.closed_by_peer());
    Client b(fx.controller.endpoint);
    REQUIRE(b.authenticate(fx.key));
    Hello h;
    h.protocol_version = 99;
    b.send(FrameType::Hello, encode(h));
    CHECK(b.closed_by_peer());
  }
  SECTION("a malformed request on a control connection") {
    auto cp = fx.client(ConnectionKind::Control);
    Client& c = *cp;
    c.send(FrameType::HostRequest, {1, 2, 3});
    CHECK(c.closed_by_peer());
  }
  SECTION("a peer of another run") {
    Client c(fx.controller.endpoint);
    REQUIRE(c.authenticate(fx.key));
    c.hello(ConnectionKind::Peer, kRunId + 1);
    const auto f = c.next();
    REQUIRE(f);
    CHECK(f->type == FrameType::Refused);
    CHECK(c.closed_by_peer());
  }
  SECTION("link messages with a damaged image, another track's image, or a track outside the volumes") {
    std::vector<uint8_t> image(8192);
    write_image(image, TrackKey{0, 5}, make_version(1, 1), 8192, 11);
    {
      auto cp = fx.client(ConnectionKind::Peer);
      Client& c = *cp;
      auto damaged = image;
      damaged[4000] ^= 0xFF;
      c.send(FrameType::PeerMessage, copy_data_body(TrackKey{0, 5}, make_version(1, 1), 8192), damaged);
      CHECK(c.closed_by_peer());
    }
    {
      auto cp = fx.client(ConnectionKind::Peer);
      Client& c = *cp;
      c.send(FrameType::PeerMessage, copy_data_body(TrackKey{0, 6}, make_version(1, 1), 8192), image);
      CHECK(c.closed_by_peer());
    }
    {
      auto cp = fx.client(ConnectionKind::Peer);
      Client& c = *cp;
      c.send(FrameType::PeerMessage, copy_data_body(TrackKey{0, 5000}, make_version(1, 1), 8192), image);
      CHECK(c.closed_by_peer());
    }
    CHECK(fx.status().copies_stored == 0);  // nothing of them was applied
  }

  // Whatever came before, the controller is alive and serving: its status
  // answers, and a well-formed copy from a peer is stored and acknowledged.
  REQUIRE(fx.alive());
  const Status s = fx.status();
  CHECK(s.configured);
  CHECK(s.side == Side::B);
  auto peer_connection = fx.client(ConnectionKind::Peer);
  Client& peer = *peer_connection;
  std::vector<uint8_t> image(8192);
  write_image(image, TrackKey{0, 7}, make_version(1, 1), 8192, 11);
  peer.send(FrameType::PeerMessage, copy_data_body(TrackKey{0, 7}, make_version(1, 1), 8192), image);
  std::optional<Frame> ack;
  for (int i = 0; i < 10 && !ack; ++i) {
    auto f = peer.next();
    REQUIRE(f);
    if (f->type == FrameType::PeerMessage) ack = f;
  }
  ByteReader r(ack->body);
  const auto m = decode_message(r, Geometry::of(controller_config(small_scenario(Small{}), Side::B)));
  REQUIRE(m);
  REQUIRE(std::holds_alternative<CopyAck>(*m));
  CHECK(std::get<CopyAck>(*m).key == TrackKey{0, 7});
  CHECK(fx.status().copies_stored == 1);
  CHECK(fx.alive());
}

namespace {

// A secondary serving run after run (`mirrorsim secondary --key FILE`),
// removed with its files at the end.
struct Secondary {
  std::string dir = fmt::format("/tmp/mirrorsim-hostile-r2-{}", ::getpid());
  Key key = random_key();
  LocalController controller;
  Secondary() {
    ServeOptions o;
    o.dir = dir;
    o.quiet = true;
    o.exit_after_run = false;
    o.key = key;
    controller = spawn_controller(o, Time::from_s(10));
  }
  ~Secondary() {
    kill_controller(controller, SIGKILL);
    ::unlink(state_file_path("/dev/shm", dir).c_str());
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  bool alive() const { return ::waitpid(controller.pid, nullptr, WNOHANG) == 0; }
  RealOptions options(const Endpoint& at) const {
    RealOptions o = quiet_options();
    o.secondary = at;
    o.secondary_key = key;
    return o;
  }
};

// Waits (up to 20 s) until the controller at `at` is configured for a run.
bool wait_configured(const Endpoint& at, const Key& key) {
  const Time deadline = monotonic_now() + Time::from_s(20);
  while (monotonic_now() < deadline) {
    try {
      if (const auto s = status_of(at, key); s && s->configured) return true;
    } catch (const std::exception&) {
    }
    ::usleep(20'000);
  }
  return false;
}

// Every frame type the controller sent on `c` until it closed (or 3 s passed).
std::vector<FrameType> answers_until_closed(Client& c) {
  std::vector<FrameType> got;
  while (auto f = c.next()) got.push_back(f->type);
  return got;
}

// Forwards every connection to `to`, and in the first link connection (the
// one whose Hello says Peer) flips one bit in the body of the `nth` tagged
// frame with a body of 64 bytes or more, from the dialling side to `to`.
// Parses the frames it forwards that way (header, body, tag); the other
// direction goes through as it comes.
class FlippingProxy {
 public:
  FlippingProxy(const Endpoint& to, int nth) : to_(to), nth_(nth) {
    listen_fd_ = listen_on(Endpoint{"127.0.0.1", 0}, &at_);
    const int flags = ::fcntl(listen_fd_, F_GETFL);
    ::fcntl(listen_fd_, F_SETFL, flags & ~O_NONBLOCK);
    accepter_ = std::thread([this] { accept_loop(); });
  }
  ~FlippingProxy() {
    stopping_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    accepter_.join();
    ::close(listen_fd_);
    {
      std::lock_guard lock(mu_);
      for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : pumps_) t.join();
    for (int fd : fds_) ::close(fd);
  }
  const Endpoint& endpoint() const { return at_; }
  bool flipped() const { return flipped_; }
  int connections() const { return connections_; }

 private:
  static bool write_all(int fd, const uint8_t* p, size_t n) {
    while (n) {
      const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
      if (w <= 0) return false;
      p += w;
      n -= static_cast<size_t>(w);
    }
    return true;
  }
  void accept_loop() {
    for (;;) {
      const int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) return;
      std::string why;
      const int server = connect_blocking(to_, 2000, &why);
      if (server < 0 || stopping_) {
        ::close(client);
        if (server >= 0) ::close(server);
        return;
      }
      const int flags = ::fcntl(server, F_GETFL);
      ::fcntl(server, F_SETFL, flags & ~O_NONBLOCK);
      ++connections_;
      std::lock_guard lock(mu_);
      fds_.push_back(client);
      fds_.push_back(server);
      pumps_.emplace_back([this, client, server] { forward_frames(client, server); });
      pumps_.emplace_back([client, server] {
        uint8_t buf[65536];
        for (;;) {
          const ssize_t n = ::recv(server, buf, sizeof buf, 0);
          if (n <= 0 || !write_all(client, buf, static_cast<size_t>(n))) break;
        }
        ::shutdown(client, SHUT_RDWR);
        ::shutdown(server, SHUT_RDWR);
      });
    }
  }
  void forward_frames(int from, int to) {
    std::vector<uint8_t> buf;
    uint8_t chunk[65536];
    int frames = 0;          // whole frames forwarded: the first two are the untagged handshake
    bool flipping = false;   // this is the link connection chosen
    int bodies = 0;
    for (;;) {
      const ssize_t n = ::recv(from, chunk, sizeof chunk, 0);
      if (n <= 0) break;
      buf.insert(buf.end(), chunk, chunk + n);
      size_t pos = 0;
      for (;;) {
        if (buf.size() - pos < kFrameHeaderBytes) break;
        uint32_t length;
        std::memcpy(&length, buf.data() + pos + 8, 4);
        const size_t whole = kFrameHeaderBytes + length + (frames >= 2 ? kFrameTagBytes : 0);
        if (buf.size() - pos < whole) break;
        uint8_t* body = buf.data() + pos + kFrameHeaderBytes;
        if (frames == 2 && length >= 3 && body[2] == static_cast<uint8_t>(ConnectionKind::Peer) && !claimed_.exchange(true))
          flipping = true;
        if (frames > 2 && flipping && !flipped_ && length >= 64 && ++bodies == nth_) {
          body[length / 2] ^= 0x10;
          flipped_ = true;
        }
        ++frames;
        if (!write_all(to, buf.data() + pos, whole)) return;
        pos += whole;
      }
      buf.erase(buf.begin(), buf.begin() + static_cast<ptrdiff_t>(pos));
    }
    ::shutdown(from, SHUT_RDWR);
    ::shutdown(to, SHUT_RDWR);
  }

  Endpoint to_, at_;
  int nth_;
  int listen_fd_ = -1;
  std::thread accepter_;
  std::mutex mu_;
  std::vector<std::thread> pumps_;
  std::vector<int> fds_;
  std::atomic<bool> stopping_{false}, claimed_{false}, flipped_{false};
  std::atomic<int> connections_{0};
};

void require_verified(const RealRun& r) {
  INFO(r.result.violation_report);
  INFO(verification_text(r.verification));
  INFO("end: " << r.result.end_state);
  REQUIRE(r.result.invariant_violations == 0);
  REQUIRE(r.verification.ok());
  REQUIRE(r.verification.disks_compared);
  CHECK(r.verification.tracks_differing == 0);
  CHECK(r.verification.writes_acked_lost == 0);
  CHECK(r.result.volumes.at(0).writes.completed > 300);
}

}  // namespace

TEST_CASE("a client without the key, with a wrong key, replaying a captured handshake, or flipping a bit in an "
          "authenticated frame is refused, and the run in progress goes on and verifies") {
  Secondary r2;
  const Endpoint at = r2.controller.endpoint;
  struct Outcome {
    bool configured = false;
    std::vector<FrameType> no_key, wrong_key, replayed, flipped, replayed_in_session;
    bool wrong_key_proof_refused_by_us = false;
    bool before_flip_answered = false, before_replay_answered = false;
    bool no_key_closed = false, wrong_key_closed = false, replayed_closed = false, flipped_closed = false,
         replayed_in_session_closed = false;
    std::string error;
  } out;
  std::thread attacker([&] {
    try {
      out.configured = wait_configured(at, r2.key);
      {
        // No key: the old protocol's Hello first.
        Client c(at);
        c.hello(ConnectionKind::Control);
        out.no_key = answers_until_closed(c);
        out.no_key_closed = c.closed();
      }
      {
        // A wrong key: the controller's proof fails ours; the proof it is
        // sent anyway fails its.
        Client c(at);
        out.wrong_key_proof_refused_by_us = !c.authenticate(random_key(), true);
        c.hello(ConnectionKind::Control);
        c.send(FrameType::StatusRequest, {});
        out.wrong_key = answers_until_closed(c);
        out.wrong_key_closed = c.closed();
      }
      {
        // A captured handshake, Hello and request, replayed byte for byte.
        Client genuine(at);
        if (!genuine.open_control(r2.key)) throw std::runtime_error("the genuine client was refused");
        out.before_replay_answered = genuine.status().has_value();
        const std::vector<uint8_t> captured = genuine.sent();
        Client c(at);
        c.send_bytes(captured);
        out.replayed = answers_until_closed(c);
        out.replayed_closed = c.closed();
      }
      {
        // One bit of an authenticated frame flipped (in its tag's first byte,
        // then also in the header): the controller answers nothing more.
        Client c(at);
        if (!c.open_control(r2.key)) throw std::runtime_error("the genuine client was refused");
        out.before_flip_answered = c.status().has_value();
        c.send(FrameType::StatusRequest, {}, {}, (kFrameHeaderBytes + 0) * 8 + 3);
        out.flipped = answers_until_closed(c);
        out.flipped_closed = c.closed();
      }
      {
        // An authenticated frame sent twice: the second is out of sequence.
        Client c(at);
        if (!c.open_control(r2.key)) throw std::runtime_error("the genuine client was refused");
        c.send(FrameType::StatusRequest, {});
        const std::vector<uint8_t> last(c.sent().end() - (kFrameHeaderBytes + kFrameTagBytes), c.sent().end());
        c.send_bytes(last);
        out.replayed_in_session = answers_until_closed(c);
        out.replayed_in_session_closed = c.closed();
      }
    } catch (const std::exception& e) {
      out.error = e.what();
    }
  });
  RealRun r;
  try {
    r = run_real(small_scenario(Small{.duration_s = 1.5}), r2.options(at));
  } catch (...) {
    attacker.join();
    throw;
  }
  attacker.join();
  INFO(out.error);
  REQUIRE(out.error.empty());
  REQUIRE(out.configured);
  // Each was refused: nothing but the handshake's answer and a Refused.
  CHECK(out.no_key == std::vector<FrameType>{FrameType::Refused});
  CHECK(out.wrong_key_proof_refused_by_us);
  CHECK(out.wrong_key == std::vector<FrameType>{FrameType::Refused});
  CHECK(out.before_replay_answered);
  CHECK(out.replayed == std::vector<FrameType>{FrameType::AuthResponse, FrameType::Refused});
  CHECK(out.before_flip_answered);
  CHECK(out.flipped.empty());
  CHECK(out.replayed_in_session == std::vector<FrameType>{FrameType::Status});
  CHECK(out.no_key_closed);
  CHECK(out.wrong_key_closed);
  CHECK(out.replayed_closed);
  CHECK(out.flipped_closed);
  CHECK(out.replayed_in_session_closed);
  // The run went on and verifies; the secondary counted the outsiders and
  // serves on.
  require_verified(r);
  REQUIRE(r2.alive());
  const auto s = status_of(at, r2.key);
  REQUIRE(s);
  CHECK(s->connections_refused >= 5);
  CHECK_FALSE(s->configured);  // the run ended it
}

TEST_CASE("async R2: a receive set's images are kept until its CycleEnd applies it or a new session discards it, and a "
          "CycleData beyond the peer's delta-set limit or with a damaged image is refused and closes the link") {
  Fixture fx;
  auto control_connection = fx.client(ConnectionKind::Control);
  Client& control = *control_connection;
  // 8 cache slots a side: the delta sets may hold 6 (async_cache_fraction_max 0.75).
  const Scenario sc = small_scenario(Small{.mode = "async", .cache_slots = 8});
  Configure cfg;
  cfg.run_id = kRunId;
  cfg.side = Side::B;
  cfg.scenario_toml = sc.resolved_toml;
  cfg.log_bytes = 16 << 20;
  control.send(FrameType::Configure, encode(cfg));
  const auto configured = control.next(20000);
  REQUIRE(configured);
  REQUIRE(configured->type == FrameType::Configured);
  const Geometry g = Geometry::of(controller_config(sc, Side::B));
  const Version v = make_version(1, 1);
  auto cycle_data = [&](TrackNo t) {
    std::vector<uint8_t> b;
    ByteWriter w(b);
    encode_message(w, CycleData{1, 0, 1, TrackKey{0, t}, v, 8192});
    return b;
  };
  auto image_of = [&](TrackNo t) {
    std::vector<uint8_t> image(8192);
    write_image(image, TrackKey{0, t}, v, 8192, 11);
    return image;
  };
  // Every message the controller sends on `c` until `want` of type M came.
  auto messages = [&]<class M>(Client& c, size_t want, M) {
    size_t got = 0;
    for (int i = 0; i < 50 && got < want; ++i) {
      const auto f = c.next();
      if (!f) break;
      if (f->type != FrameType::PeerMessage) continue;
      ByteReader r(f->body);
      const auto m = decode_message(r, g);
      if (m && std::holds_alternative<M>(*m)) ++got;
    }
    return got;
  };
  {
    auto cp = fx.client(ConnectionKind::Peer);
    Client& c = *cp;
    for (TrackNo t = 0; t < 6; ++t) c.send(FrameType::PeerMessage, cycle_data(t), image_of(t));
    CHECK(messages(c, 6, CycleDataAck{}) == 6);
    Status s = fx.status();
    CHECK(s.delta_set_images == 6);
    CHECK(s.delta_set_image_bytes == 6 * 8192);
    CHECK(s.frames_refused == 0);
    // A seventh track: more than R1's delta sets can hold.
    c.send(FrameType::PeerMessage, cycle_data(6), image_of(6));
    CHECK(c.closed_by_peer());
    s = fx.status();
    CHECK(s.frames_refused == 1);
    CHECK_THAT(s.last_refusal, Catch::Contains("beyond the 6 tracks the peer's delta sets can hold"));
    CHECK(s.delta_set_images == 6);  // the refused one was not kept
  }
  {
    auto cp = fx.client(ConnectionKind::Peer);
    Client& c = *cp;
    auto damaged = image_of(5);
    damaged[4000] ^= 0xFF;
    c.send(FrameType::PeerMessage, cycle_data(5), damaged);
    CHECK(c.closed_by_peer());
    const Status s = fx.status();
    CHECK(s.frames_refused == 2);
    CHECK_THAT(s.last_refusal, Catch::Contains("CycleData of track 0/5") && Catch::Contains("its track image fails"));
  }
  {
    // The set's end: R2 holds all of it and applies it whole.
    auto cp = fx.client(ConnectionKind::Peer);
    Client& c = *cp;
    std::vector<uint8_t> b;
    ByteWriter w(b);
    encode_message(w, CycleEnd{1, 0, 1, 6});
    c.send(FrameType::PeerMessage, b);
    CHECK(messages(c, 1, CycleApplied{}) == 1);
    const Status s = fx.status();
    CHECK(s.copies_stored == 6);
    CHECK(s.delta_set_images == 0);
    CHECK(s.delta_set_image_bytes == 0);
    CHECK(s.delta_set_image_bytes_peak == 6 * 8192);
  }
  {
    // Part of the next cycle, then a new session: what R2 received of the
    // unfinished cycle is never applied, and its images go with it.
    auto cp = fx.client(ConnectionKind::Peer);
    Client& c = *cp;
    for (TrackNo t = 0; t < 3; ++t) {
      std::vector<uint8_t> b;
      ByteWriter w(b);
      encode_message(w, CycleData{1, 0, 2, TrackKey{0, t}, make_version(1, 2), 8192});
      std::vector<uint8_t> image(8192);
      write_image(image, TrackKey{0, t}, make_version(1, 2), 8192, 11);
      c.send(FrameType::PeerMessage, b, image);
    }
    CHECK(messages(c, 3, CycleDataAck{}) == 3);
    CHECK(fx.status().delta_set_images == 3);
    std::vector<uint8_t> b;
    ByteWriter w(b);
    encode_message(w, Establish{2, 1, {}, false});
    c.send(FrameType::PeerMessage, b);
    CHECK(messages(c, 1, EstablishAck{}) == 1);
    const Status s = fx.status();
    CHECK(s.delta_set_images == 0);
    CHECK(s.delta_set_image_bytes == 0);
    CHECK(s.copies_stored == 6);  // nothing of cycle 2 applied
  }
  CHECK(fx.alive());
}

TEST_CASE("a bit flipped on the link fails its tag: the link breaks, the pair reconnects and resynchronises, and the "
          "run verifies") {
  Secondary r2;
  FlippingProxy proxy(r2.controller.endpoint, 40);
  const RealRun r = run_real(small_scenario(Small{.duration_s = 1.2}), r2.options(proxy.endpoint()));
  require_verified(r);
  CHECK(proxy.flipped());
  CHECK(r.verification.link_connections >= 2);  // the flipped frame ended the first
  const auto s = status_of(r2.controller.endpoint, r2.key);
  REQUIRE(s);
  CHECK(s->connections_refused >= 1);
  CHECK_THAT(s->last_connection_refusal, Catch::Contains("fails its tag"));
}

TEST_CASE("a silent acceptor at the peer's address: a middlebox or proxy that accepts and never answers does not "
          "hold the link down, the dial is abandoned after the failure-detection time and redialled") {
  // Found where a network's transparent proxy accepted R1's redial while a
  // kernel link was down and never answered: the link stayed down for good.
  Endpoint at;
  const int listen_fd = listen_on(Endpoint{"127.0.0.1", 0}, &at);
  REQUIRE(listen_fd >= 0);
  EventLoop loop;
  std::vector<int> held;  // accepted and never answered
  loop.add(listen_fd, EPOLLIN, [&](uint32_t) {
    for (int fd; (fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0;) held.push_back(fd);
  });
  ControllerConfig c;
  c.track_bytes = 4096;
  c.volumes = {VolumeConfig{"a", 8}};
  LinkShaping shaping;
  shaping.failure_detection_ns = 100'000'000;
  int downs = 0;
  PeerLink link(loop, Side::A, kRunId, Geometry::of(c), shaping, random_key(),
                PeerLink::Callbacks{.on_up = {}, .on_down = [&](const std::string&, CloseCause) { ++downs; },
                                    .on_message = {}});
  link.dial(at);
  loop.run(monotonic_now() + Time::from_s(1));
  // One dial every detection time (100 ms) plus a redial delay (25 ms): about
  // eight in the second; one without the deadline.
  CHECK(held.size() >= 4);
  CHECK(held.size() <= 12);
  CHECK_FALSE(link.connected());
  CHECK(downs == 0);  // never up, and no peer refused it: nothing to report to the model
  for (int fd : held) ::close(fd);
  loop.remove(listen_fd);
  ::close(listen_fd);
}

TEST_CASE("a run whose --secondary holds another key fails at once, saying so") {
  Secondary r2;
  RealOptions o = r2.options(r2.controller.endpoint);
  o.secondary_key = random_key();
  try {
    run_real(small_scenario(Small{.duration_s = 0.5}), o);
    FAIL("a run against a secondary with another key started");
  } catch (const std::runtime_error& e) {
    CHECK_THAT(e.what(), Catch::Contains("authentication failed"));
  }
  CHECK(r2.alive());
}

TEST_CASE("key files: made with mode 0600 and never over an existing file, refused when group or others may read "
          "them or when not a regular file, a secondary beyond loopback without a key refuses to start") {
  namespace fs = std::filesystem;
  const fs::path dir = cli_test::make_temp_dir("keys");
  const fs::path key = dir / "r2.key";
  fs::remove(key);
  const std::string quick = std::string(MIRRORSIM_SCENARIOS_DIR) + "/quickstart.toml";

  const auto made = cli_test::run_mirrorsim("secondary --new-key " + key.string(), dir);
  INFO(made.err);
  REQUIRE(made.exit_code == 0);
  struct stat st{};
  REQUIRE(::stat(key.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
  CHECK(st.st_size == 32);
  const std::string bytes = cli_test::slurp(key);
  CHECK(read_key_file(key.string()).bytes.size() == 32);

  const auto again = cli_test::run_mirrorsim("secondary --new-key " + key.string(), dir);
  CHECK(again.exit_code == 2);
  CHECK_THAT(again.err, Catch::Contains("refusing to overwrite"));
  CHECK(cli_test::slurp(key) == bytes);

  ::chmod(key.c_str(), 0644);
  const auto open = cli_test::run_mirrorsim(fmt::format("secondary --listen 127.0.0.1:0 --dir {} --key {}",
                                                        (dir / "r2").string(), key.string()),
                                            dir);
  CHECK(open.exit_code == 2);
  CHECK_THAT(open.err, Catch::Contains("0644") && Catch::Contains("chmod 600"));
  const auto real = cli_test::run_mirrorsim(
      fmt::format("real {} --secondary 127.0.0.1:9 --key {} --quiet", quick, key.string()), dir);
  CHECK(real.exit_code == 2);
  CHECK_THAT(real.err, Catch::Contains("chmod 600"));
  CHECK_THROWS_AS(read_key_file(key.string()), KeyFileError);

  const auto not_a_file = cli_test::run_mirrorsim(fmt::format("secondary --listen 127.0.0.1:0 --dir {} --key {}",
                                                              (dir / "r2").string(), dir.string()),
                                                  dir);
  CHECK(not_a_file.exit_code == 2);
  CHECK_THAT(not_a_file.err, Catch::Contains("not a regular file"));

  const auto beyond = cli_test::run_mirrorsim(fmt::format("secondary --listen 0.0.0.0:0 --dir {}", (dir / "r2").string()),
                                              dir);
  CHECK(beyond.exit_code == 2);
  CHECK_THAT(beyond.err, Catch::Contains("--new-key"));
  fs::remove_all(dir);
}
