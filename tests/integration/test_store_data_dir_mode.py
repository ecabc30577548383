"""The data dir is private whoever opens the store for writing (issue 18): raspyd,
`raspy-kv restore`, a bench. Store.open makes a new one 0700 and tightens an existing
one that the group or others may use, with a warning."""

from __future__ import annotations

import stat
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs
from support.store_fixtures import TINY

from raspy.errors import DataDirError
from raspy.storage.store import Store


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _tightened(logs: Sequence[Mapping[str, Any]]) -> list[tuple[object, ...]]:
    return [
        (e["log_level"], e["path"], e["mode"], e["now"])
        for e in logs
        if e["event"] == "data_dir_permissions_tightened"
    ]


def test_a_new_data_dir_is_made_private_without_a_warning(tmp_path: Path) -> None:
    data_dir = tmp_path / "new" / "data"
    with capture_logs() as logs:
        Store.open(data_dir, TINY).close()
    assert _mode(data_dir) == 0o700
    assert _tightened(logs) == []


def test_an_existing_0755_data_dir_is_tightened_to_0700_with_a_warning(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    data_dir.chmod(0o755)
    with capture_logs() as logs:
        Store.open(data_dir, TINY).close()
    assert _mode(data_dir) == 0o700
    assert _tightened(logs) == [("warning", str(data_dir), "0755", "0700")]
    with capture_logs() as again:  # once: a private dir is not warned about
        Store.open(data_dir, TINY).close()
    assert _tightened(again) == []


def test_a_data_dir_that_cannot_be_created_is_a_data_dir_error(
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(DataDirError) as refused:
        Store.open(blocker / "data", TINY)
    assert str(refused.value).startswith(f"cannot create data dir {blocker}/data: ")
