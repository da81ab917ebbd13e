#include "real/wire.hpp"

#include <fmt/format.h>

#include "real/auth.hpp"
#include "real/checksum.hpp"

namespace mirrorsim::real {

bool ByteReader::boolean(const char* field) {
  const uint8_t v = u8(field);
  if (v > 1) fail(fmt::format("{}: expected 0 or 1, got {}", field, v));
  return v == 1;
}

std::string ByteReader::string(const char* field, size_t max_bytes) {
  const uint32_t n = u32(field);
  if (!ok()) return {};
  if (n > max_bytes) {
    fail(fmt::format("{}: {} bytes exceeds the limit of {}", field, n, max_bytes));
    return {};
  }
  const auto b = bytes(field, n);
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

std::span<const uint8_t> ByteReader::bytes(const char* field, size_t n) {
  if (!ok()) return {};
  if (remaining() < n) {
    fail(fmt::format("truncated in {} ({} bytes announced, {} left)", field, n, remaining()));
    return {};
  }
  auto s = in_.subspan(pos_, n);
  pos_ += n;
  return s;
}

uint32_t ByteReader::count(const char* field, size_t item_bytes, size_t max_count) {
  const uint32_t n = u32(field);
  if (!ok()) return 0;
  if (n > max_count) {
    fail(fmt::format("{}: {} items exceeds the limit of {}", field, n, max_count));
    return 0;
  }
  if (static_cast<uint64_t>(n) * item_bytes > remaining()) {
    fail(fmt::format("{}: {} items announced, only {} bytes left", field, n, remaining()));
    return 0;
  }
  return n;
}

bool ByteReader::finish(const char* what) {
  if (ok() && !at_end()) fail(fmt::format("{}: {} unexpected trailing bytes", what, remaining()));
  return ok();
}

std::string_view to_string(FrameType t) {
  switch (t) {
    case FrameType::Hello: return "Hello";
    case FrameType::HelloAck: return "HelloAck";
    case FrameType::Refused: return "Refused";
    case FrameType::AuthChallenge: return "AuthChallenge";
    case FrameType::AuthResponse: return "AuthResponse";
    case FrameType::AuthProof: return "AuthProof";
    case FrameType::Heartbeat: return "Heartbeat";
    case FrameType::PeerMessage: return "PeerMessage";
    case FrameType::Configure: return "Configure";
    case FrameType::Configured: return "Configured";
    case FrameType::HostRequest: return "HostRequest";
    case FrameType::HostDone: return "HostDone";
    case FrameType::Operator: return "Operator";
    case FrameType::LinkFault: return "LinkFault";
    case FrameType::DiskFault: return "DiskFault";
    case FrameType::PowerLoss: return "PowerLoss";
    case FrameType::StatusRequest: return "StatusRequest";
    case FrameType::Status: return "Status";
    case FrameType::DigestRequest: return "DigestRequest";
    case FrameType::Digest: return "Digest";
    case FrameType::LogRequest: return "LogRequest";
    case FrameType::LogChunk: return "LogChunk";
    case FrameType::EndRun: return "EndRun";
  }
  return "?";
}

bool known_frame_type(uint16_t t) {
  switch (static_cast<FrameType>(t)) {
    case FrameType::Hello:
    case FrameType::HelloAck:
    case FrameType::Refused:
    case FrameType::AuthChallenge:
    case FrameType::AuthResponse:
    case FrameType::AuthProof:
    case FrameType::Heartbeat:
    case FrameType::PeerMessage:
    case FrameType::Configure:
    case FrameType::Configured:
    case FrameType::HostRequest:
    case FrameType::HostDone:
    case FrameType::Operator:
    case FrameType::LinkFault:
    case FrameType::DiskFault:
    case FrameType::PowerLoss:
    case FrameType::StatusRequest:
    case FrameType::Status:
    case FrameType::DigestRequest:
    case FrameType::Digest:
    case FrameType::LogRequest:
    case FrameType::LogChunk:
    case FrameType::EndRun: return true;
  }
  return false;
}

void write_frame_header(uint8_t* h, FrameType type, std::span<const uint8_t> checked, size_t image_bytes) {
  const uint32_t magic = kFrameMagic;
  const uint16_t t = static_cast<uint16_t>(type);
  const uint16_t reserved = 0;
  const uint32_t body_bytes = static_cast<uint32_t>(checked.size() + image_bytes);
  const uint32_t checked_bytes = static_cast<uint32_t>(checked.size());
  const uint32_t crc = crc32c(checked.data(), checked.size());
  std::memcpy(h, &magic, 4);
  std::memcpy(h + 4, &t, 2);
  std::memcpy(h + 6, &reserved, 2);
  std::memcpy(h + 8, &body_bytes, 4);
  std::memcpy(h + 12, &checked_bytes, 4);
  std::memcpy(h + 16, &crc, 4);
}

void append_frame(std::vector<uint8_t>& out, FrameType type, std::span<const uint8_t> checked,
                  std::span<const uint8_t> image) {
  const size_t at = out.size();
  out.resize(at + kFrameHeaderBytes);
  write_frame_header(out.data() + at, type, checked, image.size());
  out.insert(out.end(), checked.begin(), checked.end());
  out.insert(out.end(), image.begin(), image.end());
}

void append_frame(std::vector<uint8_t>& out, FrameType type, std::span<const uint8_t> body) {
  append_frame(out, type, body, {});
}

std::span<uint8_t> FrameDecoder::prepare(size_t n) {
  if (pos_ == end_) {
    pos_ = end_ = 0;
  } else if (pos_ > 0 && end_ + n > buf_.size()) {
    // Move the partial frame to the front rather than grow.
    std::memmove(buf_.data(), buf_.data() + pos_, end_ - pos_);
    end_ -= pos_;
    pos_ = 0;
  }
  if (end_ + n > buf_.size()) buf_.resize(end_ + n);
  return {buf_.data() + end_, n};
}

void FrameDecoder::feed(std::span<const uint8_t> bytes) {
  if (failed()) return;
  auto room = prepare(bytes.size());
  std::memcpy(room.data(), bytes.data(), bytes.size());
  commit(bytes.size());
}

std::optional<Frame> FrameDecoder::next() {
  auto v = next_view();
  if (!v) return std::nullopt;
  return v->copy();
}

std::optional<FrameView> FrameDecoder::next_view() {
  if (failed() || buffered() < kFrameHeaderBytes) return std::nullopt;
  const uint8_t* h = buf_.data() + pos_;
  uint32_t magic, length, checked, crc;
  uint16_t type, reserved;
  std::memcpy(&magic, h, 4);
  std::memcpy(&type, h + 4, 2);
  std::memcpy(&reserved, h + 6, 2);
  std::memcpy(&length, h + 8, 4);
  std::memcpy(&checked, h + 12, 4);
  std::memcpy(&crc, h + 16, 4);
  const auto name = [&] { return known_frame_type(type) ? to_string(static_cast<FrameType>(type)) : "unknown"; };
  if (mac_) {
    // Nothing of a tagged frame counts before its tag matched; only its
    // length is needed to find the tag, and a length past the limit is a
    // header nobody vouched for.
    if (length > max_body_bytes_) {
      unauthenticated_ = true;
      error_ = fmt::format("a tagged frame announces {} bytes, over the limit of {} (tampered, or not from the key holder)",
                           length, max_body_bytes_);
      return std::nullopt;
    }
    if (buffered() < kFrameHeaderBytes + length + kFrameTagBytes) return std::nullopt;
    const std::span<const uint8_t> frame(h, kFrameHeaderBytes + length);
    if (!mac_->verify(frame, std::span<const uint8_t>(h + kFrameHeaderBytes + length, kFrameTagBytes))) {
      unauthenticated_ = true;
      error_ = fmt::format("frame {} of the session ({}, {} bytes) fails its tag: tampered, injected, replayed or out of "
                           "order, or not from the key holder",
                           mac_->seq(), name(), length);
      return std::nullopt;
    }
  }
  if (magic != kFrameMagic) {
    error_ = fmt::format("bad frame magic 0x{:08x} (not a mirrorsim peer, or the stream lost its framing)", magic);
    return std::nullopt;
  }
  if (reserved != 0) {
    error_ = fmt::format("frame reserved field is {}, expected 0", reserved);
    return std::nullopt;
  }
  if (!known_frame_type(type)) {
    error_ = fmt::format("unknown frame type {}", type);
    return std::nullopt;
  }
  if (length > max_body_bytes_) {
    error_ = fmt::format("{} frame of {} bytes exceeds the limit of {} bytes", to_string(static_cast<FrameType>(type)),
                         length, max_body_bytes_);
    return std::nullopt;
  }
  if (checked > length || (checked != length && static_cast<FrameType>(type) != FrameType::PeerMessage)) {
    error_ = fmt::format("{} frame checks {} of its {} bytes; only a PeerMessage may carry an unchecked track image",
                         to_string(static_cast<FrameType>(type)), checked, length);
    return std::nullopt;
  }
  if (buffered() < kFrameHeaderBytes + length) return std::nullopt;
  const uint8_t* body = h + kFrameHeaderBytes;
  if (crc32c(body, checked) != crc) {
    error_ = fmt::format("{} frame of {} bytes fails its checksum", to_string(static_cast<FrameType>(type)), length);
    return std::nullopt;
  }
  FrameView f{static_cast<FrameType>(type), std::span<const uint8_t>(body, length), checked};
  pos_ += kFrameHeaderBytes + length + (mac_ ? kFrameTagBytes : 0);
  return f;
}

}  // namespace mirrorsim::real
