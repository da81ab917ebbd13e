"""Asynchronous replication from Python: Result.async_metrics(),
session_drops(), the async time-series columns, the async sweep columns and
sizing on the data exposure (RPO), checked against the closed forms of the
two regimes (the minimum cycle time while the folded writes fit the link,
the link-bound fixed point beyond)."""

from __future__ import annotations

import io
import pickle

import numpy as np
import pandas as pd
import pytest

import mirrorsim

TRACK_BYTES = 65536
MESSAGE_BYTES = TRACK_BYTES + 64  # a track's copy and its message header on the link
DISTANCE_KM = 1000


def async_pair(gbit: float = 1.0, rate_iops: float = 300, tracks: int = 20000, cycle_s: float = 2,
               duration_s: float = 30, warmup_s: float = 6, extra: str = "") -> mirrorsim.Scenario:
    """One async volume written uniformly a whole track at a time at 1,000 km
    over one link; processors cost nothing, so that the link alone sets the
    transmission of a cycle."""
    return mirrorsim.Scenario.from_toml(f"""
seed = 3
duration_s = {duration_s}
[primary]
cache_slots = 100000
track_bytes = {TRACK_BYTES}
write_pending_limit = 1.0
front_end_write_us = 0
remote_adapter_copy_receive_us = 0
disks = 16
[link]
distance_km = {DISTANCE_KM}
overhead_us = 0
bandwidth_gbit_per_s = {gbit}
links = 1
[[volume]]
name = "db"
tracks = {tracks}
mode = "async"
[async]
cycle_time_min_s = {cycle_s}
coordination_max_ms = 0
{extra}
[[workload]]
volume = "db"
rate_iops = {rate_iops}
block_bytes = {TRACK_BYTES}
addresses = "uniform"
[measurement]
warmup_s = {warmup_s}
timeseries_interval_s = 0.05
""", "async_pair.toml")


def distinct_tracks(writes: float, tracks: float) -> float:
    """The expected distinct tracks among `writes` uniform writes to `tracks`."""
    return tracks * (1 - (1 - 1 / tracks) ** writes)


def transmission_s(cycle_s: float, rate_iops: float, tracks: int, gbit: float) -> float:
    """A cycle's folded tracks over the link, plus the set's end out and R2's answer back."""
    return distinct_tracks(rate_iops * cycle_s, tracks) * MESSAGE_BYTES * 8 / (gbit * 1e9) + 2 * 5e-6 * DISTANCE_KM


def test_with_an_ample_link_cycles_run_at_the_minimum_and_the_exposure_is_the_saw_tooth_of_the_closed_form():
    r = mirrorsim.run(async_pair(gbit=1.0))
    s = r.summary
    assert s["invariant_violations"] == 0 and s["quiesced_at_end"]
    a = r.async_metrics()
    assert a is not None and a["consistency_groups"] == ["default"]
    assert a["drops"] == [] and a["rpo_at_failover_s"] is None
    # The folded writes of a 2 s cycle (about 600 tracks) take 0.32 s on 1 Gbit/s: the minimum sets the cycle.
    x = transmission_s(2, 300, 20000, 1.0)
    assert x == pytest.approx(0.32, abs=0.01)
    assert a["cycles"] >= 10
    assert a["cycle_time_mean_s"] == pytest.approx(2.0, rel=1e-6)
    assert a["cycle_time_max_s"] == pytest.approx(2.0, rel=1e-6)
    # Exposure: from X just after R2 applies a set to the cycle plus X just before.
    assert a["rpo_max_s"] == pytest.approx(2 + x, rel=0.05)
    assert a["rpo_mean_s"] == pytest.approx(1 + x, rel=0.05)
    # Folding: a track written twice in one cycle is sent once.
    assert a["folding_ratio"] == pytest.approx(600 / distinct_tracks(600, 20000), rel=0.02)
    assert a["bytes_written"] / a["bytes_transmitted"] == pytest.approx(a["folding_ratio"], rel=1e-12)
    # The sweep's columns carry the same figures.
    m = r.summary_metrics()
    for column, key in [("cycle_time_mean_s", "cycle_time_mean_s"), ("rpo_p95_s", "rpo_p95_s"),
                        ("rpo_max_s", "rpo_max_s"), ("folding_ratio", "folding_ratio"),
                        ("paced_writes", "paced_writes"), ("async_bytes_written", "bytes_written")]:
        assert m[column] == pytest.approx(a[key], rel=1e-12), column
    assert m["session_drops"] == 0
    # A new dict each call: changing one does not change the result.
    a["cycles"] = -1
    assert r.async_metrics()["cycles"] >= 10


