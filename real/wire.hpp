// Framing on every connection of the real driver (the link between the
// controllers and the orchestrator's control connections):
//
//   magic u32 "MSIM" | type u16 | reserved u16 (0) | body length u32 |
//   checked length u32 | CRC-32C of body[0, checked length) u32 | body
//
// all little-endian. The checked length is the whole body, except for a
// PeerMessage carrying a track image: the image has its own checksum (see
// track_image.hpp), which the receiver verifies instead, so a payload is
// checksummed once on each side rather than twice. A connection opens with
// the authentication handshake (auth.hpp: AuthChallenge, AuthResponse,
// AuthProof, untagged); from then on every frame is followed by a 16-byte
// tag over its header and whole body, image included, checked before
// anything else of the frame; the first tagged frame is a Hello carrying
// the protocol version. The decoder refuses, with a reason naming what was
// wrong, a tag that does not match, a bad magic, an unknown type, a
// reserved field that is not zero, a body longer than the connection
// allows, an unchecked tail on any other frame type, and a checksum
// mismatch; the connection is then closed and nothing of the frame is used.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "model/io.hpp"

namespace mirrorsim::real {

constexpr uint32_t kFrameMagic = 0x4D49534D;  // "MSIM" in memory order
constexpr uint32_t kFrameHeaderBytes = 20;
constexpr uint16_t kProtocolVersion = 4;  // 2: authenticated connections, tagged frames; 3: O_DIRECT reads, CPU per step;
                                           // 4: async cycles (CycleData with its track image), delta-set images in Status

// Appends little-endian fields to a buffer.
class ByteWriter {
 public:
  explicit ByteWriter(std::vector<uint8_t>& out) : out_(out) {}
  void u8(uint8_t v) { out_.push_back(v); }
  void u16(uint16_t v) { raw(&v, 2); }
  void u32(uint32_t v) { raw(&v, 4); }
  void u64(uint64_t v) { raw(&v, 8); }
  void i64(int64_t v) { raw(&v, 8); }
  void f64(double v) { raw(&v, 8); }
  void boolean(bool v) { u8(v ? 1 : 0); }
  void string(std::string_view s) {
    u32(static_cast<uint32_t>(s.size()));
    raw(s.data(), s.size());
  }
  void bytes(std::span<const uint8_t> b) { raw(b.data(), b.size()); }
  void raw(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    out_.insert(out_.end(), b, b + n);
  }
  size_t size() const { return out_.size(); }

 private:
  std::vector<uint8_t>& out_;
};

// Reads little-endian fields with bounds checks. The first failure is kept
// (naming the field) and every later read returns zero, so a decoder reads
// straight through and checks ok() once.
class ByteReader {
 public:
  explicit ByteReader(std::span<const uint8_t> in) : in_(in) {}
  uint8_t u8(const char* field) { return get<uint8_t>(field); }
  uint16_t u16(const char* field) { return get<uint16_t>(field); }
  uint32_t u32(const char* field) { return get<uint32_t>(field); }
  uint64_t u64(const char* field) { return get<uint64_t>(field); }
  int64_t i64(const char* field) { return get<int64_t>(field); }
  double f64(const char* field) { return get<double>(field); }
  bool boolean(const char* field);
  std::string string(const char* field, size_t max_bytes);
  std::span<const uint8_t> bytes(const char* field, size_t n);
  // A count of items of `item_bytes` each that must fit in what is left and
  // stay within max_count.
  uint32_t count(const char* field, size_t item_bytes, size_t max_count);
  void fail(std::string why) {
    if (error_.empty()) error_ = std::move(why);
    pos_ = in_.size();
  }
  bool ok() const { return error_.empty(); }
  bool at_end() const { return pos_ == in_.size(); }
  size_t remaining() const { return in_.size() - pos_; }
  const std::string& error() const { return error_; }
  // ok() and every byte consumed; otherwise records why.
  bool finish(const char* what);

