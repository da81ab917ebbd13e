"""validate(): the simulator against this machine, from Python."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import mirrorsim
from conftest import SCENARIOS

pytestmark = pytest.mark.skipif(not hasattr(mirrorsim, "validate"), reason="this build has no real-device driver")


def test_a_validation_gives_three_runs_and_the_demerits_of_their_quantiles():
    sc = mirrorsim.Scenario.load(SCENARIOS / "quickstart.toml").with_values(
        {"workload.0.rate_iops": 1000, "measurement.warmup_s": 0.2})
    v = mirrorsim.validate(sc, duration_s=1, calibration_ops=50, probe_s=1)
    assert v.clean, str(v)
    assert (v.real.driver, v.real_b.driver, v.sim.driver) == ("real", "real", "sim")
    assert v.scenario["duration_s"] == 1.0 and v.scenario["link.links"] == 1
    # The calibration measured here is what the simulated scenario runs with.
    assert "processors_shared = \"pair\"" in v.calibration and "front_end_write_us" in v.calibration
    assert v.scenario["processors_shared"] == "pair"

    d = v.demerits()
    writes = d[(d["volume"] == "db") & (d["op"] == "writes")].iloc[0]
    # Same seed: the same requests in all three runs (the real hosts drop the
    # last arrivals when the loop falls behind at the end: a loaded machine).
    assert writes["real_a_count"] == v.real.latency_count("db")
    assert writes["real_a_count"] == pytest.approx(writes["sim_count"], rel=0.05)
    assert writes["real_b_count"] == pytest.approx(writes["sim_count"], rel=0.05)
    q = v.quantiles()
    qw = q[(q["volume"] == "db") & (q["op"] == "writes")]
    assert list(qw["percentile"]) == [10, 25, 50, 75, 90, 99, 99.9]
    body = qw[qw["percentile"] <= 99]
    rms = lambda x: math.sqrt(np.mean(x ** 2))  # noqa: E731
    assert writes["sim_vs_real_us"] == pytest.approx(
        (rms(body["sim_us"] - body["real_a_us"]) + rms(body["sim_us"] - body["real_b_us"])) / 2, rel=1e-9)
    assert writes["real_vs_real_us"] == pytest.approx(rms(body["real_b_us"] - body["real_a_us"]), rel=1e-9)
    # Whether it closes, from the same figures: the demerits' ratio and the p50s.
    assert writes["demerit_ratio"] == pytest.approx(writes["sim_vs_real_us"] / writes["real_vs_real_us"], rel=1e-9)
    p50 = qw[qw["percentile"] == 50].iloc[0]
    p50_real = (p50["real_a_us"] + p50["real_b_us"]) / 2
    assert writes["p50_sim_minus_real_percent"] == pytest.approx(100 * (p50["sim_us"] - p50_real) / p50_real, rel=1e-9)
    assert writes["p50_real_b_minus_a_percent"] == pytest.approx(
        100 * (p50["real_b_us"] - p50["real_a_us"]) / p50["real_a_us"], rel=1e-9)
    assert writes["closes"] == (writes["demerit_ratio"] <= 1.5 and abs(writes["p50_sim_minus_real_percent"]) <= 10)
    assert ("closes: demerit" in str(v)) or ("does not close: demerit" in str(v))
    # ... and the quantiles are those of the runs' response times.
    for result, column in ((v.real, "real_a_us"), (v.real_b, "real_b_us"), (v.sim, "sim_us")):
        samples_us = np.sort(result.latencies("db")) * 1e3
        assert len(samples_us) == result.latency_count("db")  # the reservoir kept every response
        # The histograms' rule: the smallest response with at least p % at or below it (buckets within 0.1 %).
        ranks = np.maximum(1, np.ceil(qw["percentile"].to_numpy() / 100 * len(samples_us)).astype(int))
        np.testing.assert_allclose(samples_us[ranks - 1], qw[column], rtol=2e-3)
    pools = v.pools()
    assert len(pools) == 6
    r1_front = pools[(pools["controller"] == "R1") & (pools["pool"] == "front_end")].iloc[0]
    assert r1_front["real_a_processors_busy"] > 0 and r1_front["sim_processors_busy"] > 0
    # Processors busy: CPU-seconds a second, the same whatever the pools' sizes.
    sim_front = [p for p in v.sim.summary["processor_pools"] if p["controller"] == "R1" and p["pool"] == "front_end"][0]
    assert r1_front["sim_processors_busy"] == pytest.approx(sim_front["busy_s"] / v.sim.summary["measured_s"], rel=1e-9)
    regime = v.regime().set_index("figure")
    assert list(regime.index) == ["disk_utilisation_R1_mean", "disk_utilisation_R2_mean", "resyncs",
                                  "invalid_remote_tracks_peak", "in_sync_fraction", "read_hit_fraction"]
    assert regime.loc["disk_utilisation_R1_mean", "sim"] == pytest.approx(v.sim.summary["disk_utilisation_R1_mean"])
    assert regime.loc["in_sync_fraction", "real_a"] == pytest.approx(v.real.summary["in_sync_fraction"])
    reads = v.real.summary["volumes"][0]["reads"]["completed"]
    assert reads > 0
    assert regime.loc["read_hit_fraction", "real_a"] == pytest.approx(v.real.summary["volumes"][0]["read_hits"] / reads)
    assert isinstance(v.regime_warnings, list)
    report = json.loads(v.to_json())
    # Measured here: the CPU probe ran at the rate validated (the scenario's, 1,000 IOPS),
    # and that rate's calibration is the one applied.
    assert report["rates"][0]["cpu_probe_iops"] == 1000
    assert report["rates"][0]["calibration_toml"] == v.calibration
    assert report["rates"][0]["comparisons"][0]["sim_vs_real_us"] == d.iloc[0]["sim_vs_real_us"]
    assert "real vs real (noise floor)" in str(v)
    # Two CPU probes, before and after the real runs, pooled: the simulation's calibration is the pool's.
    probes = v.cpu_probes().set_index("when")
    assert list(probes.index) == ["before", "after", "pooled"]
    before, after, pool = probes.loc["before"], probes.loc["after"], probes.loc["pooled"]
    assert pool["window_s"] == pytest.approx(before["window_s"] + after["window_s"])
    assert pool["requests"] == before["requests"] + after["requests"]
    assert pool["machine_processors_busy"] == pytest.approx(
        (before["machine_processors_busy"] * before["window_s"] + after["machine_processors_busy"] * after["window_s"])
        / pool["window_s"])
    assert pool["other_cpu_per_request_us"] == pytest.approx(
        (before["other_cpu_per_request_us"] * before["requests"] + after["other_cpu_per_request_us"] * after["requests"])
        / pool["requests"])
    other = v.scenario["processors_other_per_request_us"]
    assert other == pytest.approx(pool["other_cpu_per_request_us"], abs=0.05)
    assert "CPU probes at 1000 IOPS, before and after the real runs, pooled" in str(v)
    # A warning exactly where the pooled probe's machine and the real runs' are more than 10 % apart.
    runs = report["rates"][0]["machine_processors_busy"]
    assert v.machine_processors_busy == pytest.approx(runs)
    runs_mean = (runs["real_a"] + runs["real_b"]) / 2
    apart = abs(pool["machine_processors_busy"] - runs_mean) / runs_mean
    assert bool(v.calibration_warnings) == (apart > 0.10), (apart, v.calibration_warnings)
    assert ("CALIBRATION FROM ANOTHER MINUTE" in str(v)) == bool(v.calibration_warnings)
    # 100 km: the real link's delay line was timed beside the calibration (10 timers a probe).
    assert len(v.delay_line_lateness_us) == 50 * 10 and min(v.delay_line_lateness_us) >= 0
    assert "the distance's delay line: its timers fired late by" in str(v)


def test_cpu_probes_other_than_one_or_two_are_refused():
    sc = mirrorsim.Scenario.load(SCENARIOS / "quickstart.toml")
    for bad in (0, 3, 1.5, True):
        with pytest.raises(ValueError, match="cpu_probes"):
            mirrorsim.validate(sc, duration_s=1, cpu_probes=bad)


def test_a_scenario_the_real_driver_cannot_run_is_refused_before_anything_runs():
    sc = mirrorsim.Scenario.load(SCENARIOS / "link_outage_30s.toml").with_values({"measurement.warmup_s": 0.2})
    with pytest.raises(ValueError, match=r"failure.0.at_s: 5 s is after duration_s \(1 s\)"):
        mirrorsim.validate(sc, duration_s=1)