def test_the_rpo_time_series_is_a_saw_tooth_whose_peak_is_the_reported_maximum():
    r = mirrorsim.run(async_pair(gbit=1.0))
    a = r.async_metrics()
    ts = r.timeseries()
    for c in ("rpo_s", "cycle_time_s", "delta_set_slots", "pacing_delay_mean_ms"):
        assert c in ts.columns
    measured = ts[(ts["t_s"] > 6) & (ts["t_s"] <= 30)]
    rpo = measured["rpo_s"].to_numpy()
    # Sampled every 0.05 s: the samples' peak is within one interval below the peak seen at every apply.
    assert rpo.max() <= a["rpo_max_s"] + 1e-9
    assert rpo.max() == pytest.approx(a["rpo_max_s"], abs=0.05 + 1e-9)
    assert rpo.mean() == pytest.approx(a["rpo_mean_s"], rel=0.02)
    # One fall per cycle (each apply), a rise of 0.05 s per sample between.
    falls = np.flatnonzero(np.diff(rpo) < 0)
    assert len(falls) == pytest.approx(24 / 2, abs=1)
    rises = np.diff(rpo)[np.diff(rpo) > 0]
    np.testing.assert_allclose(rises, 0.05, atol=1e-6)
    # Just after an apply the exposure is the set's transmission.
    assert rpo[falls + 1].min() == pytest.approx(transmission_s(2, 300, 20000, 1.0), abs=0.06)
    np.testing.assert_allclose(measured["cycle_time_s"], 2.0, rtol=1e-6)
    assert measured["delta_set_slots"].max() <= a["delta_set_slots_peak"]
    assert (measured["pacing_delay_mean_ms"] == 0).all() and a["paced_writes"] == 0


def test_the_async_time_series_is_the_csv_of_mirrorsim_run():
    r = mirrorsim.run(async_pair(gbit=1.0, duration_s=8))
    ts = r.timeseries()
    csv = pd.read_csv(io.StringIO(r.timeseries_csv()))
    assert list(ts.columns) == list(csv.columns)
    assert list(ts.columns[-4:]) == ["rpo_s", "cycle_time_s", "delta_set_slots", "pacing_delay_mean_ms"]
    assert ts["delta_set_slots"].dtype == np.int64 and ts["rpo_s"].dtype == np.float64
    for c in ts.columns:
        if c != "pair_state":
            np.testing.assert_allclose(ts[c].to_numpy(dtype=float), csv[c].to_numpy(dtype=float), atol=1e-3, err_msg=c)
    assert ts["rpo_s"].max() > 2 and ts["delta_set_slots"].max() > 0


def test_when_the_link_sets_the_cycle_it_stretches_to_the_fixed_point_and_the_exposure_nears_two_cycles():
    # 300 tracks/s to 2,000 tracks on 0.1 Gbit/s (190 tracks/s): each cycle's
    # folded tracks take longer than the 2 s minimum to transmit. From the
    # 2 s start each cycle closes 40 % of the way to the fixed point: measured
    # after ten of them.
    r = mirrorsim.run(async_pair(gbit=0.1, tracks=2000, duration_s=150, warmup_s=50))
    a = r.async_metrics()
    assert r.summary["invariant_violations"] == 0 and a["drops"] == []
    t = 2.0
    for _ in range(200):  # the fixed point T = X(T)
        t = max(2.0, transmission_s(t, 300, 2000, 0.1))
    assert t == pytest.approx(6.7, abs=0.2)
    assert a["cycle_time_mean_s"] == pytest.approx(t, rel=0.05)
    assert a["rpo_max_s"] == pytest.approx(2 * t, rel=0.05)
    assert a["rpo_max_s"] / a["cycle_time_mean_s"] == pytest.approx(2, rel=0.05)


