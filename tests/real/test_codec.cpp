// The bytes on the wire and on the disks: frames, their tags and the
// handshake, link messages, logged inputs, control frames and track images
// — what each accepts and what it refuses, with the reason it gives.
#include <catch2/catch.hpp>

#include <sodium.h>

#include <set>

#include "model/config.hpp"
#include "real/auth.hpp"
#include "real/checksum.hpp"
#include "real/cpu.hpp"
#include "real/geometry.hpp"
#include "real/messages.hpp"
#include "real/protocol.hpp"
#include "real/track_image.hpp"
#include "real/wire.hpp"

using namespace mirrorsim;
using namespace mirrorsim::real;

namespace {

Geometry small_geometry() {
  ControllerConfig c;
  c.track_bytes = 4096;
  c.disks = 3;
  c.volumes = {VolumeConfig{"a", 10}, VolumeConfig{"b", 5}};
  return Geometry::of(c);
}

std::vector<uint8_t> frame(FrameType t, std::vector<uint8_t> body) {
  std::vector<uint8_t> out;
  append_frame(out, t, body);
  return out;
}

}  // namespace

TEST_CASE("a frame fed in pieces comes out whole and checked") {
  const auto bytes = frame(FrameType::Heartbeat, {1, 2, 3});
  FrameDecoder d(1024);
  for (uint8_t b : bytes) {
    REQUIRE_FALSE(d.next().has_value());
    d.feed(std::span<const uint8_t>(&b, 1));
  }
  const auto f = d.next();
  REQUIRE(f);
  CHECK(f->type == FrameType::Heartbeat);
  CHECK(f->body == std::vector<uint8_t>{1, 2, 3});
  CHECK_FALSE(d.failed());
}

TEST_CASE("the frame decoder refuses a bad magic, an unknown type, a body over the limit and a checksum mismatch") {
  SECTION("bad magic") {
    FrameDecoder d(1024);
    const std::vector<uint8_t> junk(40, 0xAB);
    d.feed(junk);
    CHECK_FALSE(d.next());
    CHECK(d.failed());
    CHECK_THAT(d.error(), Catch::Contains("bad frame magic"));
  }
  SECTION("unknown type") {
    auto bytes = frame(FrameType::Heartbeat, {});
    bytes[4] = 0xEE;
    FrameDecoder d(1024);
    d.feed(bytes);
    CHECK_FALSE(d.next());
    CHECK_THAT(d.error(), Catch::Contains("unknown frame type"));
  }
  SECTION("oversized: refused from the header alone, before the body arrives") {
    const auto bytes = frame(FrameType::Status, std::vector<uint8_t>(2000, 7));
    FrameDecoder d(1024);
    d.feed(std::span<const uint8_t>(bytes.data(), kFrameHeaderBytes));
    CHECK_FALSE(d.next());
    CHECK_THAT(d.error(), Catch::Contains("exceeds the limit of 1024 bytes"));
  }
  SECTION("one flipped bit in the body") {
    auto bytes = frame(FrameType::Status, {1, 2, 3, 4});
    bytes.back() ^= 0x10;
    FrameDecoder d(1024);
    d.feed(bytes);
    CHECK_FALSE(d.next());
    CHECK_THAT(d.error(), Catch::Contains("fails its checksum"));
  }
  SECTION("an unchecked tail on anything but a link message") {
    std::vector<uint8_t> bytes;
    const std::vector<uint8_t> body{1, 2}, tail{3, 4};
    append_frame(bytes, FrameType::Status, body, tail);
    FrameDecoder d(1024);
    d.feed(bytes);
    CHECK_FALSE(d.next());
    CHECK_THAT(d.error(), Catch::Contains("only a PeerMessage may carry an unchecked track image"));
  }
}

