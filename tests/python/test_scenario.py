"""Scenarios from Python: loading, dotted keys, and the loader's refusals."""

from __future__ import annotations

import copy
import re

import pytest

import mirrorsim
from conftest import SCENARIOS


def test_load_gives_typed_values_by_dotted_key(quickstart_path):
    sc = mirrorsim.Scenario.load(quickstart_path)
    assert sc["link.distance_km"] == 100.0 and isinstance(sc["link.distance_km"], float)
    assert sc["seed"] == 1 and isinstance(sc["seed"], int)
    assert sc["volume.db.mode"] == "sync"
    assert sc["primary.front_end_write_us"] == 250.0
    assert sc["secondary.remote_adapter_copy_receive_us"] == 50.0
    assert sc["workload.0.rate_iops"] == 5000.0
    assert sc["measurement.percentiles"] == [50.0, 90.0, 99.0, 99.9]
    assert sc["workload.0.stop_s"] is None  # optional, not set
    assert sc.source == quickstart_path


def test_set_then_get_reads_back_what_was_set(short_quickstart):
    sc = short_quickstart
    sc["link.distance_km"] = 200
    sc["volume.db.mode"] = "semi-sync"
    sc["volume.db.domino"] = True
    sc["measurement.percentiles"] = [50, 99.9]
    sc["workload.0.stop_s"] = 0.4
    assert sc["link.distance_km"] == 200.0
    assert sc["volume.db.mode"] == "semi-sync"
    assert sc["volume.db.domino"] is True
    assert sc["measurement.percentiles"] == [50.0, 99.9]
    assert sc["workload.0.stop_s"] == 0.4
    # A primary.* override changes R1 only (scenarios/README.md).
    sc["primary.front_end_write_us"] = 100
    assert sc["secondary.remote_adapter_copy_receive_us"] == 50.0


def test_numpy_scalars_are_accepted_as_the_numbers_they_hold(short_quickstart):
    np = pytest.importorskip("numpy")
    short_quickstart["link.distance_km"] = np.float64(12.5)
    short_quickstart["primary.disks"] = np.int64(4)
    assert short_quickstart["link.distance_km"] == 12.5
    assert short_quickstart["primary.disks"] == 4


def test_update_applies_keys_together_so_their_order_does_not_matter(quickstart_path):
    sc = mirrorsim.Scenario.load(quickstart_path)
    # warm-up 3 s is not before a 2 s duration on its own, but fine with duration_s = 5
    sc.update({"measurement.warmup_s": 3, "duration_s": 5})
    assert (sc["duration_s"], sc["measurement.warmup_s"]) == (5.0, 3.0)
    with pytest.raises(ValueError, match="measurement.warmup_s"):
        sc["measurement.warmup_s"] = 6


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("link.distnce_km", 3, r"unknown key 'link.distnce_km' \(did you mean 'link.distance_km'\?\)"),
        ("link.distance_km", "far", r'link.distance_km: expected a number in \[0, 100000\], got "far"'),
        ("link.distance_km", -1, r"link.distance_km: expected a number in \[0, 100000\], got -1"),
        ("primary.cache_slots", 1.5, r"primary.cache_slots: expected an integer ≥ 1, got 1.5"),
        ("volume.dbx.mode", "sync", r"no volume named 'dbx'"),
        ("volume.db.mode", "fast", r"volume.db.mode: expected one of"),
        ("workload.3.rate_iops", 10, r"workload.3.rate_iops"),
        ("primary.track_bytes", 4096, r"workload.0.block_bytes"),  # a check across keys names the other key
    ],
)
def test_a_refused_key_or_value_raises_value_error_naming_it_and_changes_nothing(quickstart_path, key, value, message):
    sc = mirrorsim.Scenario.load(quickstart_path)
    before = sc.copy()
    with pytest.raises(ValueError, match=message) as info:
        sc[key] = value
    assert isinstance(info.value, mirrorsim.ScenarioError)
    assert info.value.where == f"{key} = {value!r}"
    assert str(info.value).startswith(f"{key} = {value!r}: ")
    assert sc == before


