// A RunResult in full (histograms, samples, time series) as plain data, so
// that a run made in a forked child reaches its parent unchanged.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "report/result.hpp"

namespace mirrorsim {

std::vector<uint8_t> serialize(const RunResult& r);
// Checks everything it reads — types, integer ranges, array lengths, the
// histogram's buckets, nesting depth — and throws json_read::Malformed (a
// std::invalid_argument: ValueError in Python) naming the first bad field
// of data that is not a serialized RunResult. Never trusts the bytes: they
// come from a child process or from a pickle.
RunResult deserialize(std::span<const uint8_t> bytes);

}  // namespace mirrorsim
