// Counterexamples and reports as JSON: a counterexample file holds the whole
// pair configuration (mutant included) and the events, so a test or
// `mirrorsim check --replay FILE` can rebuild the same World and replay the
// same trace without the scenario it came from.
#pragma once

#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "check/explorer.hpp"

namespace mirrorsim::check {

// A counterexample file that cannot be read or makes no sense.
class TraceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

nlohmann::json to_json(const Counterexample& cx);
Counterexample counterexample_from_json(const nlohmann::json& j);  // throws TraceError

void save_counterexample(const Counterexample& cx, const std::string& path);  // throws TraceError
Counterexample load_counterexample(const std::string& path);                  // throws TraceError

nlohmann::json to_json(const Stats& s);
nlohmann::json to_json(const Finding& f);
// The whole result: outcome, statistics, the finding and its counterexample.
nlohmann::json to_json(const Result& r);

}  // namespace mirrorsim::check