def test_reading_a_key_that_addresses_nothing_raises_value_error(quickstart_path):
    sc = mirrorsim.Scenario.load(quickstart_path)
    with pytest.raises(ValueError, match=r"unknown key 'link.bogus'"):
        sc["link.bogus"]


def test_a_bad_file_is_refused_with_file_line_col(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('seed = 1\n[link]\ndistance_km = "far"\n[[volume]]\nname = "db"\ntracks = 10\n')
    with pytest.raises(ValueError) as info:
        mirrorsim.Scenario.load(bad)
    assert str(info.value).startswith(f"{bad}:3:15: link.distance_km: expected a number in [0, 100000]")
    assert info.value.where == f"{bad}:3:15"


def test_a_missing_file_is_refused_naming_it(tmp_path):
    with pytest.raises(ValueError, match=re.escape(str(tmp_path / "absent.toml"))):
        mirrorsim.Scenario.load(tmp_path / "absent.toml")


def test_toml_text_errors_name_the_source_line_and_column():
    with pytest.raises(ValueError, match=r"^notebook:2:2: unknown key 'lnk'"):
        mirrorsim.Scenario.from_toml('seed = 1\n[lnk]\n[[volume]]\nname = "db"\ntracks = 1\n', "notebook")


def test_values_that_are_not_scenario_values_raise_type_error(quickstart_path):
    sc = mirrorsim.Scenario.load(quickstart_path)
    with pytest.raises(TypeError):
        sc["link.distance_km"] = {1: "km"}
    # a table is a scenario value (a service time's), refused by the key that takes none
    with pytest.raises(mirrorsim.ScenarioError, match=r"link.distance_km: expected a number in \[0, 100000\], got a table"):
        sc["link.distance_km"] = {"km": 1}
    with pytest.raises(TypeError):
        sc["link.distance_km"] = None


def test_strings_that_are_not_bare_words_are_quoted(quickstart_path):
    sc = mirrorsim.Scenario.load(quickstart_path)
    # "true" as a string must stay a string: the loader then refuses it as a mode.
    with pytest.raises(ValueError, match=r'volume.db.mode: expected one of .*got "true"'):
        sc["volume.db.mode"] = "true"
    with pytest.raises(ValueError, match=r'got "1000"'):
        sc["workload.0.rate_iops"] = "1000"


def test_copies_are_independent_and_with_values_leaves_the_original(quickstart_path):
    sc = mirrorsim.Scenario.load(quickstart_path)
    c, shallow, deep = sc.copy(), copy.copy(sc), copy.deepcopy(sc)
    assert sc == c == shallow == deep
    c["link.distance_km"] = 5
    shallow["link.distance_km"] = 6
    deep["link.distance_km"] = 8
    w = sc.with_values({"link.distance_km": 7})
    assert [x["link.distance_km"] for x in (sc, c, shallow, w, deep)] == [100.0, 5.0, 6.0, 7.0, 8.0]
    assert sc != c


def test_every_listed_key_is_addressable_and_round_trips_through_its_text(quickstart_path):
    sc = mirrorsim.Scenario.load(quickstart_path)
    keys = sc.keys()
    assert {"seed", "link.distance_km", "volume.db.mode", "workload.0.rate_iops", "measurement.warmup_s"} <= set(keys)
    for key in keys:
        text = sc.get_text(key)
        assert text != "", key
        c = sc.copy()
        c.update({key: sc[key]})
        assert c == sc, key


def test_resolved_toml_loads_back_to_the_same_values(quickstart_path):
    sc = mirrorsim.Scenario.load(quickstart_path)
    sc["link.distance_km"] = 42
    again = mirrorsim.Scenario.from_toml(sc.to_toml(), "again")
    assert all(again[k] == sc[k] for k in sc.keys())
    assert again.to_dict() == sc.to_dict()


def test_every_shipped_scenario_loads():
    for path in sorted(SCENARIOS.glob("*.toml")):
        sc = mirrorsim.Scenario.load(path)
        assert sc.keys(), path