 private:
  template <class T>
  T get(const char* field) {
    T v{};
    if (!error_.empty()) return v;
    if (remaining() < sizeof(T)) {
      fail(std::string("truncated at ") + field);
      return v;
    }
    std::memcpy(&v, in_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::span<const uint8_t> in_;
  size_t pos_ = 0;
  std::string error_;
};

// Frame types. Values are part of the protocol: never renumber.
enum class FrameType : uint16_t {
  Hello = 1,          // first tagged frame of every connection
  HelloAck = 2,
  Refused = 3,        // the peer refuses the connection or a request: a reason, then close
  AuthChallenge = 4,  // the handshake (auth.hpp), before any tagged frame
  AuthResponse = 5,
  AuthProof = 6,
  Heartbeat = 10,     // link liveness
  PeerMessage = 11,   // a model message between the controllers (CopyData with its payload)
  Configure = 20,     // orchestrator → controller
  Configured = 21,
  HostRequest = 22,
  HostDone = 23,
  Operator = 24,
  LinkFault = 25,
  DiskFault = 26,
  PowerLoss = 27,
  StatusRequest = 28,
  Status = 29,
  DigestRequest = 30,
  Digest = 31,
  LogRequest = 32,
  LogChunk = 33,
  EndRun = 34,        // the run is over: stop, keep nothing
};
std::string_view to_string(FrameType);
using mirrorsim::to_string;  // the model's overloads stay visible beside this one
bool known_frame_type(uint16_t t);

struct Frame {
  FrameType type = FrameType::Hello;
  std::vector<uint8_t> body;
  uint32_t checked_bytes = 0;  // body[checked_bytes, end) is a track image to verify by its own checksum
};

// A frame still in the decoder's buffer: valid until the decoder is fed again.
struct FrameView {
  FrameType type = FrameType::Hello;
  std::span<const uint8_t> body;
  uint32_t checked_bytes = 0;
  std::span<const uint8_t> image() const { return body.subspan(checked_bytes); }
  Frame copy() const { return Frame{type, {body.begin(), body.end()}, checked_bytes}; }
};

// The header of a frame whose body is `checked` followed by `image`.
void write_frame_header(uint8_t* header, FrameType type, std::span<const uint8_t> checked, size_t image_bytes);
// One frame, header and body, appended to `out`: the CRC covers `checked`
// and the image (a track image with its own checksum) follows unchecked.
void append_frame(std::vector<uint8_t>& out, FrameType type, std::span<const uint8_t> body);
void append_frame(std::vector<uint8_t>& out, FrameType type, std::span<const uint8_t> checked,
                  std::span<const uint8_t> image);

class FrameMac;

// Splits a byte stream into frames. Bytes are fed as they arrive; frames
// come out whole and checked. After an error the decoder stays failed.
class FrameDecoder {
 public:
  explicit FrameDecoder(uint32_t max_body_bytes) : max_body_bytes_(max_body_bytes) {}
  void set_max_body_bytes(uint32_t n) { max_body_bytes_ = n; }
  uint32_t max_body_bytes() const { return max_body_bytes_; }
  // From the next frame on, every frame carries a tag that `rx` must accept
  // before anything of the frame is looked at (the caller keeps rx alive).
  void expect_tags(FrameMac* rx) { mac_ = rx; }
  bool tagged() const { return mac_ != nullptr; }
  // Appends received bytes (the caller then drains next()).
  void feed(std::span<const uint8_t> bytes);
  // Or receives in place: room for `n` bytes at the end of the buffer, then
  // commit() of what arrived there.
  std::span<uint8_t> prepare(size_t n);
  void commit(size_t n) { end_ += n; }
  // The next complete frame, if any; nullopt with failed() on a bad frame.
  std::optional<FrameView> next_view();
  std::optional<Frame> next();  // the same, copied out
  bool failed() const { return !error_.empty(); }
  const std::string& error() const { return error_; }
  // The failure concerns bytes nobody proved to come from the key holder: a
  // tag that does not match, or a tagged frame's header past the limits
  // (what a flipped bit in a length makes). Otherwise an authentic frame
  // was malformed, which only a bug on the other side explains.
  bool failed_unauthenticated() const { return failed() && unauthenticated_; }
  // Bytes received and not yet part of a returned frame.
  size_t buffered() const { return end_ - pos_; }

 private:
  uint32_t max_body_bytes_;
  FrameMac* mac_ = nullptr;
  bool unauthenticated_ = false;
  std::vector<uint8_t> buf_;
  size_t pos_ = 0;
  size_t end_ = 0;
  std::string error_;
};

}  // namespace mirrorsim::real
