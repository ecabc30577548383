"""A write's operations: Put and Delete, their check against the store's limits
(before anything is queued), and their application to a write txn."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from raspy.errors import ValueTooLargeError, quote
from raspy.records import frozen
from raspy.storage.tables import Table

if TYPE_CHECKING:
    from raspy.storage.txn import WriteTxn


@frozen
class Put:
    table: Table
    key: bytes
    value: bytes


@frozen
class Delete:
    table: Table
    key: bytes


Op = Put | Delete
_OP_TYPES: Final = (Put, Delete)


def apply_ops(txn: WriteTxn, ops: Sequence[Op]) -> None:
    for op in ops:
        if isinstance(op, Put):
            txn.put(op.table, op.key, op.value)
        else:
            txn.delete(op.table, op.key)


def validate_ops(ops: Sequence[Op], max_key_bytes: int, max_value_bytes: int) -> None:
    """Raise ValueTooLargeError for a key or value over the limits (TypeError: misuse)."""
    for op in ops:
        if not isinstance(op, _OP_TYPES):
            raise TypeError(f"expected Put or Delete, got {type(op).__name__}")
        table: object = op.table  # checked at run time: callers may be untyped
        key: object = op.key
        if not isinstance(table, Table) or not isinstance(key, bytes):
            raise TypeError("an op needs a Table and a bytes key")
        if not 0 < len(key) <= max_key_bytes:
            raise ValueTooLargeError(
                f"key of {len(key)} bytes for {table}: LMDB keys are 1 to "
                f"{max_key_bytes} bytes"
            )
        if isinstance(op, Put):
            value: object = op.value
            if not isinstance(value, bytes):
                raise TypeError("a Put needs a bytes value")
            if len(value) > max_value_bytes:
                raise ValueTooLargeError(
                    f"value of {len(value)} bytes for {table} key {quote(key)} is "
                    f"over store.max_value_bytes ({max_value_bytes})"
                )
