"""Real sockets on 127.0.0.1 for tests: ephemeral ports, checked cleanup."""

from __future__ import annotations

import socket


def free_port_base(span: int = 4) -> int:
    """A base port N such that N..N+span-1 were free a moment ago (for raspyd).

    raspyd binds fixed ports from its port base, so the e2e tests must choose a
    base; the kernel's ephemeral choice for a probe socket keeps clashes rare.
    """
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = int(probe.getsockname()[1])
        if base + span > 65535:
            continue
        if all(_is_free(base + offset) for offset in range(span)):
            return base
    raise AssertionError("no free port range found on 127.0.0.1")


def _is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
