// Counterexamples and reports as JSON: a counterexample file holds the whole
// pair configuration (mutant included) and the events, so a test or
// `mirrorsim check --replay FILE` can rebuild the same World and replay the
// same trace without the scenario it came from.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "check/explorer.hpp"

namespace mirrorsim::check {

// A counterexample file that cannot be read or makes no sense.
class TraceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A counterexample file: a regular file of at most this size (100,000
// events take about 25 MiB).
inline constexpr uintmax_t kCounterexampleFileBytesMax = uintmax_t{64} << 20;

nlohmann::json to_json(const Counterexample& cx);
// The exploration bounds as a counterexample file (and the Python
// configuration) writes them.
nlohmann::json bounds_json(const Bounds& b);
// Every value is checked as the scenario loader checks a [check] table,
// within the explorer's maxima (model/limits.hpp): a replay builds the same
// small pair an exploration would, or nothing. Throws TraceError naming the
// key (and, from text, source:line:col).
Counterexample counterexample_from_json(const nlohmann::json& j);
Counterexample parse_counterexample(std::string_view text, const std::string& source);

void save_counterexample(const Counterexample& cx, const std::string& path);  // throws TraceError
// Refuses what is not a regular file (without blocking on a FIFO) and files
// above kCounterexampleFileBytesMax; then parse_counterexample.
Counterexample load_counterexample(const std::string& path);

nlohmann::json to_json(const Stats& s);
nlohmann::json to_json(const Finding& f);
// The whole result: outcome, statistics, the finding and its counterexample.
nlohmann::json to_json(const Result& r);

}  // namespace mirrorsim::check
