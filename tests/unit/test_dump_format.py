"""The raspy-kv dump format, version 1: its lines and the readable forms of bytes
(issue #4 "raspy-kv", storage/dump.py)."""

from __future__ import annotations

import hashlib
import json

import pytest
from support.dump_text import CREATED, HEADER, KV_VALUE
from support.dump_text import json_line as _line

from raspy import packing
from raspy.storage.dump import Dump, Header, Record, dump_lines, parse
from raspy.storage.tables import Table, decode_kv, encode_kv


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


@pytest.mark.parametrize("props", [b"owner=J\xf6rg\n", b"a=1", b""])
def test_a_kv_record_keeps_its_properties_frame_through_a_dump(props: bytes) -> None:
    """The Clone server stores a KVSET's properties frame as it came, bytes that are
    not UTF-8 included (RFC 12 allows them); a dump gives the same record back."""
    record = Record(Table.KV, b"/a", encode_kv(5, b"21.5", props, None))
    dumped = b"".join(dump_lines(HEADER, (record,)))
    assert parse(dumped).records == (record,)
    assert decode_kv(parse(dumped).records[0].value).props == props
