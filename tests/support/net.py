"""Real sockets on 127.0.0.1 for tests: free port ranges, checked cleanup."""

from __future__ import annotations

import fcntl
import os
import random
import socket
import tempfile
from pathlib import Path

_LOWEST = 20_000  # above the fixed ports services usually take
_CHOOSE = random.SystemRandom()  # never the same draw in two test processes
_BLOCK = 8  # ports per reservation: every span asked for fits in one
# one lock file per block, shared by every test process of this user on this machine
_LOCKS = Path(tempfile.gettempdir()) / f"raspy-test-ports-{os.getuid()}"
_held: dict[int, int] = {}  # base -> the open lock file that reserves its block


def free_port_base(span: int = 4) -> int:
    """A base port N such that N..N+span-1 were free a moment ago (for raspyd).

    raspyd binds fixed ports from its port base, so the e2e tests must choose a
    base. It is drawn at random below the kernel's ephemeral range: the ports that
    bind(0) and every outgoing connection take come from that range, and one could
    take a killed daemon's port before the test starts it again; below it only a
    process that asks for a port by number (another test's daemon, in a parallel
    worker or another suite on this machine) can, and the check below sees those.

    A free port is not yet a reserved one: between the check and the daemon's bind
    (a second or more) another worker could draw the same range, and a kill loop
    leaves its ports unbound between a kill and the restart. So each range is also
    reserved, by a lock on its block's file that other test processes respect, until
    release_ports() (tests/conftest.py calls it after each test for the ranges that
    test drew) or until this process ends.
    """
    assert span <= _BLOCK
    highest = _ephemeral_floor() - _BLOCK
    for _ in range(50):
        drawn = _CHOOSE.randint(_LOWEST, highest)
        base = drawn - drawn % _BLOCK
        if base in _held or not _reserve(base):
            continue
        if all(is_free(base + offset) for offset in range(span)):
            return base
        release_ports({base})
    raise AssertionError("no free port range found on 127.0.0.1")


def _reserve(base: int) -> bool:
    """Lock `base`'s block for this process; False when another process holds it."""
    _LOCKS.mkdir(mode=0o700, exist_ok=True)
    fd = os.open(_LOCKS / f"{base}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return False
    _held[base] = fd
    return True


def reserved_ports() -> set[int]:
    """The bases of the ranges this process holds."""
    return set(_held)


def release_ports(bases: set[int]) -> None:
    """Give these ranges back (closing the lock file releases its lock)."""
    for base in bases:
        fd = _held.pop(base, None)
        if fd is not None:
            os.close(fd)


def _ephemeral_floor() -> int:
    """The lowest port of the kernel's ephemeral range (32768 when unknown)."""
    try:
        text = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text("ascii")
        floor = int(text.split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768
    return floor if floor > _LOWEST + 1_000 else 32_768


def is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
