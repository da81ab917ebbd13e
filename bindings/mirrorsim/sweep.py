"""Parameter sweeps through the C++ sweep engine of ``mirrorsim sweep``."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from . import _mirrorsim
from ._values import memory_limit_bytes, toml_value_text
from .scenario import Scenario

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["sweep", "size"]

# Columns of the runs and confidence tables that are whole numbers.
_INTEGER_COLUMNS = ("index", "grid_index", "repeat", "seed", "runs", "failed")


def _grid_params(grid: Mapping[str, Any]) -> list[tuple[str, list[str]]]:
    """{dotted key: values} as (key, [TOML value text]) in the grid's order. A
    string value is a ``--param`` spec: ``"0,100,300"`` or ``"0:300:50"``."""
    if not isinstance(grid, Mapping):
        raise TypeError("grid is a dict {dotted key: list of values}, e.g. {'link.distance_km': [0, 100, 300]}")
    params = []
    for key, values in grid.items():
        if isinstance(values, str):
            params.append(_mirrorsim.parse_sweep_param(f"{key}={values}", f"grid[{key!r}] = {values!r}"))
        elif isinstance(values, Iterable):
            params.append((key, [toml_value_text(v) for v in values]))
        else:
            params.append((key, [toml_value_text(values)]))
    return params


def _number(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


def _frame(columns: list[str], rows: list[list[str]], text_columns: Iterable[str]) -> pd.DataFrame:
    """A table of text cells as a DataFrame: the text columns as strings, a
    parameter column as numbers when every cell is one, every other column
    as floats (NaN where empty: a failed point has no metrics)."""
    import numpy as np
    import pandas as pd

    text = set(text_columns)
    data: dict[str, Any] = {}
    for i, c in enumerate(columns):
        cells = [r[i] for r in rows]
        if c == "error":
            data[c] = pd.Series(cells, dtype=object)
        elif c in _INTEGER_COLUMNS:
            data[c] = pd.Series([int(x) for x in cells], dtype="int64")
        elif c in text:
            numbers = [_number(x) for x in cells]
            data[c] = (pd.Series(numbers, dtype="float64") if all(n is not None for n in numbers)
                       else pd.Series(cells, dtype=object))
        else:
            data[c] = pd.Series([float(x) if x != "" else np.nan for x in cells], dtype="float64")
    return pd.DataFrame(data, columns=columns)


def _repeat_and_jobs(repeat: Any, jobs: Any) -> int:
    """Checks ``repeat`` and ``jobs`` as sweep() and size() take them; returns
    the jobs to run (None: ``os.cpu_count()``)."""
    if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1:
        raise ValueError(f"repeat must be a whole number ≥ 1, got {repeat!r}")
    if jobs is None:
        jobs = os.cpu_count() or 1
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a whole number ≥ 1, got {jobs!r}")
    return jobs


def sweep(scenario: Scenario, grid: Mapping[str, Any], repeat: int = 1, jobs: int | None = None,
          progress: bool = True, summary: bool = False, seed: int | None = None,
          memory_max_mib: int | None = None) -> pd.DataFrame:
    """Runs ``scenario`` at every point of ``grid`` with the sweep engine of
    ``mirrorsim sweep`` (sweep/sweep.hpp): each run in its own forked child,
    ``jobs`` at once.

    - ``grid``: {dotted key: list of values}, e.g. ``{"link.distance_km": [0,
      100, 300], "volume.db.mode": ["sync", "semi-sync"]}``; the first key
      varies slowest. A string value is a ``--param`` spec (``"0:300:50"``).
    - ``repeat``: runs per grid point; repeat r runs with seed base + r (the
      same seeds at every point: common random numbers).
    - ``jobs``: children at once; None is ``os.cpu_count()``.
    - ``progress``: a counter of finished points on stderr.
    - ``seed``: the base seed (default: the scenario's).
    - ``memory_max_mib`` (``--memory-max-mib``): a grid point whose estimated
      memory times ``jobs`` exceeds it refuses the sweep with
      :class:`ScenarioError` before anything runs; ``None`` is half of this
      machine's physical memory.

    Returns the runs table of ``mirrorsim sweep --out`` as a DataFrame, one
    row per run: ``index``, ``grid_index``, ``repeat``, ``seed``, the
    parameters (numbers when every value is one), ``error`` (``""`` or why the
    point failed; its metrics are then NaN) and every summary metric as
    floats. With ``summary=True``: the confidence table instead (the CLI's
    ``.ci.csv``), one row per grid point with ``runs``, ``failed`` and every
    metric's ``<metric>_mean`` and ``<metric>_ci95``.

    A bad key raises :class:`ScenarioError` before anything runs; a bad value
    fails only its points. Ctrl-C raises KeyboardInterrupt and stops every
    child.
    """
    if not isinstance(scenario, Scenario):
        raise TypeError("sweep() takes a mirrorsim.Scenario")
    jobs = _repeat_and_jobs(repeat, jobs)
    params = _grid_params(grid)
    if not params:
        raise ValueError("the grid is empty: give {dotted key: [values]}")
    base = scenario if seed is None else scenario.with_values({"seed": seed})

    on_progress = None
    if progress:
        def on_progress(done: int, total: int, failed: int) -> None:
            end = "\n" if done == total else ""
            print(f"\r  sweep: {done}/{total} runs, {failed} failed", end=end, file=sys.stderr, flush=True)

    limit = memory_limit_bytes(memory_max_mib)
    (runs_columns, runs_rows), (ci_columns, ci_rows) = _mirrorsim.sweep(
        base._core, params, repeat, jobs, on_progress, limit)
    keys = [k for k, _ in params]
    if summary:
        return _frame(ci_columns, ci_rows, keys)
    return _frame(runs_columns, runs_rows, keys)


def size(scenario: Scenario, vary: str, targets: Sequence[str] | str, repeat: int = 1, jobs: int | None = None,
         tolerance: float = 0.01, direction: str = "auto", progress: bool = True) -> tuple[float | None, pd.DataFrame]:
    """The inverse question, with the sizing engine of ``mirrorsim size``
    (sweep/size.hpp): the smallest value of one key (or the largest, for a
    key where more is worse) at which every target holds, by a search over
    forked runs that judges two values a round (a third of the bracket
    apart, run at once with two jobs) and keeps the third between them.

    - ``vary``: ``"link.bandwidth_gbit_per_s=0.1:100"`` — the key and the
      range searched (integers at both ends: a count, searched exactly).
    - ``targets``: ``"volume.db.writes.response_ms.p99 <= 2"``, or a list of
      them: dotted paths into the run's metrics (the names of ``--out``;
      an async run's data exposure is ``"async.rpo_max_s <= 30"``, or
      ``async.rpo_p95_s``; a name given without its table, ``rpo_max_s``,
      is refused with the full name suggested).
    - ``repeat``: runs per value; a value is judged by the pessimistic end of
      the 95 % confidence interval of its runs.
    - ``jobs``: children at once (None: ``os.cpu_count()``); the runs and the
      answer do not depend on it.
    - ``direction``: ``"smallest"``, ``"largest"`` or ``"auto"`` (from which
      end of the range meets the targets).

    Returns ``(answer, runs)``: the answer (None when no value in the range
    meets the targets) and a DataFrame of every run: ``value``, ``seed``,
    ``meets_targets``, ``error`` and one column per target's metric. Bad
    input raises :class:`ScenarioError` or ValueError before anything runs.
    """
    if not isinstance(scenario, Scenario):
        raise TypeError("size() takes a mirrorsim.Scenario")
    if not isinstance(vary, str):
        raise TypeError(f"vary is a string KEY=LOW:HIGH, e.g. 'link.bandwidth_gbit_per_s=0.1:100', got {vary!r}")
    if isinstance(targets, str):
        targets = [targets]
    if not isinstance(targets, Sequence) or not all(isinstance(t, str) for t in targets):
        raise TypeError("targets is a string 'METRIC <= BOUND' or a list of them, e.g. 'async.rpo_max_s <= 30', "
                        f"got {targets!r}")
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)):
        raise TypeError(f"tolerance is a fraction in (0, 1), got {tolerance!r}")
    if direction not in ("smallest", "largest", "auto"):
        raise ValueError(f"direction must be 'smallest', 'largest' or 'auto', got {direction!r}")
    jobs = _repeat_and_jobs(repeat, jobs)
    on_progress = None
    if progress:
        def on_progress(line: str) -> None:
            print(f"  size: {line}", file=sys.stderr, flush=True)
    doc = json.loads(_mirrorsim.size(scenario._core, vary, list(targets), repeat, jobs, float(tolerance),
                                     direction, on_progress))
    rows = []
    for p in doc["points"]:
        for r in p["runs"]:
            row = {"value": p["value"], "seed": r["seed"], "meets_targets": p["meets_targets"], "error": r["error"]}
            for t, v in zip(doc["targets"], r["metrics"]):
                row[t.split("<")[0].split(">")[0].strip()] = float("nan") if v is None else v
            rows.append(row)
    import pandas as pd

    return doc["answer"], pd.DataFrame(rows)
