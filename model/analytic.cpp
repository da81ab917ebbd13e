#include "model/analytic.hpp"

#include <cmath>
#include <limits>
#include <stdexcept>

#include <Eigen/Dense>
#include <Eigen/Sparse>

namespace mirrorsim::analytic {

namespace {
constexpr double kInfinity = std::numeric_limits<double>::infinity();
}

double unloaded_sync_write_s(const UnloadedWrite& w) {
  const double per_byte = 1.0 / w.bandwidth_bytes_per_s;
  // Data once, plus a header for every other message of the exchange.
  const double transfers = (w.header_bytes + w.block_bytes) * per_byte + (2 * w.round_trips - 1) * w.header_bytes * per_byte;
  return w.primary_cache_store_s + w.round_trips * (w.secondary_cache_store_s + 2 * w.one_way_latency_s) + transfers;
}

double unloaded_async_write_s(const UnloadedWrite& w) { return w.primary_cache_store_s; }

double mm1_sojourn_s(double lambda, double service_s) {
  const double mu = 1.0 / service_s;
  return lambda < mu ? 1.0 / (mu - lambda) : kInfinity;
}

double md1_sojourn_s(double lambda, double service_s) {
  const double rho = lambda * service_s;
  return rho < 1 ? service_s + rho * service_s / (2 * (1 - rho)) : kInfinity;
}

double erlang_c_probability(double lambda, double service_s, int c) {
  const double a = lambda * service_s;  // offered load, Erlangs
  if (a >= c) return 1;
  // Σ a^k/k! for k < c, and a^c/c!, by recurrence (no factorials overflow).
  double term = 1, sum = 0;
  for (int k = 0; k < c; ++k) {
    sum += term;
    term *= a / (k + 1);
  }
  const double last = term * c / (c - a);
  return last / (sum + last);
}

double mmc_wait_s(double lambda, double service_s, int c) {
  const double a = lambda * service_s;
  if (a >= c) return kInfinity;
  return erlang_c_probability(lambda, service_s, c) * service_s / (c - a);
}

double mm1k_blocking(double rho, int capacity) {
  if (std::abs(rho - 1) < 1e-12) return 1.0 / (capacity + 1);
  return (1 - rho) * std::pow(rho, capacity) / (1 - std::pow(rho, capacity + 1));
}

WritePendingQueue write_pending_queue(double lambda, double service_s, int slots_max, int phases) {
  WritePendingQueue out;
  const double rho = lambda * service_s;
  out.utilisation = rho;
  if (rho >= 1) {
    out.delay_probability = 1;
    out.mean_delay_s = kInfinity;
    out.wp_slots_mean = slots_max;
    return out;
  }
  // Truncate the population where the stationary tail is far below any
  // figure we report: the tail of M/D/1 decays at least geometrically in rho.
  const int k = phases;
  const int population_max = std::max(slots_max + 50, static_cast<int>(std::ceil(std::log(1e-13) / std::log(rho))) + slots_max);
  // State 0: empty; state 1 + (n-1) k + (p-1): n writes not yet destaged, the
  // one being destaged in phase p.
  const int states = 1 + population_max * k;
  auto id = [k](int n, int p) { return 1 + (n - 1) * k + (p - 1); };
  const double phase_rate = k / service_s;
  std::vector<Eigen::Triplet<double>> q;  // transposed generator: rows = to, cols = from
  std::vector<double> out_rate(states, 0);
  auto edge = [&](int from, int to, double rate) {
    q.emplace_back(to, from, rate);
    out_rate[from] += rate;
  };
  edge(0, id(1, 1), lambda);
  for (int n = 1; n <= population_max; ++n) {
    for (int p = 1; p <= k; ++p) {
      if (n < population_max) edge(id(n, p), id(n + 1, p), lambda);
      if (p < k) edge(id(n, p), id(n, p + 1), phase_rate);
      else edge(id(n, p), n == 1 ? 0 : id(n - 1, 1), phase_rate);
    }
  }
  for (int s = 0; s < states; ++s) q.emplace_back(s, s, -out_rate[s]);
  // pi Q = 0 with sum(pi) = 1: the first balance equation is replaced by the
  // normalisation.
  Eigen::SparseMatrix<double> a(states, states);
  std::vector<Eigen::Triplet<double>> kept;
  for (const auto& t : q)
    if (t.row() != 0) kept.push_back(t);
  for (int s = 0; s < states; ++s) kept.emplace_back(0, s, 1.0);
  a.setFromTriplets(kept.begin(), kept.end());
  Eigen::VectorXd b = Eigen::VectorXd::Zero(states);
  b(0) = 1;
  Eigen::SparseLU<Eigen::SparseMatrix<double>> lu;
  lu.compute(a);
  if (lu.info() != Eigen::Success) throw std::runtime_error("write_pending_queue: the CTMC could not be factorised");
  const Eigen::VectorXd pi = lu.solve(b);
  // By PASTA a Poisson arrival sees the stationary distribution. With n
  // writes ahead (n ≥ slots_max) it waits for the one in service to finish
  // (its remaining phases) and for n - slots_max more destages.
  for (int n = 1; n <= population_max; ++n) {
    for (int p = 1; p <= k; ++p) {
      const double pr = pi(id(n, p));
      out.wp_slots_mean += pr * std::min(n, slots_max);
      if (n >= slots_max) {
        out.delay_probability += pr;
        out.mean_delay_s += pr * ((k - p + 1) * service_s / k + (n - slots_max) * service_s);
      }
    }
  }
  out.states = static_cast<size_t>(states);
  return out;
}

double distinct_tracks(double writes, double tracks) {
  if (tracks <= 0) return 0;
  return tracks * -std::expm1(-writes / tracks);
}

AsyncCycleReference async_cycle(const AsyncCycle& a) {
  auto transmit_s = [&](double t) {
    return distinct_tracks(a.writes_per_s * t, a.tracks) * a.track_message_bytes / a.bandwidth_bytes_per_s + a.fixed_s;
  };
  AsyncCycleReference r;
  if (transmit_s(a.cycle_time_min_s) <= a.cycle_time_min_s) {
    r.cycle_time_s = a.cycle_time_min_s;
  } else {
    // X is increasing and concave with X(min) > min and X bounded by
    // tracks · message / bandwidth + fixed: one crossing above the minimum.
    double lo = a.cycle_time_min_s, hi = a.tracks * a.track_message_bytes / a.bandwidth_bytes_per_s + a.fixed_s;
    for (int i = 0; i < 200 && hi - lo > 1e-12 * hi; ++i) {
      const double mid = 0.5 * (lo + hi);
      (transmit_s(mid) > mid ? lo : hi) = mid;
    }
    r.cycle_time_s = 0.5 * (lo + hi);
    r.link_bound = true;
  }
  r.tracks_per_cycle = distinct_tracks(a.writes_per_s * r.cycle_time_s, a.tracks);
  return r;
}

double in_sync_fraction(double writes_per_s, double copy_residence_s) {
  return std::exp(-writes_per_s * copy_residence_s);
}

LinearFit fit_linear(const std::vector<double>& x, const std::vector<double>& y) {
  if (x.size() != y.size() || x.size() < 2) throw std::invalid_argument("fit_linear: needs two or more (x, y) points");
  const auto n = static_cast<Eigen::Index>(x.size());
  Eigen::MatrixXd a(n, 2);
  Eigen::VectorXd b(n);
  for (Eigen::Index i = 0; i < n; ++i) {
    a(i, 0) = 1;
    a(i, 1) = x[static_cast<size_t>(i)];
    b(i) = y[static_cast<size_t>(i)];
  }
  if ((a.col(1).array() - a(0, 1)).abs().maxCoeff() == 0) throw std::invalid_argument("fit_linear: every x is the same");
  const Eigen::Vector2d coef = a.colPivHouseholderQr().solve(b);
  const double mean = b.mean();
  const double ss_tot = (b.array() - mean).square().sum();
  const double ss_res = (b - a * coef).squaredNorm();
  return LinearFit{coef(0), coef(1), ss_tot > 0 ? 1 - ss_res / ss_tot : 1.0, x.size()};
}

}  // namespace mirrorsim::analytic
