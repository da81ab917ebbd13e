"""run() and Result: a run in a forked child, its figures in Python, and
the same bytes as `mirrorsim run --out` for the same scenario and seed."""

from __future__ import annotations

import errno
import io
import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mirrorsim
from conftest import SHORT_SET, run_cli


def test_a_run_reports_the_vendor_figures_of_a_sync_write_at_100_km(short_quickstart):
    r = mirrorsim.run(short_quickstart)
    s = r.summary
    assert (s["seed"], s["driver"]) == (1, "sim")
    assert s["invariant_violations"] == 0 and s["writes_lost"] == 0 and s["quiesced_at_end"]
    (db,) = s["volumes"]
    assert (db["name"], db["mode"]) == ("db", "sync")
    assert db["writes"]["completed"] > 1000
    # 0.25 ms R1 cache store + 1 ms round trip at 100 km + 2 x 25 us overhead + 50 us R2 store ≈ 1.35 ms
    assert db["writes"]["response_ms"]["p50"] == pytest.approx(1.357, abs=0.01)
    assert r.summary_metrics()["db.write_response_p50_ms"] == db["writes"]["response_ms"]["p50"]


def test_latencies_are_the_measured_responses_in_ms(short_quickstart):
    r = mirrorsim.run(short_quickstart)
    w = r.latencies("db")
    assert isinstance(w, np.ndarray) and w.dtype == np.float64
    db = r.summary["volumes"][0]
    # Fewer than the reservoir holds: every measured write is there.
    assert len(w) == r.latency_count("db") == db["writes"]["completed"]
    assert np.mean(w) == pytest.approx(db["writes"]["response_ms"]["mean"], rel=1e-9)
    assert np.max(w) == pytest.approx(db["writes"]["response_ms"]["max"], rel=1e-9)
    # The histogram's percentiles are within its 0.1 % bucket error of the samples'.
    rd = r.latencies("db", kind="read")
    assert len(rd) == db["reads"]["completed"]
    rank = int(np.ceil(0.99 * len(rd)))  # the smallest response with at least 99 % at or below it
    assert np.sort(rd)[rank - 1] == pytest.approx(db["reads"]["response_ms"]["p99"], rel=2e-3)
    assert np.array_equal(r.latencies(), w)  # one volume: all volumes are that one


def test_latencies_refuse_an_unknown_volume_or_kind(short_quickstart):
    r = mirrorsim.run(short_quickstart)
    with pytest.raises(ValueError, match=r"no volume named 'log' \(volumes: db\)"):
        r.latencies("log")
    with pytest.raises(ValueError, match="kind must be 'write' or 'read'"):
        r.latencies("db", kind="writes")


def test_timeseries_has_the_columns_and_values_of_the_csv(short_quickstart):
    r = mirrorsim.run(short_quickstart)
    ts = r.timeseries()
    csv = pd.read_csv(io.StringIO(r.timeseries_csv()))
    assert list(ts.columns) == list(csv.columns)
    assert len(ts) == len(csv) >= 5  # every 0.1 s over 0.5 s, then until the pair drained
    np.testing.assert_allclose(ts["t_s"], 0.1 * np.arange(1, len(ts) + 1))
    for c in ts.columns:
        if c == "pair_state":
            assert list(ts[c]) == list(csv[c])
        else:
            np.testing.assert_allclose(ts[c].to_numpy(dtype=float), csv[c].to_numpy(dtype=float), atol=1e-3, err_msg=c)
    assert (ts["pair_state"] == "synchronized").all()


def test_python_results_equal_mirrorsim_run_out_byte_for_byte(mirrorsim_binary, quickstart_path, short_quickstart, tmp_path):
    out, ts = tmp_path / "run.json", tmp_path / "ts.csv"
    run_cli(mirrorsim_binary, "run", quickstart_path, "-q", *SHORT_SET, "--seed", "7",
            "--out", str(out), "--timeseries", str(ts))
    r = mirrorsim.run(short_quickstart, seed=7)
    assert r.to_json() == out.read_text()
    assert r.timeseries_csv() == ts.read_text()
    assert r.summary["seed"] == 7 and short_quickstart["seed"] == 1  # the seed applies to a copy


def test_the_same_seed_gives_the_same_result_and_another_seed_another(short_quickstart):
    a, b = mirrorsim.run(short_quickstart, seed=3), mirrorsim.run(short_quickstart, seed=3)
    c = mirrorsim.run(short_quickstart, seed=4)
    assert a.to_json() == b.to_json()
    assert np.array_equal(a.latencies(kind="read"), b.latencies(kind="read"))
    assert a.to_json() != c.to_json()


def test_a_result_pickles_whole(short_quickstart):
    r = mirrorsim.run(short_quickstart)
    again = pickle.loads(pickle.dumps(r))
    assert again.to_json() == r.to_json()
    assert np.array_equal(again.latencies(), r.latencies())


