"""The result of one run: metrics as a dict, response times as numpy
arrays, the time series as a pandas DataFrame, and the same JSON text that
``mirrorsim run --out`` writes."""

from __future__ import annotations

import copy
import html
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _mirrorsim

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Result", "interval_report"]

_KINDS = ("write", "read")


class Result:
    """What one run measured (report/result.hpp): per-volume write and read
    response times, IOPS, the remote write-pending backlog, data at risk,
    resyncs, data lost at a disaster, invariant violations.

    - :attr:`summary` — the ``metrics`` of the ``--out`` JSON, plus ``seed``,
      ``driver`` and versions, as a dict
    - :meth:`summary_metrics` — the flat metrics of a sweep's columns
    - :meth:`latencies` — response times in ms (numpy)
    - :meth:`timeseries` — backlog, occupancy and data at risk over time (pandas)
    - :meth:`async_metrics`, :meth:`session_drops` — cycles, data exposure
      (RPO), delta sets, pacing and drops of an async run (``mode = "async"``)
    - :meth:`to_json` — the ``mirrorsim run --out`` file, byte for byte
    - ``str(result)`` — the summary ``mirrorsim run`` prints
    """

    __slots__ = ("_core", "_json")

    def __init__(self, core: _mirrorsim.RunResult) -> None:
        """Wraps a compiled result; results come from :func:`mirrorsim.run`."""
        self._core = core
        self._json: dict[str, Any] | None = None

    def _document(self) -> dict[str, Any]:
        if self._json is None:
            self._json = json.loads(self._core.to_json())
        return self._json

    # ---- metrics ---------------------------------------------------------

    @property
    def summary(self) -> dict[str, Any]:
        """The run's metrics as the ``--out`` JSON has them (``volumes`` with
        writes/reads ``completed``, ``iops``, ``response_ms`` {mean, p50, …, max},
        ``read_hits`` and ``read_hit_fraction``; ``remote_wp_tracks_peak``, ``resyncs``, ``losses``, ``async``,
        ``writes_lost``, ``invariant_violations``, …) preceded by ``seed``, ``driver``,
        ``mirrorsim_version``, ``engine_version`` and ``engine_config``."""
        d = self._document()
        head = {k: d[k] for k in ("seed", "driver", "mirrorsim_version", "engine_version", "engine_config")}
        return {**head, **d["metrics"]}

    def summary_metrics(self) -> dict[str, float]:
        """Every summary metric by its column name in a sweep
        (``"db.write_response_p99_ms"``, ``"writes_lost"``, …), as floats."""
        return dict(self._core.summary_metrics())

    def processor_pools(self) -> pd.DataFrame:
        """One row per controller and processor pool (R1's front_end,
        remote_adapter, back_end, then R2's): ``processors``, ``shared_with``,
        ``operations``, ``busy_s``, ``utilisation_mean``, ``utilisation_max``,
        ``wait_mean_ms``, ``queue_length_peak``, ``offered_load``,
        ``saturated`` (offered load ≥ 1: the queue grows without bound)."""
        import pandas as pd

        return pd.DataFrame(self._document()["metrics"]["processor_pools"])

    def async_metrics(self) -> dict[str, Any] | None:
        """What an async run's cycles did (report/result.hpp ``AsyncResult``;
        the ``metrics.async`` of the ``--out`` JSON), or None when no volume
        is ``mode = "async"``: ``consistency_groups``, ``cycles`` (switches
        in the measured window), ``cycle_time_mean_s`` / ``_p95_s`` /
        ``_max_s``, data exposure ``rpo_mean_s`` / ``rpo_p95_s`` /
        ``rpo_max_s`` (now minus the time of the first write R2's applied
        image lacks), ``delta_set_slots_peak`` / ``_mean``,
        ``delta_set_cache_fraction_peak``, ``bytes_written``,
        ``bytes_transmitted``, ``folding_ratio`` (written ÷ transmitted),
        ``writes_folded``, ``paced_writes``, ``pacing_delay_mean_ms`` /
        ``_max_ms``, ``coordination_holds``, ``coordination_hold_mean_ms``,
        ``tracks_spilled``, ``spill_bytes_peak``, ``drops`` (a list; see
        :meth:`session_drops`) and ``rpo_at_failover_s`` (None without a
        failover). A new dict each call."""
        a = self._document()["metrics"]["async"]
        return None if a is None else copy.deepcopy(a)

    def session_drops(self) -> pd.DataFrame:
        """One row per async session drop, in time order: ``at_s`` (run
        time), ``reason`` (``"cache-limit"``: the delta sets reached
        ``async.async_cache_fraction_max`` with no room in a spill pool;
        ``"link-limbo"``: every link stayed down longer than
        ``async.link_limbo_s``) and ``tracks`` (made invalid, owed to the
        resync that follows). Empty, with these columns, when nothing
        dropped — and for a run with no async volumes, which has no session
        to drop (:meth:`async_metrics` is None there)."""
        import pandas as pd

        a = self._document()["metrics"]["async"]
        drops = [] if a is None else a["drops"]
        return pd.DataFrame({
            "at_s": pd.Series([d["at_s"] for d in drops], dtype="float64"),
            "reason": pd.Series([d["reason"] for d in drops], dtype=object),
            "tracks": pd.Series([d["tracks"] for d in drops], dtype="int64"),
        })

    @property
    def seed(self) -> int:
        """The seed the run used."""
        return self._core.seed

    @property
    def driver(self) -> str:
        """``"sim"`` (SimGrid) or ``"real"`` (real processes)."""
        return self._core.driver

    @property
    def volumes(self) -> list[str]:
        """The volumes' names, in scenario order."""
        return self._core.volume_names()

    @property
    def percentiles(self) -> list[float]:
        """The response-time percentiles reported (``measurement.percentiles``)."""
        return list(self._core.percentiles)

    @property
    def scenario_toml(self) -> str:
        """The resolved scenario the run ran, as TOML."""
        return self._core.scenario_toml

    @property
    def violation_report(self) -> str | None:
        """The invariant observer's report with the traces that led to each
        violation, or None when there was none."""
        return self._document().get("violation_report")

    # ---- distributions and time series -----------------------------------

    def latencies(self, volume: str | None = None, kind: str = "write") -> np.ndarray:
        """Response times in ms of the measured writes (``kind="write"``) or
        reads (``kind="read"``) of one volume, or of every volume in scenario
        order (``volume=None``). These are the run's sample reservoir: every
        measured response when there were at most 100 000, else a uniform
        sample of that many (see :meth:`latency_count`)."""
        if kind not in _KINDS:
            raise ValueError(f"kind must be 'write' or 'read', got {kind!r}")
        indices = self._volume_indices(volume)
        parts = [self._core.samples_ns(i, kind) for i in indices]
        ns = np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)
        return ns.astype(np.float64) / 1e6

    def latency_count(self, volume: str | None = None, kind: str = "write") -> int:
        """How many responses :meth:`latencies` samples from (all measured ones)."""
        if kind not in _KINDS:
            raise ValueError(f"kind must be 'write' or 'read', got {kind!r}")
        return sum(self._core.samples_seen(i, kind) for i in self._volume_indices(volume))

    def _volume_indices(self, volume: str | None) -> list[int]:
        names = self.volumes
        if volume is None:
            return list(range(len(names)))
        if volume not in names:
            raise ValueError(f"no volume named {volume!r} (volumes: {', '.join(names)})")
        return [names.index(volume)]

    def timeseries(self) -> pd.DataFrame:
        """The time series sampled every ``measurement.timeseries_interval_s``:
        one row per sample, the columns of ``mirrorsim run --timeseries``
        (``t_s``, ``remote_wp_tracks``, ``local_wp_slots``,
        ``invalid_remote_tracks``, ``delayed_writes``, ``writes_at_risk``,
        ``bytes_at_risk``, ``link_utilisation``, ``write_iops``,
        ``write_response_mean_ms``, each processor pool's utilisation,
        ``pair_state``, then the async ones — ``rpo_s`` (data exposure at
        that instant), ``cycle_time_s`` (the last cycle completed by then),
        ``delta_set_slots`` (R1's) and ``pacing_delay_mean_ms`` (of the
        writes paced in the interval), 0 in the other modes) at full
        precision."""
        import pandas as pd

        return pd.DataFrame(self._core.timeseries_columns())

    def timeseries_csv(self) -> str:
        """The time series as ``mirrorsim run --timeseries`` writes it."""
        return self._core.timeseries_csv()

    # ---- text ------------------------------------------------------------

    def to_json(self) -> str:
        """The self-describing JSON (scenario, seed, versions, metrics) that
        ``mirrorsim run --out`` writes, byte for byte."""
        return self._core.to_json()

    def __str__(self) -> str:
        """The summary ``mirrorsim run`` prints."""
        return self._core.summary_text()

    def __repr__(self) -> str:
        s = self.summary
        parts = []
        for v in s["volumes"]:
            w = v["writes"]
            p99 = w["response_ms"].get("p99")
            parts.append(f"{v['name']} ({v['mode']}) {w['completed']} writes"
                         + (f" p99 {p99:.3f} ms" if p99 is not None else ""))
        return (f"<Result {s['driver']} seed={s['seed']}: {'; '.join(parts)}; "
                f"writes_lost={s['writes_lost']} invariant_violations={s['invariant_violations']}>")

    def _repr_html_(self) -> str:
        """An HTML table for Jupyter: each volume's writes and reads, then the pair."""
        s = self.summary
        e = html.escape
        pcols = [k for k in s["volumes"][0]["writes"]["response_ms"] if k not in ("mean", "max")] if s["volumes"] else []
        head = ("<tr><th>volume</th><th>mode</th><th>op</th><th>completed</th><th>rejected</th><th>IOPS</th>"
                "<th>MB/s</th><th>mean ms</th>" + "".join(f"<th>{e(p)} ms</th>" for p in pcols)
                + "<th>max ms</th><th>delayed writes</th><th>read hits</th></tr>")
        rows = []
        for v in s["volumes"]:
            for op in ("writes", "reads"):
                o = v[op]
                if o["completed"] == 0 and o["rejected"] == 0:
                    continue
                rt = o["response_ms"]
                rows.append(
                    f"<tr><td>{e(v['name'])}</td><td>{e(v['mode'])}</td><td>{op}</td>"
                    f"<td>{o['completed']}</td><td>{o['rejected']}</td><td>{o['iops']:.1f}</td>"
                    f"<td>{o['mb_per_s']:.2f}</td><td>{rt['mean']:.3f}</td>"
                    + "".join(f"<td>{rt[p]:.3f}</td>" for p in pcols)
                    + f"<td>{rt['max']:.3f}</td><td>{v['delayed_writes'] if op == 'writes' else ''}</td>"
                    + (f"<td>{v['read_hits']} ({100 * v['read_hit_fraction']:.1f} %)</td></tr>" if op == "reads" else "<td></td></tr>"))
        resyncs = "; ".join(
            f"at {x['start_s']:.3f} s, {x['invalid_tracks_at_start']} invalid tracks, "
            + (f"{x['duration_s']:.3f} s" if x["duration_s"] is not None else "not finished")
            for x in s["resyncs"]) or "none"
        pair = [
            ("remote_wp_tracks_peak", s["remote_wp_tracks_peak"]),
            ("local_wp_slots_peak", s["local_wp_slots_peak"]),
            ("invalid_remote_tracks_peak", s["invalid_remote_tracks_peak"]),
            ("writes_at_risk_peak", s["writes_at_risk_peak"]),
            ("link_utilisation_R1_to_R2_mean", f"{100 * s['link_utilisation_R1_to_R2_mean']:.1f} %"),
            ("resyncs", resyncs),
        ]
        a = s["async"]
        if a is not None:
            pair += [
                ("async cycles", f"{a['cycles']}: cycle time mean {a['cycle_time_mean_s']:.3f} s, "
                                 f"p95 {a['cycle_time_p95_s']:.3f} s, max {a['cycle_time_max_s']:.3f} s"),
                ("data exposure (RPO)", f"mean {a['rpo_mean_s']:.3f} s, p95 {a['rpo_p95_s']:.3f} s, "
                                        f"max {a['rpo_max_s']:.3f} s"),
                ("folding_ratio", f"{a['folding_ratio']:.2f}"),
                ("paced_writes", f"{a['paced_writes']} (max {a['pacing_delay_max_ms']:.3f} ms)"),
                ("session_drops", "; ".join(f"at {d['at_s']:.3f} s: {d['reason']}" for d in a["drops"]) or "none"),
            ]
        pair += [
            ("writes_lost", s["writes_lost"]),
            ("invariant_violations", s["invariant_violations"]),
            ("end", "drained, R2 == R1 checked" if s["quiesced_at_end"] else s["end_state"]),
        ]
        pair_rows = "".join(f"<tr><th style='text-align:left'>{e(k)}</th><td style='text-align:left'>{e(str(v))}</td></tr>"
                            for k, v in pair)
        return (f"<div><b>mirrorsim {e(s['mirrorsim_version'])}</b> ({e(s['driver'])}, {e(s['engine_version'])}), "
                f"seed {s['seed']}, {s['measured_s']:.3f} s measured of {s['ended_s']:.3f} s"
                f"<table>{head}{''.join(rows)}</table><table>{pair_rows}</table></div>")

    # ---- pickling --------------------------------------------------------

    def __reduce__(self) -> tuple[Any, ...]:
        return (_result_from_bytes, (self._core.serialize(),))


