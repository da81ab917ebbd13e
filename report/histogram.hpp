// Response-time histogram with bounded memory: log-linear buckets (1024 per
// power of two, relative error below 0.1 %), exact count, mean, min and max.
// Plus a fixed-size deterministic reservoir of raw samples for plots and
// distribution comparisons. Memory does not grow with the number of samples.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace mirrorsim {

class LatencyHistogram {
 public:
  LatencyHistogram();
  void add(int64_t ns);
  void merge(const LatencyHistogram& o);

  uint64_t count() const { return count_; }
  double mean_ns() const { return count_ ? sum_ns_ / static_cast<double>(count_) : 0.0; }
  int64_t min_ns() const { return count_ ? min_ns_ : 0; }
  int64_t max_ns() const { return count_ ? max_ns_ : 0; }
  // The p-th percentile (0 < p ≤ 100): the midpoint of the bucket holding
  // that rank, clamped to [min, max].
  double percentile_ns(double p) const;

  // Lossless round trip through plain data (non-empty buckets only), for
  // results that cross a process boundary.
  std::vector<std::pair<uint32_t, uint64_t>> nonzero_buckets() const;
  size_t bucket_count() const { return buckets_.size(); }
  void restore(const std::vector<std::pair<uint32_t, uint64_t>>& buckets, uint64_t count, double sum_ns, int64_t min_ns,
               int64_t max_ns);
  double sum_ns() const { return sum_ns_; }

 private:
  static constexpr int kSubBits = 10;
  static constexpr int64_t kSub = int64_t{1} << kSubBits;
  static size_t index_of(int64_t ns);
  static int64_t lower_of(size_t index);
  static int64_t width_of(size_t index);

  std::vector<uint64_t> buckets_;
  uint64_t count_ = 0;
  double sum_ns_ = 0;
  int64_t min_ns_ = 0;
  int64_t max_ns_ = 0;
};

// Algorithm R reservoir with its own seeded generator: the same samples in
// the same order give the same reservoir.
class SampleReservoir {
 public:
  explicit SampleReservoir(size_t capacity = 100'000, uint64_t seed = 1) : capacity_(capacity), rng_(seed) {}
  void add(int64_t ns);
  const std::vector<int64_t>& samples() const { return samples_; }
  uint64_t seen() const { return seen_; }
  void restore(std::vector<int64_t> samples, uint64_t seen) {
    samples_ = std::move(samples);
    seen_ = seen;
  }

 private:
  size_t capacity_;
  uint64_t seen_ = 0;
  std::mt19937_64 rng_;
  std::vector<int64_t> samples_;
};

}  // namespace mirrorsim
