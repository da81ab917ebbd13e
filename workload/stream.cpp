#include "workload/stream.hpp"

#include <algorithm>
#include <cmath>

#include "model/limits.hpp"

namespace mirrorsim {

WorkloadStream::WorkloadStream(const Scenario& s, uint32_t index)
    : cfg_(&s.workloads.at(index)), tracks_(s.volumes.at(cfg_->volume_index).tracks), rng_(s.seed * 1'000'003 + index),
      track_bytes_(s.primary.track_bytes) {
  if (cfg_->arrival == Arrival::Trace) trace_ = std::make_unique<TraceReader>(cfg_->trace, cfg_->trace_format);
  if (cfg_->addresses != AddressPattern::Zipf) return;
  // P(k) ∝ 1/(k+1)^θ, scaled so that the mean column weight is 1.
  std::vector<double> weight(tracks_);
  double sum = 0;
  for (TrackNo k = 0; k < tracks_; ++k) sum += weight[k] = 1.0 / std::pow(static_cast<double>(k + 1), cfg_->zipf_theta);
  for (double& w : weight) w *= static_cast<double>(tracks_) / sum;
  keep_.assign(tracks_, 1.0);
  alias_.resize(tracks_);
  for (TrackNo k = 0; k < tracks_; ++k) alias_[k] = k;
  std::vector<TrackNo> small, large;
  for (TrackNo k = 0; k < tracks_; ++k) (weight[k] < 1.0 ? small : large).push_back(k);
  while (!small.empty() && !large.empty()) {
    const TrackNo s_k = small.back(), l_k = large.back();
    small.pop_back();
    keep_[s_k] = weight[s_k];
    alias_[s_k] = l_k;
    weight[l_k] -= 1.0 - weight[s_k];
    if (weight[l_k] < 1.0) {
      large.pop_back();
      small.push_back(l_k);
    }
  }
  // What is left has weight 1 up to rounding: it keeps itself.
}

Time WorkloadStream::next_gap() { return Time::from_s(std::exponential_distribution<double>(cfg_->rate_iops)(rng_)); }

bool WorkloadStream::next_is_write() { return std::uniform_real_distribution<double>(0, 1)(rng_) < cfg_->write_fraction; }

const WorkloadInterval* WorkloadStream::row_at(double t_s) {
  const auto& rows = cfg_->intervals;
  const double scaled = t_s * cfg_->time_scale;  // the rows' own clock
  while (row_ + 1 < rows.size() && rows[row_ + 1].t_s <= scaled) ++row_;
  return rows.empty() || rows[row_].t_s > scaled ? nullptr : &rows[row_];
}

Time WorkloadStream::trace_next(Time start) {
  if (!trace_base_) trace_base_ = start;
  while (pieces_.empty()) {
    auto r = trace_->next();
    if (!r) {
      if (!cfg_->loop || records_ == 0) return Time::max();
      // Again from the start, one mean gap after the last record.
      loop_offset_s_ += last_t_s_ + (records_ > 1 ? last_t_s_ / static_cast<double>(records_ - 1) : 1.0);
      trace_ = std::make_unique<TraceReader>(cfg_->trace, cfg_->trace_format);
      records_ = 0;
      continue;
    }
    ++records_;
    last_t_s_ = r->t_s;
    const double at_s = (loop_offset_s_ + r->t_s) / cfg_->time_scale;
    if (at_s > limits::kRunSMax) return Time::max();
    const Time at = *trace_base_ + Time::from_s(at_s);
    const uint64_t end = r->offset_bytes + r->bytes;
    for (uint64_t k = r->offset_bytes / track_bytes_; k * track_bytes_ < end; ++k) {
      const uint64_t from = std::max<uint64_t>(r->offset_bytes, k * track_bytes_);
      const uint64_t to = std::min<uint64_t>(end, (k + 1) * track_bytes_);
      pieces_.push_back(Piece{at, r->write, static_cast<TrackNo>(k % tracks_), static_cast<uint32_t>(to - from)});
    }
    if (pieces_.size() > 1) ++split_;
  }
  current_ = pieces_.front();
  pieces_.pop_front();
  return current_.at;
}

Time WorkloadStream::next_arrival_after(Time t) {
  if (trace_) return trace_next(t);
  const auto& rows = cfg_->intervals;
  double e = std::exponential_distribution<double>(1.0)(rng_);  // unit-rate time still to cover
  double now = t.s();
  const WorkloadInterval* row = row_at(now);
  size_t i = row ? row_ : 0;
  for (;;) {
    const double rate = row ? row->read_iops + row->write_iops : 0;
    const size_t next = row ? i + 1 : i;  // before the first row, the next one is row 0
    const double end = next < rows.size() ? rows[next].t_s / cfg_->time_scale : INFINITY;
    if (rate > 0 && now + e / rate < end) return Time::from_s(now + e / rate);
    if (!std::isfinite(end) || end > limits::kRunSMax) return Time::max();
    e -= rate * (end - now);
    now = end;
    i = next;
    row = &rows[i];
  }
}

bool WorkloadStream::next_is_write(Time at) {
  if (trace_) return current_.write;
  if (cfg_->arrival != Arrival::Intervals) return next_is_write();
  const WorkloadInterval* row = row_at(at.s());
  const double total = row ? row->read_iops + row->write_iops : 0;
  return std::uniform_real_distribution<double>(0, 1)(rng_) * total < (row ? row->write_iops : 0);
}

uint32_t WorkloadStream::block_bytes(Time at, bool write) {
  if (trace_) return current_.bytes;
  if (cfg_->arrival != Arrival::Intervals) return cfg_->block_bytes;
  const WorkloadInterval* row = row_at(at.s());
  return row ? row->block_bytes(write) : cfg_->block_bytes;
}

TrackNo WorkloadStream::next_track() {
  if (trace_) return current_.track;
  switch (cfg_->addresses) {
    case AddressPattern::Uniform: return std::uniform_int_distribution<TrackNo>(0, tracks_ - 1)(rng_);
    case AddressPattern::Zipf: {
      // One draw picks the column (its integer part) and tosses its coin
      // (the fraction).
      const double u = std::uniform_real_distribution<double>(0, 1)(rng_) * static_cast<double>(tracks_);
      const TrackNo k = std::min(static_cast<TrackNo>(u), tracks_ - 1);
      return u - static_cast<double>(k) < keep_[k] ? k : alias_[k];
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

}  // namespace mirrorsim
