#include "real/workload.hpp"

#include <algorithm>
#include <cmath>

namespace mirrorsim::real {

WorkloadStream::WorkloadStream(const Scenario& s, uint32_t index)
    : cfg_(&s.workloads.at(index)), tracks_(s.volumes.at(cfg_->volume_index).tracks), rng_(s.seed * 1'000'003 + index) {
  if (cfg_->addresses == AddressPattern::Zipf) {
    zipf_cdf_.resize(tracks_);
    double sum = 0;
    for (TrackNo k = 0; k < tracks_; ++k) {
      sum += 1.0 / std::pow(static_cast<double>(k + 1), cfg_->zipf_theta);
      zipf_cdf_[k] = sum;
    }
    for (double& x : zipf_cdf_) x /= sum;
  }
}

Time WorkloadStream::next_gap() { return Time::from_s(std::exponential_distribution<double>(cfg_->rate_iops)(rng_)); }

bool WorkloadStream::next_is_write() { return std::uniform_real_distribution<double>(0, 1)(rng_) < cfg_->write_fraction; }

TrackNo WorkloadStream::next_track() {
  switch (cfg_->addresses) {
    case AddressPattern::Uniform: return std::uniform_int_distribution<TrackNo>(0, tracks_ - 1)(rng_);
    case AddressPattern::Zipf: {
      const double u = std::uniform_real_distribution<double>(0, 1)(rng_);
      const auto it = std::lower_bound(zipf_cdf_.begin(), zipf_cdf_.end(), u);
      return static_cast<TrackNo>(std::min<size_t>(static_cast<size_t>(it - zipf_cdf_.begin()), tracks_ - 1));
    }
    case AddressPattern::Sequential: return next_sequential_++ % tracks_;
    case AddressPattern::Hotspot: {
      const TrackNo hot = std::clamp<TrackNo>(static_cast<TrackNo>(cfg_->hotspot_fraction * tracks_), 1, tracks_);
      const bool to_hot =
          hot == tracks_ || std::uniform_real_distribution<double>(0, 1)(rng_) < cfg_->hotspot_probability;
      return to_hot ? std::uniform_int_distribution<TrackNo>(0, hot - 1)(rng_)
                    : std::uniform_int_distribution<TrackNo>(hot, tracks_ - 1)(rng_);
    }
  }
  return 0;
}

}  // namespace mirrorsim::real