def test_the_result_shows_itself_in_text_and_html(short_quickstart):
    r = mirrorsim.run(short_quickstart)
    assert str(r).startswith("mirrorsim 0.1.0 (sim), seed 1")
    assert "db (sync)" in repr(r) and "invariant_violations=0" in repr(r)
    h = r._repr_html_()
    assert "<table>" in h and "<td>db</td><td>sync</td><td>writes</td>" in h and "invariant_violations" in h


def test_the_trace_option_writes_a_chrome_trace(short_quickstart, tmp_path):
    path = tmp_path / "trace.json"
    mirrorsim.run(short_quickstart, trace_path=path, trace_writes=5)
    trace = json.loads(path.read_text())
    assert trace  # what the CLI's --trace writes; its content is tested with the CLI


def test_a_trace_that_cannot_be_written_raises_oserror_naming_it(short_quickstart, tmp_path):
    # Issue 11 item 13: a full disk raised nothing.
    with pytest.raises(OSError) as full:
        mirrorsim.run(short_quickstart, trace_path="/dev/full", trace_writes=5)
    assert full.value.errno == errno.ENOSPC
    with pytest.raises(FileNotFoundError) as absent:
        mirrorsim.run(short_quickstart, trace_path=tmp_path / "absent" / "trace.json")
    assert absent.value.filename == str(tmp_path / "absent" / "trace.json")


def test_the_trace_is_the_one_the_cli_writes(short_quickstart, quickstart_path, mirrorsim_binary, tmp_path):
    cli, py = tmp_path / "cli.json", tmp_path / "py.json"
    run_cli(mirrorsim_binary, "run", quickstart_path, "-q", *SHORT_SET, "--trace", str(cli), "--trace-writes", "7")
    mirrorsim.run(short_quickstart, trace_path=py, trace_writes=7)
    assert py.read_text() == cli.read_text()
    assert sum(e["name"] == "host write" for e in json.loads(py.read_text())["traceEvents"]) == 7


class _Pickled:
    """Unpickles as mirrorsim.Result does, from the bytes given."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __reduce__(self):
        return (mirrorsim.result._result_from_bytes, (self.data,))


def test_unpickling_damaged_bytes_raises_value_error_naming_the_field(short_quickstart):
    # Issue 11 item 9: a short time-series row segfaulted the interpreter.
    corpus = Path(__file__).resolve().parents[1] / "fuzz" / "corpus" / "result"
    short_row = (corpus / "regression-short-timeseries-row").read_bytes()[1:]  # after the harness's selector byte
    with pytest.raises(ValueError, match=r"^malformed run result: timeseries\[0\]: 21 elements expected, found 3$"):
        pickle.loads(pickle.dumps(_Pickled(short_row)))
    data = mirrorsim.run(short_quickstart)._core.serialize()
    for cut in (0, 1, len(data) // 2, len(data) - 1):
        with pytest.raises(ValueError, match=r"^malformed run result: MessagePack: "):
            pickle.loads(pickle.dumps(_Pickled(data[:cut])))
    with pytest.raises(ValueError, match="nested deeper than 64 levels"):
        mirrorsim._mirrorsim.RunResult.deserialize(b"\x91" * 100_000 + b"\xc0")


def _children(pid: int) -> list[int]:
    """The live child processes of `pid` (zombies excluded)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(stat.parent.name))
    return out


def test_a_child_killed_by_a_signal_raises_runtime_error_naming_it(quickstart_path):
    sc = mirrorsim.Scenario.load(quickstart_path)
    sc["duration_s"] = 600  # minutes of wall time: killed long before
    outcome: dict[str, BaseException] = {}

    def run() -> None:
        try:
            mirrorsim.run(sc)
        except BaseException as e:  # noqa: BLE001 - handed to the test thread
            outcome["error"] = e

    t = threading.Thread(target=run)
    t.start()
    deadline = time.monotonic() + 10
    while not _children(os.getpid()) and time.monotonic() < deadline:
        time.sleep(0.02)
    (child,) = _children(os.getpid())
    os.kill(child, signal.SIGKILL)
    t.join(10)
    assert not t.is_alive()
    assert isinstance(outcome.get("error"), mirrorsim.RunFailed)
    assert "the simulation crashed: Killed" in str(outcome["error"])


# Ctrl-C: run a long simulation (or sweep, or search) in a fresh interpreter, send it
# SIGINT as a notebook's "interrupt" does, and check that it raised
# KeyboardInterrupt promptly, left no child behind and can run again.
INTERRUPTED = textwrap.dedent("""
    import os, sys, time
    import mirrorsim
    sc = mirrorsim.Scenario.load(sys.argv[1])
    sc["duration_s"] = 600
    def children():
        out = []
        for d in os.listdir("/proc"):
            try:
                fields = open(f"/proc/{d}/stat").read().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == os.getpid() and fields[0] != "Z":
                out.append(d)
        return out
    print("started", flush=True)
    t = time.monotonic()
    try:
        if sys.argv[2] == "run":
            mirrorsim.run(sc)
        elif sys.argv[2] == "sweep":
            mirrorsim.sweep(sc, {"link.distance_km": [0, 100, 200]}, jobs=2, progress=False)
        else:  # every failure kind: a search of minutes
            mirrorsim.check(mirrorsim.Scenario.load(sys.argv[1].replace("quickstart", "check_small")))
        print("not interrupted")
    except KeyboardInterrupt:
        print(f"interrupted after {time.monotonic() - t:.2f} s, children left {len(children())}")
    sc.update({"duration_s": 0.3, "measurement.warmup_s": 0.1})
    print("again", mirrorsim.run(sc).summary["invariant_violations"], flush=True)
""")


