#include "real/checksum.hpp"

#include <array>
#include <cstring>

#include <nmmintrin.h>

namespace mirrorsim::real {
namespace {

constexpr uint32_t kPolyReflected = 0x82F63B78u;

constexpr std::array<uint32_t, 256> make_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kPolyReflected : c >> 1;
    t[i] = c;
  }
  return t;
}
constexpr auto kTable = make_table();

uint32_t crc32c_table(const uint8_t* p, size_t n, uint32_t crc) {
  for (size_t i = 0; i < n; ++i) crc = kTable[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
  return crc;
}

// The CRC register after `n` zero bytes is a linear function of the register
// before; for a fixed n it is four table lookups. Three independent streams
// over consecutive blocks then combine into the CRC of the whole:
//   crc(A B C) = shift(crc(A), |B|+|C|) ^ shift(crc0(B), |C|) ^ crc0(C)
// (crc0: started from a zero register). The crc32 instruction has a latency
// of three cycles and a throughput of one, so three streams run three times
// as fast as one.
constexpr size_t kStreamBytes = 2048;

struct ShiftTable {
  uint32_t t[4][256];
  uint32_t apply(uint32_t x) const {
    return t[0][x & 0xFF] ^ t[1][(x >> 8) & 0xFF] ^ t[2][(x >> 16) & 0xFF] ^ t[3][x >> 24];
  }
};

ShiftTable make_shift(size_t zero_bytes) {
  ShiftTable s{};
  uint32_t basis[32];
  for (int b = 0; b < 32; ++b) {
    uint32_t c = 1u << b;
    for (size_t i = 0; i < zero_bytes; ++i) c = kTable[c & 0xFF] ^ (c >> 8);
    basis[b] = c;
  }
  for (int byte = 0; byte < 4; ++byte)
    for (uint32_t v = 0; v < 256; ++v) {
      uint32_t r = 0;
      for (int bit = 0; bit < 8; ++bit)
        if (v & (1u << bit)) r ^= basis[byte * 8 + bit];
      s.t[byte][v] = r;
    }
  return s;
}

const ShiftTable kShift1 = make_shift(kStreamBytes);
const ShiftTable kShift2 = make_shift(2 * kStreamBytes);

__attribute__((target("sse4.2"))) uint64_t crc_words(uint64_t c, const uint8_t* p, size_t n) {
  for (; n >= 8; n -= 8, p += 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    c = _mm_crc32_u64(c, word);
  }
  return c;
}

__attribute__((target("sse4.2"))) uint32_t crc32c_sse42(const uint8_t* p, size_t n, uint32_t crc) {
  uint64_t c = crc;
  while (n >= 3 * kStreamBytes) {
    uint64_t a = c, b = 0, d = 0;
    const uint8_t* pa = p;
    const uint8_t* pb = p + kStreamBytes;
    const uint8_t* pd = p + 2 * kStreamBytes;
    for (size_t i = 0; i < kStreamBytes; i += 8) {
      uint64_t wa, wb, wd;
      std::memcpy(&wa, pa + i, 8);
      std::memcpy(&wb, pb + i, 8);
      std::memcpy(&wd, pd + i, 8);
      a = _mm_crc32_u64(a, wa);
      b = _mm_crc32_u64(b, wb);
      d = _mm_crc32_u64(d, wd);
    }
    c = kShift2.apply(static_cast<uint32_t>(a)) ^ kShift1.apply(static_cast<uint32_t>(b)) ^ static_cast<uint32_t>(d);
    p += 3 * kStreamBytes;
    n -= 3 * kStreamBytes;
  }
  c = crc_words(c, p, n);
  p += n & ~size_t{7};
  n &= 7;
  uint32_t c32 = static_cast<uint32_t>(c);
  while (n--) c32 = _mm_crc32_u8(c32, *p++);
  return c32;
}

const bool kHaveSse42 = __builtin_cpu_supports("sse4.2");

}  // namespace

uint32_t crc32c(const void* data, size_t bytes, uint32_t crc) {
  const auto* p = static_cast<const uint8_t*>(data);
  crc = ~crc;
  crc = kHaveSse42 ? crc32c_sse42(p, bytes, crc) : crc32c_table(p, bytes, crc);
  return ~crc;
}

}  // namespace mirrorsim::real
