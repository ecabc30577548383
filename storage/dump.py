"""The raspy-kv dump format, version 1: records <-> lines (pure: no files, no lmdb).

Line 1 is a header, then one JSON object per record in key order, then an end line
with the record count and a SHA-256 of every byte before it (so a truncated or
corrupted file is refused). How a record's key and value are shown in JSON is
storage/dump_values.py.
"""

from __future__ import annotations

import codecs
import hashlib
import json
from collections.abc import Iterable, Iterator
from typing import Any, Final

from raspy.errors import DumpFormatError, DumpTooNewError, quote
from raspy.records import frozen
from raspy.storage.dump_values import decode_bytes, dump_json, key_json, value_json
from raspy.storage.tables import DATA_TABLES, MAX_KEY_BYTES, Table

FORMAT_NAME: Final = "raspy-kv-dump"
FORMAT_VERSION: Final = 1


@frozen
class Header:
    """Line 1: which raspy wrote it, when, and which databases it holds."""

    schema_version: int
    created: str  # ISO 8601 UTC, e.g. 2025-01-31T12:00:00Z
    tables: tuple[Table, ...]
    format_version: int = FORMAT_VERSION


@frozen
class Record:
    table: Table
    key: bytes
    value: bytes


@frozen
class Dump:
    """A parsed dump; records[i] was on line i + 2."""

    header: Header
    records: tuple[Record, ...]


def record_line_number(index: int) -> int:
    return index + 2


# --- writing --------------------------------------------------------------------


class DumpWriter:
    """Turns a header and records into lines (bytes, each ending in a newline)."""

    def __init__(self, header: Header) -> None:
        self._digest = hashlib.sha256()
        self._header = header
        self.count = 0

    def _line(self, obj: object) -> bytes:
        line = (dump_json(obj) + "\n").encode("utf-8")
        self._digest.update(line)
        return line

    def header_line(self) -> bytes:
        h = self._header
        return self._line(
            {
                "format": FORMAT_NAME,
                "format_version": h.format_version,
                "schema_version": h.schema_version,
                "created": h.created,
                "dbs": [t.value for t in h.tables],
            }
        )

    def record_line(self, record: Record) -> bytes:
        self.count += 1
        return self._line(
            {
                "db": record.table.value,
                "key": key_json(record.key),
                "value": value_json(record.table, record.value),
            }
        )

    def end_line(self) -> bytes:
        end = {"end": FORMAT_NAME, "records": self.count}
        return (dump_json({**end, "sha256": self._digest.hexdigest()}) + "\n").encode()


def dump_lines(header: Header, records: tuple[Record, ...]) -> Iterator[bytes]:
    writer = DumpWriter(header)
    yield writer.header_line()
    for record in records:
        yield writer.record_line(record)
    yield writer.end_line()


# --- reading --------------------------------------------------------------------


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not allowed")


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate field {quote(key)}")
        result[key] = value
    return result


# made once: json.loads with arguments builds a decoder per line
_STRICT: Final = json.JSONDecoder(
    parse_constant=_reject_constant, object_pairs_hook=_unique_object
)
# for a file already read with _STRICT whose bytes are checked to be the same (a
# restore's second pass): the C decoder makes the dicts itself, no hook per object
_TRUSTED: Final = json.JSONDecoder(parse_constant=_reject_constant)


