"""mirrorsim from Python: the simulator and reference model of remote data
mirroring with local and remote write-pending indicators (US 6,647,474).

The same C++ core as the ``mirrorsim`` command::

    import mirrorsim
    sc = mirrorsim.Scenario.load("scenarios/quickstart.toml")
    sc["link.distance_km"] = 200
    r = mirrorsim.run(sc, seed=7)          # one forked child per run
    r.summary["volumes"][0]["writes"]["response_ms"]["p99"]
    r.latencies("db")                      # numpy, ms
    r.timeseries()                         # pandas
    df = mirrorsim.sweep(sc, {"link.distance_km": [0, 100, 300]}, repeat=3, jobs=2)

- :class:`Scenario` — load, read and change values by dotted key
- :func:`run` → :class:`Result`
- :func:`sweep` → pandas DataFrame (the engine of ``mirrorsim sweep``)
- :func:`size` → (answer, DataFrame of runs) (the engine of ``mirrorsim size``)
- :func:`interval_report` → DataFrame per interval of a run's workload (``mirrorsim run --interval-report``)
- :func:`check` → :class:`CheckReport` (``mirrorsim check``)
- :func:`validate` → :class:`Validation` (``mirrorsim validate``)

Each simulation runs in a forked child: SimGrid allows one engine per
process, and the child keeps SimGrid's SIGINT handler away from the
interpreter (Ctrl-C in a notebook raises KeyboardInterrupt).
"""

from __future__ import annotations

import os

from . import _mirrorsim
from ._values import memory_limit_bytes
from .result import Result, interval_report
from .scenario import Scenario, ScenarioError
from .sweep import size, sweep

__version__: str = _mirrorsim.__version__

RunFailed = _mirrorsim.RunFailed

__all__ = ["Scenario", "ScenarioError", "Result", "RunFailed", "run", "sweep", "size", "interval_report", "simgrid_version", "__version__"]


def run(scenario: Scenario, seed: int | None = None, *, trace_path: str | os.PathLike[str] | None = None,
        trace_writes: int = 200, memory_max_mib: int | None = None) -> Result:
    """Simulates ``scenario`` (as ``mirrorsim run``) and returns its
    :class:`Result`. ``seed`` overrides the scenario's seed on a copy. With a
    ``trace_path``, also writes a Chrome trace-event JSON of the first
    ``trace_writes`` host writes' phases (``mirrorsim run --trace``); a
    trace that cannot be written raises OSError (after the run).

    The run happens in a forked child; the interpreter waits with the GIL
    released. Ctrl-C raises KeyboardInterrupt and kills the child. A run that
    fails (a deadlock, a crash of the child) raises :class:`RunFailed`, a
    RuntimeError with the child's message. What ``mirrorsim run`` reports
    with exit code 1 does not raise: invariant violations are in
    ``summary["invariant_violations"]`` (the observer's report in
    :attr:`Result.violation_report`), a pair that should have drained and did
    not in ``summary["drain_failed"]`` and ``summary["end_state"]``.

    ``memory_max_mib`` (``--memory-max-mib``): a scenario whose estimated
    memory (:meth:`Scenario.resource_estimate`) exceeds it is refused with
    :class:`ScenarioError` before anything runs; ``None`` is half of this
    machine's physical memory.
    """
    if not isinstance(scenario, Scenario):
        raise TypeError("run() takes a mirrorsim.Scenario (Scenario.load(path) or Scenario.from_toml(text))")
    s = scenario if seed is None else scenario.with_values({"seed": seed})
    if not isinstance(trace_writes, int) or trace_writes < 0:
        raise ValueError(f"trace_writes must be a whole number ≥ 0, got {trace_writes!r}")
    path = "" if trace_path is None else os.fspath(trace_path)
    if "\0" in path:
        raise ValueError(f"trace_path {path!r}: a path cannot contain a NUL character")
    s._core.check_resources(memory_limit_bytes(memory_max_mib))
    core = _mirrorsim.run(s._core, trace_path is not None, trace_writes)
    if trace_path is not None:
        # Written here, like any file Python writes: a directory that is not
        # there or a full disk raises OSError naming the file.
        with open(trace_path, "w", encoding="utf-8") as f:
            f.write(core.trace_json)
    return Result(core)


def simgrid_version() -> str:
    """The SimGrid version the simulator runs on, e.g. ``"3.32"``."""
    return _mirrorsim.simgrid_version()


if _mirrorsim.HAVE_CHECK:
    from .check import CheckReport, check

    __all__ += ["check", "CheckReport"]

if _mirrorsim.HAVE_VALIDATE:
    from .validate import Validation, validate

    __all__ += ["validate", "Validation"]
