"""The raspy-kv dump format under hypothesis: round trips of any content, and damaged
or arbitrary files (issue #4 "raspy-kv", storage/dump.py)."""

from __future__ import annotations

import contextlib
import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st
from support.dump_text import CREATED
from support.dump_text import dump_text as _text

from raspy import packing
from raspy.errors import DumpFormatError
from raspy.storage.dump import Dump, DumpReader, Header, Record, parse
from raspy.storage.tables import DATA_TABLES, Table

msgpack_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=True)
    | st.text(max_size=20)
    | st.binary(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8) | st.integers(-5, 5), inner, max_size=4)
    ),
    max_leaves=12,
)
values = (
    st.binary(max_size=300)
    | st.text(max_size=50).map(str.encode)
    | st.binary(min_size=8, max_size=8)
    | msgpack_values.map(packing.pack)
)
keys = st.binary(min_size=1, max_size=40) | st.binary(min_size=500, max_size=511)
record_lists = st.lists(
    st.tuples(st.sampled_from(DATA_TABLES), keys, values),
    max_size=12,
    unique_by=lambda r: (r[0], r[1]),
).map(  # as a dump holds them: each db's together, in key order
    lambda recs: sorted(recs, key=lambda r: (DATA_TABLES.index(r[0]), r[1]))
)


@settings(max_examples=100)
@given(record_lists)
def test_dump_then_parse_is_the_identity_on_any_content(
    raw: list[tuple[Table, bytes, bytes]],
) -> None:
    """Issue #4: dump -> restore is the identity, binary keys and values included."""
    records = tuple(Record(t, k, v) for t, k, v in raw)
    header = Header(1, CREATED, DATA_TABLES)
    assert parse(_text(header, records)) == Dump(header, records)


@settings(max_examples=200)
@given(st.binary(max_size=400), st.booleans())
def test_arbitrary_bytes_parse_or_raise_dump_format_error(
    data: bytes, verify: bool
) -> None:
    """Issue #4: any file either parses or is refused with a line number."""
    with contextlib.suppress(DumpFormatError):
        parse(data, verify_checksum=verify)


@settings(max_examples=100)
@given(record_lists, st.data())
def test_a_damaged_dump_is_refused_or_reads_the_same(
    raw: list[tuple[Table, bytes, bytes]], data: st.DataObject
) -> None:
    """Issue #4: a truncated or corrupted dump is refused, never half-believed."""
    records = tuple(Record(t, k, v) for t, k, v in raw)
    original = _text(Header(1, CREATED, DATA_TABLES), records)
    lines = original.split(b"\n")[:-1]
    how = data.draw(st.sampled_from(["flip", "drop", "duplicate", "cut"]))
    at = data.draw(st.integers(0, len(original) - 1))
    if how == "flip":
        damaged = (
            original[:at] + bytes([original[at] ^ (1 << at % 8)]) + original[at + 1 :]
        )
    elif how == "cut":
        damaged = original[:at]
    else:
        index = at % len(lines)
        copies = 0 if how == "drop" else 2
        lines[index : index + 1] = [lines[index]] * copies
        damaged = b"".join(line + b"\n" for line in lines)
    try:
        result = parse(damaged)
    except DumpFormatError:
        return
    assert result == parse(original)


@settings(max_examples=100)
@given(record_lists, st.booleans())
def test_the_streaming_reader_reads_what_parse_reads(
    recs: list[tuple[Table, bytes, bytes]], unique: bool
) -> None:
    """DumpReader (a restore's two passes, a line at a time) gives the records parse
    gives, in either mode, and its digest is the SHA-256 of all before the end line."""
    header = Header(1, CREATED, DATA_TABLES)
    records = tuple(Record(t, k, v) for t, k, v in recs)
    text = _text(header, records)
    reader = DumpReader(text.splitlines(keepends=True), unique=unique)
    assert reader.header == header
    assert tuple(reader.records()) == parse(text).records
    assert reader.count == len(records)
    before_end = text[: text.rindex(b'{"end"')]
    assert reader.digest == hashlib.sha256(before_end).hexdigest()