def _object(
    line: bytes, number: int, decoder: json.JSONDecoder = _STRICT
) -> dict[str, Any]:
    try:
        value = decoder.decode(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise DumpFormatError(number, f"not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise DumpFormatError(number, "expected a JSON object")
    return value


def _int_field(obj: dict[str, Any], name: str, number: int) -> int:
    value = obj.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DumpFormatError(number, f"{name}: expected an integer >= 0")
    return value


def _parse_header_line(line: bytes) -> Header:
    """The first line; a file that does not start like a dump (binary, another text,
    other JSON) is "not a dump", not a damaged or truncated one; a dump that an
    editor saved with a byte order mark (which JSON does not take) is told so."""
    if line.startswith(codecs.BOM_UTF8):
        raise DumpFormatError(
            1,
            "the file begins with a byte order mark (U+FEFF, as some editors save"
            " UTF-8): save it as UTF-8 without one",
        )
    try:
        obj = _object(line, 1)
    except DumpFormatError:
        if FORMAT_NAME.encode() in line[:64]:
            raise  # a dump's header, damaged: say how
        raise DumpFormatError(1, f"not a {FORMAT_NAME} file (no header)") from None
    return _parse_header(obj)


_HEADER_START: Final = b'{"format": "' + FORMAT_NAME.encode() + b'", '


def _first_line(line: bytes, *, ended: bool) -> Header:
    """Line 1 without its newline; `ended`: the file has a newline after it. A file
    that ends inside a dump's header (no newline, and its start is a header's) is
    truncated, not damaged: said so, not as JSON that does not parse."""
    try:
        return _parse_header_line(line)
    except DumpFormatError:
        if not ended and (
            _HEADER_START.startswith(line) or FORMAT_NAME.encode() in line[:64]
        ):
            raise DumpFormatError(
                1, "the file ends inside the header: file truncated"
            ) from None
        raise


def _parse_header(obj: dict[str, Any]) -> Header:
    if obj.get("format") != FORMAT_NAME:
        raise DumpFormatError(1, f"not a {FORMAT_NAME} file (no header)")
    version = _int_field(obj, "format_version", 1)
    if version > FORMAT_VERSION:
        raise DumpTooNewError(
            1,
            f"dump format version {version} is newer than this raspy-kv "
            f"supports ({FORMAT_VERSION})",
        )
    if version < 1:
        raise DumpFormatError(1, f"format_version {version} does not exist")
    schema_version = _int_field(obj, "schema_version", 1)
    created, names = obj.get("created"), obj.get("dbs")
    if not isinstance(created, str):
        raise DumpFormatError(1, "created: expected a string")
    if not isinstance(names, list) or len(set(map(str, names))) != len(names):
        raise DumpFormatError(1, "dbs: expected a list of distinct names")
    if set(obj) != {"format", "format_version", "schema_version", "created", "dbs"}:
        raise DumpFormatError(1, "unexpected fields in the header")
    return Header(schema_version, created, tuple(_table(n, 1) for n in names), version)


_BY_NAME: Final = {t.value: t for t in DATA_TABLES}
_RECORD_FIELDS: Final = frozenset({"db", "key", "value"})


def _table(name: object, number: int) -> Table:
    if not isinstance(name, str) or name not in _BY_NAME:
        raise DumpFormatError(number, f"unknown database {quote(str(name))}")
    return _BY_NAME[name]


def _parse_record(
    obj: dict[str, Any], number: int, tables: tuple[Table, ...]
) -> Record:
    if obj.keys() != _RECORD_FIELDS:
        raise DumpFormatError(number, "expected the fields db, key, value")
    table = _table(obj["db"], number)
    if table not in tables:
        raise DumpFormatError(number, f"database {table} is not listed in the header")
    try:
        key = decode_bytes(obj["key"], "key", is_value=False)
        value = decode_bytes(obj["value"], "value", is_value=True)
    except (ValueError, RecursionError) as exc:
        raise DumpFormatError(number, str(exc)) from exc
    if not 0 < len(key) <= MAX_KEY_BYTES:
        raise DumpFormatError(number, f"key of {len(key)} bytes: must be 1 to 511")
    return Record(table, key, value)


def _check_end(
    obj: dict[str, Any], number: int, count: int, digest: str, verify: bool
) -> None:
    if set(obj) != {"end", "records", "sha256"} or obj["end"] != FORMAT_NAME:
        raise DumpFormatError(number, "not a valid end line")
    if obj["records"] != count:
        counted = obj["records"]
        shown = counted if isinstance(counted, int) else quote(repr(counted))
        raise DumpFormatError(
            number, f"end line counts {shown} records, the file has {count}"
        )
    if verify and obj["sha256"] != digest:
        raise DumpFormatError(
            number, "checksum mismatch: the file was changed or damaged after the dump"
        )


class _KeyOrder:
    """Each db's records together, in ascending key order: the last key and line,
    and the dbs whose records ended (a few names, whatever the dump's size)."""

    def __init__(self) -> None:
        self._table: Table | None = None
        self._key = b""
        self._line = 0
        self._ended: dict[Table, int] = {}

    def check(self, record: Record, number: int) -> None:
        if record.table is not self._table:
            if record.table in self._ended:
                raise DumpFormatError(
                    number,
                    f"database {record.table} again: its records ended on line"
                    f" {self._ended[record.table]} (a dump lists each one's together)",
                )
            if self._table is not None:
                self._ended[self._table] = self._line
            self._table = record.table
        elif record.key == self._key:
            raise DumpFormatError(
                number,
                f"duplicate key {quote(record.key)}, first on line {self._line}",
            )
        elif record.key < self._key:
            raise DumpFormatError(
                number,
                f"key {quote(record.key)} out of order: below {quote(self._key)} on"
                f" line {self._line}; move the line to where its key sorts (a dump"
                " lists each database's keys in ascending order)",
            )
        self._key, self._line = record.key, number


class DumpReader:
    """Reads a dump line by line (a file, or any iterable of lines with their newline),
    so a restore holds one line at a time, not the file: header on construction, then
    records(), which checks the end line once the last record is out.

    `digest` (after records()): SHA-256 of every byte before the end line, whether or
    not the end line's checksum is verified, so a second pass can tell that the file
    stayed the same. `unique` refuses a key twice and a field twice in one object: a
    dump lists each db's records together, in ascending key order (LMDB's cursor
    order, as raspy-kv has always written them), so a key not above the one before
    it in its db, or a db whose records come again after another's, is refused, and
    the reader holds one key, not every key seen. Without it, a faster decoder reads
    the lines (for a second pass over a file whose `digest` is then compared with the
    first's).
    """

    def __init__(
        self,
        lines: Iterable[bytes],
        *,
        verify_checksum: bool = True,
        unique: bool = True,
    ) -> None:
        self._lines = iter(lines)
        self._verify = verify_checksum
        self._unique = unique
        self._decoder = _STRICT if unique else _TRUSTED
        self._digest = hashlib.sha256()
        self.count = 0
        first = next(self._lines, b"")
        if not first:
            raise DumpFormatError(1, f"empty file: not a {FORMAT_NAME} file")
        # a file of another kind is named as such, even without a newline
        self.header = _first_line(
            first.removesuffix(b"\n"), ended=first.endswith(b"\n")
        )
        self._whole(first, 1)
        self._digest.update(first)

    @staticmethod
    def _whole(line: bytes, number: int) -> None:
        if not line.endswith(b"\n"):
            raise DumpFormatError(number, "last line has no newline: file truncated")

    @property
    def digest(self) -> str:
        return self._digest.hexdigest()

    def records(self) -> Iterator[Record]:
        """Every record, in file order; DumpFormatError names the first bad line."""
        order = _KeyOrder()
        number = 1
        for line in self._lines:
            number += 1
            self._whole(line, number)
            obj = _object(line[:-1], number, self._decoder)
            if "end" in obj:
                _check_end(obj, number, self.count, self.digest, self._verify)
                if next(self._lines, None) is not None:
                    raise DumpFormatError(number + 1, "data after the end line")
                return
            record = _parse_record(obj, number, self.header.tables)
            if self._unique:
                order.check(record, number)
            self.count += 1
            self._digest.update(line)
            yield record
        raise DumpFormatError(number + 1, "no end line: the file is truncated")


def parse(data: bytes, *, verify_checksum: bool = True) -> Dump:
    """Validate a whole dump; raises DumpFormatError naming the first bad line."""
    if not data:
        raise DumpFormatError(1, f"empty file: not a {FORMAT_NAME} file")
    lines = data.split(b"\n")
    _first_line(lines[0], ended=len(lines) > 1)  # another kind: said
    if lines[-1]:  # truncation is named before any bad line inside
        raise DumpFormatError(len(lines), "last line has no newline: file truncated")
    reader = DumpReader(
        (line + b"\n" for line in lines[:-1]), verify_checksum=verify_checksum
    )
    return Dump(reader.header, tuple(reader.records()))
