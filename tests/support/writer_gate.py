"""The store's writer thread held at a gate: what is submitted meanwhile waits in its
queue, as on a slow SD card, until the test opens the gate (or leaves the block)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType
from typing import TypeVar

from raspy.storage.store import Put, Store
from raspy.storage.tables import Table
from support.wait import wait_until

T = TypeVar("T")


class _Hold:
    """A write's report that holds the writer thread until released (30 s at most)."""

    def __init__(self) -> None:
        self.held = threading.Event()
        self.release = threading.Event()

    def __call__(self, _error: BaseException | None) -> None:  # the writer waits here
        self.held.set()
        self.release.wait(30)


class WriterGate:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._hold = _Hold()

    def __enter__(self) -> WriterGate:
        self._store.submit([Put(Table.CRON, b"gate", b"\x00")], self._hold)
        assert self._hold.held.wait(10), "the writer never reached the gate"
        return self

    def open(self) -> None:
        self._hold.release.set()

    def open_once_started(self, start: Callable[[], T], what: str) -> T:
        """Run `start` on a thread; open the gate once it has returned or has asked
        the store for something (a commit that waits behind the gate), then return
        what it returned. A start that wrongly read before waiting returns first."""
        submits = self._store.stats()["submits"]
        result: list[T] = []
        thread = threading.Thread(target=lambda: result.append(start()))
        thread.start()
        wait_until(
            lambda: bool(result) or self._store.stats()["submits"] > submits,
            what=f"{what} to read or to wait for the store",
        )
        self.open()
        thread.join(10)
        assert result, f"{what} never ended"
        return result[0]

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.open()


class CommittedGate:
    """The store's writer held after it has committed what was submitted while it
    waited, before it tells their submitters: the store holds them, and the Clone
    server has not published them (its window between commit and publish).

    Inside the block the writer waits at a WriterGate; `commit()` lets it write what
    was queued meanwhile in one group, this gate's own write first, whose report
    (made before theirs) holds it; `open()` lets it report the rest."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._queued = WriterGate(store)
        self._hold = _Hold()

    def __enter__(self) -> CommittedGate:
        self._queued.__enter__()
        self._store.submit([Put(Table.CRON, b"committed-gate", b"\x00")], self._hold)
        return self

    def commit(self) -> None:
        self._queued.open()
        assert self._hold.held.wait(10), "the writer never committed the queued writes"

    def open(self) -> None:
        self._hold.release.set()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.open()
        self._queued.__exit__(exc_type, exc, traceback)
