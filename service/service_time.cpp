#include "service/service_time.hpp"

#include <algorithm>
#include <cmath>

#include "model/limits.hpp"

namespace mirrorsim {

std::string_view to_string(Distribution d) {
  switch (d) {
    case Distribution::Fixed: return "fixed";
    case Distribution::Exponential: return "exponential";
    case Distribution::Lognormal: return "lognormal";
    case Distribution::Gamma: return "gamma";
    case Distribution::Empirical: return "empirical";
  }
  return "?";
}

double ServiceTime::mean() const {
  if (distribution != Distribution::Empirical) return mean_us;
  double m = 0;
  for (size_t i = 1; i < quantiles.size(); ++i)
    m += (quantiles[i].first - quantiles[i - 1].first) * (quantiles[i].second + quantiles[i - 1].second) / 2;
  return m;
}

double ServiceTime::coefficient_of_variation() const {
  switch (distribution) {
    case Distribution::Fixed: return 0;
    case Distribution::Exponential: return 1;
    case Distribution::Lognormal:
    case Distribution::Gamma: return cv;
    case Distribution::Empirical: break;
  }
  // E[X^2] of a piecewise-linear quantile function: on each segment X is
  // uniform between its two values.
  double m2 = 0;
  for (size_t i = 1; i < quantiles.size(); ++i) {
    const double a = quantiles[i - 1].second, b = quantiles[i].second;
    m2 += (quantiles[i].first - quantiles[i - 1].first) * (a * a + a * b + b * b) / 3;
  }
  const double m = mean();
  return m > 0 ? std::sqrt(std::max(0.0, m2 - m * m)) / m : 0;
}

std::vector<std::pair<double, double>> quantile_table(std::vector<double> samples_us, size_t points) {
  std::sort(samples_us.begin(), samples_us.end());
  std::vector<std::pair<double, double>> q;
  const size_t n = samples_us.size();
  if (n == 0) return q;
  if (n == 1) return {{0.0, samples_us[0]}, {1.0, samples_us[0]}};
  const size_t m = std::min(n, std::max<size_t>(points, 2));
  for (size_t i = 0; i < m; ++i) {
    const double p = static_cast<double>(i) / static_cast<double>(m - 1);
    // the sample quantile at p, interpolated between order statistics
    const double at = p * static_cast<double>(n - 1);
    const size_t lo = static_cast<size_t>(at);
    const double frac = at - static_cast<double>(lo);
    const double v = lo + 1 < n ? samples_us[lo] + frac * (samples_us[lo + 1] - samples_us[lo]) : samples_us[lo];
    q.emplace_back(p, v);
  }
  return q;
}

namespace {
// FNV-1a of the stream's name, mixed with the seed by splitmix64: streams
// of one run are independent, and one seed gives every stream its bytes.
uint64_t stream_seed(uint64_t seed, std::string_view name) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : name) h = (h ^ c) * 1099511628211ull;
  uint64_t z = seed ^ h;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
}  // namespace

ServiceStream::ServiceStream(const ServiceTime& t, uint64_t seed, std::string_view name)
    : t_(t), zero_(t.is_zero()), rng_(stream_seed(seed, name)) {
  if (t.distribution == Distribution::Lognormal) {
    sigma_ = std::sqrt(std::log1p(t.cv * t.cv));
    mu_ = std::log(t.mean_us) - sigma_ * sigma_ / 2;
  } else if (t.distribution == Distribution::Gamma) {
    shape_ = 1 / (t.cv * t.cv);
    scale_ = t.mean_us * t.cv * t.cv;
  }
}

double ServiceStream::draw_us() {
  // 53 random bits: u in [0, 1).
  auto uniform = [this] { return static_cast<double>(rng_() >> 11) * 0x1p-53; };
  switch (t_.distribution) {
    case Distribution::Fixed: return t_.mean_us;
    case Distribution::Exponential: return -t_.mean_us * std::log1p(-uniform());
    case Distribution::Lognormal: {
      if (sigma_ == 0) return t_.mean_us;
      // Box–Muller, one normal per draw (the pair's second is dropped so
      // that every draw takes the same two words).
      const double u1 = 1 - uniform(), u2 = uniform();
      const double z = std::sqrt(-2 * std::log(u1)) * std::cos(2 * M_PI * u2);
      return std::exp(mu_ + sigma_ * z);
    }
    case Distribution::Gamma: {
      if (scale_ == 0) return t_.mean_us;
      std::gamma_distribution<double> g(shape_, scale_);
      return g(rng_);
    }
    case Distribution::Empirical: {
      const auto& q = t_.quantiles;
      const double u = uniform();
      auto hi = std::upper_bound(q.begin(), q.end(), u, [](double x, const auto& p) { return x < p.first; });
      if (hi == q.begin()) return q.front().second;
      if (hi == q.end()) return q.back().second;
      const auto lo = hi - 1;
      const double f = (u - lo->first) / (hi->first - lo->first);
      return lo->second + f * (hi->second - lo->second);
    }
  }
  return t_.mean_us;
}

Time ServiceStream::draw() {
  if (zero_) return Time{};
  return Time::from_us(std::clamp(draw_us(), 0.0, limits::kDelayUsMax));
}

}  // namespace mirrorsim