def _result_from_bytes(data: bytes) -> Result:
    """A Result from :meth:`_mirrorsim.RunResult.serialize` bytes (unpickling)."""
    return Result(_mirrorsim.RunResult.deserialize(data))


def interval_report(scenario: Any, result: Result, targets: Iterable[str] = (),
                    window_s: float | None = None) -> pd.DataFrame:
    """The per-interval report of ``result``, a run of ``scenario``
    (``mirrorsim run --interval-report``, report/interval_report.hpp, the
    same CSV parsed): one row per interval of the workload's statistics (or
    ``window_s`` windows for a trace or a Poisson workload; default 60 s,
    or the run's duration when shorter, as ``--interval-s``) — ``start_s``,
    ``end_s``, ``offered_write_mb_per_s``, ``offered_write_iops``,
    ``write_iops``, ``write_response_mean_ms``, ``link_utilisation_mean``,
    ``remote_wp_tracks_max``, ``writes_at_risk_max``, ``rpo_s_max``,
    ``delayed_writes_max`` — and ``missed``: the ``targets``
    (``"rpo_s_max <= 30"``, as ``--interval-target``) the interval failed,
    joined by ``"; "`` ("" when it met them all).

    Raises :class:`ScenarioError` for a target that names no column or has
    no number (``where`` is ``targets[i]``) and for a ``window_s`` outside
    the time series' interval to the run's duration; ValueError when
    ``result`` is not a run of ``scenario`` (its resolved TOML, seed aside,
    differs), which would report another scenario's intervals."""
    import io

    import pandas as pd

    from .scenario import Scenario

    if not isinstance(scenario, Scenario) or not isinstance(result, Result):
        raise TypeError("interval_report() takes the mirrorsim.Scenario that was run and its mirrorsim.Result")
    if isinstance(targets, str):
        targets = [targets]
    ran = scenario.with_values({"seed": result.seed})
    if ran._core.resolved_toml != result.scenario_toml:
        raise ValueError("interval_report(): the result is not a run of this scenario (their resolved TOML differs); "
                         "pass the scenario that was run")
    if window_s is None:
        window_s = min(60.0, float(scenario["duration_s"]))
    text = _mirrorsim.interval_report_csv(scenario._core, result._core, float(window_s), list(targets))
    table = pd.read_csv(io.StringIO(text), keep_default_na=False, dtype={"missed": str})
    return table
