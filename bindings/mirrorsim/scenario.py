"""Scenarios: load a TOML file (or text), read and change values by dotted key.

Every change goes through the loader (config/), so a bad key or value is
refused exactly as ``mirrorsim run --set key=value`` refuses it, with a
:class:`ScenarioError` (a ``ValueError``) that names the key.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterator, Mapping
from typing import Any

from . import _mirrorsim
from ._values import python_value, toml_value_text

__all__ = ["Scenario", "ScenarioError"]

ScenarioError = _mirrorsim.ScenarioError

# [[table]] entries and how dotted keys address them: volumes by name, the
# others by index (scenarios/README.md, "Dotted keys").
_ENTRY_TABLES = {"volume": "volume", "workload": "workload", "failure": "failure"}


class Scenario:
    """One experiment on a mirrored pair: controllers, links, volumes and modes,
    workloads, the failure schedule and what to measure (scenarios/README.md).

    >>> sc = Scenario.load("scenarios/quickstart.toml")
    >>> sc["link.distance_km"]
    100.0
    >>> sc["link.distance_km"] = 200          # checked like --set link.distance_km=200
    >>> sc["volume.db.mode"] = "semi-sync"
    >>> sc.update({"duration_s": 2, "measurement.warmup_s": 0.5})   # checked together

    Values are Python numbers, booleans, strings and lists; a refused key or
    value raises :class:`ScenarioError` (a ``ValueError``) naming the key, and
    leaves the scenario unchanged.
    """

    __slots__ = ("_core",)

    def __init__(self, core: _mirrorsim.Scenario) -> None:
        """Wraps a compiled scenario; use :meth:`load` or :meth:`from_toml`."""
        if not isinstance(core, _mirrorsim.Scenario):
            raise TypeError("use Scenario.load(path) or Scenario.from_toml(text)")
        self._core = core

    # ---- making one ------------------------------------------------------

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Scenario:
        """Loads and validates a scenario file. Raises :class:`ScenarioError`
        whose message starts with ``file:line:col``; also for a path with a
        NUL character in it, what is not a regular file (a FIFO, a device, a
        directory) and files above 16 MiB."""
        return cls(_mirrorsim.Scenario.load(os.fspath(path)))

    @classmethod
    def from_toml(cls, text: str, source: str = "<toml>") -> Scenario:
        """Parses and validates scenario TOML text; errors name
        ``source:line:col``."""
        return cls(_mirrorsim.Scenario.parse(text, source))

    def copy(self) -> Scenario:
        """An independent copy."""
        return Scenario(self._core.copy())

    def __copy__(self) -> Scenario:
        """``copy.copy``: an independent copy, as :meth:`copy`."""
        return self.copy()

    def __deepcopy__(self, memo: dict[int, Any]) -> Scenario:
        """``copy.deepcopy``: an independent copy, as :meth:`copy`."""
        return self.copy()

    def with_values(self, values: Mapping[str, Any]) -> Scenario:
        """A copy with ``values`` ({dotted key: value}) applied together, as
        :meth:`update` does; this scenario is unchanged."""
        s = self.copy()
        s.update(values)
        return s

    # ---- dotted keys -----------------------------------------------------

    def __getitem__(self, key: str) -> Any:
        """The value of a dotted key (``"link.distance_km"``,
        ``"volume.db.mode"``, ``"workload.0.rate_iops"``, ``"seed"``) as a
        Python value; ``None`` for an optional key that is not set. Raises
        :class:`ScenarioError` for a key that addresses nothing."""
        return python_value(self._core.get_value(key))

    def __setitem__(self, key: str, value: Any) -> None:
        """Sets one dotted key, checked like ``--set key=value``."""
        self.update({key: value})

    def update(self, values: Mapping[str, Any]) -> None:
        """Sets several dotted keys, applied together and then checked once (so
        ``duration_s`` and ``measurement.warmup_s`` can change in either
        order). On a refusal nothing changes and :class:`ScenarioError` names
        the refused key and value."""
        overrides = []
        for key, value in values.items():
            if not isinstance(key, str):
                raise TypeError(f"scenario keys are dotted strings such as 'link.distance_km', got {key!r}")
            overrides.append((key, toml_value_text(value), f"{key} = {value!r}"))
        self._core.set_values(overrides)

    def resource_estimate(self, real: bool = False) -> dict[str, Any]:
        """What a run needs before it runs (config/resources.hpp):
        ``memory_bytes``, ``memory`` — ``[(consumer, bytes)]``, largest first —,
        ``requests_in_flight`` and ``events_per_simulated_s`` (an upper bound).
        ``real``: for ``mirrorsim real`` (its largest process) instead of the
        simulator. What :func:`mirrorsim.run` compares with ``memory_max_mib``."""
        return self._core.resource_estimate(real)

    def get_text(self, key: str) -> str:
        """The TOML value text of a dotted key, as ``get_value`` gives it
        (``""`` for an optional key that is not set)."""
        return self._core.get_value(key)

    def keys(self) -> list[str]:
        """Every dotted key of this scenario, in file order (the tables and
        entries it has; unset optional keys are left out)."""
        out: list[str] = []
        for table, body in self.to_dict().items():
            if table == "sweep":
                continue  # lists overrides; not addressable itself
            if isinstance(body, dict):
                out += [f"{table}.{k}" for k in body]
            elif isinstance(body, list) and table in _ENTRY_TABLES:
                for i, entry in enumerate(body):
                    selector = entry["name"] if table == "volume" else str(i)
                    out += [f"{table}.{selector}.{k}" for k in entry]
            else:
                out.append(table)
        return out

    def __contains__(self, key: object) -> bool:
        """Whether ``key`` is a dotted key of this scenario with a value."""
        return isinstance(key, str) and key in self.keys()

    def __iter__(self) -> Iterator[str]:
        """The dotted keys, as :meth:`keys`."""
        return iter(self.keys())

    def _ipython_key_completions_(self) -> list[str]:
        """Dotted keys for ``sc["<TAB>`` in IPython and Jupyter."""
        return self.keys()

    # ---- whole scenario --------------------------------------------------

    @property
    def source(self) -> str:
        """The file it came from, or the name given to :meth:`from_toml`."""
        return self._core.source

    def to_toml(self) -> str:
        """The resolved scenario as TOML: every key, defaults filled in,
        changes applied (what results record); loading it gives the same
        scenario."""
        return self._core.resolved_toml

    def to_dict(self) -> dict[str, Any]:
        """The resolved scenario as nested dicts and lists, in file order (the
        resolved TOML, read)."""
        return tomllib.loads(self._core.resolved_toml)

    def __eq__(self, other: object) -> bool:
        """Equal when every value (and the source) is equal."""
        return isinstance(other, Scenario) and self._core == other._core

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        d = self.to_dict()
        vols = ", ".join(f"{v['name']} ({v['mode']})" for v in d.get("volume", []))
        return (f"<Scenario {self.source}: {vols}; distance_km={d['link']['distance_km']}, "
                f"duration_s={d['duration_s']}, seed={d['seed']}>")
