"""A record's key and value as JSON in a raspy-kv dump, and back (pure: no files,
no lmdb; storage/dump.py writes and reads the lines).

Bytes are shown as a string when they are printable UTF-8, else as {"b64": ...};
values may also be {"u64": n} (kv.meta, 8-byte big-endian) or {"msgpack": ...}
(bytes inside as {"$text": ...} or {"$b64": ...}), each chosen only when it reads
back to exactly the same bytes.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from typing import Final

from raspy import packing
from raspy.errors import PackingError, quote
from raspy.storage.tables import DATA_TABLES, Table

_MSGPACK_TABLES: Final = frozenset(DATA_TABLES) - {Table.KV_META}
_TAG_TEXT: Final = "$text"  # bytes inside a msgpack value, printable UTF-8
_TAG_B64: Final = "$b64"  # bytes inside a msgpack value, anything else
_ALLOWED_CONTROL: Final = frozenset("\t\n\r")


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


def key_json(data: bytes) -> object:
    """A key as a dump shows it: its text, or {"b64": ...}."""
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


def decode_bytes(value: object, where: str, *, is_value: bool) -> bytes:
    """A key's or value's JSON read back to its bytes; ValueError says why not."""
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


def value_json(table: Table, data: bytes) -> object:
    """A value of `table` as a dump shows it: the first form that reads back the same."""
    if table is Table.KV_META and len(data) == 8:
        return {"u64": int.from_bytes(data, "big")}
    text = _text(data)
    if text is not None:
        return text
    if table in _MSGPACK_TABLES:
        try:
            shown = {"msgpack": _to_json(packing.unpack(data))}
            again = json.loads(dump_json(shown))
            if decode_bytes(again, "value", is_value=True) == data:
                return shown
        except (PackingError, ValueError, RecursionError):
            pass  # not msgpack that reads back exactly: fall back to base64
    return {"b64": _b64(data)}


def dump_json(value: object) -> str:
    """One line's JSON: UTF-8 as is, no NaN."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False)
