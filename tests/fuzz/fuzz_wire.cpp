// The real driver's decoders, at their public functions, as a peer or a
// client can reach them: the first byte of the input picks a decoder, the
// rest is what it reads.
//
//   0        a byte stream through FrameDecoder (the second byte sets the
//            size of the pieces it arrives in); every frame that comes out
//            goes to the body decoder of its type, as the servers do
//   1..14    one control-frame body: Hello, Configure, ..., a refusal
//   15, 16   a link message, a logged input (decode_message, decode_input)
//            against a small geometry
//   17       an input log (parse_log)
//   18       a track image (check_image, peek_image_header)
//
// A decoder may refuse anything (nullopt with a reason); what it accepts
// must encode again to bytes it accepts and that encode the same. A crash,
// a sanitizer report or a failed property is a defect.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "model/config.hpp"
#include "real/geometry.hpp"
#include "real/messages.hpp"
#include "real/protocol.hpp"
#include "real/state_file.hpp"
#include "real/track_image.hpp"
#include "real/wire.hpp"

using namespace mirrorsim;
using namespace mirrorsim::real;

namespace {

using Bytes = std::span<const uint8_t>;

void defect(const char* what) {
  std::fprintf(stderr, "fuzz_wire: %s\n", what);
  std::abort();
}

const Geometry& geometry() {
  static const Geometry g = [] {
    ControllerConfig c;
    c.track_bytes = 4096;
    c.disks = 3;
    c.volumes = {VolumeConfig{"a", 10}, VolumeConfig{"b", 5}};
    return Geometry::of(c);
  }();
  return g;
}

// decode, then encode what was decoded, decode that and encode it again:
// both encodings must be equal.
template <class Decode, class Encode>
void round_trip(Bytes body, Decode&& decode, Encode&& encode, const char* what) {
  ByteReader r(body);
  const auto value = decode(r);
  if (!value) {
    if (r.ok()) defect(what);  // refused without a reason
    return;
  }
  if (!r.ok()) defect(what);  // accepted although the reader failed
  const std::vector<uint8_t> once = encode(*value);
  ByteReader again(once);
  const auto second = decode(again);
  if (!second || !again.at_end()) {
    std::fprintf(stderr, "%s: its own encoding is refused: %s\n", what, again.error().c_str());
    defect(what);
  }
  if (encode(*second) != once) defect(what);
}

// Decoders that read a whole body (protocol.hpp's: they check for trailing bytes themselves).
template <class T>
auto whole(std::optional<T> (*decode)(ByteReader&)) {
  return [decode](ByteReader& r) { return decode(r); };
}
template <class T>
auto encoder() {
  return [](const T& v) { return encode(v); };
}

void control_body(uint8_t which, Bytes body) {
  switch (which) {
    case 1: return round_trip(body, whole(decode_hello), encoder<Hello>(), "Hello");
    case 2: return round_trip(body, whole(decode_configure), encoder<Configure>(), "Configure");
    case 3: return round_trip(body, whole(decode_configured), encoder<Configured>(), "Configured");
    case 4: return round_trip(body, whole(decode_host_request), encoder<HostRequest>(), "HostRequest");
    case 5: return round_trip(body, whole(decode_host_done), encoder<HostDone>(), "HostDone");
    case 6: return round_trip(body, whole(decode_operator), encoder<OperatorAction>(), "Operator");
    case 7: return round_trip(body, whole(decode_link_fault), encoder<LinkFault>(), "LinkFault");
    case 8: return round_trip(body, whole(decode_disk_fault), encoder<DiskFault>(), "DiskFault");
    case 9: return round_trip(body, whole(decode_status), encoder<Status>(), "Status");
    case 10: return round_trip(body, whole(decode_digest_request), encoder<DigestRequest>(), "DigestRequest");
    case 11: return round_trip(body, whole(decode_digest), encoder<Digest>(), "Digest");
    case 12: return round_trip(body, whole(decode_log_request), encoder<LogRequest>(), "LogRequest");
    case 13: return round_trip(body, whole(decode_log_chunk), encoder<LogChunk>(), "LogChunk");
    case 14: {
      ByteReader r(body);
      const std::string reason = decode_refusal(r);
      if (r.ok()) {
        const std::vector<uint8_t> once = encode_refusal(reason);
        ByteReader again(once);
        if (decode_refusal(again) != reason || !again.ok()) defect("Refused");
      }
      return;
    }
  }
}

void message_body(Bytes body) {
  round_trip(
      body,
      [](ByteReader& r) {
        auto m = decode_message(r, geometry());
        return m && r.finish("message") ? m : std::nullopt;
      },
      [](const Message& m) {
        std::vector<uint8_t> out;
        ByteWriter w(out);
        encode_message(w, m);
        return out;
      },
      "message");
}

void input_body(Bytes body) {
  round_trip(
      body,
      [](ByteReader& r) {
        auto in = decode_input(r, geometry());
        return in && r.finish("input") ? in : std::nullopt;
      },
      [](const Input& in) {
        std::vector<uint8_t> out;
        ByteWriter w(out);
        encode_input(w, in);
        return out;
      },
      "input");
}

void image(Bytes body) {
  ImageHeader h;
  const ImageCheck check = check_image(body, &h);
  const auto peeked = peek_image_header(body);
  if (check == ImageCheck::Ok && (!peeked || !(*peeked == h))) defect("a checked image whose header does not peek");
}

// What a server does with a frame: the decoder of its type.
void frame(const FrameView& f) {
  switch (f.type) {
    case FrameType::Hello: return control_body(1, f.body);
    case FrameType::Configure: return control_body(2, f.body);
    case FrameType::Configured: return control_body(3, f.body);
    case FrameType::HostRequest: return control_body(4, f.body);
    case FrameType::HostDone: return control_body(5, f.body);
    case FrameType::Operator: return control_body(6, f.body);
    case FrameType::LinkFault: return control_body(7, f.body);
    case FrameType::DiskFault: return control_body(8, f.body);
    case FrameType::Status: return control_body(9, f.body);
    case FrameType::DigestRequest: return control_body(10, f.body);
    case FrameType::Digest: return control_body(11, f.body);
    case FrameType::LogRequest: return control_body(12, f.body);
    case FrameType::LogChunk: return control_body(13, f.body);
    case FrameType::Refused: return control_body(14, f.body);
    case FrameType::PeerMessage:
      if (f.checked_bytes > f.body.size()) defect("a frame whose checked part exceeds its body");
      message_body(f.body.first(f.checked_bytes));
      return image(f.image());
    default: return;  // no body to read: HelloAck, Heartbeat, PowerLoss, StatusRequest, EndRun
  }
}

void stream(Bytes bytes) {
  if (bytes.empty()) return;
  const size_t piece = 1 + bytes[0] % 64;
  bytes = bytes.subspan(1);
  FrameDecoder d(kControlFrameMaxBytes);
  size_t fed = 0;
  while (fed < bytes.size() && !d.failed()) {
    const size_t n = std::min(piece, bytes.size() - fed);
    d.feed(bytes.subspan(fed, n));
    fed += n;
    while (const auto f = d.next_view()) frame(*f);
  }
  if (d.failed() && d.error().empty()) defect("a failed frame decoder without a reason");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const Bytes body(data + 1, size - 1);
  switch (data[0] % 19) {
    case 0: stream(body); break;
    case 15: message_body(body); break;
    case 16: input_body(body); break;
    case 17: {
      bool complete = false;
      (void)parse_log(body, &complete);
      break;
    }
    case 18: image(body); break;
    default: control_body(data[0] % 19, body);
  }
  return 0;
}
