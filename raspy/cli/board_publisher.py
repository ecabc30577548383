"""raspy-poller's readings into the hub's tree: the device service's publisher over
a Clone client, which holds the latest value of each key while the hub is away."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from raspy.client.clone import CloneClient
from raspy.protocol import clone


class ClientPublisher:
    """raspy.devices.tree.DevicePublisher over a CloneClient, used by the device
    service's thread.

    While the hub is away (the client is not live) only the latest value of each key
    is held, so memory stays bounded by the number of keys; it goes out, oldest key
    first, as soon as the client is live again (flush(), from the main loop's turn),
    not at the next poll, which for a 1-Wire board may be minutes away; or with the
    next update if that comes first. An event (set())
    goes to the Clone client at once, which sends it when the hub's collector
    listens: a key outside this board's subtree is sent once, never confirmed.

    Readings are held, too, until open(): until the device service has had the
    hub's copy of its subtree (raspy.cli.hub_watch). Its simulated outputs take
    their value from it, and a switch that was on and read `false` at start must
    not reach the hub in between (an off and an on again, which rules would see).
    A service with no such outputs (`onewire`) is opened at once.
    """

    def __init__(self, client: CloneClient) -> None:
        self._client = client
        self._open = False
        self._held: dict[bytes, bytes] = {}
        # the device service's thread and the main loop's: a key's values go out
        # in the order they were given
        self._lock = threading.Lock()

    def set_many(
        self, entries: Sequence[tuple[bytes, bytes]]
    ) -> list[tuple[bytes, str]]:
        valid, refused = clone.split_by_key(entries)
        with self._lock:
            if not (self._open and self._client.live):
                for key, body in valid:
                    self._held.pop(key, None)
                    self._held[key] = body
                return refused
            self._send([*self._take_held(), *valid])
        return refused

    def open(self) -> None:
        """Readings may go from now on (the device service has had the hub's copy)."""
        with self._lock:
            self._open = True

    def flush(self) -> None:
        """Send what was held while the hub was away, if the client is live again."""
        with self._lock:
            if self._held and self._open and self._client.live:
                self._send(self._take_held())

    def _take_held(self) -> list[tuple[bytes, bytes]]:
        held, self._held = self._held, {}
        return list(held.items())

    def _send(self, entries: Sequence[tuple[bytes, bytes]]) -> None:
        for key, body in entries:
            if body:
                self._client.set(key, body)
            else:  # the readings of a device gone (ForgetGone)
                self._client.delete(key)

    def set(self, key: bytes, body: bytes, *, ttl_s: float | None = None) -> None:
        self._client.set(key, body, ttl_s=ttl_s)
