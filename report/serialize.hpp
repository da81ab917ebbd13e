// A RunResult in full (histograms, samples, time series) as plain data, so
// that a run made in a forked child reaches its parent unchanged.
#pragma once

#include <cstdint>
#include <vector>

#include "report/result.hpp"

namespace mirrorsim {

std::vector<uint8_t> serialize(const RunResult& r);
// Throws std::runtime_error on data that is not a serialized RunResult.
RunResult deserialize(const std::vector<uint8_t>& bytes);

}  // namespace mirrorsim
