"""Names and dump text for the raspy-kv dump format tests (tests/unit/test_dump_*.py).
Pure: no files, no store."""

from __future__ import annotations

import json

from raspy.storage.dump import Header, Record, dump_lines
from raspy.storage.tables import Table, encode_kv

CREATED = "2025-01-31T12:00:00Z"
HEADER = Header(1, CREATED, (Table.KV, Table.KV_META, Table.TITANIC_QUEUE))
KV_VALUE = encode_kv(5, b"21.5", {"unit": "C"}, None)


def dump_text(header: Header, records: tuple[Record, ...]) -> bytes:
    """The whole dump of `records`, as dump_lines writes it."""
    return b"".join(dump_lines(header, records))


def json_line(obj: object) -> bytes:
    """One dump line: `obj` as JSON (UTF-8, not escaped) and a newline."""
    return (json.dumps(obj, ensure_ascii=False) + "\n").encode()