def test_a_sync_run_has_no_async_metrics_and_zero_async_columns(short_quickstart):
    r = mirrorsim.run(short_quickstart)
    assert r.async_metrics() is None and r.summary["async"] is None
    drops = r.session_drops()
    assert list(drops.columns) == ["at_s", "reason", "tracks"] and len(drops) == 0
    ts = r.timeseries()
    assert (ts[["rpo_s", "cycle_time_s", "delta_set_slots", "pacing_delay_mean_ms"]] == 0).all().all()
    m = r.summary_metrics()
    assert m["rpo_max_s"] == 0 and m["cycle_time_mean_s"] == 0 and m["session_drops"] == 0
    assert "async cycles" not in r._repr_html_()


def test_a_link_outage_beyond_the_limbo_time_is_a_session_drop_and_pickles_with_the_result():
    sc = async_pair(gbit=1.0, duration_s=40, extra="link_limbo_s = 4")
    sc = mirrorsim.Scenario.from_toml(sc.to_toml() + """
[[failure]]
at_s = 10
event = "link-down"
[[failure]]
at_s = 20
event = "link-up"
""")
    r = mirrorsim.run(sc)
    s = r.summary
    assert s["invariant_violations"] == 0 and s["quiesced_at_end"]
    drops = r.session_drops()
    assert list(drops["reason"]) == ["link-limbo"]
    # The outage's start, the 50 ms it takes to notice, the 4 s limbo.
    assert drops["at_s"].iloc[0] == pytest.approx(14.05, abs=0.01)
    assert drops["tracks"].dtype == np.int64 and drops["tracks"].iloc[0] > 0
    assert drops.to_dict("records") == r.async_metrics()["drops"]
    assert r.summary_metrics()["session_drops"] == 1
    assert len(s["resyncs"]) == 1 and s["resyncs"][0]["duration_s"] is not None
    # The exposure grew through the outage and the resync that followed it.
    assert r.async_metrics()["rpo_max_s"] > 10
    assert "link-limbo" in r._repr_html_() and "session dropped at 14.050 s: link-limbo" in str(r)
    again = pickle.loads(pickle.dumps(r))
    assert again.async_metrics() == r.async_metrics()
    pd.testing.assert_frame_equal(again.session_drops(), drops)


def test_a_bandwidth_sweep_has_the_async_columns_and_less_bandwidth_more_exposure():
    sc = async_pair(tracks=2000, duration_s=40)
    df = mirrorsim.sweep(sc, {"link.bandwidth_gbit_per_s": [0.1, 0.3, 1.0]}, jobs=2, progress=False)
    for c in ("cycle_time_mean_s", "cycle_time_p95_s", "rpo_mean_s", "rpo_p95_s", "rpo_max_s", "folding_ratio",
              "paced_writes", "session_drops", "delta_set_slots_peak", "async_bytes_transmitted"):
        assert c in df.columns and df[c].dtype == np.float64, c
    assert (df["error"] == "").all() and (df["session_drops"] == 0).all()
    assert df["rpo_max_s"].is_monotonic_decreasing and df["rpo_max_s"].iloc[0] > 2 * df["rpo_max_s"].iloc[-1]
    assert df["cycle_time_mean_s"].iloc[-1] == pytest.approx(2.0, rel=1e-6)
    # A sweep's row is the run of that point.
    one = mirrorsim.run(sc.with_values({"link.bandwidth_gbit_per_s": 1.0})).summary_metrics()
    assert df.iloc[-1]["rpo_max_s"] == one["rpo_max_s"] and df.iloc[-1]["cycle_time_mean_s"] == one["cycle_time_mean_s"]


