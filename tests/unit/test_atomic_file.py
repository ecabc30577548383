"""raspy.atomic_file: a file is replaced whole or not at all, and no temp file is left."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from raspy.atomic_file import (
    atomic_writer,
    prepare_atomic,
    temp_target,
    write_atomic,
    write_named_output,
)


class _Interrupted(Exception):
    pass


def test_a_new_file_holds_the_data_and_no_temp_file_is_left(tmp_path: Path) -> None:
    write_atomic(tmp_path / "out.svg", b"<svg/>")
    assert (tmp_path / "out.svg").read_bytes() == b"<svg/>"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.svg"]


def test_an_existing_file_is_replaced_whole(tmp_path: Path) -> None:
    path = tmp_path / "dump.txt"
    path.write_bytes(b"old content, longer than the new one\n")
    with atomic_writer(path) as out:
        out.write(b"new ")
        out.write(b"lines\n")
    assert path.read_bytes() == b"new lines\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dump.txt"]


def test_the_mode_is_the_new_files_mode(tmp_path: Path) -> None:
    path = tmp_path / "web-token"
    path.write_bytes(b"old")
    path.chmod(0o644)
    write_atomic(path, b"secret hash\n", mode=0o600)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_an_error_while_writing_leaves_the_old_file_and_no_temp_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "scenarios.yaml"
    path.write_bytes(b"old: kept\n")

    def write_half() -> None:
        with atomic_writer(path) as out:
            out.write(b"half of the new ")
            raise _Interrupted

    with pytest.raises(_Interrupted):
        write_half()
    assert path.read_bytes() == b"old: kept\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scenarios.yaml"]


def test_a_failed_rename_leaves_the_target_and_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "chart.png"
    target.mkdir()  # a directory cannot be replaced by a file
    (target / "inside").write_bytes(b"kept")
    with pytest.raises(IsADirectoryError):
        write_atomic(target, b"png")
    assert (target / "inside").read_bytes() == b"kept"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chart.png"]


def test_a_missing_directory_is_an_error_and_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        write_atomic(tmp_path / "absent" / "out.txt", b"data")
    assert list(tmp_path.iterdir()) == []


def test_without_replace_a_taken_name_is_kept_and_no_temp_file_is_left(
    tmp_path: Path,
) -> None:
    """A dated backup never replaces a file: the name taken (here while the new
    content was written) raises FileExistsError and the file there stays."""
    path = tmp_path / "raspy-20260101T000000Z.dump"

    def write_while_taken() -> None:
        with atomic_writer(path, replace=False) as out:
            out.write(b"the new backup\n")
            path.write_bytes(b"taken meanwhile\n")

    with pytest.raises(FileExistsError):
        write_while_taken()
    assert path.read_bytes() == b"taken meanwhile\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_without_replace_a_free_name_is_written_with_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "raspy-20260101T000000Z-2.dump"
    with atomic_writer(path, mode=0o600, replace=False) as out:
        out.write(b"a backup\n")
    assert path.read_bytes() == b"a backup\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.stat().st_nlink == 1  # the temp name is gone, not a second link
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_temp_target_names_the_file_a_left_temp_file_was_for() -> None:
    assert temp_target(".raspy-x.dump.0123456789ab.tmp") == "raspy-x.dump"
    assert temp_target(".a.b.c.00000000000f.tmp") == "a.b.c"
    for other in (
        "raspy-x.dump",
        ".raspy-x.dump.0123456789ab",  # no .tmp
        ".raspy-x.dump.0123456789a.tmp",  # 11 hex digits
        ".raspy-x.dump.0123456789AB.tmp",  # not token_hex's
        "raspy-x.dump.0123456789ab.tmp",  # no leading dot
    ):
        assert temp_target(other) is None, other


def test_temp_target_knows_the_writers_own_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "raspy-20260101T000000Z.dump"
    with atomic_writer(path) as out:
        out.write(b"being written\n")
        (temp,) = tmp_path.iterdir()
        assert temp_target(temp.name) == path.name


def test_a_named_output_that_is_a_pipe_is_written_into_not_replaced(
    tmp_path: Path,
) -> None:
    """`-o /dev/stdout`, a FIFO, a device: a rename over it made it a regular file
    (as root, /dev/full was one afterwards)."""
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    reader = os.open(pipe, os.O_RDONLY | os.O_NONBLOCK)  # the writer's open won't wait
    try:
        write_named_output(pipe, b"chart\n")
        assert stat.S_ISFIFO(pipe.lstat().st_mode)
        assert os.read(reader, 100) == b"chart\n"
    finally:
        os.close(reader)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


def test_a_named_output_that_is_a_file_is_replaced_whole(tmp_path: Path) -> None:
    path = tmp_path / "all.yaml"
    path.write_bytes(b"old and longer\n")
    write_named_output(path, b"new\n")
    assert path.read_bytes() == b"new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["all.yaml"]


def test_a_prepared_file_replaces_the_target_only_when_committed(
    tmp_path: Path,
) -> None:
    path = tmp_path / "web-sessions"
    path.write_bytes(b"old\n")
    prepared = prepare_atomic(path, b"new\n", mode=0o600)
    assert path.read_bytes() == b"old\n"  # synced beside it, nothing replaced yet
    assert temp_target(prepared.temp.name) == "web-sessions"
    prepared.commit()
    assert path.read_bytes() == b"new\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["web-sessions"]


def test_a_prepared_file_discarded_leaves_the_target_and_no_temp_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "web-sessions"
    path.write_bytes(b"old\n")
    prepare_atomic(path, b"new\n").discard()
    assert path.read_bytes() == b"old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["web-sessions"]


def test_a_prepared_file_whose_rename_fails_leaves_no_temp_file(
    tmp_path: Path,
) -> None:
    target = tmp_path / "chart.png"
    target.mkdir()
    prepared = prepare_atomic(target, b"png")
    with pytest.raises(IsADirectoryError):
        prepared.commit()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chart.png"]


@pytest.mark.timeout(10)
@pytest.mark.parametrize("name", ["", "/"])
def test_a_path_with_no_file_name_is_a_folder_not_a_value_error(name: str) -> None:
    """ "" (the current folder) and "/" have no name for the temp file beside them:
    before, ValueError ("PosixPath('.') has an empty name"), which the tools did not
    take for a file named wrong (`raspy-kv dump -o ''`: status 70)."""
    with pytest.raises(IsADirectoryError):
        write_atomic(name, b"x")