TEST_CASE("every link message round-trips through its encoding") {
  const Geometry g = small_geometry();
  const std::vector<Message> all{
      Establish{3, 2, {TrackKey{0, 1}, TrackKey{1, 4}}},
      EstablishAck{3, {TrackKey{0, 9}}, {7, 8}},
      WriteCommand{5, TrackKey{1, 2}, make_version(2, 7), 4096},
      TransferReady{5, TrackKey{1, 2}, make_version(2, 7), 512},
      CopyData{5, TrackKey{0, 0}, make_version(1, 1), 100, true},
      CopyAck{5, TrackKey{0, 3}, make_version(1, 9)},
      Takeover{6, 3},
  };
  for (const Message& m : all) {
    std::vector<uint8_t> b;
    ByteWriter w(b);
    encode_message(w, m);
    ByteReader r(b);
    const auto back = decode_message(r, g);
    REQUIRE(back);
    CHECK(r.finish("message"));
    CHECK(to_string(*back) == to_string(m));
  }
}

TEST_CASE("a link message naming a track outside the volumes, or more bytes than a track, is refused") {
  const Geometry g = small_geometry();
  for (const Message& m : {Message{CopyAck{1, TrackKey{1, 5}, 1}}, Message{CopyAck{1, TrackKey{2, 0}, 1}},
                           Message{WriteCommand{1, TrackKey{0, 0}, 1, 4097}}}) {
    std::vector<uint8_t> b;
    ByteWriter w(b);
    encode_message(w, m);
    ByteReader r(b);
    CHECK_FALSE(decode_message(r, g));
    CHECK_FALSE(r.error().empty());
  }
}

TEST_CASE("a list claiming more tracks than the frame holds is refused before anything is allocated") {
  const Geometry g = small_geometry();
  std::vector<uint8_t> b;
  ByteWriter w(b);
  w.u8(2);  // EstablishAck
  w.u32(1);
  w.u32(0xFFFFFFFF);
  ByteReader r(b);
  CHECK_FALSE(decode_message(r, g));
  CHECK_THAT(r.error(), Catch::Contains("exceeds the limit"));
}

TEST_CASE("every input the controllers log round-trips through its encoding") {
  const Geometry g = small_geometry();
  const std::vector<Input> all{HostWrite{9, TrackKey{0, 2}, 512}, HostRead{10, TrackKey{1, 1}, 4096},
                               DiskWriteDone{TrackKey{0, 2}, 7, false}, DiskReadDone{TrackKey{0, 2}, 6, true},
                               Received{CopyAck{2, TrackKey{0, 1}, 3}}, LinkStateChanged{true}, Timeout{},
                               Crash{}, Restart{}, Suspend{}, Resume{}, Failover{}, Failback{}};
  for (const Input& in : all) {
    std::vector<uint8_t> b;
    ByteWriter w(b);
    encode_input(w, in);
    ByteReader r(b);
    const auto back = decode_input(r, g);
    REQUIRE(back);
    CHECK(r.finish("input"));
    CHECK(to_string(*back) == to_string(in));
  }
}

TEST_CASE("control frames refuse trailing bytes and out-of-range fields") {
  SECTION("a Hello with an unknown kind") {
    auto b = encode(Hello{});
    b[2] = 9;
    ByteReader r(b);
    CHECK_FALSE(decode_hello(r));
    CHECK_THAT(r.error(), Catch::Contains("Hello.kind"));
  }
  SECTION("a HostRequest with a trailing byte") {
    auto b = encode(HostRequest{1, true, TrackKey{0, 1}, 512});
    b.push_back(0);
    ByteReader r(b);
    CHECK_FALSE(decode_host_request(r));
    CHECK_THAT(r.error(), Catch::Contains("trailing"));
  }
  SECTION("a truncated Configure") {
    Configure c;
    c.scenario_toml = "seed = 1";
    auto b = encode(c);
    b.resize(b.size() / 2);
    ByteReader r(b);
    CHECK_FALSE(decode_configure(r));
    CHECK_THAT(r.error(), Catch::Contains("truncated"));
  }
  SECTION("a link fault with a loss probability above 1") {
    LinkFault f{LinkFault::Kind::Shape, {}};
    f.shaping.loss_probability = 2;
    auto b = encode(f);
    ByteReader r(b);
    CHECK_FALSE(decode_link_fault(r));
  }
}

