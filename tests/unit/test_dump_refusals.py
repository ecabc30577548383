"""The raspy-kv dump format, version 1, refusing bad files: each error names the line
(issue #4 "raspy-kv" restore, storage/dump.py)."""

from __future__ import annotations

import hashlib
import json

import pytest
from support.dump_text import CREATED, HEADER, KV_VALUE
from support.dump_text import dump_text as _text
from support.dump_text import json_line as _line

from raspy.errors import DumpFormatError
from raspy.storage.dump import Record, parse
from raspy.storage.tables import Table


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
            _valid()[:12],
            1,
            "the file ends inside the header: file truncated",
            id="cut-inside-the-header's-start",
        ),
        pytest.param(
            _valid()[:100],
            1,
            "the file ends inside the header: file truncated",
            id="cut-inside-the-header",
        ),
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
            b"\x7fELF\x02\x01\x01\x00\x00\x00\xd0\x06",
            1,
            "not a raspy-kv-dump file (no header)",
            id="a-binary-file",  # was "last line has no newline: file truncated"
        ),
        pytest.param(
            b"# a scenario, not a dump\nname: x\n",
            1,
            "not a raspy-kv-dump file (no header)",
            id="a-text-file",
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
            "duplicate key 'a', first on line 2",
            id="duplicate-key",
        ),
        pytest.param(
            _replace_line(3, {"db": "kv", "key": "A", "value": "x"}),
            3,
            "key 'A' out of order: below 'a' on line 2; move the line to where its"
            " key sorts (a dump lists each database's keys in ascending order)",
            id="key-out-of-order",
        ),
        pytest.param(
            _text(
                HEADER,
                (
                    Record(Table.KV, b"a", KV_VALUE),
                    Record(Table.KV_META, b"last_seq", b"\0" * 8),
                    Record(Table.KV, b"b", KV_VALUE),
                ),
            ),
            4,
            "database kv again: its records ended on line 2 (a dump lists each"
            " one's together)",
            id="a-database-again",
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
        pytest.param(
            b"[1]\n", 1, "not a raspy-kv-dump file (no header)", id="header-not-object"
        ),
        pytest.param(
            b'{"format": "raspy-kv-dump", "format_version": NaN}\n',
            1,
            "not valid JSON: NaN is not allowed",
            id="nan-constant",
        ),
        pytest.param(
            "\ufeff".encode() + _valid(),
            1,
            "the file begins with a byte order mark (U+FEFF, as some editors save"
            " UTF-8): save it as UTF-8 without one",
            id="byte-order-mark",
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
