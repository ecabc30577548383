"""The raspy-kv dump format, version 1: records <-> lines (pure: no files, no lmdb).

Line 1 is a header, then one JSON object per record in key order, then an end line
with the record count and a SHA-256 of every byte before it (so a truncated or
corrupted file is refused). Bytes are shown as a string when they are printable
UTF-8, else as {"b64": ...}; values may also be {"u64": n} (kv.meta, 8-byte
big-endian) or {"msgpack": ...} (bytes inside as {"$text": ...} or {"$b64": ...}),
each chosen only when it reads back to exactly the same bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final

from raspy import packing
from raspy.errors import DumpFormatError, DumpTooNewError, PackingError, quote
from raspy.storage.tables import DATA_TABLES, MAX_KEY_BYTES, Table

FORMAT_NAME: Final = "raspy-kv-dump"
FORMAT_VERSION: Final = 1
_MSGPACK_TABLES: Final = frozenset(DATA_TABLES) - {Table.KV_META}
_TAG_TEXT: Final = "$text"  # bytes inside a msgpack value, printable UTF-8
_TAG_B64: Final = "$b64"  # bytes inside a msgpack value, anything else
_ALLOWED_CONTROL: Final = frozenset("\t\n\r")


@dataclass(frozen=True, slots=True)
class Header:
    """Line 1: which raspy wrote it, when, and which databases it holds."""

    schema_version: int
    created: str  # ISO 8601 UTC, e.g. 2025-01-31T12:00:00Z
    tables: tuple[Table, ...]
    format_version: int = FORMAT_VERSION


@dataclass(frozen=True, slots=True)
class Record:
    table: Table
    key: bytes
    value: bytes


@dataclass(frozen=True, slots=True)
class Dump:
    """A parsed dump; records[i] was on line i + 2."""

    header: Header
    records: tuple[Record, ...]


def record_line_number(index: int) -> int:
    return index + 2


# --- bytes <-> JSON values ------------------------------------------------------


def _text(data: bytes) -> str | None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if all(ch.isprintable() or ch in _ALLOWED_CONTROL for ch in text):
        return text
    return None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: object, where: str) -> bytes:
    if not isinstance(text, str):
        raise ValueError(f"{where}: b64 must be a string")
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError(f"{where}: not valid base64") from exc
    if _b64(data) != text:
        raise ValueError(f"{where}: not canonical base64")
    return data


def _plain(data: bytes) -> object:
    text = _text(data)
    return text if text is not None else {"b64": _b64(data)}


def _to_json(value: object) -> object:
    """A decoded msgpack value as JSON; raises ValueError for what JSON cannot show."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("not a finite float")
        return value
    if isinstance(value, bytes):
        text = _text(value)
        return {_TAG_TEXT: text} if text is not None else {_TAG_B64: _b64(value)}
    if isinstance(value, list):
        return [_to_json(item) for item in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: _to_json(v) for k, v in value.items()}
    raise ValueError(f"cannot show {type(value).__name__}")


_LEAVES: Final = frozenset({str, int, float, bool, type(None)})  # JSON as msgpack


def _from_json(value: object, where: str) -> object:
    if type(value) in _LEAVES:  # most of a value: no call per field (restore speed)
        return value
    if isinstance(value, dict):
        if len(value) == 1 and _TAG_TEXT in value:
            text = value[_TAG_TEXT]
            if not isinstance(text, str):
                raise ValueError(f"{where}: {_TAG_TEXT} must be a string")
            return text.encode("utf-8")
        if len(value) == 1 and _TAG_B64 in value:
            return _unb64(value[_TAG_B64], where)
        return {
            k: v if type(v) in _LEAVES else _from_json(v, where)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_from_json(item, where) for item in value]
    return value