def test_size_finds_the_least_bandwidth_for_an_rpo_target():
    sc = async_pair(tracks=2000, duration_s=40)
    answer, runs = mirrorsim.size(sc, "link.bandwidth_gbit_per_s=0.05:1", "async.rpo_max_s <= 6", jobs=2,
                                  tolerance=0.05, progress=False)
    assert answer is not None and 0.05 < answer < 1
    assert "async.rpo_max_s" in runs.columns
    assert (runs.loc[runs["value"] >= answer, "async.rpo_max_s"] <= 6).all()
    assert (runs.loc[runs["value"] < answer, "async.rpo_max_s"] > 6).all()
    assert runs.sort_values("value")["async.rpo_max_s"].is_monotonic_decreasing
    # RPO 6 s with 2 s minimum cycles is link-bound: 6 = 2 T, so T = 3 s and the cycle's transmission is 3 s.
    expected = distinct_tracks(300 * 3, 2000) * MESSAGE_BYTES * 8 / (3 - 0.01) / 1e9
    assert answer == pytest.approx(expected, rel=0.07)  # the bisection stops within 5 %


def test_size_refuses_an_rpo_target_it_cannot_read_saying_why(short_quickstart):
    sc = async_pair(duration_s=6, warmup_s=1)
    with pytest.raises(mirrorsim.ScenarioError, match=r"'rpo_max_s' names no number in the run's metrics .*"
                                                      r"did you mean 'async\.rpo_max_s'\?"):
        mirrorsim.size(sc, "link.bandwidth_gbit_per_s=0.1:1", "rpo_max_s <= 30", jobs=2, progress=False)
    with pytest.raises(mirrorsim.ScenarioError, match=r"this run has no async volume \(metrics\.async is null\)"):
        mirrorsim.size(short_quickstart, "link.bandwidth_gbit_per_s=1:10", "async.rpo_max_s <= 30", jobs=2,
                       progress=False)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"targets": 30}, TypeError, r"targets is a string 'METRIC <= BOUND' or a list of them, .* got 30"),
    ({"targets": ["async.rpo_max_s <= 30", 5]}, TypeError, r"targets is a string"),
    ({"vary": ("link.bandwidth_gbit_per_s", 0.1, 1)}, TypeError, r"vary is a string KEY=LOW:HIGH"),
    ({"direction": "up"}, ValueError, r"direction must be 'smallest', 'largest' or 'auto', got 'up'"),
    ({"tolerance": "5 %"}, TypeError, r"tolerance is a fraction in \(0, 1\), got '5 %'"),
])
def test_size_refuses_bad_python_arguments_before_anything_runs(kwargs, error, message):
    args = {"vary": "link.bandwidth_gbit_per_s=0.1:1", "targets": "async.rpo_max_s <= 30", **kwargs}
    with pytest.raises(error, match=message):
        mirrorsim.size(async_pair(), progress=False, **args)



def test_the_async_defaults_are_the_ones_scenarios_readme_documents():
    # Every row of the [async] table in scenarios/README.md: its key exists
    # and its default is what a scenario without [async] loads.
    from conftest import SCENARIOS

    text = (SCENARIOS / "README.md").read_text()
    section = text[text.index("## Asynchronous replication"):]
    table = section[section.index("| `cycle_time_min_s`"):]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    rows = rows[:rows.index(next(r for r in rows if r.startswith("| `name`")))]  # up to [[consistency_group]]'s
    sc = mirrorsim.Scenario.from_toml('[[volume]]\nname = "db"\ntracks = 10\nmode = "async"\n')
    documented = {}
    for row in rows:
        key, _unit, default = (cell.strip() for cell in row.strip("|").split("|")[:3])
        documented[key.strip("`")] = float(default)
    assert set(documented) == {k.removeprefix("async.") for k in sc.keys() if k.startswith("async.")}
    for key, default in documented.items():
        assert sc[f"async.{key}"] == default, key
    # The products' defaults the README names.
    assert (documented["cycle_time_min_s"], documented["coordination_max_ms"], documented["pacing_delay_max_ms"],
            documented["link_limbo_s"]) == (15, 50, 50, 10)
