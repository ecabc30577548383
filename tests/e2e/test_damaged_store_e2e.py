"""A damaged store on real files (issue 18): raspyd and `raspy-kv check` refuse it with
one line, a non-zero exit and no traceback, and leave data.mdb byte for byte as it was.

The store is made once by the real raspyd (Clone keys, pending Titanic requests), then
each test copies it and damages the copy.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from support.daemon import running_daemon
from support.damaged_store import (
    Damage,
    copy_store,
    digest,
    empty_data_file,
    garbage_in_a_leaf_header,
    garbage_in_a_leaf_value,
    garbage_page_of,
    make_store,
    missing_data_file,
    run_kv_check,
    run_raspyd,
    truncate_to_half,
    zero_meta_pages,
)
from support.small_fs import fill, small_tmpfs

from raspy.storage.damage import DATA_FILE

pytestmark = pytest.mark.timeout(120)

DAMAGES: list[Damage] = [
    truncate_to_half,
    zero_meta_pages,
    garbage_page_of(b"kv"),
    garbage_page_of(b"kv", pages=16),  # 64 KiB in the Clone part
    garbage_page_of(b"titanic.requests"),
    garbage_page_of(b"titanic.queue"),
    garbage_page_of(b"meta"),
    garbage_page_of(b"(main)"),
    garbage_page_of(b"(free pages)"),
    garbage_in_a_leaf_value,
    garbage_in_a_leaf_header,
    empty_data_file,
    missing_data_file,
]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("pristine") / "data"
    make_store(data_dir)
    return data_dir


def _damaged(pristine: Path, tmp_path: Path, damage: Damage) -> tuple[Path, str | None]:
    data_dir = copy_store(pristine, tmp_path / "data")
    before = digest(data_dir / DATA_FILE)
    damage(data_dir)
    after = digest(data_dir / DATA_FILE)
    assert after != before, "the damage changed nothing"
    return data_dir, after


@pytest.mark.parametrize("damage", DAMAGES, ids=lambda d: d.__name__)
def test_raspyd_refuses_a_damaged_store_in_one_line_and_leaves_it_unchanged(
    pristine: Path, tmp_path: Path, damage: Damage
) -> None:
    """Issue 18: one line naming data.mdb and what helps, exit 1, no write."""
    data_dir, damaged = _damaged(pristine, tmp_path, damage)
    result = run_raspyd(data_dir)
    lines = result.stderr.splitlines()
    assert (result.returncode, len(lines)) == (1, 1), result.stderr
    assert lines[0].startswith(f"raspyd: {data_dir / DATA_FILE}")
    assert "raspy-kv" in lines[0]
    assert digest(data_dir / DATA_FILE) == damaged


@pytest.mark.parametrize("damage", DAMAGES, ids=lambda d: d.__name__)
def test_kv_check_reports_a_damaged_store_without_a_traceback(
    pristine: Path, tmp_path: Path, damage: Damage
) -> None:
    """Issue 18: `raspy-kv check` names the damage (never SIGBUS), exits 1."""
    data_dir, damaged = _damaged(pristine, tmp_path, damage)
    result = run_kv_check(data_dir)
    assert result.returncode == 1, result.stderr
    if damage is garbage_in_a_leaf_value:  # pages sound: the record is named
        assert result.stderr == ""
        problem, verdict = result.stdout.splitlines()
        assert problem.startswith("kv '/app/item/")
        assert "1 problem in" in verdict
    else:
        lines = result.stderr.splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith(f"raspy-kv check: {data_dir / DATA_FILE}")
    assert digest(data_dir / DATA_FILE) == damaged


def test_the_store_raspyd_made_passes_both_commands(pristine: Path) -> None:
    """The undamaged copy: check says ok, and it opens (the walk finds nothing)."""
    result = run_kv_check(pristine)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines()[-1].startswith("raspy-kv check: checked ")


@pytest.mark.parametrize("damage", [empty_data_file, missing_data_file])
def test_raspyd_init_starts_an_empty_store_where_one_was_lost(
    pristine: Path, tmp_path: Path, damage: Damage
) -> None:
    """--init is the explicit "start over here": a new store, served at once."""
    data_dir, _ = _damaged(pristine, tmp_path, damage)
    with running_daemon(data_dir, extra_args=("--init",)) as daemon:
        assert daemon.terminate() == 0
    assert run_kv_check(data_dir).returncode == 0


def test_raspyd_init_never_replaces_a_damaged_file(
    pristine: Path, tmp_path: Path
) -> None:
    """--init creates a store only where none is: a damaged file stays as it is."""
    data_dir, damaged = _damaged(pristine, tmp_path, truncate_to_half)
    result = run_raspyd(data_dir, "--init")
    assert (result.returncode, len(result.stderr.splitlines())) == (1, 1)
    assert digest(data_dir / DATA_FILE) == damaged


@pytest.mark.parametrize("damage", [empty_data_file, missing_data_file])
def test_the_advised_restore_brings_back_a_lost_store(
    pristine: Path, tmp_path: Path, damage: Damage
) -> None:
    """raspyd's refusal says `raspy-kv restore --data-dir D FILE`: that command works
    on the very data dir it refused (it once refused it too)."""
    dump = tmp_path / "backup.dump"
    kv = [sys.executable, "-m", "raspy.cli.kv"]
    made = subprocess.run(
        [*kv, "dump", "--data-dir", str(pristine), "-o", str(dump)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    data_dir, _ = _damaged(pristine, tmp_path, damage)
    advised = run_raspyd(data_dir).stderr
    assert f"raspy-kv restore --data-dir {data_dir} FILE" in advised
    restored = subprocess.run(
        [*kv, "restore", "--data-dir", str(data_dir), str(dump)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert restored.returncode == 0, restored.stderr
    assert run_kv_check(data_dir).returncode == 0
    with running_daemon(data_dir) as daemon:
        assert daemon.terminate() == 0


def test_a_start_on_a_full_disk_is_told_to_free_space_not_to_inspect_the_store(
    tmp_path: Path,
) -> None:
    """A store that cannot be written at start for a full filesystem is no damaged
    store: raspyd said so, then added "inspect it with `raspy-kv check` or move the
    data dir aside", advice for a damaged one. Its line says what helps, alone."""
    with small_tmpfs(tmp_path / "fs", size="1m") as where:
        fill(where, leave_bytes=16 * 1024)
        data_dir = where / "data"
        result = run_raspyd(data_dir, "--init")
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(f"raspyd: store in {data_dir}: the filesystem is full (")
    assert line.endswith("or move the data dir to a bigger one, then retry")
    assert "raspy-kv check" not in line
