// The hosts' request streams (workload/): what every driver draws.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include <fmt/format.h>

#include "config/scenario.hpp"
#include "workload/stream.hpp"

using namespace mirrorsim;

namespace {
Scenario with_addresses(const std::string& addresses, uint32_t tracks, double theta = 0.9) {
  return parse_scenario(fmt::format(R"(
[[volume]]
name = "v"
tracks = {}
[[workload]]
volume = "v"
addresses = "{}"
zipf_theta = {}
)",
                                    tracks, addresses, theta),
                        "test.toml");
}
}  // namespace

TEST_CASE("zipf addresses: over 10^6 draws each track's frequency matches 1/(k+1)^theta within 3 standard errors") {
  for (const double theta : {0.5, 0.9, 1.5}) {
    const uint32_t tracks = 1000;
    const Scenario s = with_addresses("zipf", tracks, theta);
    WorkloadStream w(s, 0);
    std::vector<double> count(tracks, 0);
    const int n = 1'000'000;
    for (int i = 0; i < n; ++i) {
      const TrackNo t = w.next_track();
      REQUIRE(t < tracks);
      ++count[t];
    }
    double sum = 0;
    for (uint32_t k = 0; k < tracks; ++k) sum += 1.0 / std::pow(k + 1.0, theta);
    for (const uint32_t k : {0u, 1u, 2u, 9u, 99u, 999u}) {
      const double p = 1.0 / std::pow(k + 1.0, theta) / sum;
      const double sigma = std::sqrt(n * p * (1 - p));
      INFO(fmt::format("theta {}, track {}: {} draws, expected {:.1f} ± {:.1f}", theta, k, count[k], n * p, sigma));
      CHECK(std::abs(count[k] - n * p) < 3 * sigma + 1);
    }
  }
}

TEST_CASE("a workload stream is a function of the scenario's seed and the workload: the same twice") {
  const Scenario s = with_addresses("zipf", 100000);
  WorkloadStream a(s, 0), b(s, 0);
  for (int i = 0; i < 1000; ++i) {
    REQUIRE(a.next_is_write() == b.next_is_write());
    REQUIRE(a.next_track() == b.next_track());
    REQUIRE(a.next_gap() == b.next_gap());
  }
}
