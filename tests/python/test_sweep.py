"""sweep(): the C++ sweep engine of `mirrorsim sweep`, results as DataFrames
equal to the CLI's CSV files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import mirrorsim
from conftest import SHORT_SET, run_cli

GRID = {"link.distance_km": [0, 50, 100], "volume.db.mode": ["sync", "semi-sync"]}
CLI_GRID = ["--param", "link.distance_km=0,50,100", "--param", "volume.db.mode=sync,semi-sync"]


def read_cli_csv(path) -> pd.DataFrame:
    """A CSV of `mirrorsim sweep --out` with exact floats and "" for no error."""
    df = pd.read_csv(path, float_precision="round_trip", keep_default_na=False, na_values=[""])
    df["error"] = df["error"].fillna("").astype(object)
    return df


def test_a_grid_of_3_x_2_points_with_2_repeats_is_12_runs_in_grid_order(short_quickstart):
    df = mirrorsim.sweep(short_quickstart, GRID, repeat=2, jobs=2, progress=False)
    assert len(df) == 12
    assert list(df.columns[:7]) == ["index", "grid_index", "repeat", "seed", "link.distance_km", "volume.db.mode", "error"]
    assert list(df["index"]) == list(range(12))
    assert list(df["grid_index"]) == [g for g in range(6) for _ in range(2)]
    assert list(df["seed"]) == [1, 2] * 6  # repeat r runs with seed base + r at every point
    assert list(df["link.distance_km"]) == [0.0] * 4 + [50.0] * 4 + [100.0] * 4  # the first key varies slowest
    assert list(df["volume.db.mode"]) == ["sync", "sync", "semi-sync", "semi-sync"] * 3
    assert (df["error"] == "").all()
    assert df["db.write_response_mean_ms"].dtype == np.float64
    sync = df[df["volume.db.mode"] == "sync"].groupby("link.distance_km")["db.write_response_p50_ms"].mean()
    # 1 ms more per 100 km of a sync write's one round trip
    assert sync[100.0] - sync[0.0] == pytest.approx(1.0, abs=0.01)


def test_sweep_results_equal_the_cli_sweep_csv(mirrorsim_binary, quickstart_path, short_quickstart, tmp_path):
    out = tmp_path / "sweep.csv"
    run_cli(mirrorsim_binary, "sweep", quickstart_path, "-q", *SHORT_SET, *CLI_GRID, "--repeat", "2", "--jobs", "2",
            "--seed", "5", "--out", str(out))
    py = mirrorsim.sweep(short_quickstart, GRID, repeat=2, jobs=2, progress=False, seed=5)
    cli = read_cli_csv(out)
    assert list(py.columns) == list(cli.columns)
    pd.testing.assert_frame_equal(py, cli, check_dtype=False, check_exact=True)

    ci_py = mirrorsim.sweep(short_quickstart, GRID, repeat=2, jobs=2, progress=False, seed=5, summary=True)
    ci_cli = pd.read_csv(tmp_path / "sweep.ci.csv", float_precision="round_trip")
    assert len(ci_py) == 6 and (ci_py["runs"] == 2).all() and (ci_py["failed"] == 0).all()
    assert "db.write_response_mean_ms_mean" in ci_py.columns and "db.write_response_mean_ms_ci95" in ci_py.columns
    pd.testing.assert_frame_equal(ci_py, ci_cli, check_dtype=False, check_exact=True)


def test_a_range_spec_and_single_values_are_accepted(short_quickstart):
    df = mirrorsim.sweep(short_quickstart, {"link.distance_km": "0:100:50", "link.links": 1}, jobs=2, progress=False)
    assert list(df["link.distance_km"]) == [0.0, 50.0, 100.0]
    assert list(df["link.links"]) == [1.0, 1.0, 1.0]


def test_a_bad_value_fails_only_its_points_with_the_loaders_message(short_quickstart):
    df = mirrorsim.sweep(short_quickstart, {"link.distance_km": [-5, 10]}, jobs=2, progress=False)
    assert len(df) == 2
    bad, good = df.iloc[0], df.iloc[1]
    assert "link.distance_km: expected a number in [0, 100000], got -5" in bad["error"]
    assert np.isnan(bad["db.write_response_mean_ms"])
    assert good["error"] == "" and good["db.write_response_mean_ms"] > 0


def test_a_key_that_addresses_nothing_is_refused_before_anything_runs(short_quickstart):
    with pytest.raises(ValueError, match=r"unknown key 'link.distnce_km'"):
        mirrorsim.sweep(short_quickstart, {"link.distnce_km": [1, 2]}, progress=False)
    with pytest.raises(ValueError, match=r"a range is start:stop:step"):
        mirrorsim.sweep(short_quickstart, {"link.distance_km": "5:1:1"}, progress=False)


@pytest.mark.parametrize("kwargs", [{"repeat": 0}, {"jobs": 0}, {"repeat": 1.5}])
def test_repeat_and_jobs_must_be_positive_whole_numbers(short_quickstart, kwargs):
    with pytest.raises(ValueError):
        mirrorsim.sweep(short_quickstart, GRID, progress=False, **kwargs)


def test_an_empty_grid_is_refused(short_quickstart):
    with pytest.raises(ValueError, match="grid is empty"):
        mirrorsim.sweep(short_quickstart, {}, progress=False)
    with pytest.raises(ValueError, match="no values"):
        mirrorsim.sweep(short_quickstart, {"link.distance_km": []}, progress=False)


def test_a_grid_of_more_than_a_million_runs_is_refused_before_anything_runs(short_quickstart):
    # 10^8 points: the points alone took gigabytes (10^12 ended in std::bad_alloc).
    with pytest.raises(mirrorsim.ScenarioError, match=r"a sweep of 10000 × 10000 values × 1 repeats = 1e\+08 runs, "
                                                      r"at most 1e\+06 are supported"):
        mirrorsim.sweep(short_quickstart, {"link.distance_km": "0:9999:1", "link.overhead_us": "0:9999:1"},
                        progress=False)


def test_progress_counts_finished_runs_on_stderr(short_quickstart, capsys):
    mirrorsim.sweep(short_quickstart, {"link.distance_km": [0, 100]}, jobs=2, progress=True)
    err = capsys.readouterr().err
    assert "sweep: 1/2 runs, 0 failed" in err and err.endswith("sweep: 2/2 runs, 0 failed\n")


def test_size_answers_as_the_cli_does_and_refuses_bad_input(quickstart_path, mirrorsim_binary, tmp_path):
    sc = mirrorsim.Scenario.load(quickstart_path)
    sc.update({"duration_s": 2, "link.links": 1})
    vary, target = "link.bandwidth_gbit_per_s=0.05:10", "volume.db.writes.response_ms.mean <= 1.5"
    answer, runs = mirrorsim.size(sc, vary, target, jobs=2, progress=False)
    out = tmp_path / "size.json"
    run_cli(mirrorsim_binary, "size", quickstart_path, "--set", "duration_s=2", "--set", "link.links=1",
            "--vary", vary, "--target", target, "--quiet", "--out", str(out))
    cli = json.loads(out.read_text())
    assert answer == cli["answer"]
    assert list(runs["value"]) == [p["value"] for p in cli["points"]]
    assert runs.loc[runs["value"] == answer, "meets_targets"].all()
    assert (runs.loc[runs["value"] < answer, "meets_targets"] == False).all()  # noqa: E712
    assert runs["volume.db.writes.response_ms.mean"].notna().all()
    with pytest.raises(mirrorsim.ScenarioError, match="expected KEY=LOW:HIGH"):
        mirrorsim.size(sc, "link.bandwidth_gbit_per_s=10:1", target, progress=False)
    with pytest.raises(mirrorsim.ScenarioError, match="no comparison"):
        mirrorsim.size(sc, vary, "writes_lost", progress=False)
    with pytest.raises(ValueError, match="repeat must be"):
        mirrorsim.size(sc, vary, target, repeat=0)
