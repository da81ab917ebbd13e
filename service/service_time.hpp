// Service times that vary: the distribution of one service time (a
// processor's demand, a disk's fixed part, a link's overhead) and the
// seeded stream of draws from it.
//
// Every service-time key of a scenario is a ServiceTime: a number is
// `fixed` (the default, so a scenario without distributions gives the same
// bytes as before they existed); otherwise a mean and a coefficient of
// variation (exponential, lognormal, gamma) or an empirical quantile table.
// Each stream has its own generator seeded from the scenario's seed and the
// stream's name, so adding a distribution to one key changes no other draw.
#pragma once

#include <cstdint>
#include <random>
#include <string_view>
#include <utility>
#include <vector>

#include "model/types.hpp"

namespace mirrorsim {

enum class Distribution : uint8_t { Fixed, Exponential, Lognormal, Gamma, Empirical };
std::string_view to_string(Distribution);  // "fixed", "exponential", "lognormal", "gamma", "empirical"

struct ServiceTime {
  Distribution distribution = Distribution::Fixed;
  double mean_us = 0;  // fixed: the value; exponential, lognormal, gamma: the mean
  double cv = 0;       // lognormal, gamma: standard deviation / mean (exponential: 1)
  // empirical: the inverse of the distribution function, piecewise linear
  // between (probability, µs) points; probabilities rise strictly from 0 to
  // 1, values do not fall.
  std::vector<std::pair<double, double>> quantiles;

  static ServiceTime fixed(double us) { return ServiceTime{Distribution::Fixed, us, 0, {}}; }
  // The distribution's mean, µs (for empirical: the integral of its quantile function).
  double mean() const;
  // Its coefficient of variation.
  double coefficient_of_variation() const;
  bool is_zero() const { return distribution == Distribution::Fixed && mean_us == 0; }
  bool operator==(const ServiceTime&) const = default;
};

// The empirical distribution of `samples_us` as a quantile table of at most
// `points` points (all of them when there are fewer), probabilities i/(n-1).
std::vector<std::pair<double, double>> quantile_table(std::vector<double> samples_us, size_t points = 1001);

// A stream of draws from one ServiceTime. Draws are capped at the longest
// delay a key may give (model/limits.hpp), so that a heavy tail cannot make
// a time that does not exist.
class ServiceStream {
 public:
  ServiceStream() = default;
  // `seed`: the scenario's; `name`: the stream's, unique in the run
  // ("R1.front_end_write_us").
  ServiceStream(const ServiceTime& t, uint64_t seed, std::string_view name);
  Time draw();
  bool is_zero() const { return zero_; }

 private:
  double draw_us();
  ServiceTime t_;
  bool zero_ = true;
  std::mt19937_64 rng_;
  // lognormal: parameters of the underlying normal; gamma: shape and scale
  double mu_ = 0, sigma_ = 0, shape_ = 0, scale_ = 0;
};

}  // namespace mirrorsim
