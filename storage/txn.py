"""Typed LMDB transactions over a shared `env.Environment`: a read txn (a consistent
snapshot, opened inside the environment's resize gate) and a write txn (writer thread
only, the tables named by `Table`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import lmdb

from raspy.storage.lmdb_errors import store_error
from raspy.storage.tables import Table

if TYPE_CHECKING:
    from raspy.storage.env import Environment


class ReadTxn:
    """One LMDB read transaction: a consistent snapshot. Close it promptly."""

    def __init__(self, owner: Environment, txn: Any, thread: int) -> None:
        self._owner = owner
        self._txn = txn
        self.thread = thread  # the thread that opened it, for the resize gate
        # a reader's handles, opened in this snapshot at the first read: not before
        # its walk (Environment.begin_walked), as opening reads its main tree
        self._dbs: dict[Table, Any] | None = None

    def _db(self, table: Table) -> Any:
        if self._dbs is None:
            self._dbs = self._owner.tables_in(self._txn)
        return self._dbs.get(table)

    def get(self, table: Table, key: bytes) -> bytes | None:
        db = self._db(table)
        if db is None:
            return None
        try:
            value: bytes | None = self._txn.get(key, db=db)
        except lmdb.Error as exc:
            raise store_error(exc, self._owner.path) from exc
        return value

    def count(self, table: Table) -> int:
        db = self._db(table)
        if db is None:
            return 0
        entries: int = self._txn.stat(db)["entries"]
        return entries

    def txn_id(self) -> int:
        """The txn whose snapshot this reads: its meta page's txn id."""
        txnid: int = self._txn.id()
        return txnid

    def range(
        self, table: Table, start: bytes, prefix: bytes, skip: bytes | None, limit: int
    ) -> list[tuple[bytes, bytes]]:
        """Up to `limit` items from key >= start while the key starts with prefix."""
        db = self._db(table)
        found: list[tuple[bytes, bytes]] = []
        if db is None or limit <= 0:
            return found
        try:
            with self._txn.cursor(db=db) as cursor:
                more = cursor.set_range(start)
                while more:
                    key: bytes = cursor.key()
                    if not key.startswith(prefix):
                        break
                    if key != skip:
                        found.append((key, cursor.value()))
                        if len(found) >= limit:
                            break
                    more = cursor.next()
        except lmdb.Error as exc:
            raise store_error(exc, self._owner.path) from exc
        return found

    def close(self) -> None:
        self._txn.abort()


class WriteTxn:
    """One LMDB write transaction (writer thread only); implements schema.SchemaTxn."""

    def __init__(self, owner: Environment, txn: Any) -> None:
        self._dbs = owner.handles()
        self._txn = txn

    def _db(self, table: Table) -> Any:
        return self._dbs[table]  # a writable environment has every table

    def get(self, table: Table, key: bytes) -> bytes | None:
        value: bytes | None = self._txn.get(key, db=self._dbs[table])
        return value

    def put(self, table: Table, key: bytes, value: bytes) -> None:
        # One key at a time: putmulti has been seen to store part of a batch silently.
        self._txn.put(key, value, db=self._dbs[table])

    def delete(self, table: Table, key: bytes) -> None:
        self._txn.delete(key, db=self._dbs[table])

    def clear(self, table: Table) -> None:
        self._txn.drop(self._db(table), delete=False)

    def items(self, table: Table) -> Iterator[tuple[bytes, bytes]]:
        with self._txn.cursor(db=self._db(table)) as cursor:
            yield from cursor.iternext(keys=True, values=True)