TEST_CASE("a track image names its track and version, and any changed byte fails its checksum") {
  std::vector<uint8_t> buf(8192);
  write_image(buf, TrackKey{3, 77}, make_version(2, 5), 6000, 42);
  ImageHeader h;
  REQUIRE(check_image(buf, &h) == ImageCheck::Ok);
  CHECK(h.key == TrackKey{3, 77});
  CHECK(h.version == make_version(2, 5));
  CHECK(h.length == 6000);
  CHECK(h.checksum == expected_checksum(TrackKey{3, 77}, make_version(2, 5), 6000, 42));
  CHECK(h.checksum != expected_checksum(TrackKey{3, 77}, make_version(2, 6), 6000, 42));
  CHECK(h.checksum != expected_checksum(TrackKey{3, 77}, make_version(2, 5), 6000, 43));
  for (size_t at : {size_t{9}, size_t{20}, size_t{100}, size_t{5999}}) {
    auto copy = buf;
    copy[at] ^= 1;
    CHECK(check_image(copy, nullptr) != ImageCheck::Ok);
  }
  // Bytes past the image's length are leftovers: they do not count.
  auto copy = buf;
  copy[7000] ^= 1;
  CHECK(check_image(copy, nullptr) == ImageCheck::Ok);
  CHECK(check_image(std::span<const uint8_t>(buf.data(), 5000), nullptr) == ImageCheck::BadLength);
}

TEST_CASE("the geometry places every track once, on the disk the model destages it to") {
  const Geometry g = small_geometry();
  std::set<std::pair<uint32_t, uint64_t>> seen;
  for (uint64_t i = 0; i < g.total_tracks; ++i) {
    const TrackKey k = g.key_of(i);
    CHECK(g.index(k) == i);
    CHECK(seen.insert({g.disk_of(k), g.offset_of(k)}).second);
    CHECK(g.offset_of(k) < g.tracks_on_disk[g.disk_of(k)] * g.track_bytes);
  }
}

TEST_CASE("CRC-32C: the check value, and the same result in one call or in pieces of any size") {
  const char* nine = "123456789";
  CHECK(crc32c(nine, 9) == 0xE3069283u);  // the standard check value
  std::vector<uint8_t> data(3 * 2048 * 3 + 77);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 131 + 7);
  const uint32_t whole = crc32c(data.data(), data.size());
  for (size_t cut : {size_t{0}, size_t{1}, size_t{5000}, size_t{6144}, size_t{12289}, data.size()}) {
    const uint32_t first = crc32c(data.data(), cut);
    CHECK(crc32c(data.data() + cut, data.size() - cut, first) == whole);
  }
}

namespace {

// A tagged frame as a Connection sends it: header, body, image, tag.
std::vector<uint8_t> tagged(FrameMac& tx, FrameType t, std::vector<uint8_t> body, std::vector<uint8_t> image = {}) {
  std::vector<uint8_t> out;
  append_frame(out, t, body, image);
  const std::span<const uint8_t> parts[] = {out};
  const auto tag = tx.sign(parts);
  out.insert(out.end(), tag.begin(), tag.end());
  return out;
}

}  // namespace

TEST_CASE("a frame's tag is libsodium's ChaCha20-Poly1305 (IETF) tag of an empty message with the frame as associated "
          "data, computed over the frame's parts where they lie") {
  const Key k = random_key();
  for (const size_t bytes : {size_t{0}, size_t{1}, size_t{15}, size_t{16}, size_t{17}, size_t{4096}, size_t{65557}}) {
    std::vector<uint8_t> frame(bytes);
    if (bytes) randombytes_buf(frame.data(), frame.size());
    FrameMac mac(k);
    for (uint64_t seq = 0; seq < 3; ++seq) {
      // In three parts, split anywhere.
      const size_t a = bytes / 3, b = bytes / 2;
      const std::span<const uint8_t> all(frame);
      const std::span<const uint8_t> parts[] = {all.subspan(0, a), all.subspan(a, b - a), all.subspan(b)};
      const auto tag = mac.sign(parts);
      uint8_t nonce[12] = {};
      std::memcpy(nonce + 4, &seq, 8);
      uint8_t want[16];
      unsigned long long want_bytes = 0;
      uint8_t none[1] = {};  // the empty message and its empty ciphertext
      crypto_aead_chacha20poly1305_ietf_encrypt_detached(none, want, &want_bytes, none, 0, frame.data(), frame.size(),
                                                         nullptr, nonce, k.bytes.data());
      REQUIRE(want_bytes == 16);
      CHECK(std::equal(tag.begin(), tag.end(), want));
    }
  }
}

