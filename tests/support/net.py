"""Real sockets on 127.0.0.1 for tests: free port ranges, checked cleanup."""

from __future__ import annotations

import random
import socket
from pathlib import Path

_LOWEST = 20_000  # above the fixed ports services usually take
_CHOOSE = random.SystemRandom()  # never the same draw in two test processes


def free_port_base(span: int = 4) -> int:
    """A base port N such that N..N+span-1 were free a moment ago (for raspyd).

    raspyd binds fixed ports from its port base, so the e2e tests must choose a
    base. It is drawn at random below the kernel's ephemeral range: the ports that
    bind(0) and every outgoing connection take come from that range, and one could
    take a killed daemon's port before the test starts it again; below it only a
    process that asks for a port by number (another test's daemon, in a parallel
    worker or another suite on this machine) can, and the check below sees those.
    """
    highest = _ephemeral_floor() - span
    for _ in range(50):
        base = _CHOOSE.randint(_LOWEST, highest)
        if all(is_free(base + offset) for offset in range(span)):
            return base
    raise AssertionError("no free port range found on 127.0.0.1")


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
