"""check(): the exhaustive explorer of `mirrorsim check` from Python."""

from __future__ import annotations

import json

import pytest

import mirrorsim
from conftest import SCENARIOS, run_cli

pytestmark = pytest.mark.skipif(not hasattr(mirrorsim, "check"), reason="this build has no explorer (check/)")

SMALL = str(SCENARIOS / "check_small.toml")


def test_the_protocol_holds_in_every_ordering_of_a_small_pair():
    # Two writes, a link cut and restore; no other failure (check_small.toml allows one of each).
    r = mirrorsim.check(mirrorsim.Scenario.load(SMALL), writes=2, failures={
        "link_failures": 1, "crashes": 0, "disk_failures": 0, "disasters": 0, "operator_actions": 0})
    assert r.ok and r.outcome == "complete" and r.finding is None and r.counterexample is None
    assert r.states > 1000
    b = r.configuration["bounds"]
    assert (b["writes"], b["link_failures"], b["crashes"], b["disk_failures"], b["disasters"]) == (2, 1, 0, 0, 0)
    assert r.configuration["volumes"][0]["mode"] == "sync"


def test_the_state_count_equals_the_cli_s(mirrorsim_binary, tmp_path):
    out = tmp_path / "check.json"
    run_cli(mirrorsim_binary, "check", SMALL, "-q", "--set", "check.writes=2", "--failures", "0",
            "--failures", "link_failures=1,crashes=1", "--out", str(out))
    cli = json.loads(out.read_text())
    r = mirrorsim.check(mirrorsim.Scenario.load(SMALL), writes=2,
                        failures={"link_failures": 1, "crashes": 1, "disk_failures": 0, "disasters": 0,
                                  "operator_actions": 0})
    assert r.outcome == cli["outcome"] == "complete"
    assert r.states == cli["stats"]["states"] and r.stats["transitions"] == cli["stats"]["transitions"]


def test_a_broken_protocol_is_caught_with_a_counterexample_the_cli_replays(mirrorsim_binary, tmp_path):
    r = mirrorsim.check(mirrorsim.Scenario.load(SMALL), writes=2, failures=0, mutant="remote-wp-reset-on-send")
    assert not r.ok and r.outcome == "violation"
    assert r.finding["invariant"] == "I2"
    assert r.narrative and "host-write" in r.narrative[0]
    path = tmp_path / "cx.json"
    r.save_counterexample(str(path))
    replay = run_cli(mirrorsim_binary, "check", "--replay", str(path), check=False)
    assert replay.returncode == 1 and "I2" in replay.stdout
    assert "violation" in repr(r) and "<table>" in r._repr_html_()


def test_bad_bounds_and_mutants_are_refused_naming_them():
    sc = mirrorsim.Scenario.load(SMALL)
    with pytest.raises(ValueError, match=r"check.writes: expected an integer in \[1, 64\], got 0"):
        mirrorsim.check(sc, writes=0)
    with pytest.raises(ValueError, match=r"unknown mutant 'bogus' \(one of: none, remote-wp-reset-on-send"):
        mirrorsim.check(sc, mutant="bogus")
    with pytest.raises(ValueError, match=r"failures: unknown kind 'links'"):
        mirrorsim.check(sc, failures={"links": 1})
    with pytest.raises(ValueError, match="max_depth"):
        mirrorsim.check(sc, max_depth=0)


def test_a_search_stopped_at_max_states_says_so():
    r = mirrorsim.check(mirrorsim.Scenario.load(SMALL), max_states=50)
    assert r.outcome == "state-limit" and not r.ok