TEST_CASE("tagged frames: a flipped bit anywhere, a replayed, reordered, dropped or injected frame fails its tag") {
  const Key session = random_key();
  FrameMac tx(session);
  std::vector<std::vector<uint8_t>> frames;
  std::vector<uint8_t> image(8192);
  write_image(image, TrackKey{0, 1}, make_version(1, 1), 8192, 3);
  frames.push_back(tagged(tx, FrameType::Hello, encode(Hello{})));
  frames.push_back(tagged(tx, FrameType::PeerMessage, {1, 2, 3, 4, 5}, image));
  frames.push_back(tagged(tx, FrameType::Heartbeat, {}));
  auto decode = [&](const std::vector<std::vector<uint8_t>>& stream, size_t* good) {
    FrameMac rx(session);
    FrameDecoder d(1 << 20);
    d.expect_tags(&rx);
    for (const auto& f : stream) d.feed(f);
    *good = 0;
    while (d.next()) ++*good;
    return d;
  };
  size_t good = 0;
  REQUIRE_FALSE(decode(frames, &good).failed());
  CHECK(good == 3);

  SECTION("a bit flipped in the header, the body, the track image or the tag") {
    const size_t frame_bytes = frames[1].size();
    for (const size_t byte : {size_t{5}, size_t{kFrameHeaderBytes + 2}, size_t{kFrameHeaderBytes + 5 + 4000}, frame_bytes - 1}) {
      auto stream = frames;
      stream[1][byte] ^= 0x04;
      const FrameDecoder d = decode(stream, &good);
      CHECK(good == 1);
      CHECK(d.failed_unauthenticated());
      CHECK_THAT(d.error(), Catch::Contains("fails its tag"));
    }
  }
  SECTION("a frame replayed") {
    auto stream = frames;
    stream.insert(stream.begin() + 2, frames[1]);
    const FrameDecoder d = decode(stream, &good);
    CHECK(good == 2);
    CHECK(d.failed_unauthenticated());
  }
  SECTION("two frames swapped, or one dropped") {
    auto swapped = frames;
    std::swap(swapped[1], swapped[2]);
    CHECK(decode(swapped, &good).failed_unauthenticated());
    CHECK(good == 1);
    auto dropped = frames;
    dropped.erase(dropped.begin() + 1);
    CHECK(decode(dropped, &good).failed_unauthenticated());
    CHECK(good == 1);
  }
  SECTION("a frame injected: untagged, or tagged under another key") {
    auto plain = frames;
    plain.insert(plain.begin() + 1, frame(FrameType::Heartbeat, {}));
    CHECK(decode(plain, &good).failed_unauthenticated());
    FrameMac other(random_key());
    other.sign(std::vector<std::span<const uint8_t>>{});  // the same sequence number as the real second frame
    auto forged = frames;
    forged[1] = tagged(other, FrameType::Heartbeat, {});
    CHECK(decode(forged, &good).failed_unauthenticated());
    CHECK(good == 1);
  }
  SECTION("a length raised past the limit is unauthenticated too") {
    auto stream = frames;
    const uint32_t huge = 1u << 30;
    std::memcpy(stream[1].data() + 8, &huge, 4);
    const FrameDecoder d = decode(stream, &good);
    CHECK(good == 1);
    CHECK(d.failed_unauthenticated());
  }
}

