"""ReadView: one read transaction of a Store, a consistent snapshot across reads.

Store.read_view() and Store.walked_view() make one; it is a context manager.
"""

from __future__ import annotations

from typing import Final

from raspy.closing import Closing
from raspy.errors import StoreError
from raspy.storage import env as env_mod
from raspy.storage.tables import Table
from raspy.storage.txn import ReadTxn

_ALL: Final = 2**62  # "no limit": bounded by the table's size


class ReadView(Closing):
    """ONE read transaction (a consistent snapshot); use from one thread at a time and
    close it soon (it may be closed from another thread).

    Do not commit() from the thread that holds a view: growing the map waits for it.
    """

    def __init__(self, shared: env_mod.Environment, *, walked: bool = False) -> None:
        self._env = shared
        self._txn: ReadTxn | None = (
            shared.begin_walked() if walked else shared.begin_read()
        )

    def _open_txn(self) -> ReadTxn:
        if self._txn is None:
            raise StoreError("read view is closed")
        return self._txn

    def get(self, table: Table, key: bytes) -> bytes | None:
        return self._open_txn().get(table, key)

    def iter_from(
        self, table: Table, prefix: bytes, after: bytes | None, limit: int
    ) -> list[tuple[bytes, bytes]]:
        """The next `limit` items whose key starts with prefix and is > after."""
        start = prefix if after is None else max(prefix, after)
        return self._open_txn().range(table, start, prefix, after, limit)

    def scan(
        self, table: Table, prefix: bytes = b"", limit: int | None = None
    ) -> list[tuple[bytes, bytes]]:
        """Items whose key starts with prefix, in key order, at most `limit`, in this
        snapshot."""
        return self.iter_from(table, prefix, None, _ALL if limit is None else limit)

    def count(self, table: Table) -> int:
        """Number of records in the table, in this snapshot."""
        return self._open_txn().count(table)

    def txn_id(self) -> int:
        """The id of the txn whose snapshot this view reads (its meta page's)."""
        return self._open_txn().txn_id()

    def close(self) -> None:
        if self._txn is not None:
            txn, self._txn = self._txn, None
            self._env.end_read(txn)
