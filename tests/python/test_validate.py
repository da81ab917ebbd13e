"""validate(): the simulator against this machine, from Python."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import mirrorsim
from conftest import SCENARIOS

pytestmark = pytest.mark.skipif(not hasattr(mirrorsim, "validate"), reason="this build has no real-device driver")


def test_a_validation_gives_both_runs_and_the_demerit_of_their_quantiles():
    sc = mirrorsim.Scenario.load(SCENARIOS / "quickstart.toml")
    v = mirrorsim.validate(sc, duration_s=1, calibration_ops=50)
    assert v.clean, str(v)
    assert (v.real.driver, v.sim.driver) == ("real", "sim")
    assert v.scenario["duration_s"] == 1.0 and v.scenario["link.distance_km"] == 0.0
    cal = v.calibration
    assert cal["disk_latency_us"] > 0 and cal["link_bandwidth_gbit_per_s"] > 0
    assert v.scenario["primary.disk_write_us"] == pytest.approx(cal["disk_latency_us"], rel=1e-5)

    d = v.demerits()
    writes = d[(d["volume"] == "db") & (d["op"] == "writes")].iloc[0]
    assert writes["real_count"] == v.real.latency_count("db") and writes["sim_count"] == v.sim.latency_count("db")
    # The demerit is the RMS of the quantile differences listed beside it.
    q = v.quantiles()
    qw = q[(q["volume"] == "db") & (q["op"] == "writes")]
    assert len(qw) == 12
    rms = math.sqrt(np.mean((qw["real_us"] - qw["sim_us"]) ** 2))
    assert writes["demerit_us"] == pytest.approx(rms, rel=1e-9)
    # ... and the quantiles are those of the two runs' response times.
    for result, column in ((v.real, "real_us"), (v.sim, "sim_us")):
        samples_us = np.sort(result.latencies("db")) * 1e3
        assert len(samples_us) == result.latency_count("db")  # the reservoir kept every response
        # The histograms' rule: the smallest response with at least p % at or below it (buckets within 0.1 %).
        ranks = np.maximum(1, np.ceil(qw["percentile"].to_numpy() / 100 * len(samples_us)).astype(int))
        np.testing.assert_allclose(samples_us[ranks - 1], qw[column], rtol=2e-3)
    assert json.loads(v.to_json())["comparisons"][0]["demerit_us"] == d.iloc[0]["demerit_us"]
    assert "demerit (RMS of the quantile differences)" in str(v)


def test_a_scenario_the_real_driver_cannot_run_is_refused_before_anything_runs():
    sc = mirrorsim.Scenario.load(SCENARIOS / "link_outage_30s.toml")
    with pytest.raises(ValueError, match=r"link_outage_30s.toml:\d+:\d+: link-down at 5 s is after the validation"):
        mirrorsim.validate(sc, duration_s=1)
