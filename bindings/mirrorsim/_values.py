"""Python values as the TOML value text the scenario loader reads, and back.

The loader (config/) is the only judge of a value: this module only spells
Python numbers, booleans, strings and lists the way a ``--set key=value``
flag would, so that a refused value is refused with the loader's message.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import re
import tomllib
from typing import Any

from . import _mirrorsim

__all__ = ["toml_value_text", "python_value", "memory_limit_bytes"]

# A string the loader takes as a bare word (``--set volume.db.mode=semi-sync``)
# and TOML would not read as something else: written without quotes, as the
# CLI's users write it, so a sweep's parameter column matches the CLI's CSV.
_BARE_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_TOML_WORDS = {"true", "false", "inf", "nan"}


def toml_value_text(value: Any) -> str:
    """The TOML value text of ``value``: ``True`` → ``true``, ``200`` → ``200``,
    ``0.1`` → ``0.1`` (the shortest text that reads back as the same float),
    ``"semi-sync"`` → ``semi-sync`` (a bare word) or a quoted TOML string,
    a list or tuple → ``[a, b]``, a dict with string keys → an inline table
    ``{ k = v, ... }`` (a service time: ``{"distribution": "gamma",
    "mean_us": 300, "cv": 0.5}``). numpy scalars count as the Python numbers
    they hold. Raises TypeError for anything else (None, objects)."""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return "true" if bool(value) else "false"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        v = float(value)
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(value, str):
        if _BARE_WORD.fullmatch(value) and value not in _TOML_WORDS:
            return value
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)) or type(value).__name__ == "ndarray":
        return "[" + ", ".join(toml_value_text(v) for v in value) + "]"
    if isinstance(value, dict) and all(isinstance(k, str) and _BARE_WORD.fullmatch(k) for k in value):
        return "{ " + ", ".join(f"{k} = {_quoted(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} {value!r} as a scenario value "
                    "(numbers, booleans, strings, lists of them and tables of them)")


def _quoted(value: Any) -> str:
    # Inside an inline table a string is always a quoted TOML string.
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return toml_value_text(value)


def python_value(text: str) -> Any:
    """The Python value of TOML value text (as ``get_value`` returns it):
    int, float, bool, str, list or dict (a service time's table); ``None`` for ``""`` (an optional key that
    is not set)."""
    if text == "":
        return None
    return tomllib.loads("value = " + text)["value"]


def memory_limit_bytes(memory_max_mib: int | None) -> int:
    """``memory_max_mib`` (the ``--memory-max-mib`` of the commands) in bytes:
    ``None`` is the default, ``MEMORY_SHARE_DEFAULT`` of this machine's
    physical memory. Raises ValueError for anything but a whole number ≥ 1."""
    if memory_max_mib is None:
        try:
            physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError):
            physical = 0
        # Without a figure from the system, 4 GiB: a limit that protects, never one that is silently absent.
        return int(physical * _mirrorsim.MEMORY_SHARE_DEFAULT) >> 20 << 20 if physical > 0 else 4096 << 20
    if isinstance(memory_max_mib, bool) or not isinstance(memory_max_mib, numbers.Integral) \
            or not 1 <= int(memory_max_mib) < 1 << 44:
        raise ValueError(f"memory_max_mib must be a whole number of MiB from 1 to {(1 << 44) - 1}, "
                         f"got {memory_max_mib!r}")
    return int(memory_max_mib) << 20
