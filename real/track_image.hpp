// The bytes of a track version. The model only carries (volume, track,
// version, bytes); the real driver owns the payload: every version's content
// is generated from (volume, track, version, seed) and starts with a header
// naming it, so that whatever survives on a disk or in a cache can be read
// back and identified exactly.
//
//   offset  0  magic "MSIMTRK1"
//           8  volume (u16), reserved (u16)
//          12  track (u32)
//          16  version (u64)
//          24  length (u32): header included, the bytes the writer produced
//          28  checksum (u32): CRC-32C of bytes [0, 28) and [32, length)
//          32  zero up to 64, then the generated pattern
//
// Every write of a track starts at the track's first byte, so one header per
// track names the version it holds; bytes past `length` are left over from
// earlier versions and carry no meaning.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "model/io.hpp"

#include "model/types.hpp"

namespace mirrorsim::real {

constexpr uint32_t kImageHeaderBytes = 64;

struct ImageHeader {
  TrackKey key;
  Version version = 0;
  uint32_t length = 0;
  uint32_t checksum = 0;
  bool operator==(const ImageHeader&) const = default;
};

// Writes the image of `version` of track `key`, `length` bytes (at least the
// header, at most buf.size()), into buf.
void write_image(std::span<uint8_t> buf, TrackKey key, Version version, uint32_t length, uint64_t seed);

// Unwritten: the track was never written (a hole of the sparse backing
// file, or the zeros a dropped first write left): it holds version 0 by
// definition, whose content is generated, never stored.
enum class ImageCheck : uint8_t { Ok, NoHeader, BadLength, BadChecksum, Unwritten };
std::string_view to_string(ImageCheck);
using mirrorsim::to_string;  // the model's overloads stay visible beside this one

// Parses the header and verifies the checksum over the image's length,
// which must fit in buf.
ImageCheck check_image(std::span<const uint8_t> buf, ImageHeader* header);
// A header of zeros: a track never written (ImageCheck::Unwritten).
bool never_written(std::span<const uint8_t> buf);
// The header only (magic and length sane), without reading the payload.
std::optional<ImageHeader> peek_image_header(std::span<const uint8_t> buf);
// The checksum the image of (key, version, length) has when generated with
// `seed`: what verification expects to find.
uint32_t expected_checksum(TrackKey key, Version version, uint32_t length, uint64_t seed);

}  // namespace mirrorsim::real
