// A controller facing bad input on its port: garbage, truncated, oversized
// and unexpected frames, and link messages with damaged track images. It
// refuses each with a reason, closes that connection, applies nothing, and
// keeps serving.
#include <catch2/catch.hpp>

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "helpers.hpp"
#include "real/clock.hpp"
#include "real/messages.hpp"
#include "real/protocol.hpp"
#include "real/spawn.hpp"
#include "real/track_image.hpp"

using namespace mirrorsim;
using namespace mirrorsim::real;
using namespace mirrorsim::real::test;

namespace {

constexpr uint64_t kRunId = 0x5eed;

// A blocking test client speaking frames.
class Client {
 public:
  explicit Client(const Endpoint& to) {
    std::string why;
    fd_ = connect_blocking(to, 2000, &why);
    REQUIRE(fd_ >= 0);
  }
  ~Client() {
    if (fd_ >= 0) ::close(fd_);
  }
  void send_bytes(std::span<const uint8_t> b) { (void)::send(fd_, b.data(), b.size(), MSG_NOSIGNAL); }
  void send(FrameType t, const std::vector<uint8_t>& body, std::span<const uint8_t> image = {}) {
    std::vector<uint8_t> out;
    append_frame(out, t, body, image);
    send_bytes(out);
  }
  // The next frame, or nullopt when the connection closed (or nothing came in time).
  std::optional<Frame> next(int timeout_ms = 3000) {
    const Time deadline = monotonic_now() + Time::from_us(timeout_ms * 1e3);
    for (;;) {
      if (auto f = decoder_.next()) return f;
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
    while (!closed_) {
      const bool got = next(timeout_ms).has_value();
      if (!got && !closed_) return false;
    }
    return true;
  }
  void hello(ConnectionKind kind, uint64_t run_id = kRunId, Side side = Side::A) {
    Hello h;
    h.kind = kind;
    h.run_id = run_id;
    h.side = side;
    send(FrameType::Hello, encode(h));
  }

 private:
  int fd_ = -1;
  FrameDecoder decoder_{64 << 20};
  bool closed_ = false;
};

struct Fixture {
  std::string dir;
  LocalController controller;
  Fixture() {
    dir = fmt::format("/tmp/mirrorsim-hostile-{}", ::getpid());
    ServeOptions o;
    o.dir = dir;
    o.quiet = true;
    o.exit_after_run = true;
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
    Client c(controller.endpoint);
    c.hello(ConnectionKind::Control);
    REQUIRE(c.next()->type == FrameType::HelloAck);
    c.send(FrameType::StatusRequest, {});
    const auto f = c.next();
    REQUIRE(f);
    REQUIRE(f->type == FrameType::Status);
    ByteReader r(f->body);
    return *decode_status(r);
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
  Client control(fx.controller.endpoint);
  control.hello(ConnectionKind::Control);
  REQUIRE(control.next()->type == FrameType::HelloAck);
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
    Client c(fx.controller.endpoint);
    c.hello(ConnectionKind::Control);
    REQUIRE(c.next()->type == FrameType::HelloAck);
    std::vector<uint8_t> header;
    append_frame(header, FrameType::Configure, std::vector<uint8_t>(10));
    const uint32_t huge = 1u << 30;
    std::memcpy(header.data() + 8, &huge, 4);
    std::memcpy(header.data() + 12, &huge, 4);
    c.send_bytes(std::span<const uint8_t>(header.data(), kFrameHeaderBytes));
    CHECK(c.closed_by_peer());
  }
  SECTION("a frame cut off in the middle, then the connection closed") {
    Client c(fx.controller.endpoint);
    c.hello(ConnectionKind::Control);
    REQUIRE(c.next()->type == FrameType::HelloAck);
    std::vector<uint8_t> f;
    append_frame(f, FrameType::StatusRequest, std::vector<uint8_t>(200, 1));
    c.send_bytes(std::span<const uint8_t>(f.data(), 30));
  }
  SECTION("a first frame that is not a Hello, and a Hello of another protocol version") {
    Client a(fx.controller.endpoint);
    a.send(FrameType::StatusRequest, {});
    const auto refused = a.next();
    REQUIRE(refused);
    CHECK(refused->type == FrameType::Refused);
    ByteReader r(refused->body);
    CHECK_THAT(decode_refusal(r), Catch::Contains("expected Hello"));
    CHECK(a.closed_by_peer());
    Client b(fx.controller.endpoint);
    Hello h;
    h.protocol_version = 99;
    b.send(FrameType::Hello, encode(h));
    CHECK(b.closed_by_peer());
  }
  SECTION("a malformed request on a control connection") {
    Client c(fx.controller.endpoint);
    c.hello(ConnectionKind::Control);
    REQUIRE(c.next()->type == FrameType::HelloAck);
    c.send(FrameType::HostRequest, {1, 2, 3});
    CHECK(c.closed_by_peer());
  }
  SECTION("a peer of another run") {
    Client c(fx.controller.endpoint);
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
      Client c(fx.controller.endpoint);
      c.hello(ConnectionKind::Peer);
      REQUIRE(c.next()->type == FrameType::HelloAck);
      auto damaged = image;
      damaged[4000] ^= 0xFF;
      c.send(FrameType::PeerMessage, copy_data_body(TrackKey{0, 5}, make_version(1, 1), 8192), damaged);
      CHECK(c.closed_by_peer());
    }
    {
      Client c(fx.controller.endpoint);
      c.hello(ConnectionKind::Peer);
      REQUIRE(c.next()->type == FrameType::HelloAck);
      c.send(FrameType::PeerMessage, copy_data_body(TrackKey{0, 6}, make_version(1, 1), 8192), image);
      CHECK(c.closed_by_peer());
    }
    {
      Client c(fx.controller.endpoint);
      c.hello(ConnectionKind::Peer);
      REQUIRE(c.next()->type == FrameType::HelloAck);
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
  Client peer(fx.controller.endpoint);
  peer.hello(ConnectionKind::Peer);
  REQUIRE(peer.next()->type == FrameType::HelloAck);
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
