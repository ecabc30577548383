"""raspy-kv check --drop DB KEY: one record that restore refuses (a kv key that is a
Clone command, which an older restore let in; a record damaged on the card) removed
from a stopped hub's store, in one txn: the way out for a store whose every dump
and backup names it (`raspy-kv del` reaches only the Clone tree's `/` keys, and the
hub serves no such record). A sound record is never dropped."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Final

from raspy.cli import EXIT_USAGE
from raspy.cli.kv_lines import EXIT_DATA, Failure, refused_record
from raspy.errors import StoreBeingReadError, StoreError, StoreLockedError, quote
from raspy.storage import damage
from raspy.storage.check import validate_written
from raspy.storage.ops import Delete
from raspy.storage.store import Store
from raspy.storage.tables import Table

_HOLDER: Final = "raspy-kv check --drop"
# the escapes of a key as raspy names it (raspy.errors.quote: a bytes repr)
_ESCAPE: Final = re.compile(r"\\(x[0-9a-fA-F]{2}|[\\'\"tnr])")
_SIMPLE: Final = {"\\": b"\\", "'": b"'", '"': b'"', "t": b"\t", "n": b"\n", "r": b"\r"}


def key_bytes(text: str) -> bytes:
    """The key that `text` names as dump, backup and check show it between its
    quotes (`\\x00`, `\\\\`, `\\'`, `\\n`, …), UTF-8 otherwise."""
    found = bytearray()
    at = 0
    for match in _ESCAPE.finditer(text):
        found += text[at : match.start()].encode("utf-8", "surrogateescape")
        code = match.group(1)
        found += bytes([int(code[1:], 16)]) if code[0] == "x" else _SIMPLE[code]
        at = match.end()
    found += text[at:].encode("utf-8", "surrogateescape")
    return bytes(found)


def drop_command(data_dir: str, table: Table, key: bytes) -> str:
    """The `raspy-kv check --drop` command that drops `key` of `table`, as a shell
    reads it back whole (each argument quoted: a key may hold both quotes, a `$`),
    and argparse too (a KEY starting with `-` is written `\\x2d`): KEY as
    key_bytes reads it."""
    named = quote(key, None)[1:-1]
    if named.startswith("-"):  # argparse takes it for an option, not --drop's KEY
        named = "\\x2d" + named[1:]
    words = ["--data-dir", data_dir, "--drop", table.value, named]
    return " ".join(["raspy-kv check", *(shlex.quote(word) for word in words)])


def parse_drop(db: str, key: str) -> tuple[Table, bytes]:
    """--drop's DB and KEY, or a usage Failure naming what is wrong."""
    names = [table.value for table in Table]
    if db not in names:
        raise Failure(f"--drop {db}: no such db; one of {', '.join(names)}", EXIT_USAGE)
    if not key:
        raise Failure("--drop: KEY is empty; name it as check names it", EXIT_USAGE)
    return Table(db), key_bytes(key)


def drop(data_dir: str, table: Table, key: bytes) -> str:
    """The record removed (durably), once it is found and restore refuses it; what
    is said of it. Failure for a running hub, no such record or a sound one."""
    path = Path(data_dir)
    if damage.data_file_absent(path):
        raise Failure(
            f"no store in {path} (no {damage.DATA_FILE}): nothing to drop", EXIT_DATA
        )
    try:
        store = Store.open(path, holder=_HOLDER)
    except StoreBeingReadError as exc:
        raise Failure(
            f"{exc}; let that raspy-kv end, then drop again", EXIT_DATA
        ) from exc
    except StoreLockedError as exc:
        raise Failure(
            f"{exc}{f': {exc.holder}' if exc.holder else ''}; --drop writes the"
            " store: stop raspyd (or what else writes it) first",
            EXIT_DATA,
        ) from exc
    try:
        value = store.get(table, key)
        if value is None:
            raise Failure(
                f"{table} has no key {quote(key)} in {path}: nothing was dropped"
                f" (`raspy-kv check --data-dir {path}` names the records to drop)",
                EXIT_USAGE,
            )
        why = refusal(table, key, value)
        if why is None:
            raise Failure(
                f"{table} {quote(key)} is a sound record: --drop removes only one"
                " that restore refuses (dump, backup and check name them); delete a"
                " kv key with `raspy-kv del` on the running hub",
                EXIT_USAGE,
            )
        store.commit([Delete(table, key)])
    finally:
        store.close()
    return f"dropped {why}"


def refusal(table: Table, key: bytes, value: bytes) -> str | None:
    """Why restore would refuse a record (limits aside: those are the hub's
    config), as it says it; None for one it takes. Dump, backup and --drop judge
    by it."""
    try:
        validate_written(table, key, value)
    except StoreError as exc:
        return refused_record(table, key, exc)
    return None
