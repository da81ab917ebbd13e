"""The simulator against this machine (``mirrorsim validate``): calibrate,
run the scaled scenario on real processes and in the simulator, compare the
two response-time distributions quantile by quantile."""

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
    """A validation (real/validate.hpp): the calibration, the real and the
    simulated run of the same scaled scenario, and for each volume's writes
    (and reads) both distributions' quantiles with the demerit — the root
    mean square of the quantile differences (DiskSim's figure)."""

    __slots__ = ("_report", "_json", "_text", "real", "sim", "scenario", "verified")

    def __init__(self, parts: dict[str, Any]) -> None:
        """Made by :func:`validate`."""
        self._json: str = parts["json"]
        self._report: dict[str, Any] = json.loads(self._json)
        self._text: str = parts["text"]
        self.real: Result = Result(parts["real"])
        """The run on real processes (driver ``"real"``)."""
        self.sim: Result = Result(parts["sim"])
        """The simulated run of the same scenario (driver ``"sim"``)."""
        self.scenario: Scenario = Scenario.from_toml(parts["scenario_toml"], parts["scenario_source"])
        """The scaled, calibrated scenario both runs ran."""
        self.verified: bool = parts["verified"]
        """The real run passed its verification (R2 == R1, no acknowledged write lost)."""

    @property
    def calibration(self) -> dict[str, float]:
        """The calibrated keys and measurements: ``disk_latency_us``,
        ``disk_bandwidth_mb_per_s``, ``link_overhead_us``,
        ``link_bandwidth_gbit_per_s``, ``cache_store_r1_us``,
        ``cache_store_r2_us``, …"""
        return dict(self._report["calibration"])

    def demerits(self) -> pd.DataFrame:
        """One row per compared distribution: ``volume``, ``op`` (writes or
        reads), ``real_count``, ``sim_count``, ``real_mean_us``,
        ``sim_mean_us``, ``demerit_us``, ``demerit_percent_of_mean``."""
        import pandas as pd

        cols = ["volume", "op", "real_count", "sim_count", "real_mean_us", "sim_mean_us", "demerit_us",
                "demerit_percent_of_mean"]
        return pd.DataFrame([{c: x[c] for c in cols} for x in self._report["comparisons"]], columns=cols)

    def quantiles(self) -> pd.DataFrame:
        """Both distributions side by side: ``volume``, ``op``, ``percentile``,
        ``real_us``, ``sim_us`` (the rows the demerit is computed from)."""
        import pandas as pd

        rows = [{"volume": x["volume"], "op": x["op"], **q}
                for x in self._report["comparisons"] for q in x["quantiles"]]
        return pd.DataFrame(rows, columns=["volume", "op", "percentile", "real_us", "sim_us"])

    @property
    def clean(self) -> bool:
        """Both runs clean: the real run verified, no invariant violation in either."""
        return (self.verified and self.real.summary["invariant_violations"] == 0
                and self.sim.summary["invariant_violations"] == 0)

    def to_json(self) -> str:
        """The JSON ``mirrorsim validate --out`` writes, byte for byte."""
        return self._json

    def __str__(self) -> str:
        """What ``mirrorsim validate`` prints."""
        return self._text

    def __repr__(self) -> str:
        d = ", ".join(f"{x['volume']} {x['op']} demerit {x['demerit_us']:.1f} us "
                      f"({x['demerit_percent_of_mean']:.1f} % of the mean)" for x in self._report["comparisons"])
        return f"<Validation {self.scenario.source}: {d or 'nothing compared'}>"

    def _repr_html_(self) -> str:
        """The printed report, preformatted, for Jupyter."""
        import html

        return f"<pre>{html.escape(self._text)}</pre>"


def validate(scenario: Scenario, *, seed: int | None = None, duration_s: float | None = None,
             calibration_ops: int = 200) -> Validation:
    """Compares the simulator with this machine, as ``mirrorsim validate``:
    runs ``scenario`` as written (``duration_s``, when given, replaces its
    duration), calibrates its disk and link keys here
    (``calibration_ops`` measurements per size) and its cache-store times
    with two short probe runs, runs it on real processes (raw loopback link)
    and in the simulator, and compares the response-time distributions.

    Runs in a forked child (the real driver forks its controllers from it):
    Ctrl-C raises KeyboardInterrupt and stops it. A scenario the real driver
    cannot run raises :class:`ScenarioError`.
    """
    if not isinstance(scenario, Scenario):
        raise TypeError("validate() takes a mirrorsim.Scenario")
    s = scenario if seed is None else scenario.with_values({"seed": seed})
    if duration_s is not None:
        s = s.with_values({"duration_s": float(duration_s)})
    return Validation(_mirrorsim.validate(s._core, int(calibration_ops)))
