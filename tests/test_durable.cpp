// A controller rebuilt from its durable state restarts exactly like the
// controller that crashed: what a real-device driver relies on after a
// process crash with a (non-)volatile cache file.
#include <catch2/catch.hpp>

#include <random>

#include "tests/harness.hpp"

using namespace mirrorsim;
using namespace mirrorsim::test;

namespace {
void compare_after_restart(bool nonvolatile, uint64_t seed) {
  World w(make_config({.mode = Mode::AdaptiveCopyWp, .tracks = 6, .cache_slots = 5, .cache_nonvolatile = nonvolatile,
                       .links = 2, .skew_tracks = 3}));
  std::mt19937_64 rng(seed);
  for (int i = 0; i < 60; ++i) {
    const auto evs = w.internal_events();
    if (rng() % 3 == 0 || evs.empty()) w.write(TrackKey{0, static_cast<TrackNo>(rng() % 6)});
    else w.apply(evs[rng() % evs.size()]);
  }
  const Controller& original = w.controller(Side::A);
  const DurableState durable = original.durable_state();
  Controller crashed = original;  // the process dies here...
  Commands out;
  crashed.step(w.now(), Crash{}, out);
  Controller rebuilt = Controller::recovered(Side::A, original.config(), durable);  // ...and this is what comes back
  CHECK(rebuilt.crashed());
  out.clear();
  crashed.step(w.now(), Restart{}, out);
  Commands out2;
  rebuilt.step(w.now(), Restart{}, out2);
  CHECK(rebuilt.durable_state() == crashed.durable_state());
  CHECK(rebuilt.wp_slots() == crashed.wp_slots());
  CHECK(rebuilt.invalid_remote_tracks() == crashed.invalid_remote_tracks());
  CHECK(rebuilt.invalid_local_tracks() == crashed.invalid_local_tracks());
  CHECK(out2.size() == out.size());  // the same recovery reads and destages
}
}  // namespace

TEST_CASE("a controller rebuilt from its durable state restarts like the one that crashed (non-volatile cache)") {
  for (uint64_t seed = 1; seed <= 50; ++seed) compare_after_restart(true, seed);
}

TEST_CASE("a controller rebuilt from its durable state restarts like the one that crashed (volatile cache)") {
  for (uint64_t seed = 1; seed <= 50; ++seed) compare_after_restart(false, seed);
}
