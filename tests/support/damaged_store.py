"""A real store made by the real raspyd, copied and damaged on purpose, and the two
commands that must refuse it (issue 18: a damaged store is never opened for writing).
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from raspy.client.clone import CloneClient
from raspy.client.titanic import TitanicClient
from raspy.storage import lmdb_file, lmdb_meta
from raspy.storage.damage import DATA_FILE, check_data_file
from support.daemon import running_daemon
from support.net import free_port_base

KEYS = 300
REQUESTS = 40
COMMAND_TIMEOUT_S = 25.0

Damage = Callable[[Path], None]


def make_store(data_dir: Path) -> None:
    """Clone keys (several kv pages) and pending Titanic requests, by raspyd itself."""
    with running_daemon(data_dir) as daemon:
        with CloneClient(daemon.endpoint) as client:
            for index in range(KEYS):
                body = bytes([index % 251]) * 600
                client.set(f"/app/item/{index:04d}".encode(), body)
            client.set(b"/app/last", b"done", confirm_timeout_s=10.0)
        titanic = TitanicClient(daemon.endpoint)
        try:
            for index in range(REQUESTS):
                titanic.submit("nobody.here", b"%d" % index, b"x" * 3000)
        finally:
            titanic.disconnect()
        assert daemon.terminate() == 0


def digest(path: Path) -> str | None:
    """sha256 of the file, or None when there is none."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def page_owners(data_dir: Path) -> tuple[int, dict[int, bytes]]:
    """(page size, page number -> the database that owns it) of a sound store."""
    meta = check_data_file(data_dir, deep=False)
    assert meta is not None
    size = meta.page_bytes
    with (data_dir / DATA_FILE).open("rb") as file:

        def read(pgno: int, count: int) -> bytes:
            file.seek(pgno * size)
            return file.read(count * size)

        report = lmdb_file.walk(meta, read, record_owners=True)
    return size, report.owners


def _pages_of(data_dir: Path, owner: bytes) -> tuple[int, list[int]]:
    size, owners = page_owners(data_dir)
    pages = sorted(page for page, name in owners.items() if name == owner)
    assert pages, f"no page of {owner!r}"
    return size, pages


def _write(data_dir: Path, offset: int, data: bytes) -> None:
    with (data_dir / DATA_FILE).open("r+b") as file:
        file.seek(offset)
        file.write(data)


def _garbage(count: int) -> bytes:
    return random.Random(18).randbytes(count)


def truncate_to_half(data_dir: Path) -> None:
    path = data_dir / DATA_FILE
    os.truncate(path, path.stat().st_size // 2)


def zero_meta_pages(data_dir: Path) -> None:
    size, _ = page_owners(data_dir)
    _write(data_dir, 0, bytes(2 * size))


def garbage_page_of(owner: bytes, pages: int = 1) -> Damage:
    """Overwrite `pages` whole pages from the first page of a database on."""

    def damage(data_dir: Path) -> None:
        size, owned = _pages_of(data_dir, owner)
        _write(data_dir, owned[0] * size, _garbage(pages * size))

    damage.__name__ = f"garbage_in_{owner.decode()}"
    return damage


def garbage_in_a_leaf_value(data_dir: Path) -> None:
    """A leaf page's header and node offsets stay sound; one record's bytes do not."""
    size, owned = _pages_of(data_dir, b"kv")
    with (data_dir / DATA_FILE).open("rb") as file:
        file.seek(owned[-1] * size)
        page = file.read(size)
    offset = struct.unpack_from("<H", page, lmdb_meta.PAGE_HEADER_BYTES)[0]
    key_bytes = struct.unpack_from("<H", page, offset + 6)[0]
    data_at = owned[-1] * size + offset + 8 + key_bytes
    _write(data_dir, data_at, b"\xc1" * 16)  # 0xc1: never used by msgpack


def garbage_in_a_leaf_header(data_dir: Path) -> None:
    """Garbage over a leaf page's node offsets (the header's page number kept)."""
    size, owned = _pages_of(data_dir, b"kv")
    start = owned[-1] * size + lmdb_meta.PAGE_HEADER_BYTES
    _write(data_dir, start, _garbage(64))


def leaf_flag_flipped(owner: bytes) -> Damage:
    """One byte changed: a leaf page of a database says it is a branch (LMDB's
    cursor asserts on it and aborts the process)."""

    def damage(data_dir: Path) -> None:
        size, owned = _pages_of(data_dir, owner)
        at = owned[-1] * size + 10  # the flags, after the page number and the pad
        with (data_dir / DATA_FILE).open("r+b") as file:
            file.seek(at)
            flags = file.read(1)[0]
        _write(data_dir, at, bytes([flags ^ (lmdb_file.P_LEAF | lmdb_file.P_BRANCH)]))

    damage.__name__ = f"leaf_flag_flipped_in_{owner.decode()}"
    return damage


def empty_data_file(data_dir: Path) -> None:
    os.truncate(data_dir / DATA_FILE, 0)


def missing_data_file(data_dir: Path) -> None:
    (data_dir / DATA_FILE).unlink()


def copy_store(pristine: Path, target: Path) -> Path:
    shutil.copytree(pristine, target)
    (target / "lock").unlink(missing_ok=True)
    return target


def run_raspyd(data_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    args = [
        sys.executable,
        "-m",
        "raspy.cli.raspyd",
        "--data-dir",
        str(data_dir),
        "--port-base",
        str(free_port_base()),
        "--allow-root",
        "--log-format",
        "json",
        *extra,
    ]
    return subprocess.run(
        args, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False
    )


def run_kv_check(data_dir: Path) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "raspy.cli.kv", "check", "--data-dir", str(data_dir)]
    return subprocess.run(
        args, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False
    )
