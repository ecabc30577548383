"""A CloneClient used after close(): every call that would talk to the server is
a ValueError at once (a caller's misuse, as for Client and Worker), and
wait_synced does not wait out its timeout for a snapshot that cannot come."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from support.net import free_port_base

from raspy.client.clone import CloneClient

CALLS: dict[str, Callable[[CloneClient], None]] = {
    "set": lambda client: client.set(b"/mine/x", b"1"),
    "delete": lambda client: client.delete(b"/mine/x"),
    "resync": lambda client: client.resync(),
    "wait_synced": lambda client: client.wait_synced(timeout_s=10),
}


@pytest.mark.parametrize("name", CALLS)
def test_a_closed_client_refuses_writes_resync_and_waits_with_a_value_error(
    name: str,
) -> None:
    """set, delete and resync raised RuntimeError where Client and Worker raise
    ValueError; wait_synced on a closed client that never synced waited its whole
    timeout and then said no snapshot came."""
    client = CloneClient(f"127.0.0.1:{free_port_base(3)}", b"/mine/")  # no server
    client.close()
    started = time.monotonic()
    with pytest.raises(ValueError, match="clone client is closed"):
        CALLS[name](client)
    assert time.monotonic() - started < 2
    assert client.get(b"/mine/x") is None  # reads still answer from the cache
