"""The store's writer thread held at a gate: what is submitted meanwhile waits in its
queue, as on a slow SD card, until the test opens the gate (or leaves the block)."""

from __future__ import annotations

import threading
from types import TracebackType

from raspy.storage.store import Put, Store
from raspy.storage.tables import Table


class WriterGate:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._held = threading.Event()
        self._release = threading.Event()

    def __enter__(self) -> WriterGate:
        self._store.submit([Put(Table.CRON, b"gate", b"\x00")], self._hold)
        assert self._held.wait(10), "the writer never reached the gate"
        return self

    def open(self) -> None:
        self._release.set()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._release.set()

    def _hold(self, _error: BaseException | None) -> None:  # the writer waits here
        self._held.set()
        self._release.wait(30)
