"""Bounded input from Python: the ranges of the scenario keys, paths with a
NUL, the memory limit of run, sweep and check, the checker's maxima."""

from __future__ import annotations

import os

import pytest

import mirrorsim
from mirrorsim import Scenario, ScenarioError

from conftest import SCENARIOS, SHORT


@pytest.fixture
def quick() -> Scenario:
    return Scenario.load(SCENARIOS / "quickstart.toml").with_values(SHORT)


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("duration_s", 1e10, r"duration_s: expected a number in \[1e-06, 10000000\], got 10000000000.0"),
        ("primary.disk_write_us", 1e300, r"primary.disk_write_us: expected a number in \[0, 1000000000\]"),
        ("link.bandwidth_gbit_per_s", 1e-300, r"link.bandwidth_gbit_per_s: expected a number in \[1e-06, 100000\]"),
        ("link.distance_km", 1e300, r"link.distance_km: expected a number in \[0, 100000\]"),
        ("workload.0.rate_iops", 1e300, r"workload.0.rate_iops: expected a number in \[1e-06, 10000000\]"),
        ("seed", -1, r"seed: expected an integer in \[0, 9223372036854775807\], got -1"),
        ("check.tracks", 10**6, r"check.tracks: expected an integer in \[1, 64\], got 1000000"),
    ],
)
def test_a_value_beyond_its_range_is_refused_naming_the_key(quick, key, value, message):
    with pytest.raises(ScenarioError, match=message):
        quick[key] = value


def test_a_path_with_a_nul_is_refused_not_cut_short(tmp_path):
    real = tmp_path / "a.toml"
    real.write_text((SCENARIOS / "quickstart.toml").read_text())
    # The C library would have opened a.toml.
    with pytest.raises(ScenarioError, match="a path cannot contain a NUL character"):
        Scenario.load(str(real) + "\0.other")
    assert Scenario.load(real).source == str(real)


def test_a_fifo_or_a_device_is_refused_at_once(tmp_path):
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    with pytest.raises(ScenarioError, match="cannot read: a FIFO; a scenario is a regular file"):
        Scenario.load(fifo)
    with pytest.raises(ScenarioError, match="cannot read: a character device"):
        Scenario.load("/dev/zero")


def test_run_trace_path_with_a_nul_is_refused(quick, tmp_path):
    with pytest.raises(ValueError, match="a path cannot contain a NUL character"):
        mirrorsim.run(quick, trace_path=str(tmp_path / "t.json") + "\0x")


def test_the_resource_estimate_names_its_consumers(quick):
    e = quick.resource_estimate()
    assert e["memory_bytes"] == sum(b for _, b in e["memory"])
    assert [b for _, b in e["memory"]] == sorted((b for _, b in e["memory"]), reverse=True)
    assert any("track tables" in what for what, _ in e["memory"])
    big = quick.with_values({"volume.db.tracks": 4_000_000}).resource_estimate()
    assert big["memory_bytes"] > e["memory_bytes"] + 4_000_000 * 150


def test_run_refuses_a_scenario_above_memory_max_mib(quick):
    with pytest.raises(ScenarioError, match=r"above the limit of 10 MiB \(memory_max_mib\)"):
        mirrorsim.run(quick, memory_max_mib=10)
    with pytest.raises(ScenarioError, match=r"the track tables of R1 and R2 \(volume\.\*\.tracks: 1e\+09 tracks\)"):
        mirrorsim.run(quick.with_values({"volume.db.tracks": 10**9}))


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "100", 1 << 44])
def test_memory_max_mib_must_be_a_whole_number_of_mib(quick, bad):
    with pytest.raises(ValueError, match="memory_max_mib must be a whole number"):
        mirrorsim.run(quick, memory_max_mib=bad)


def test_sweep_refuses_a_point_that_does_not_fit_jobs_times(quick):
    with pytest.raises(ScenarioError, match=r"sweep point volume.db.tracks=2000000: needs about .* × 4 at once"):
        mirrorsim.sweep(quick, {"volume.db.tracks": [1000, 2_000_000]}, jobs=4, memory_max_mib=1500, progress=False)


@pytest.mark.skipif(not mirrorsim._mirrorsim.HAVE_CHECK, reason="built without the explorer")
def test_check_stops_cleanly_at_its_memory_bound():
    sc = Scenario.load(SCENARIOS / "check_small.toml")
    r = mirrorsim.check(sc, writes=4, tracks=8, cache_slots=8, failures=1, memory_max_mib=2)
    assert r.outcome == "memory-limit"
    assert not r.ok
    assert 0 < r.stats["memory_bytes"]


@pytest.mark.skipif(not mirrorsim._mirrorsim.HAVE_CHECK, reason="built without the explorer")
def test_check_refuses_bounds_beyond_their_maxima():
    sc = Scenario.load(SCENARIOS / "check_small.toml")
    with pytest.raises(ScenarioError, match=r"check.tracks: expected an integer in \[1, 64\], got 1000000"):
        mirrorsim.check(sc, tracks=10**6, max_states=1000)
    with pytest.raises(ValueError, match="reads must be 0 to 64"):
        mirrorsim.check(sc, reads=65)
    with pytest.raises(ValueError, match="max_depth must be 1 to 100000"):
        mirrorsim.check(sc, max_depth=100_001)
