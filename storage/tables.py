"""The store's named databases and the encodings of their records (pure: no lmdb here).

Values are msgpack through raspy.packing. Decoders are strict: a record that does not
have exactly the expected fields and types raises StoreError naming what is wrong.
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Final

from raspy import packing
from raspy.errors import PackingError, StoreError, quote
from raspy.history.recorder import Bucket
from raspy.records import frozen

MAX_KEY_BYTES: Final = 511  # LMDB's compiled-in key limit (mdb_env_get_maxkeysize)
SEQ_MAX: Final = 2**64 - 1
LAST_SEQ_KEY: Final = b"last_seq"  # kv.meta: the last sequence number given out
SCHEMA_VERSION_KEY: Final = b"schema_version"  # meta
_UUID32 = re.compile(rb"[0-9a-f]{32}")
_QUEUE_KEY_BYTES: Final = 8 + 32


class Table(StrEnum):
    """The named databases of docs/architecture.md "Storage"; the value is the LMDB name."""

    META = "meta"
    KV = "kv"
    KV_META = "kv.meta"
    TITANIC_REQUESTS = "titanic.requests"
    TITANIC_REPLIES = "titanic.replies"
    TITANIC_QUEUE = "titanic.queue"
    SCENARIO = "scenario"
    CRON = "cron"
    DEVICE = "device"  # device settings changed over MDP, outputs' last states
    HISTORY = "history"  # recorded values in round-robin tiers (raspy.history)


# Every table but meta is user data: dumped, restored and checked record by record.
DATA_TABLES: Final = tuple(t for t in Table if t is not Table.META)


@frozen
class KvRecord:
    """One Clone key's stored state: the sequence of the update that last set it.

    `props`: the properties frame as its KVSET carried it; records written before
    raspy kept the frame hold the parsed properties, a map of strings.
    """

    seq: int
    body: bytes
    props: bytes | dict[str, str]
    ttl: float | None


@frozen
class TitanicRequestRecord:
    """An accepted Titanic request: target service, body frames, wall-clock creation."""

    service: bytes
    body: tuple[bytes, ...]
    created: float


@frozen
class TitanicReplyRecord:
    """A stored Titanic reply: body frames and the wall-clock time it was stored."""

    body: tuple[bytes, ...]
    done: float


def _unpack_map(
    data: bytes, what: str, fields: tuple[str, ...], optional: tuple[str, ...] = ()
) -> dict[str, Any]:
    """A map with exactly `fields`, and any of `optional`; else StoreError."""
    try:
        value = packing.unpack(data)
    except PackingError as exc:
        raise StoreError(f"{what}: {exc}") from exc
    if not isinstance(value, dict):
        raise StoreError(f"{what}: expected a map, got {type(value).__name__}")
    if sorted(k for k in value if k not in optional) != sorted(fields):
        got = ", ".join(sorted(str(k) for k in value))
        raise StoreError(f"{what}: expected fields {', '.join(fields)}, got {got}")
    return value


def _frames(value: object, what: str) -> tuple[bytes, ...]:
    if not isinstance(value, list) or not all(isinstance(f, bytes) for f in value):
        raise StoreError(f"{what}: body: expected a list of byte strings")
    return tuple(value)


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise StoreError(f"{what}: expected a number, got {type(value).__name__}")
    return float(value)


def encode_kv(
    seq: int, body: bytes, props: bytes | Mapping[str, str], ttl: float | None
) -> bytes:
    """kv value: the Clone sequence, body, properties and ttl in seconds (or None).

    The Clone server gives `props` as the frame it received (bytes: any bytes RFC 12
    allows, kept exactly); a map of strings is the older form, still read. No
    properties (nearly every key) is stored as the empty map, as before the frame
    was kept: one byte less a record, and the same pages written per group commit
    (the SD card's budget: the readings' records are rewritten every flush).
    """
    if not 0 <= seq <= SEQ_MAX:
        raise ValueError(f"sequence {seq} outside 0..2**64-1")
    if isinstance(props, bytes):
        stored: bytes | dict[str, str] = bytes(props) if props else {}
    else:
        stored = dict(props)
    return packing.pack(
        {
            "seq": seq,
            "body": bytes(body),
            "props": stored,
            "ttl": None if ttl is None else float(ttl),
        }
    )


def decode_kv(data: bytes) -> KvRecord:
    """Inverse of encode_kv; raises StoreError for anything else."""
    what = "kv record"
    value = _unpack_map(data, what, ("seq", "body", "props", "ttl"))
    seq, body, props, ttl = value["seq"], value["body"], value["props"], value["ttl"]
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= SEQ_MAX:
        raise StoreError(f"{what}: seq: expected an integer 0..2**64-1")
    if not isinstance(body, bytes):
        raise StoreError(f"{what}: body: expected bytes, got {type(body).__name__}")
    if not isinstance(props, bytes) and not _string_map(props):
        raise StoreError(f"{what}: props: expected bytes or a map of strings")
    if props == {}:
        props = b""  # no properties: the empty frame (encode_kv)
    return KvRecord(
        seq=seq,
        body=body,
        props=props,
        ttl=None if ttl is None else _number(ttl, f"{what}: ttl"),
    )


def _string_map(value: object) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    )


def encode_seq(seq: int) -> bytes:
    """kv.meta last_seq: 8-byte big-endian unsigned."""
    if not 0 <= seq <= SEQ_MAX:
        raise ValueError(f"sequence {seq} outside 0..2**64-1")
    return seq.to_bytes(8, "big")


def decode_seq(data: bytes) -> int:
    if len(data) != 8:
        raise StoreError(f"sequence: expected 8 bytes, got {len(data)}")
    return int.from_bytes(data, "big")


def is_uuid32(value: bytes) -> bool:
    """A Titanic id: 32 lowercase hex characters as ASCII bytes (docs/protocols.md)."""
    return _UUID32.fullmatch(value) is not None


def encode_titanic_request(record: TitanicRequestRecord) -> bytes:
    return packing.pack(
        {
            "service": bytes(record.service),
            "body": [bytes(f) for f in record.body],
            "created": float(record.created),
        }
    )


def decode_titanic_request(data: bytes) -> TitanicRequestRecord:
    what = "titanic request"
    value = _unpack_map(data, what, ("service", "body", "created"))
    if not isinstance(value["service"], bytes):
        raise StoreError(f"{what}: service: expected bytes")
    return TitanicRequestRecord(
        service=value["service"],
        body=_frames(value["body"], what),
        created=_number(value["created"], f"{what}: created"),
    )


def encode_titanic_reply(record: TitanicReplyRecord) -> bytes:
    return packing.pack(
        {"body": [bytes(f) for f in record.body], "done": float(record.done)}
    )


def decode_titanic_reply(data: bytes) -> TitanicReplyRecord:
    what = "titanic reply"
    value = _unpack_map(data, what, ("body", "done"))
    return TitanicReplyRecord(
        body=_frames(value["body"], what),
        done=_number(value["done"], f"{what}: done"),
    )


def queue_key(counter: int, uuid: bytes) -> bytes:
    """titanic.queue key: 8-byte big-endian enqueue counter + uuid32 (key order)."""
    if not is_uuid32(uuid):
        raise ValueError(f"not a uuid32: {uuid[:64]!r}")
    return encode_seq(counter) + uuid


def decode_queue_key(key: bytes) -> tuple[int, bytes]:
    """Inverse of queue_key: (counter, uuid32); raises StoreError."""
    if len(key) != _QUEUE_KEY_BYTES or not is_uuid32(key[8:]):
        raise StoreError("titanic queue key: expected 8-byte counter + uuid32")
    return int.from_bytes(key[:8], "big"), key[8:]


# device table keys: b"config/<fullname>" (settings over the file's) and
# b"state/<fullname>" (an output's last state, for initial = "restore"; with
# `pending`, the change held for a switch by min_on_s / min_off_s, only while there
# is one: a record without it is the one every version before it wrote).
DEVICE_CONFIG_PREFIX: Final = b"config/"
DEVICE_STATE_PREFIX: Final = b"state/"


@frozen
class DeviceRecord:
    """A device's stored settings (`fields`: the changed ones) or state (`value`),
    and the wall-clock time it was saved; a state's `pending`: the state a change
    held for it switches it to (None: none)."""

    value: Any
    saved: float
    pending: bool | None = None


def device_key(prefix: bytes, fullname: str) -> bytes:
    return prefix + fullname.encode("utf-8")


def encode_device_record(
    prefix: bytes, value: Any, saved: float, pending: bool | None = None
) -> bytes:
    """A device record: config (`fields`, a map) or state (`value`, and `pending`
    if a change is held for it: a state with none is written as before)."""
    name = "fields" if prefix == DEVICE_CONFIG_PREFIX else "value"
    record = {name: value, "saved": float(saved)}
    if pending is not None:
        if name != "value":
            raise ValueError("only a state record holds a pending change")
        record["pending"] = pending
    return packing.pack(record)


def decode_device_record(key: bytes, data: bytes) -> DeviceRecord:
    """Inverse of encode_device_record for the record at `key`; raises StoreError."""
    if key.startswith(DEVICE_CONFIG_PREFIX):
        name = "fields"
    elif key.startswith(DEVICE_STATE_PREFIX):
        name = "value"
    else:
        raise StoreError("device key: expected config/ or state/ before the name")
    what = f"device {name} record"
    optional = ("pending",) if name == "value" else ()
    value = _unpack_map(data, what, (name, "saved"), optional)
    if name == "fields" and not (
        isinstance(value[name], dict) and all(isinstance(k, str) for k in value[name])
    ):
        raise StoreError(f"{what}: fields: expected a map of strings to values")
    pending = value.get("pending")
    if "pending" in value and not isinstance(pending, bool):
        got = type(pending).__name__
        raise StoreError(f"{what}: pending: expected true or false, got {got}")
    return DeviceRecord(value[name], _number(value["saved"], f"{what}: saved"), pending)


def encode_schema_version(version: int) -> bytes:
    return packing.pack(version)


def decode_schema_version(data: bytes) -> int:
    try:
        value = packing.unpack(data)
    except PackingError as exc:
        raise StoreError(f"meta schema_version: {exc}") from exc
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise StoreError(
            f"meta schema_version: expected an integer >= 0, got {quote(repr(value))}"
        )
    return value


# history table keys: b"d" + step_s (4 bytes) + slot (4 bytes) + Clone key, a bucket
# (overwritten in place when its slot comes round again), and b"k" + Clone key, the
# recorded keys. Ordered by (step, slot, key) rather than (key, ...): one flush then
# dirties a few adjacent pages for all keys instead of a few pages per key, which is
# what the SD card sees (docs/history.md, docs/PERFORMANCE.md).
HISTORY_ROW_PREFIX: Final = b"d"
HISTORY_KEY_PREFIX: Final = b"k"
_HISTORY_ROW_HEAD: Final = 1 + 4 + 4
_RAW_ROW: Final = struct.Struct(">dd")
_BUCKET_ROW: Final = struct.Struct(">dIddd")


# a stored bucket is the recorder's Bucket: raw (`count` 1) or the min/sum/max of
# `count` samples; one type in memory and on disk, so nothing copies it field by field
HistoryRow = Bucket
RECORDED_KEY_VALUE: Final = b"\xc0"  # msgpack nil: the record's key says it all


def recorded_key_record(key: str) -> tuple[bytes, bytes]:
    """The (key, value) of the record that says `key` has history."""
    return HISTORY_KEY_PREFIX + key.encode("utf-8"), RECORDED_KEY_VALUE


def history_row_key(step_s: int, slot: int, key: str) -> bytes:
    return (
        HISTORY_ROW_PREFIX
        + step_s.to_bytes(4, "big")
        + slot.to_bytes(4, "big")
        + key.encode("utf-8")
    )


def decode_history_row_key(data: bytes) -> tuple[int, int, str]:
    """Inverse of history_row_key: (step_s, slot, key); raises StoreError."""
    if len(data) <= _HISTORY_ROW_HEAD or not data.startswith(HISTORY_ROW_PREFIX):
        raise StoreError("history key: expected d + step + slot + key")
    try:
        key = data[_HISTORY_ROW_HEAD:].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StoreError("history key: the Clone key is not UTF-8") from exc
    return int.from_bytes(data[1:5], "big"), int.from_bytes(data[5:9], "big"), key


def encode_history_row(row: HistoryRow) -> bytes:
    """Fixed binary, not msgpack: 16 bytes (t, value) for a raw point, the common row,
    else 36 (t, count, total, low, high). Small rows are fewer pages per flush, and
    struct decodes a 7-day query's 2016 rows many times faster."""
    if row.count == 1 and row.low == row.high == row.total:
        return _RAW_ROW.pack(row.t, row.total)
    return _BUCKET_ROW.pack(row.t, row.count, row.total, row.low, row.high)


def decode_history_row(data: bytes) -> HistoryRow:
    """Inverse of encode_history_row; raises StoreError."""
    if len(data) == _RAW_ROW.size:
        t, value = _RAW_ROW.unpack(data)
        row = HistoryRow(t, 1, value, value, value)
    elif len(data) == _BUCKET_ROW.size:
        row = HistoryRow(*_BUCKET_ROW.unpack(data))
        if row.count < 1:
            raise StoreError("history row: count: expected an integer >= 1")
    else:
        raise StoreError(f"history row: expected 16 or 36 bytes, got {len(data)}")
    if not all(map(math.isfinite, (row.t, row.total, row.low, row.high))):
        raise StoreError("history row: expected finite numbers")
    return row


def validate_history_record(key: bytes, value: bytes) -> None:
    """Raise StoreError unless `key`/`value` is a history row or a recorded key."""
    if key.startswith(HISTORY_KEY_PREFIX):
        try:
            key[1:].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise StoreError("history key: the Clone key is not UTF-8") from exc
        return
    decode_history_row_key(key)
    decode_history_row(value)
