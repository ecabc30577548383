"""Schema versions of the store and the registered steps that migrate one to the next.

A step runs inside the write transaction that stamps the new version, so a store is
either fully migrated or untouched. Steps must also be safe on data already at the
newer version: a restore of an older dump runs them over the merged content.
No lmdb here: steps see the store through the SchemaTxn protocol.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Final, Protocol

from raspy.errors import StoreError, StoreNewerError, quote
from raspy.storage.tables import (
    LAST_SEQ_KEY,
    Table,
    decode_kv,
    decode_seq,
    encode_seq,
)

SCHEMA_VERSION: Final = 2


class SchemaTxn(Protocol):
    """The part of a write transaction that a migration step may use."""

    def get(self, table: Table, key: bytes) -> bytes | None: ...

    def put(self, table: Table, key: bytes, value: bytes) -> None: ...

    def items(self, table: Table) -> Iterator[tuple[bytes, bytes]]: ...


Step = Callable[[SchemaTxn], None]


def _raise_last_seq(txn: SchemaTxn) -> None:
    """0 -> 1: stores from before the version key may lack kv.meta last_seq.

    Set it to at least the highest kv sequence, so no sequence number is reused.
    """
    highest: int | None = None
    for key, value in txn.items(Table.KV):
        try:
            seq = decode_kv(value).seq
        except StoreError as exc:
            raise StoreError(f"cannot migrate kv {quote(key)}: {exc}") from exc
        highest = seq if highest is None else max(highest, seq)
    if highest is None:
        return  # no kv records: nothing to protect
    stored = txn.get(Table.KV_META, LAST_SEQ_KEY)
    current = decode_seq(stored) if stored is not None else None
    if current is None or current < highest:
        txn.put(Table.KV_META, LAST_SEQ_KEY, encode_seq(highest))


def _props_frame(txn: SchemaTxn) -> None:
    """1 -> 2: a kv record's props may be the properties frame as its KVSET carried
    it (bytes); records with a map of strings still read. Nothing to rewrite: the
    version says that an older raspy, which reads only the map, must not open it."""


# MIGRATIONS[v] upgrades a store at version v to v + 1.
MIGRATIONS: Final[dict[int, Step]] = {0: _raise_last_seq, 1: _props_frame}


def check_supported(version: int) -> None:
    """Raise StoreNewerError for a store written by a newer raspy."""
    if version > SCHEMA_VERSION:
        raise StoreNewerError(
            f"store schema version {version} is newer than this raspy supports "
            f"({SCHEMA_VERSION}); upgrade raspy, or restore a dump of schema "
            f"{SCHEMA_VERSION} or older (one taken before the upgrade) into a new data dir"
        )


def migrate(txn: SchemaTxn, from_version: int) -> list[int]:
    """Run every step from `from_version` up to SCHEMA_VERSION; returns those run."""
    check_supported(from_version)
    done: list[int] = []
    for version in range(from_version, SCHEMA_VERSION):
        MIGRATIONS[version](txn)
        done.append(version)
    return done
