// The analytic reference against textbook results.
#include <catch2/catch.hpp>

#include "model/analytic.hpp"

using namespace mirrorsim::analytic;

TEST_CASE("analytic: M/M/1 and M/D/1 sojourn times match their closed forms") {
  CHECK(mm1_sojourn_s(500, 0.001) == Approx(1.0 / (1000 - 500)));
  CHECK(md1_sojourn_s(500, 0.001) == Approx(0.001 + 0.5 * 0.001 / (2 * 0.5)));
  CHECK(std::isinf(md1_sojourn_s(1000, 0.001)));
}

TEST_CASE("analytic: M/M/1/K blocking follows (1 - rho) rho^K / (1 - rho^(K+1))") {
  CHECK(mm1k_blocking(0.5, 3) == Approx(0.5 * 0.125 / (1 - 0.0625)));
  CHECK(mm1k_blocking(1.0, 4) == Approx(0.2));
}

TEST_CASE("analytic: the write-pending CTMC with one slot is the M/D/1 waiting room") {
  // With one slot a write waits exactly as long as an M/D/1 customer waits
  // for service, and is delayed with probability rho.
  for (double rho : {0.3, 0.6, 0.85}) {
    const double s = 0.001;
    const WritePendingQueue q = write_pending_queue(rho / s, s, 1, 100);
    INFO("rho " << rho);
    CHECK(q.delay_probability == Approx(rho).epsilon(1e-6));
    CHECK(q.mean_delay_s == Approx(rho * s / (2 * (1 - rho))).epsilon(0.02));
    CHECK(q.utilisation == Approx(rho));
  }
}

TEST_CASE("analytic: more write-pending slots mean fewer and shorter delays") {
  const WritePendingQueue few = write_pending_queue(800, 0.001, 2);
  const WritePendingQueue many = write_pending_queue(800, 0.001, 6);
  CHECK(few.delay_probability > many.delay_probability);
  CHECK(few.mean_delay_s > many.mean_delay_s);
  CHECK(many.delay_probability > 0);
  CHECK(few.wp_slots_mean <= 2.0);
}

TEST_CASE("analytic: the unloaded sync write is cache stores + round trips + transfers") {
  UnloadedWrite w{250e-6, 50e-6, 525e-6, 1.25e9, 1, 512};
  CHECK(unloaded_sync_write_s(w) == Approx(250e-6 + 50e-6 + 2 * 525e-6 + (576 + 64) / 1.25e9));
  w.round_trips = 2;
  CHECK(unloaded_sync_write_s(w) == Approx(250e-6 + 2 * 50e-6 + 4 * 525e-6 + (576 + 3 * 64) / 1.25e9));
  CHECK(unloaded_async_write_s(w) == Approx(250e-6));
}

TEST_CASE("analytic: least squares recovers a line and reports R squared") {
  const LinearFit f = fit_linear({0, 100, 200, 300}, {0.357, 1.357, 2.357, 3.357});
  CHECK(f.slope == Approx(0.01));
  CHECK(f.intercept == Approx(0.357));
  CHECK(f.r2 == Approx(1.0));
  const LinearFit noisy = fit_linear({0, 1, 2, 3}, {0, 1.1, 1.9, 3.2});
  CHECK(noisy.r2 < 1.0);
  CHECK(noisy.r2 > 0.95);
  CHECK_THROWS(fit_linear({1, 1, 1}, {1, 2, 3}));
}
