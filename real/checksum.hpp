// CRC-32C (Castagnoli) over frames and track images: the SSE4.2 instruction
// where the CPU has it (a 64 KiB track in a few microseconds, well under a
// loopback round trip), a table otherwise. Same value either way.
#pragma once

#include <cstddef>
#include <cstdint>

namespace mirrorsim::real {

// `crc` continues an earlier call: crc32c(b, n2, crc32c(a, n1)) == crc32c(ab).
uint32_t crc32c(const void* data, size_t bytes, uint32_t crc = 0);

}  // namespace mirrorsim::real