def _decode_bytes(value: object, where: str, *, is_value: bool) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    if not isinstance(value, dict) or len(value) != 1:
        raise ValueError(f"{where}: expected a string or a one-key object")
    ((tag, inner),) = value.items()
    if tag == "b64":
        return _unb64(inner, where)
    if is_value and tag == "u64":
        if isinstance(inner, bool) or not isinstance(inner, int):
            raise ValueError(f"{where}: u64 must be an integer")
        if not 0 <= inner < 2**64:
            raise ValueError(f"{where}: u64 out of range")
        return inner.to_bytes(8, "big")
    if is_value and tag == "msgpack":
        try:
            return packing.pack(_from_json(inner, where))
        except PackingError as exc:
            raise ValueError(f"{where}: {exc}") from exc
    raise ValueError(f"{where}: unknown encoding {quote(str(tag))}")


def _encode_value(table: Table, data: bytes) -> object:
    if table is Table.KV_META and len(data) == 8:
        return {"u64": int.from_bytes(data, "big")}
    text = _text(data)
    if text is not None:
        return text
    if table in _MSGPACK_TABLES:
        try:
            shown = {"msgpack": _to_json(packing.unpack(data))}
            again = json.loads(_dumps(shown))
            if _decode_bytes(again, "value", is_value=True) == data:
                return shown
        except (PackingError, ValueError, RecursionError):
            pass  # not msgpack that reads back exactly: fall back to base64
    return {"b64": _b64(data)}


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


# --- writing --------------------------------------------------------------------


class DumpWriter:
    """Turns a header and records into lines (bytes, each ending in a newline)."""

    def __init__(self, header: Header) -> None:
        self._digest = hashlib.sha256()
        self._header = header
        self.count = 0

    def _line(self, obj: object) -> bytes:
        line = (_dumps(obj) + "\n").encode("utf-8")
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
                "key": _plain(record.key),
                "value": _encode_value(record.table, record.value),
            }
        )

    def end_line(self) -> bytes:
        end = {"end": FORMAT_NAME, "records": self.count}
        return (_dumps({**end, "sha256": self._digest.hexdigest()}) + "\n").encode()


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
    other JSON) is "not a dump", not a damaged or truncated one."""
    try:
        obj = _object(line, 1)
    except DumpFormatError:
        if FORMAT_NAME.encode() in line[:64]:
            raise  # a dump's header, damaged: say how
        raise DumpFormatError(1, f"not a {FORMAT_NAME} file (no header)") from None
    return _parse_header(obj)


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
        key = _decode_bytes(obj["key"], "key", is_value=False)
        value = _decode_bytes(obj["value"], "value", is_value=True)
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


class DumpReader:
    """Reads a dump line by line (a file, or any iterable of lines with their newline),
    so a restore holds one line at a time, not the file: header on construction, then
    records(), which checks the end line once the last record is out.

    `digest` (after records()): SHA-256 of every byte before the end line, whether or
    not the end line's checksum is verified, so a second pass can tell that the file
    stayed the same. `unique` refuses a key twice (it keeps every key seen) and a
    field twice in one object; without it, a faster decoder reads the lines (for a
    second pass over a file whose `digest` is then compared with the first's).
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
        self.header = _parse_header_line(first.removesuffix(b"\n"))
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
        seen: dict[tuple[Table, bytes], int] = {}
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
                first = seen.setdefault((record.table, record.key), number)
                if first != number:
                    raise DumpFormatError(
                        number, f"duplicate key, first on line {first}"
                    )
            self.count += 1
            self._digest.update(line)
            yield record
        raise DumpFormatError(number + 1, "no end line: the file is truncated")


def parse(data: bytes, *, verify_checksum: bool = True) -> Dump:
    """Validate a whole dump; raises DumpFormatError naming the first bad line."""
    if not data:
        raise DumpFormatError(1, f"empty file: not a {FORMAT_NAME} file")
    lines = data.split(b"\n")
    _parse_header_line(lines[0])  # a file of another kind is named as such
    if lines[-1]:  # truncation is named before any bad line inside
        raise DumpFormatError(len(lines), "last line has no newline: file truncated")
    reader = DumpReader(
        (line + b"\n" for line in lines[:-1]), verify_checksum=verify_checksum
    )
    return Dump(reader.header, tuple(reader.records()))
