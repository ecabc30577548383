"""Readers of other processes that pin an old snapshot of the store, named.

LMDB reuses a page freed by a commit only once no read txn can still see it. A
reader that stops reading with its txn open (a `raspy-kv dump | less` left open, a
Ctrl-Z'd check) keeps every page freed since: the file grows with each commit until
the map reaches store.map_size_max_mb, and never shrinks. LMDB's reader table
(mdb_reader_list: pid, thread, txn id a line) tells who; this module keeps when each
(pid, txn) was first seen, so raspyd can say how long one has held its snapshot.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

from raspy.records import frozen

# a reader that has held one snapshot this long is warned of (a nightly backup of a
# big store on a Pi reads for minutes, not for this long)
LONG_HELD_S: Final = 600.0
_COMMAND_CHARS: Final = 200


@frozen
class Pin:
    """A read txn of another process on a snapshot older than the last commit."""

    pid: int
    txnid: int
    behind: int  # commits since its snapshot
    held_s: float  # since this process first saw it (0: seen just now)
    command: str | None  # its command line, if /proc tells


def parse_readers(table: str) -> list[tuple[int, int]]:
    """(pid, txn id) of each reader slot in an open read txn, from LMDB's table
    (the header line, then `pid thread txnid`; an idle slot's txnid is `-`)."""
    found = []
    for line in table.splitlines()[1:]:
        words = line.split()
        if len(words) == 3 and words[0].isdigit() and words[2].isdigit():
            found.append((int(words[0]), int(words[2])))
    return found


def command_of(pid: int) -> str | None:
    """pid's command line, short (the program's name, not its path), or None."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    words = [w.decode(errors="replace") for w in raw.split(b"\0") if w]
    if len(words) > 1 and Path(words[0]).name.startswith("python"):
        if words[1] == "-m" and len(words) > 2:
            words = words[2:]  # python -m raspy.cli.kv dump
        elif not words[1].startswith("-"):
            words = words[1:]  # python /opt/raspy/bin/raspy-kv dump
    if not words:
        return None
    text = " ".join([Path(words[0]).name, *words[1:]])
    return text if len(text) <= _COMMAND_CHARS else text[: _COMMAND_CHARS - 1] + "…"


class PinWatch:
    """The pinning readers of one store, each with the time it was first seen."""

    def __init__(
        self, own_pid: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._own_pid = own_pid
        self._clock = clock
        self._seen: dict[tuple[int, int], float] = {}
        self._warned: set[tuple[int, int]] = set()

    def update(self, table: str, last_txnid: int) -> list[Pin]:
        """The readers of other processes behind `last_txnid`, oldest first."""
        now = self._clock()
        current = {
            (pid, txnid)
            for pid, txnid in parse_readers(table)
            if pid != self._own_pid and txnid < last_txnid
        }
        self._seen = {key: self._seen.get(key, now) for key in current}
        self._warned &= current
        return [
            Pin(pid, txnid, last_txnid - txnid, now - self._seen[pid, txnid], None)
            for pid, txnid in sorted(current, key=lambda key: key[1])
        ]

    def newly_long(self, pins: list[Pin]) -> list[Pin]:
        """The pins held LONG_HELD_S or more that were not returned here before."""
        fresh = [
            p
            for p in pins
            if p.held_s >= LONG_HELD_S and (p.pid, p.txnid) not in self._warned
        ]
        self._warned.update((p.pid, p.txnid) for p in fresh)
        return fresh


def named(pin: Pin) -> Pin:
    """The pin with its command line (read from /proc only when it is said)."""
    return Pin(pin.pid, pin.txnid, pin.behind, pin.held_s, command_of(pin.pid))


def describe(pin: Pin) -> str:
    """`pid 123 (raspy-kv dump …) holds a snapshot 5000 commits old, for 20 min or
    more`: who, how far behind, how long (as far as raspyd has seen)."""
    who = f"pid {pin.pid}" + (f" ({pin.command})" if pin.command else "")
    commits = "commit" if pin.behind == 1 else "commits"
    text = f"{who} holds a snapshot {pin.behind} {commits} old"
    if pin.held_s >= 60:
        text += f", for {int(pin.held_s // 60)} min or more"
    return text


def blame(pins: list[Pin]) -> str:
    """What the store-full error adds when readers pin old snapshots ("" if none)."""
    if not pins:
        return ""
    first = describe(named(pins[0]))
    more = f" (and {len(pins) - 1} more)" if len(pins) > 1 else ""
    return (
        f"; but a reader keeps the pages freed since its snapshot from being reused:"
        f" {first}{more}. End it (a `raspy-kv dump` whose output nobody reads, a"
        " stopped job) and the store has room again, without raising the maximum"
    )
