"""The `history` table's rows as the recorder reads them: one row as a bucket (a
damaged one as a gap), and every stored row of one key, in any tier.

Reads only, through a ReadView or the Store: the writes are the recorder's
(actors/history.py), one commit an interval.
"""

from __future__ import annotations

from typing import Final

from raspy.errors import StoreError
from raspy.history.recorder import Bucket
from raspy.storage.read_view import ReadView
from raspy.storage.tables import (
    HISTORY_ROW_PREFIX,
    Table,
    decode_history_row,
    history_row_key,
)

_LAST_INDEX: Final = 2**32 - 1  # a row key's step and slot are 4 bytes each


def stored_rows(view: ReadView, key: str) -> list[bytes]:
    """The row keys of `key` in the store, in every tier that has rows there: those
    configured, and those no longer (a step taken out of [history] tiers, the slots
    past a span made shorter), whose rows a device retired for good kept for ever.

    Rows are keyed (step, slot, key): each (step, slot) that holds a row of any key
    is looked up once, and a seek skips those that hold none, so it costs about the
    slots in use, never a scan of every key's rows."""
    rows: list[bytes] = []
    step = slot = 0
    while True:
        row = history_row_key(step, slot, key)
        found = None
        if view.get(Table.HISTORY, row) is not None:
            rows.append(row)
        else:
            after = view.iter_from(Table.HISTORY, HISTORY_ROW_PREFIX, row, 1)
            if not after:
                return rows
            # the next (step, slot) in use, the key of another device's row
            head = after[0][0][1:9].ljust(8, b"\0")
            found = (int.from_bytes(head[:4], "big"), int.from_bytes(head[4:], "big"))
        if found is not None and found != (step, slot):
            step, slot = found
        elif slot < _LAST_INDEX:
            slot += 1
        elif step < _LAST_INDEX:
            step, slot = step + 1, 0
        else:
            return rows


def bucket_of(data: bytes) -> Bucket | None:
    """A stored row as the recorder's bucket, None for a damaged one."""
    try:
        row = decode_history_row(data)
    except StoreError:
        return None  # a damaged row reads as a gap; `raspy-kv check` names it
    return row
