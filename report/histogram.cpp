#include "report/histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace mirrorsim {

namespace {
constexpr int kMaxBits = 44;  // about 4.9 hours in ns; larger values land in the last bucket
}

LatencyHistogram::LatencyHistogram() : buckets_(static_cast<size_t>((kMaxBits - (kSubBits - 1) + 2) * (kSub / 2)), 0) {}

size_t LatencyHistogram::index_of(int64_t ns) {
  if (ns < kSub) return static_cast<size_t>(std::max<int64_t>(ns, 0));
  const int msb = 63 - std::countl_zero(static_cast<uint64_t>(ns));
  const int shift = std::min(msb, kMaxBits) - (kSubBits - 1);
  const int64_t sub = std::min<int64_t>(ns >> shift, kSub - 1);  // in [kSub/2, kSub)
  return static_cast<size_t>((shift + 1) * (kSub / 2) + (sub - kSub / 2));
}

int64_t LatencyHistogram::lower_of(size_t index) {
  if (index < static_cast<size_t>(kSub)) return static_cast<int64_t>(index);
  const int64_t shift = static_cast<int64_t>(index) / (kSub / 2) - 1;
  const int64_t sub = static_cast<int64_t>(index) % (kSub / 2) + kSub / 2;
  return sub << shift;
}

int64_t LatencyHistogram::width_of(size_t index) {
  if (index < static_cast<size_t>(kSub)) return 1;
  return int64_t{1} << (static_cast<int64_t>(index) / (kSub / 2) - 1);
}

void LatencyHistogram::add(int64_t ns) {
  ns = std::max<int64_t>(ns, 0);
  ++buckets_[std::min(index_of(ns), buckets_.size() - 1)];
  if (count_ == 0 || ns < min_ns_) min_ns_ = ns;
  if (count_ == 0 || ns > max_ns_) max_ns_ = ns;
  ++count_;
  sum_ns_ += static_cast<double>(ns);
}

void LatencyHistogram::merge(const LatencyHistogram& o) {
  if (o.count_ == 0) return;
  for (size_t i = 0; i < buckets_.size(); ++i) buckets_[i] += o.buckets_[i];
  if (count_ == 0 || o.min_ns_ < min_ns_) min_ns_ = o.min_ns_;
  if (count_ == 0 || o.max_ns_ > max_ns_) max_ns_ = o.max_ns_;
  count_ += o.count_;
  sum_ns_ += o.sum_ns_;
}

double LatencyHistogram::percentile_ns(double p) const {
  if (count_ == 0) return 0;
  // Rank of the percentile, 1-based: the smallest value with at least p % of
  // the samples at or below it.
  const auto rank = static_cast<uint64_t>(std::max(1.0, std::ceil(p / 100.0 * static_cast<double>(count_))));
  uint64_t seen = 0;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    seen += buckets_[i];
    if (seen >= rank) {
      const double mid = static_cast<double>(lower_of(i)) + static_cast<double>(width_of(i) - 1) / 2.0;
      return std::clamp(mid, static_cast<double>(min_ns_), static_cast<double>(max_ns_));
    }
  }
  return static_cast<double>(max_ns_);
}

void SampleReservoir::add(int64_t ns) {
  ++seen_;
  if (samples_.size() < capacity_) {
    samples_.push_back(ns);
    return;
  }
  const uint64_t j = std::uniform_int_distribution<uint64_t>(0, seen_ - 1)(rng_);
  if (j < capacity_) samples_[j] = ns;
}

}  // namespace mirrorsim

namespace mirrorsim {

std::vector<std::pair<uint32_t, uint64_t>> LatencyHistogram::nonzero_buckets() const {
  std::vector<std::pair<uint32_t, uint64_t>> out;
  for (size_t i = 0; i < buckets_.size(); ++i)
    if (buckets_[i]) out.emplace_back(static_cast<uint32_t>(i), buckets_[i]);
  return out;
}

void LatencyHistogram::restore(const std::vector<std::pair<uint32_t, uint64_t>>& buckets, uint64_t count, double sum_ns,
                               int64_t min_ns, int64_t max_ns) {
  std::fill(buckets_.begin(), buckets_.end(), 0);
  for (const auto& [i, n] : buckets)
    if (i < buckets_.size()) buckets_[i] = n;
  count_ = count;
  sum_ns_ = sum_ns;
  min_ns_ = min_ns;
  max_ns_ = max_ns;
}

}  // namespace mirrorsim
