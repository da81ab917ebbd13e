"""The simulator against this machine (``mirrorsim validate``): one
calibration, the scenario twice on real processes (same seed: the noise
floor) and once in the simulator, the three response-time distributions
compared quantile by quantile."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from . import _mirrorsim
from .result import Result
from .scenario import Scenario

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Validation", "validate"]


class Validation:
    """A validation (real/validate.hpp) at the scenario's rates: the
    calibration, two real runs and the simulated run of the same calibrated
    scenario, and for each volume's writes (and reads) the three
    distributions' quantiles with the demerits — the root mean square of the
    quantile differences over p10 … p99 (DiskSim's figure), sim against real
    beside real against real (the noise floor), p99.9 apart — and per
    processor pool the utilisations."""

    __slots__ = ("_report", "_rate", "_json", "_text", "real", "real_b", "sim", "scenario", "verified")

    def __init__(self, parts: dict[str, Any]) -> None:
        """Made by :func:`validate`."""
        self._json: str = parts["json"]
        self._report: dict[str, Any] = json.loads(self._json)
        self._rate: dict[str, Any] = self._report["rates"][0]
        self._text: str = parts["text"]
        self.real: Result = Result(parts["real"])
        """The first run on real processes (driver ``"real"``)."""
        self.real_b: Result = Result(parts["real_b"])
        """The second, same seed: what this machine's noise makes of the same run."""
        self.sim: Result = Result(parts["sim"])
        """The simulated run of the same scenario (driver ``"sim"``)."""
        self.scenario: Scenario = Scenario.from_toml(parts["scenario_toml"], parts["scenario_source"])
        """The calibrated scenario the simulation ran. The real runs ran it as the first CPU probe alone
        calibrated it (``real_scenario_toml`` in :meth:`to_json`): they read none of the keys a probe sets."""
        self.verified: bool = parts["verified"]
        """Both real runs passed their verification (R2 == R1, no acknowledged write lost)."""

    @property
    def calibration(self) -> str:
        """The calibration applied, as TOML (what ``mirrorsim calibrate --out`` writes; measured here, with
        the CPU probe runs at the rate validated, pooled)."""
        return str(self._report["calibration_toml"])

    @property
    def calibration_source(self) -> str:
        """The calibration file, or that calibrate's probes measured it here."""
        return str(self._report["calibration_source"])

    @property
    def delay_line_lateness_us(self) -> list[float]:
        """How late the real runs' delay line fired on this machine, µs, one
        value per probe timer (empty for a link of 0 km): the real link holds
        each frame for the distance's latency on an event-loop timer, and the
        simulated overhead of each message carries this lateness beside the
        calibrated one."""
        return [float(x) for x in self._report["delay_line_lateness_us"]]

    def demerits(self) -> pd.DataFrame:
        """One row per compared distribution: ``volume``, ``op`` (writes or
        reads), ``real_a_count``, ``real_b_count``, ``sim_count``, the three
        means (``…_mean_us``), ``sim_vs_real_us`` and
        ``sim_vs_real_percent_of_mean``, ``real_vs_real_us`` and
        ``real_vs_real_percent_of_mean`` (over p10 … p99),
        ``p999_sim_minus_real_us``, ``p999_real_b_minus_a_us``, and whether
        the validation closes: ``demerit_ratio`` (sim vs real over the noise
        floor; NaN where the real runs were identical and the simulation not),
        ``p50_sim_minus_real_percent`` (against the real runs' mean p50),
        ``p50_real_b_minus_a_percent``, ``closes`` (ratio at most 1.5 and p50
        within 10 %)."""
        import pandas as pd

        cols = ["volume", "op", "real_a_count", "real_b_count", "sim_count", "real_a_mean_us", "real_b_mean_us",
                "sim_mean_us", "sim_vs_real_us", "sim_vs_real_percent_of_mean", "real_vs_real_us",
                "real_vs_real_percent_of_mean", "p999_sim_minus_real_us", "p999_real_b_minus_a_us", "demerit_ratio",
                "p50_sim_minus_real_percent", "p50_real_b_minus_a_percent", "closes"]
        rows = [{c: (float("nan") if c == "demerit_ratio" and x[c] is None else x[c]) for c in cols}
                for x in self._rate["comparisons"]]
        return pd.DataFrame(rows, columns=cols)

    def quantiles(self) -> pd.DataFrame:
        """The three distributions side by side: ``volume``, ``op``,
        ``percentile``, ``real_a_us``, ``real_b_us``, ``sim_us``."""
        import pandas as pd

        rows = [{"volume": x["volume"], "op": x["op"], **q}
                for x in self._rate["comparisons"] for q in x["quantiles"]]
        return pd.DataFrame(rows, columns=["volume", "op", "percentile", "real_a_us", "real_b_us", "sim_us"])

    def pools(self) -> pd.DataFrame:
        """Per controller and processor pool: ``real_a_processors_busy``,
        ``real_b_processors_busy``, ``sim_processors_busy`` — the pool's
        CPU-seconds a second over the measured window, comparable whatever
        the processors are counted as (a real run counts one per pool, a
        calibrated simulation the machine's, shared by both controllers)."""
        import pandas as pd

        cols = ["controller", "pool", "real_a_processors_busy", "real_b_processors_busy", "sim_processors_busy"]
        return pd.DataFrame([{c: x[c] for c in cols} for x in self._rate["processor_pools"]], columns=cols)

    def regime(self) -> pd.DataFrame:
        """Whether the three runs were in one regime: per ``figure``
        (``disk_utilisation_R1_mean``, ``disk_utilisation_R2_mean``,
        ``resyncs``, ``invalid_remote_tracks_peak``, ``in_sync_fraction``)
        its ``real_a``, ``real_b`` and ``sim`` values. :attr:`regime_warnings`
        says which differ so much that the distributions compare two regimes
        (a disk-bound or suspended pair beside one that was neither)."""
        import pandas as pd

        return pd.DataFrame(self._rate["regime"], columns=["figure", "real_a", "real_b", "sim"])

    @property
    def regime_warnings(self) -> list[str]:
        """One sentence per regime difference (empty: one regime), as ``mirrorsim validate`` prints them."""
        return [str(w) for w in self._rate["regime_warnings"]]

    @property
    def calibration_warnings(self) -> list[str]:
        """Where the CPU probes' machine was more than 10 % busier or quieter
        than the real runs' (processors busy over the pair's processes, at one
        host rate): the calibration then describes another minute of this
        machine than the runs met. Empty when they agree, or with a calibration file."""
        return [str(w) for w in self._rate["calibration_warnings"]]

    @property
    def machine_processors_busy(self) -> dict[str, float]:
        """Processors busy on the whole machine over the measured window: ``real_a`` and ``real_b``, every process
        of the real pair (-1: not known); ``sim``, the simulated pools and the other CPU per host request."""
        return {k: float(v) for k, v in self._rate["machine_processors_busy"].items()}

    def cpu_probes(self) -> pd.DataFrame:
        """One row per CPU probe run at the rate validated (``when``: before or
        after the real runs, then ``pooled``: what the simulation was
        calibrated with): its ``window_s``, ``requests``,
        ``machine_processors_busy``, ``other_cpu_per_request_us``,
        ``loop_wakeup_mean_us`` and ``loop_switches``. Empty with a calibration file."""
        import pandas as pd

        cols = ["when", "window_s", "writes", "reads", "requests", "machine_processors_busy",
                "operations_processors_busy", "other_cpu_per_request_us", "loop_wakeup_mean_us", "loop_switches"]
        rows = [dict(p, when="before" if i == 0 else "after") for i, p in enumerate(self._rate["cpu_probes"])]
        if self._rate["cpu_probes_pooled"] is not None:
            rows.append(dict(self._rate["cpu_probes_pooled"], when="pooled"))
        return pd.DataFrame([{c: r[c] for c in cols} for r in rows], columns=cols)

    @property
    def clean(self) -> bool:
        """Every run clean: both real runs verified, no invariant violation in any."""
        return (self.verified and self.real.summary["invariant_violations"] == 0
                and self.real_b.summary["invariant_violations"] == 0
                and self.sim.summary["invariant_violations"] == 0)

    def to_json(self) -> str:
        """The JSON ``mirrorsim validate --out`` writes, byte for byte."""
        return self._json

    def __str__(self) -> str:
        """What ``mirrorsim validate`` prints."""
        return self._text

    def __repr__(self) -> str:
        d = ", ".join(f"{x['volume']} {x['op']} demerit {x['sim_vs_real_us']:.1f} us "
                      f"(noise floor {x['real_vs_real_us']:.1f} us)" for x in self._rate["comparisons"])
        return f"<Validation {self.scenario.source}: {d or 'nothing compared'}>"

    def _repr_html_(self) -> str:
        """The printed report, preformatted, for Jupyter."""
        import html

        return f"<pre>{html.escape(self._text)}</pre>"


def validate(scenario: Scenario, *, seed: int | None = None, duration_s: float | None = None,
             calibration: str | None = None, calibration_ops: int = 200, probe_s: float = 2.0,
             cpu_probes: int = 2) -> Validation:
    """Compares the simulator with this machine, as ``mirrorsim validate``:
    runs ``scenario`` as written (``duration_s``, when given, replaces its
    duration) twice on real processes with the same seed and once in the
    simulator, all with one calibration: the file ``calibration``, or
    calibrate's own probes run first (``calibration_ops`` measurements per
    size; ``cpu_probes`` CPU probe runs of ``probe_s`` seconds each with
    their own scenario and seed: 1 before the real runs, or 2, before and
    after them, pooled), and compares the three response-time distributions.

    Runs in a forked child (the real driver forks its controllers from it):
    Ctrl-C raises KeyboardInterrupt and stops it. A scenario the real driver
    cannot run, or a bad calibration file, raises :class:`ScenarioError`.
    """
    if not isinstance(scenario, Scenario):
        raise TypeError("validate() takes a mirrorsim.Scenario")
    if isinstance(cpu_probes, bool) or not isinstance(cpu_probes, int) or cpu_probes not in (1, 2):
        raise ValueError(f"validate: cpu_probes={cpu_probes!r}: 1 (before the real runs) or 2 (before and after them)")
    s = scenario if seed is None else scenario.with_values({"seed": seed})
    if duration_s is not None:
        s = s.with_values({"duration_s": float(duration_s)})
    return Validation(_mirrorsim.validate(s._core, int(calibration_ops), "" if calibration is None else str(calibration),
                                          float(probe_s), int(cpu_probes)))
