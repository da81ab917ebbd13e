"""Shared fixtures of the Python tests.

Run by CTest (tests/python/CMakeLists.txt) with PYTHONPATH pointing at the
built package and MIRRORSIM_BINARY at the `mirrorsim` command; by hand:

    PYTHONPATH=build/bindings/python MIRRORSIM_BINARY=build/cli/mirrorsim \\
        /usr/bin/python3 -m pytest -q tests/python
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

import mirrorsim

SOURCE_DIR = Path(__file__).resolve().parents[2]

# Kernels started for the notebooks run elsewhere (in notebooks/): they find
# the package only through an absolute PYTHONPATH.
os.environ["PYTHONPATH"] = os.pathsep.join(
    os.path.abspath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p)
SCENARIOS = SOURCE_DIR / "scenarios"
NOTEBOOKS = SOURCE_DIR / "notebooks"

# Short runs: the quickstart pair (one sync volume at 100 km, 5000 IOPS)
# for half a simulated second.
SHORT = {"duration_s": 0.5, "measurement.warmup_s": 0.1}
SHORT_SET = ["--set", "duration_s=0.5", "--set", "measurement.warmup_s=0.1"]


@pytest.fixture(scope="session")
def mirrorsim_binary() -> str:
    """The `mirrorsim` command the Python results are compared with."""
    path = os.environ.get("MIRRORSIM_BINARY")
    if not path or not os.access(path, os.X_OK):
        pytest.fail("set MIRRORSIM_BINARY to the built `mirrorsim` command (CTest does)")
    return path


@pytest.fixture
def quickstart_path() -> str:
    """scenarios/quickstart.toml, absolute (results record the path as given)."""
    return str(SCENARIOS / "quickstart.toml")


@pytest.fixture
def short_quickstart(quickstart_path: str) -> mirrorsim.Scenario:
    """The quickstart scenario shortened to half a simulated second."""
    sc = mirrorsim.Scenario.load(quickstart_path)
    sc.update(SHORT)
    return sc


def run_cli(binary: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Runs the `mirrorsim` command; fails the test on a non-zero exit when `check`."""
    p = subprocess.run([binary, *args], capture_output=True, text=True, timeout=300)
    if check and p.returncode != 0:
        pytest.fail(f"mirrorsim {' '.join(args)} exited {p.returncode}:\n{p.stderr}")
    return p
