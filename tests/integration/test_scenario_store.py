"""The `scenario` table (issue 11): each change one commit with the original's keys,
the text kept byte for byte, and raspy-kv dump/restore carrying all of it."""

from __future__ import annotations

from pathlib import Path

import pytest
from structlog.testing import capture_logs
from support.kv_cli import records, run

from raspy import packing
from raspy.config import StoreConfig
from raspy.storage.scenario_store import ScenarioStore, StoredScenario
from raspy.storage.store import Delete, Put, Store, Table

TEXT = "# kept as written\nname: heat  # trailing comment\n\ttriggers: []\n"
TINY = StoreConfig(map_size_initial_mb=1, map_size_max_mb=16)


def _open(data_dir: Path) -> Store:
    with capture_logs():
        return Store.open(data_dir, TINY)


def test_put_writes_the_original_keys_and_load_gives_the_text_back(
    tmp_path: Path,
) -> None:
    with _open(tmp_path / "data") as store:
        table = ScenarioStore(store)
        table.put(TEXT, True, "single", 100.0, "heat")
        table.put("name: cold\n", False, "queued", 200.0, "cold")
        table.put(TEXT + "# v2\n", True, "restart", 300.0, "heat")  # a replace
        table.write_main_conf({"timezone": "UTC"})
        assert table.load() == (
            [
                StoredScenario("cold", "name: cold\n", False, "queued", 200.0, 200.0),
                StoredScenario("heat", TEXT + "# v2\n", True, "restart", 100.0, 300.0),
            ],
            [],
        )
        assert sorted(k for k, _ in store.scan(Table.SCENARIO)) == [
            b"scenario.cold.code",
            b"scenario.cold.conf",
            b"scenario.heat.code",
            b"scenario.heat.conf",
            b"scenario.main.conf",
            b"scenario.main.keys",
        ]
        assert store.get(Table.SCENARIO, b"scenario.main.keys") == packing.pack(
            ["cold", "heat"]
        )


def test_enable_and_delete_each_change_the_table_once(tmp_path: Path) -> None:
    with _open(tmp_path / "data") as store:
        table = ScenarioStore(store)
        table.put(TEXT, True, "single", 100.0, "heat")
        table.put(TEXT, True, "single", 100.0, "cold")
        table.set_enabled("heat", False, 150.0)
        table.delete("cold")
        assert table.load() == (
            [StoredScenario("heat", TEXT, False, "single", 100.0, 150.0)],
            [],
        )
        assert store.get(Table.SCENARIO, b"scenario.cold.code") is None


def test_an_unreadable_record_is_named_and_the_others_load(tmp_path: Path) -> None:
    with _open(tmp_path / "data") as store:
        table = ScenarioStore(store)
        table.put(TEXT, True, "single", 100.0, "heat")
        table.put(TEXT, True, "single", 100.0, "cold")
        store.commit([Put(Table.SCENARIO, b"scenario.cold.conf", packing.pack([1]))])
        loaded, problems = table.load()
        assert [s.name for s in loaded] == ["heat"]
        assert problems == ["scenario cold: unreadable record: conf: expected a map"]


def test_raspy_kv_dump_and_restore_carry_the_scenario_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with _open(tmp_path / "a") as store:
        table = ScenarioStore(store)
        table.put(TEXT, True, "single", 100.0, "heat")
        table.set_enabled("heat", False, 150.0)
        table.write_main_conf({"timezone": "Europe/Berlin", "latitude": 52.5})
    dump = tmp_path / "all.dump"
    assert (
        run(["dump", "--data-dir", str(tmp_path / "a"), "-o", str(dump)], capsys)[0]
        == 0
    )
    assert (
        run(["restore", "--data-dir", str(tmp_path / "b"), str(dump)], capsys)[0] == 0
    )
    assert run(["check", "--data-dir", str(tmp_path / "b")], capsys)[0] == 0
    assert records(tmp_path / "b") == records(tmp_path / "a")
    with _open(tmp_path / "b") as restored:
        assert ScenarioStore(restored).load() == (
            [StoredScenario("heat", TEXT, False, "single", 100.0, 150.0)],
            [],
        )


def test_a_scenario_missing_a_record_or_its_name_is_named_and_the_others_load(
    tmp_path: Path,
) -> None:
    """Records each sound alone (a hand-edited dump restores them) that make no
    scenario: a text without its conf, a text the name list lacks. Each problem
    names its scenario and what is wrong; the others load."""
    with _open(tmp_path / "data") as store:
        table = ScenarioStore(store)
        for name in ("cold", "heat", "lost"):
            table.put(TEXT, True, "single", 100.0, name)
        store.commit(
            [
                Delete(Table.SCENARIO, b"scenario.cold.conf"),
                Put(
                    Table.SCENARIO,
                    b"scenario.main.keys",
                    packing.pack(["cold", "heat"]),
                ),
            ]
        )
        loaded, problems = table.load()
        assert [s.name for s in loaded] == ["heat"]
        assert problems == [
            "scenario cold: unreadable record: scenario.cold.conf is missing",
            "scenario lost: stored, but scenario.main.keys does not list it: not"
            " loaded (import it again to list it)",
        ]
