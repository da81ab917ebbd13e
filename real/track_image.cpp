#include "real/track_image.hpp"

#include <cstring>
#include <vector>

#include "real/checksum.hpp"

namespace mirrorsim::real {
namespace {

constexpr char kMagic[8] = {'M', 'S', 'I', 'M', 'T', 'R', 'K', '1'};

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

template <class T>
void put(uint8_t* p, T v) {
  std::memcpy(p, &v, sizeof v);  // little-endian hosts only (x86-64, arm64)
}
template <class T>
T get(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

uint32_t image_checksum(const uint8_t* p, uint32_t length) {
  return crc32c(p + 32, length - 32, crc32c(p, 28));
}

}  // namespace

void write_image(std::span<uint8_t> buf, TrackKey key, Version version, uint32_t length, uint64_t seed) {
  uint8_t* p = buf.data();
  std::memcpy(p, kMagic, 8);
  put<uint16_t>(p + 8, key.volume);
  put<uint16_t>(p + 10, 0);
  put<uint32_t>(p + 12, key.track);
  put<uint64_t>(p + 16, version);
  put<uint32_t>(p + 24, length);
  std::memset(p + 32, 0, kImageHeaderBytes - 32);
  // A Weyl sequence through a multiply: distinct for every word of every
  // version, cheap enough that generating a track costs about a memcpy.
  const uint64_t base = splitmix64(seed ^ splitmix64((static_cast<uint64_t>(key.volume) << 32) | key.track) ^
                                   splitmix64(version + 0x5851F42D4C957F2Dull));
  uint32_t off = kImageHeaderBytes;
  for (uint64_t i = 0; off + 8 <= length; ++i, off += 8) put<uint64_t>(p + off, (base + i) * 0x9E3779B97F4A7C15ull);
  for (uint32_t j = 0; off < length; ++off, ++j) p[off] = static_cast<uint8_t>(base >> (8 * j));
  put<uint32_t>(p + 28, image_checksum(p, length));
}

std::string_view to_string(ImageCheck c) {
  switch (c) {
    case ImageCheck::Ok: return "ok";
    case ImageCheck::NoHeader: return "no track header";
    case ImageCheck::BadLength: return "image length out of range";
    case ImageCheck::BadChecksum: return "checksum mismatch";
    case ImageCheck::Unwritten: return "never written (version 0)";
  }
  return "?";
}

bool never_written(std::span<const uint8_t> buf) {
  if (buf.size() < kImageHeaderBytes) return false;
  for (uint32_t i = 0; i < kImageHeaderBytes; ++i)
    if (buf[i]) return false;
  return true;
}

std::optional<ImageHeader> peek_image_header(std::span<const uint8_t> buf) {
  if (buf.size() < kImageHeaderBytes || std::memcmp(buf.data(), kMagic, 8) != 0) return std::nullopt;
  const uint8_t* p = buf.data();
  ImageHeader h;
  h.key.volume = get<uint16_t>(p + 8);
  h.key.track = get<uint32_t>(p + 12);
  h.version = get<uint64_t>(p + 16);
  h.length = get<uint32_t>(p + 24);
  h.checksum = get<uint32_t>(p + 28);
  if (h.length < kImageHeaderBytes) return std::nullopt;
  return h;
}

ImageCheck check_image(std::span<const uint8_t> buf, ImageHeader* header) {
  if (never_written(buf)) return ImageCheck::Unwritten;
  if (buf.size() < kImageHeaderBytes || std::memcmp(buf.data(), kMagic, 8) != 0) return ImageCheck::NoHeader;
  const auto h = peek_image_header(buf);
  if (!h || h->length > buf.size()) return ImageCheck::BadLength;
  if (header) *header = *h;
  return image_checksum(buf.data(), h->length) == h->checksum ? ImageCheck::Ok : ImageCheck::BadChecksum;
}

uint32_t expected_checksum(TrackKey key, Version version, uint32_t length, uint64_t seed) {
  std::vector<uint8_t> scratch(length);
  write_image(scratch, key, version, length, seed);
  return get<uint32_t>(scratch.data() + 28);
}

}  // namespace mirrorsim::real
