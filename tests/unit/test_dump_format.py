"""The raspy-kv dump format, version 1 (issue #4 "raspy-kv", storage/dump.py)."""

from __future__ import annotations

import contextlib
import hashlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raspy import packing
from raspy.errors import DumpFormatError
from raspy.storage.dump import Dump, Header, Record, dump_lines, parse
from raspy.storage.tables import DATA_TABLES, Table, encode_kv

CREATED = "2025-01-31T12:00:00Z"
HEADER = Header(1, CREATED, (Table.KV, Table.KV_META, Table.TITANIC_QUEUE))
KV_VALUE = encode_kv(5, b"21.5", {"unit": "C"}, None)


def _text(header: Header, records: tuple[Record, ...]) -> bytes:
    return b"".join(dump_lines(header, records))


def _line(obj: object) -> bytes:
    return (json.dumps(obj, ensure_ascii=False) + "\n").encode()


def test_dump_is_a_header_one_line_per_record_and_a_checksummed_end_line() -> None:
    """Issue #4: header (format version, schema version, creation time), then one
    JSON object per record (database, key, value), readable where the bytes allow."""
    records = (
        Record(Table.KV, b"/device/pi.fake.t1", KV_VALUE),
        Record(Table.KV_META, b"last_seq", (5).to_bytes(8, "big")),
        Record(Table.TITANIC_QUEUE, (1).to_bytes(8, "big") + b"a" * 32, b"a" * 32),
    )
    body = [
        _line(
            {
                "format": "raspy-kv-dump",
                "format_version": 1,
                "schema_version": 1,
                "created": CREATED,
                "dbs": ["kv", "kv.meta", "titanic.queue"],
            }
        ),
        _line(
            {
                "db": "kv",
                "key": "/device/pi.fake.t1",
                "value": {
                    "msgpack": {
                        "seq": 5,
                        "body": {"$text": "21.5"},
                        "props": {"unit": "C"},
                        "ttl": None,
                    }
                },
            }
        ),
        _line({"db": "kv.meta", "key": "last_seq", "value": {"u64": 5}}),
        _line(
            {
                "db": "titanic.queue",
                "key": {
                    "b64": "AAAAAAAAAAFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYQ=="
                },
                "value": "a" * 32,
            }
        ),
    ]
    digest = hashlib.sha256(b"".join(body)).hexdigest()
    end = _line({"end": "raspy-kv-dump", "records": 3, "sha256": digest})
    assert list(dump_lines(HEADER, records)) == [*body, end]


@pytest.mark.parametrize(
    ("table", "key", "value", "shown_key", "shown_value"),
    [
        pytest.param(Table.SCENARIO, b"k", b"plain text", "k", "plain text", id="text"),
        pytest.param(
            Table.KV,
            b"\xff\x00",
            b"\x80",
            {"b64": "/wA="},
            {"msgpack": {}},
            id="binary-key-msgpack-map",
        ),
        pytest.param(
            Table.KV, b"k", b"\xc1", "k", {"b64": "wQ=="}, id="not-msgpack-is-base64"
        ),
        pytest.param(
            Table.KV,
            b"k",
            b"\xcc\x05",
            "k",
            {"b64": "zAU="},
            id="msgpack-that-repacks-differently-is-base64",
        ),
        pytest.param(
            Table.KV,
            b"k",
            packing.pack({"$text": "x"}),
            "k",
            {"b64": "gaUkdGV4dKF4"},
            id="map-that-looks-like-a-tag-is-base64",
        ),
        pytest.param(
            Table.KV,
            b"k",
            b"\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00",
            "k",
            {"b64": "y3/4AAAAAAAA"},
            id="nan-is-base64",
        ),
        pytest.param(
            Table.KV,
            b"tab\tok",
            packing.pack([b"\x00", 1.5]),
            "tab\tok",
            {"msgpack": [{"$b64": "AA=="}, 1.5]},
            id="bytes-inside-msgpack",
        ),
        pytest.param(
            Table.KV,
            b"bell\x07",
            b"",
            {"b64": "YmVsbAc="},
            "",
            id="control-character-is-base64",
        ),
        pytest.param(
            Table.KV_META,
            b"other",
            b"\x01\x02",
            "other",
            {"b64": "AQI="},
            id="short-kv-meta-value",
        ),
        pytest.param(
            Table.CRON,
            "é".encode(),
            b"\xe2\x80\xa8",
            "é",
            {"b64": "4oCo"},
            id="line-separator-is-base64",
        ),
    ],
)
def test_each_record_shows_bytes_in_the_most_readable_exact_form(
    table: Table, key: bytes, value: bytes, shown_key: object, shown_value: object
) -> None:
    """Issue #4: bytes that are not UTF-8 are encoded reversibly and marked."""
    header = Header(1, CREATED, (table,))
    lines = list(dump_lines(header, (Record(table, key, value),)))
    assert json.loads(lines[1]) == {
        "db": table.value,
        "key": shown_key,
        "value": shown_value,
    }
    assert parse(b"".join(lines)) == Dump(header, (Record(table, key, value),))


def _valid() -> bytes:
    return _text(
        HEADER, (Record(Table.KV, b"a", KV_VALUE), Record(Table.KV, b"b", b"2"))
    )


def _resum(text: bytes) -> bytes:
    """Recompute the end line's checksum so that a test reaches the later checks."""
    lines = text.split(b"\n")[:-1]
    end = json.loads(lines[-1])
    end["sha256"] = hashlib.sha256(b"".join(x + b"\n" for x in lines[:-1])).hexdigest()
    return b"".join(x + b"\n" for x in lines[:-1]) + _line(end)


