"""mirrorsim.interval_report: the per-interval report of `mirrorsim run
--interval-report` (report/interval_report.hpp) as a DataFrame — the same
CSV, so the same rows; its refusals name the argument."""

from __future__ import annotations

import pandas as pd
import pytest

import mirrorsim
from conftest import SCENARIOS, run_cli

# Three one-second rows: 1,000, then 4,000, then 1,000 writes/s of 16 KiB.
ROWS = [[0, 0, 1000, 0, 16384000], [1, 0, 4000, 0, 65536000], [2, 0, 1000, 0, 16384000]]
SHORT = {"workload.0.intervals": ROWS, "workload.0.time_scale": 1, "duration_s": 3,
         "measurement.timeseries_interval_s": 0.1, "link.bandwidth_gbit_per_s": 1}
ROWS_SET = "workload.0.intervals=" + str(ROWS)


@pytest.fixture(scope="module")
def day() -> tuple[mirrorsim.Scenario, mirrorsim.Result]:
    sc = mirrorsim.Scenario.load(str(SCENARIOS / "day_intervals.toml"))
    sc.update(SHORT)
    return sc, mirrorsim.run(sc)


def test_the_report_is_the_command_lines_csv_parsed(day, mirrorsim_binary, tmp_path):
    sc, r = day
    target = "link_utilisation_mean <= 0.3"
    table = mirrorsim.interval_report(sc, r, targets=[target], window_s=1)
    out = tmp_path / "intervals.csv"
    sets = [a for k, v in SHORT.items() if k != "workload.0.intervals" for a in ("--set", f"{k}={v}")]
    run_cli(mirrorsim_binary, "run", str(SCENARIOS / "day_intervals.toml"), "--quiet", "--set", ROWS_SET, *sets,
            "--interval-report", str(out), "--interval-s", "1", "--interval-target", target)
    pd.testing.assert_frame_equal(table, pd.read_csv(out, keep_default_na=False, dtype={"missed": str}))


def test_one_row_per_interval_with_what_it_offered_and_the_targets_it_missed(day):
    sc, r = day
    bound = 0.3
    table = mirrorsim.interval_report(sc, r, targets=f"link_utilisation_mean <= {bound}")
    assert list(table["start_s"]) == [0, 1, 2] and list(table["end_s"]) == [1, 2, 3]
    assert list(table["offered_write_mb_per_s"]) == pytest.approx([16.384, 65.536, 16.384])
    assert list(table["offered_write_iops"]) == [1000, 4000, 1000]
    # Done writes follow the offered ones (Poisson arrivals: within 15 %).
    assert list(table["write_iops"]) == pytest.approx([1000, 4000, 1000], rel=0.15)
    # The peak's copies take more of the 1 Gbit/s link; `missed` names the target exactly where the column breaks it.
    u = table["link_utilisation_mean"]
    assert u[1] > 2 * u[0] and u[1] > 2 * u[2]
    missed = table["missed"] == f"link_utilisation_mean <= {bound}"
    assert (missed == (u > bound)).all() and ((table["missed"] == "") == ~missed).all()
    assert missed.any() and not missed.all()
    # No target: nothing missed.
    assert (mirrorsim.interval_report(sc, r)["missed"] == "").all()


def test_refusals_name_the_argument(day):
    sc, r = day
    with pytest.raises(mirrorsim.ScenarioError) as e:
        mirrorsim.interval_report(sc, r, targets=["rpo_s_max <= 30", "rpo <= 3"])
    assert e.value.where == "targets[1]" and "no interval column 'rpo'" in str(e.value)
    with pytest.raises(mirrorsim.ScenarioError) as e:
        mirrorsim.interval_report(sc, r, targets=["rpo_s_max <= soon"])
    assert e.value.where == "targets[0]"
    with pytest.raises(mirrorsim.ScenarioError) as e:
        mirrorsim.interval_report(sc, r, window_s=10)  # longer than the 3 s run
    assert e.value.where == "window_s"
    with pytest.raises(ValueError, match="not a run of this scenario"):
        mirrorsim.interval_report(sc.with_values({"link.bandwidth_gbit_per_s": 2}), r)
    with pytest.raises(TypeError):
        mirrorsim.interval_report(r, sc)


def test_a_run_with_another_seed_is_still_a_run_of_the_scenario(day):
    sc, _ = day
    r = mirrorsim.run(sc, seed=5)
    assert list(mirrorsim.interval_report(sc, r)["offered_write_iops"]) == [1000, 4000, 1000]