TEST_CASE("the handshake's proofs: one per party and nonce pair, so neither a reflected nor a replayed proof passes") {
  const Key k = random_key();
  const Nonce c = random_nonce(), s = random_nonce(), s2 = random_nonce();
  CHECK(proofs_equal(handshake_proof(k, Party::Client, c, s), handshake_proof(k, Party::Client, c, s)));
  CHECK_FALSE(proofs_equal(handshake_proof(k, Party::Client, c, s), handshake_proof(k, Party::Server, c, s)));
  CHECK_FALSE(proofs_equal(handshake_proof(k, Party::Client, c, s), handshake_proof(k, Party::Client, c, s2)));
  CHECK_FALSE(proofs_equal(handshake_proof(k, Party::Client, c, s), handshake_proof(random_key(), Party::Client, c, s)));
  const SessionKeys a = session_keys(k, c, s), b = session_keys(k, c, s2);
  CHECK(a.client_to_server.bytes != a.server_to_client.bytes);
  CHECK(a.client_to_server.bytes != b.client_to_server.bytes);
  const auto response = encode(AuthResponse{s, handshake_proof(k, Party::Server, c, s)});
  ByteReader r(response);
  const auto back = decode_auth_response(r);
  REQUIRE(back);
  CHECK(back->nonce == s);
  const std::vector<uint8_t> short_bytes(40);
  ByteReader short_one(short_bytes);
  CHECK_FALSE(decode_auth_response(short_one));
  CHECK_THAT(short_one.error(), Catch::Contains("AuthResponse.proof"));
}

TEST_CASE("a Refused frame with bytes after its reason reads as unreadable, not as the reason") {
  std::vector<uint8_t> body = encode_refusal("no such run");
  ByteReader good(body);
  CHECK(decode_refusal(good) == "no such run");
  body.push_back(0x42);
  ByteReader padded(body);
  CHECK_THAT(decode_refusal(padded), Catch::StartsWith("(unreadable refusal: "));
}

TEST_CASE("an Executed record's body: its CPU spans, the loop's wake-up when it was woken for the step, its preemption") {
  using namespace mirrorsim::real;
  const std::vector<CpuSpan> spans{{CpuKind::Destage, 81'000}, {CpuKind::CopySend, 3'700}};
  const auto plain = decode_executed(encode_executed(spans, std::nullopt, std::nullopt));
  REQUIRE(plain);
  REQUIRE(plain->spans.size() == 2);
  CHECK(plain->spans[0].kind == CpuKind::Destage);
  CHECK(plain->spans[1].ns == 3'700);
  CHECK_FALSE(plain->wakeup_ns);
  CHECK_FALSE(plain->preempted_ns);
  const auto woken = decode_executed(encode_executed(spans, 147'000u, std::nullopt));
  REQUIRE(woken);
  CHECK(woken->spans.size() == 2);
  REQUIRE(woken->wakeup_ns);
  CHECK(*woken->wakeup_ns == 147'000u);
  CHECK_FALSE(woken->preempted_ns);
  const auto preempted = decode_executed(encode_executed(spans, std::nullopt, 2'900'000u));
  REQUIRE(preempted);
  CHECK_FALSE(preempted->wakeup_ns);
  REQUIRE(preempted->preempted_ns);
  CHECK(*preempted->preempted_ns == 2'900'000u);
  const auto both = decode_executed(encode_executed(spans, 5u, 7u));
  REQUIRE(both);
  CHECK(both->wakeup_ns == std::optional<uint32_t>(5u));
  CHECK(both->preempted_ns == std::optional<uint32_t>(7u));
  // An older log's empty body holds nothing.
  const auto empty = decode_executed({});
  REQUIRE(empty);
  CHECK(empty->spans.empty());
  CHECK_FALSE(empty->wakeup_ns);
  CHECK_FALSE(empty->preempted_ns);
  // A field flagged but missing, bytes after the fields, an unknown flag: refused.
  std::vector<uint8_t> missing = encode_executed(spans, 147'000u, std::nullopt);
  missing.resize(missing.size() - 2);
  CHECK_FALSE(decode_executed(missing));
  std::vector<uint8_t> trailing = encode_executed(spans, 147'000u, std::nullopt);
  trailing.push_back(1);
  CHECK_FALSE(decode_executed(trailing));
  std::vector<uint8_t> unknown = encode_executed(spans, std::nullopt, std::nullopt);
  unknown.back() = 4;
  CHECK_FALSE(decode_executed(unknown));
  std::vector<uint8_t> kind = encode_executed(spans, std::nullopt, std::nullopt);
  kind[1] = static_cast<uint8_t>(kCpuKinds);
  CHECK_FALSE(decode_executed(kind));
}