def _replace_line(number: int, obj: object) -> bytes:
    lines = _valid().split(b"\n")
    lines[number - 1] = _line(obj).rstrip(b"\n")
    return _resum(b"\n".join(lines))


def _header(**fields: object) -> dict[str, object]:
    header: dict[str, object] = {
        "format": "raspy-kv-dump",
        "format_version": 1,
        "schema_version": 1,
        "created": CREATED,
        "dbs": ["kv", "kv.meta", "titanic.queue"],
    }
    header.update(fields)
    return header


@pytest.mark.parametrize(
    ("data", "line", "message"),
    [
        pytest.param(b"", 1, "empty file: not a raspy-kv-dump file", id="empty"),
        pytest.param(
            _valid()[:-5],
            4,
            "last line has no newline: file truncated",
            id="cut-inside-a-line",
        ),
        pytest.param(
            b"\n".join(_valid().split(b"\n")[:3]) + b"\n",
            4,
            "no end line: the file is truncated",
            id="cut-at-a-line-end",
        ),
        pytest.param(
            _valid().replace(b'"b", "value": "2"', b'"b", "value": "3"'),
            4,
            "checksum mismatch: the file was changed or damaged after the dump",
            id="corrupted-value",
        ),
        pytest.param(
            _replace_line(1, _header(format_version=2)),
            1,
            "dump format version 2 is newer than this raspy-kv supports (1)",
            id="newer-format",
        ),
        pytest.param(
            _replace_line(1, _header(format_version=0)),
            1,
            "format_version 0 does not exist",
            id="format-zero",
        ),
        pytest.param(
            _replace_line(1, {"hello": 1}),
            1,
            "not a raspy-kv-dump file (no header)",
            id="not-a-dump",
        ),
        pytest.param(
            _replace_line(1, _header(dbs=["meta"])),
            1,
            "unknown database 'meta'",
            id="meta-is-never-dumped",
        ),
        pytest.param(
            _replace_line(1, _header(extra=1)),
            1,
            "unexpected fields in the header",
            id="header-extra-field",
        ),
        pytest.param(
            _resum(_valid().replace(b'{"db": "kv", "key": "b"', b'{"db": "kv", ')),
            3,
            "not valid JSON: Expecting property name enclosed in double "
            "quotes: line 1 column 14 (char 13)",
            id="bad-json",
        ),
        pytest.param(
            _replace_line(3, {"db": "kv", "key": "a", "value": "x"}),
            3,
            "duplicate key, first on line 2",
            id="duplicate-key",
        ),
        pytest.param(
            _replace_line(3, {"db": "cron", "key": "a", "value": "x"}),
            3,
            "database cron is not listed in the header",
            id="db-not-in-header",
        ),
        pytest.param(
            _replace_line(3, {"db": "kv", "key": "", "value": "x"}),
            3,
            "key of 0 bytes: must be 1 to 511",
            id="empty-key",
        ),
        pytest.param(
            _replace_line(3, {"db": "kv", "key": "k" * 512, "value": ""}),
            3,
            "key of 512 bytes: must be 1 to 511",
            id="long-key",
        ),
        pytest.param(
            _replace_line(3, {"db": "kv", "key": {"b64": "!!"}, "value": ""}),
            3,
            "key: not valid base64",
            id="bad-base64",
        ),
        pytest.param(
            _replace_line(3, {"db": "kv", "key": {"b64": "AB=="}, "value": ""}),
            3,
            "key: not canonical base64",
            id="non-canonical-base64",
        ),
        pytest.param(
            _replace_line(3, {"db": "kv", "key": "k", "value": {"u64": -1}}),
            3,
            "value: u64 out of range",
            id="u64-negative",
        ),
        pytest.param(
            _replace_line(3, {"db": "kv", "key": "k", "value": {"hex": "00"}}),
            3,
            "value: unknown encoding 'hex'",
            id="unknown-encoding",
        ),
        pytest.param(
            _replace_line(3, {"db": "kv", "key": "k", "value": {"msgpack": 2**70}}),
            3,
            "value: cannot pack int: Integer value out of range",
            id="msgpack-int-too-big",
        ),
        pytest.param(
            _replace_line(3, {"db": "kv", "key": "k"}),
            3,
            "expected the fields db, key, value",
            id="missing-field",
        ),
        pytest.param(_valid() + b"{}\n", 5, "data after the end line", id="trailing"),
        pytest.param(
            _replace_line(4, {"end": "raspy-kv-dump", "records": 3, "sha256": ""}),
            4,
            "end line counts 3 records, the file has 2",
            id="count-mismatch",
        ),
        pytest.param(b"[1]\n", 1, "expected a JSON object", id="header-not-object"),
        pytest.param(
            b'{"format": NaN}\n',
            1,
            "not valid JSON: NaN is not allowed",
            id="nan-constant",
        ),
    ],
)
def test_bad_dumps_are_refused_naming_the_line(
    data: bytes, line: int, message: str
) -> None:
    """Issue #4 restore: validate the whole file; an error names the line and what."""
    with pytest.raises(DumpFormatError) as caught:
        parse(data)
    assert (caught.value.line, str(caught.value)) == (line, f"line {line}: {message}")


def test_an_edited_dump_parses_when_the_checksum_is_not_verified() -> None:
    """Issue #4: a dump is text a person may edit; restore can skip the checksum."""
    edited = _valid().replace(b'"b", "value": "2"', b'"b", "value": "3"')
    assert parse(edited, verify_checksum=False).records[1] == Record(
        Table.KV, b"b", b"3"
    )


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
