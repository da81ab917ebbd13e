"""The exhaustive explorer (``mirrorsim check``): every ordering of events
of a scenario scaled down to its ``[check]`` table, on the model itself."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from typing import Any

from . import _mirrorsim
from ._values import memory_limit_bytes
from .scenario import Scenario

__all__ = ["CheckReport", "check"]

# The [check] keys that bound failures, one per kind (scenarios/README.md).
FAILURE_KEYS = ("link_failures", "crashes", "disk_failures", "disasters", "operator_actions")


class CheckReport:
    """What the explorer found (check/explorer.hpp): the outcome
    (``"complete"``, ``"violation"``, ``"state-limit"``, ``"depth-limit"``,
    ``"memory-limit"``),
    the search statistics, the finding and its shortest counterexample with
    the narrative of its replay. ``ok`` is True only for a complete search
    without a violation."""

    __slots__ = ("_report", "narrative")

    def __init__(self, report: dict[str, Any], narrative: list[str]) -> None:
        """Made by :func:`check`."""
        self._report = report
        self.narrative: list[str] = narrative
        """One entry per event of the counterexample's replay: the event, the
        controller step it caused, any violation it raised ([] without one)."""

    @property
    def outcome(self) -> str:
        """How the search ended: the ``outcome`` of ``mirrorsim check --out``."""
        return self._report["outcome"]

    @property
    def ok(self) -> bool:
        """Every reachable state explored and no invariant violated."""
        return self.outcome == "complete" and self._report["finding"] is None

    @property
    def stats(self) -> dict[str, Any]:
        """The depth-first search's statistics: ``states``, ``transitions``,
        ``end_states``, ``max_depth``, ``seconds``, ``states_per_s``, …"""
        return dict(self._report["stats"])

    @property
    def states(self) -> int:
        """Distinct states explored by the depth-first search."""
        return self._report["stats"]["states"]

    @property
    def finding(self) -> dict[str, Any] | None:
        """``{"kind", "invariant", "what"}`` of the violation found, or None."""
        return self._report["finding"]

    @property
    def counterexample(self) -> dict[str, Any] | None:
        """The counterexample (pair configuration and events) as saved by
        ``mirrorsim check --trace``, or None."""
        return self._report["counterexample"]

    @property
    def configuration(self) -> dict[str, Any]:
        """What was explored: the scaled pair (volumes and modes, cache slots,
        disks, links, cache volatility, mutant) and the bounds."""
        return self._report["configuration"]

    def save_counterexample(self, path: str) -> None:
        """Writes the counterexample to ``path`` for ``mirrorsim check --replay``.
        Raises ValueError when there is none."""
        if self.counterexample is None:
            raise ValueError("no counterexample: the search found no violation")
        with open(path, "w", encoding="utf-8") as f:
            f.write(json.dumps(self.counterexample, indent=2, ensure_ascii=False) + "\n")

    def to_dict(self) -> dict[str, Any]:
        """The whole report as ``mirrorsim check --out`` writes it, except that
        ``configuration`` is structured data rather than a sentence."""
        return json.loads(json.dumps(self._report))

    def to_json(self) -> str:
        """:meth:`to_dict` as JSON text."""
        return json.dumps(self._report, indent=2, ensure_ascii=False) + "\n"

    def __repr__(self) -> str:
        f = self.finding
        return (f"<CheckReport {self.outcome}: {self.states} states"
                + (f", {f['kind']} {f['invariant'] or ''}".rstrip() if f else "") + ">")

    def _repr_html_(self) -> str:
        """The outcome, the statistics and any finding, for Jupyter."""
        e = html.escape
        st = self._report["stats"]
        rows = [("outcome", self.outcome), ("states", st["states"]), ("transitions", st["transitions"]),
                ("end states", st["end_states"]), ("maximum depth", st["max_depth"]),
                ("seconds", f"{st['seconds']:.2f}"), ("configuration", json.dumps(self.configuration))]
        if self.finding:
            rows.append(("finding", f"{self.finding['kind']} {self.finding['invariant'] or ''}: {self.finding['what']}"))
            rows.append(("counterexample", f"{len(self.counterexample['events'])} events"
                         if self.counterexample and "events" in self.counterexample else ""))
        body = "".join(f"<tr><th style='text-align:left'>{e(k)}</th><td style='text-align:left'>{e(str(v))}</td></tr>"
                       for k, v in rows)
        return f"<div><b>mirrorsim check</b> {e(self._report.get('scenario', ''))}<table>{body}</table></div>"


def check(scenario: Scenario, *, writes: int | None = None, tracks: int | None = None,
          volumes: int | None = None, cache_slots: int | None = None, links: int | None = None,
          failures: int | Mapping[str, int] | None = None, max_states: int | None = None,
          reads: int = 0, max_depth: int | None = None, mutant: str = "none",
          memory_max_mib: int | None = None) -> CheckReport:
    """Explores every ordering of events of ``scenario`` scaled down to its
    ``[check]`` table (or that table's defaults), as ``mirrorsim check``: host
    writes and reads, disk completions, deliveries in any order the links
    allow, link cuts, crashes, disk errors, disasters with failover, operator
    actions, each step checked against invariants I1–I11.

    ``writes``, ``tracks``, ``volumes``, ``cache_slots``, ``links``,
    ``max_states`` override the ``check.*`` keys of the same name;
    ``failures`` is a number for every kind or {key: n} with keys
    ``link_failures``, ``crashes``, ``disk_failures``, ``disasters``,
    ``operator_actions`` — all checked by the loader (a refused value raises
    :class:`ScenarioError` naming the key). ``reads``: host reads on a path;
    ``max_depth``: events on one path; ``mutant``: a deliberately broken
    protocol variant the explorer must catch (``"remote-wp-reset-on-send"``,
    …), ``"none"`` for the real protocol. ``memory_max_mib``
    (``--memory-max-mib``) bounds what the search holds — its visited table
    and the states it keeps — and ends it with outcome ``"memory-limit"``;
    ``None`` is half of this machine's physical memory.

    Runs in a forked child: Ctrl-C raises KeyboardInterrupt and stops it.
    """
    if not isinstance(scenario, Scenario):
        raise TypeError("check() takes a mirrorsim.Scenario")
    values: dict[str, Any] = {}
    for key, value in (("writes", writes), ("tracks", tracks), ("volumes", volumes),
                       ("cache_slots", cache_slots), ("links", links), ("max_states", max_states)):
        if value is not None:
            values[f"check.{key}"] = value
    if failures is not None:
        if isinstance(failures, Mapping):
            for key, n in failures.items():
                if key not in FAILURE_KEYS:
                    raise ValueError(f"failures: unknown kind {key!r} (one of: {', '.join(FAILURE_KEYS)})")
                values[f"check.{key}"] = n
        else:
            values.update({f"check.{key}": failures for key in FAILURE_KEYS})
    s = scenario.with_values(values) if values else scenario
    if not isinstance(reads, int) or reads < 0:
        raise ValueError(f"reads must be a whole number ≥ 0, got {reads!r}")
    report, narrative = _mirrorsim.check(s._core, reads, max_depth, mutant, memory_limit_bytes(memory_max_mib))
    return CheckReport(json.loads(report), json.loads(narrative))