@pytest.mark.parametrize("what", ["run", "sweep", "check"])
def test_ctrl_c_raises_keyboard_interrupt_and_kills_the_children(quickstart_path, what):
    p = subprocess.Popen([sys.executable, "-c", INTERRUPTED, quickstart_path, what], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "started"
    time.sleep(1.0)
    sent = time.monotonic()
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("interrupted after") and lines[0].endswith("children left 0"), out
    assert lines[1] == "again 0"
    assert time.monotonic() - sent < 15


def test_run_refuses_what_is_not_a_scenario():
    with pytest.raises(TypeError, match="Scenario"):
        mirrorsim.run("scenarios/quickstart.toml")  # type: ignore[arg-type]


# SIGKILL: the interpreter cannot clean up, so its forked children must die
# with it by themselves (PR_SET_PDEATHSIG). Issue 11 item 8: they ran on.
KILLED = textwrap.dedent("""
    import sys
    import mirrorsim
    sc = mirrorsim.Scenario.load(sys.argv[1])
    sc["duration_s"] = 600
    print("started", flush=True)
    if sys.argv[2] == "run":
        mirrorsim.run(sc)
    elif sys.argv[2] == "sweep":
        mirrorsim.sweep(sc, {"link.distance_km": [0, 100, 200]}, jobs=2, progress=False)
    else:
        mirrorsim.check(mirrorsim.Scenario.load(sys.argv[1].replace("quickstart", "check_small")))
""")


def _proc(pid: int) -> tuple[str, str] | None:
    """(state, start time) of a process, or None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[0], fields[19]


@pytest.mark.parametrize("what,children", [("run", 1), ("sweep", 2), ("check", 1)])
def test_sigkill_of_the_interpreter_kills_its_children_within_a_second(quickstart_path, what, children):
    p = subprocess.Popen([sys.executable, "-c", KILLED, quickstart_path, what], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    kids: dict[int, tuple[str, str] | None] = {}

    def alive() -> list[int]:
        # Gone, a zombie (dead, not yet reaped by its new parent) or another
        # process under the same pid: dead.
        return [pid for pid, seen in kids.items()
                if seen and (now := _proc(pid)) and now[0] != "Z" and now[1] == seen[1]]

    try:
        assert p.stdout.readline().strip() == "started"
        deadline = time.monotonic() + 20
        while len(_children(p.pid)) < children and time.monotonic() < deadline:
            time.sleep(0.05)
        kids = {pid: _proc(pid) for pid in _children(p.pid)}
        assert len(kids) == children, kids
        p.kill()
        p.wait(10)
        killed = time.monotonic()
        while alive() and time.monotonic() - killed < 1.0:
            time.sleep(0.01)
        assert alive() == []
    finally:
        p.kill()
        for pid in alive():  # leave nothing running when the check failed (they hold the pipes open)
            os.kill(pid, signal.SIGKILL)
        p.communicate()


def test_processor_pools_and_service_times_from_python(short_quickstart):
    sc = short_quickstart
    sc["primary.front_end_processors"] = 1
    sc["primary.front_end_write_us"] = {"distribution": "exponential", "mean_us": 150}
    assert sc["primary.front_end_write_us"] == {"distribution": "exponential", "mean_us": 150.0}
    r = mirrorsim.run(sc)
    pools = r.processor_pools()
    assert list(pools["controller"]) == ["R1"] * 3 + ["R2"] * 3
    assert list(pools["pool"]) == ["front_end", "remote_adapter", "back_end"] * 2
    fe = pools.iloc[0]
    # 5000 requests/s x 150 us on one processor: offered 0.75, waits as M/M/1
    assert fe["processors"] == 1 and not fe["saturated"]
    assert fe["utilisation_mean"] == pytest.approx(0.75, rel=0.08)
    assert fe["wait_mean_ms"] > 0.1
    ts = r.timeseries()
    assert "front_end_utilisation_R1" in ts.columns and "back_end_utilisation_R2" in ts.columns
    assert ts["front_end_utilisation_R1"].max() > 0.5
    assert r.summary_metrics()["front_end_utilisation_R1_mean"] == pytest.approx(fe["utilisation_mean"])
    with pytest.raises(mirrorsim.ScenarioError, match="a gamma service time needs 'cv'"):
        sc["primary.disk_write_us"] = {"distribution": "gamma", "mean_us": 3}
    with pytest.raises(TypeError, match="cannot write dict"):
        sc["primary.disk_write_us"] = {1: 2}
