// One scenario through both drivers: the simulator and the real devices
// fill their results through the same metrics observer, so they have the
// same fields and time-series columns, each holding what the run did.
#include <catch2/catch.hpp>

#include <algorithm>
#include <functional>
#include <set>
#include <string>

#include "helpers.hpp"
#include "report/result.hpp"
#include "sim/fork.hpp"

using namespace mirrorsim;
using namespace mirrorsim::real;
using namespace mirrorsim::real::test;

namespace {

// Every key path of a JSON document (array elements by their first element's keys).
void key_paths(const nlohmann::json& j, const std::string& at, std::set<std::string>& out) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      const std::string path = at.empty() ? it.key() : at + "." + it.key();
      out.insert(path);
      key_paths(it.value(), path, out);
    }
  } else if (j.is_array() && !j.empty()) {
    key_paths(j.front(), at + "[]", out);
  }
}

double series_max(const RunResult& r, const std::function<double(const TimeSample&)>& f) {
  double m = 0;
  for (const TimeSample& t : r.timeseries) m = std::max(m, f(t));
  return m;
}

}  // namespace

TEST_CASE("one scenario with a link outage and resync: mirrorsim run and mirrorsim real give the same metric fields "
          "and time-series columns, each non-zero where the run had that activity") {
  // Enough tracks that the writes of the outage land on distinct tracks
  // mostly, so the resync's size is a count both drivers should agree on.
  const Scenario sc = small_scenario(Small{.duration_s = 2.0,
                                           .rate_iops = 1000,
                                           .tracks = 8192,
                                           .cache_slots = 2048,
                                           .failures = failure(0.6, "link-down") + failure(1.0, "link-up")});
  SimOptions so;
  so.progress = false;
  const RunResult sim = simulate_in_child(sc, so);
  const RealRun real_run = run_real(sc, quiet_options());
  const RunResult& real = real_run.result;
  INFO(verification_text(real_run.verification));
  REQUIRE(sim.invariant_violations == 0);
  REQUIRE(real.invariant_violations == 0);
  REQUIRE(sim.quiesced_at_end);
  REQUIRE(real.quiesced_at_end);

  // The same shape: every field, every column.
  std::set<std::string> sim_keys, real_keys;
  key_paths(to_json(sim), "", sim_keys);
  key_paths(to_json(real), "", real_keys);
  CHECK(sim_keys == real_keys);
  const std::string sim_csv = timeseries_csv(sim), real_csv = timeseries_csv(real);
  CHECK(sim_csv.substr(0, sim_csv.find('\n')) == real_csv.substr(0, real_csv.find('\n')));
  CHECK(summary_metrics(sim).size() == summary_metrics(real).size());
  REQUIRE(sim.timeseries.size() >= 19);
  REQUIRE(real.timeseries.size() >= 19);

  // Each non-zero in both where the run had that activity.
  for (const RunResult* r : {&sim, &real}) {
    INFO("driver " << r->driver);
    CHECK(series_max(*r, [](const TimeSample& t) { return t.link_utilisation; }) > 0);
    CHECK(series_max(*r, [](const TimeSample& t) { return t.write_iops; }) > 0);
    CHECK(series_max(*r, [](const TimeSample& t) { return t.write_response_mean_ms; }) > 0);
    CHECK(series_max(*r, [](const TimeSample& t) { return static_cast<double>(t.invalid_remote_tracks); }) > 0);
    CHECK(r->link_utilisation_R1_to_R2_mean > 0);
    CHECK(r->in_sync_fraction > 0);
    CHECK(r->in_sync_fraction < 1);  // the outage
    CHECK(r->remote_wp_tracks_peak > 0);
    CHECK(r->invalid_remote_tracks_peak > 0);
    CHECK(r->wp_slots_mean > 0);
    CHECK(r->wp_residence_mean_ms > 0);
    CHECK(r->disk_utilisation_R1_mean > 0);
    CHECK(r->disk_utilisation_R2_mean > 0);
    CHECK(r->copies_sent > 0);
    REQUIRE_FALSE(r->resyncs.empty());
    CHECK(r->resyncs.front().invalid_tracks_at_start > 0);
    CHECK(r->resyncs.front().end_s.has_value());
    CHECK(r->volumes.at(0).writes.completed > 0);
    CHECK(r->volumes.at(0).writes.response.mean_ns() > 0);
  }

  // The deterministic counts agree: the same seed draws the same host
  // requests in both, and none is refused.
  const OpStats& sw = sim.volumes.at(0).writes;
  const OpStats& rw = real.volumes.at(0).writes;
  CHECK(sim.host_writes == real.host_writes);
  CHECK(sw.completed + sw.rejected == rw.completed + rw.rejected);
  CHECK(sw.rejected == 0);
  CHECK(rw.rejected == 0);
  // The tracks the resync owes depend on how long each driver took to
  // notice the cut and restore: the same within 25 %.
  const double sim_owed = static_cast<double>(sim.resyncs.front().invalid_tracks_at_start);
  const double real_owed = static_cast<double>(real.resyncs.front().invalid_tracks_at_start);
  CHECK(real_owed == Approx(sim_owed).epsilon(0.25));
}
