"""Consistency check of a store's records (pure: fed records, returns problems).

Every record must decode with the encodings of raspy.storage.tables, and a kv record
be one the Clone server could have written (docs/protocols.md §6.2, §6.6); kv.meta
last_seq must be >= every kv seq; every titanic queue entry and reply needs its
request.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Final

from raspy import packing
from raspy.errors import PackingError, StoreError, quote
from raspy.protocol import clone
from raspy.records import frozen
from raspy.storage.scenario_records import validate_record as validate_scenario_record
from raspy.storage.schema import SCHEMA_VERSION
from raspy.storage.tables import (
    LAST_SEQ_KEY,
    SCHEMA_VERSION_KEY,
    Table,
    decode_device_record,
    decode_kv,
    decode_queue_key,
    decode_schema_version,
    decode_seq,
    decode_titanic_reply,
    decode_titanic_request,
    is_uuid32,
    validate_history_record,
)


@frozen
class Problem:
    """What is wrong with one record (key None: with a table as a whole).
    `served`: the record reads, and raspyd starts on it, but restore refuses it (a
    kv key that is a Clone command, a ttl the server never stores)."""

    table: Table
    key: bytes | None
    message: str
    served: bool = False

    def __str__(self) -> str:
        where = (
            self.table.value if self.key is None else f"{self.table} {quote(self.key)}"
        )
        return f"{where}: {self.message}"


def _uuid(key: bytes) -> bytes:
    if not is_uuid32(key):
        raise StoreError("key is not a uuid32 (32 lowercase hex characters)")
    return key


_KV_FIELDS: Final = frozenset({"seq", "body", "props", "ttl"})


def _plain_kv(value: bytes) -> dict[str, object] | None:
    """The usual kv record, checked quickly (the Clone tree is most of a store, and
    of a dump), or None: anything else goes through decode_kv, which names the
    problem."""
    try:
        record = packing.unpack(value)
    except PackingError:
        return None
    if not isinstance(record, dict) or record.keys() != _KV_FIELDS:
        return None
    seq, props, ttl = record["seq"], record["props"], record["ttl"]
    plain = (
        type(seq) is int
        and 0 <= seq < 2**64
        and type(record["body"]) is bytes
        and (ttl is None or type(ttl) is float)
        and (
            type(props) is bytes
            or (
                type(props) is dict
                and all(type(k) is str and type(v) is str for k, v in props.items())
            )
        )
    )
    return record if plain else None


def validate_written(table: Table, key: bytes, value: bytes) -> int | None:
    """validate_record, and a kv record as the Clone server writes one: its key no
    Clone command, its ttl None or 0..MAX_TTL_S s (0 excluded). For check and
    restore; raspyd starts on a store that holds another (validate_record).
    Returns a kv record's seq (None for other tables), so callers need not decode
    it again."""
    if table is not Table.KV:
        validate_record(table, key, value)
        return None
    if (record := _plain_kv(value)) is not None:
        seq, found = record["seq"], record["ttl"]
    else:
        decoded = decode_kv(value)
        seq, found = decoded.seq, decoded.ttl
    ttl = found if isinstance(found, float) else None  # None or a float, both ways
    if clone.is_command(key):  # a snapshot sends it as it is: KTHXBAI ends one
        raise StoreError("a Clone command, not a key: a snapshot would end there")
    if ttl is not None and not 0 < ttl <= clone.MAX_TTL_S:  # nan fails too
        raise StoreError(
            f"kv record: ttl: expected seconds > 0, at most {clone.MAX_TTL_S:.0f},"
            f" got {ttl}"
        )
    assert isinstance(seq, int)  # _plain_kv and decode_kv both checked it
    return seq


def validate_record(table: Table, key: bytes, value: bytes) -> None:
    """Raise StoreError unless the record decodes as its table says (alone)."""
    match table:
        case Table.META:
            if key != SCHEMA_VERSION_KEY:
                raise StoreError("unknown key")
            if (version := decode_schema_version(value)) > SCHEMA_VERSION:
                raise StoreError(f"schema version {version} is too new")
        case Table.KV:
            if _plain_kv(value) is None:
                decode_kv(value)
        case Table.KV_META:
            if key != LAST_SEQ_KEY:
                raise StoreError("unknown key")
            decode_seq(value)
        case Table.TITANIC_REQUESTS:
            decode_titanic_request(value)
            _uuid(key)
        case Table.TITANIC_REPLIES:
            decode_titanic_reply(value)
            _uuid(key)
        case Table.TITANIC_QUEUE:
            if value != decode_queue_key(key)[1]:
                raise StoreError(f"value {quote(value)} is not the key's uuid")
        case Table.DEVICE:
            decode_device_record(key, value)
        case Table.HISTORY:
            validate_history_record(key, value)
        case Table.SCENARIO:
            validate_scenario_record(key, value)
        case Table.CRON:
            try:
                packing.unpack(value)
            except PackingError as exc:
                raise StoreError(f"not msgpack: {exc}") from exc


def _reads(table: Table, key: bytes, value: bytes) -> bool:
    """Whether raspyd reads the record (validate_record), as its start does."""
    try:
        validate_record(table, key, value)
    except StoreError:
        return False
    return True


@dataclass
class Checker:
    """Feed every record (any order) with feed(), then call finish()."""

    counts: Counter[Table] = field(default_factory=Counter)
    _problems: list[Problem] = field(default_factory=list)
    _kv_seqs: list[tuple[int, bytes]] = field(default_factory=list)
    _last_seq: int | None = None
    _requests: set[bytes] = field(default_factory=set)
    _replies: set[bytes] = field(default_factory=set)
    _queued: Counter[bytes] = field(default_factory=Counter)

    def feed(self, table: Table, key: bytes, value: bytes) -> None:
        self.counts[table] += 1
        try:
            kv_seq = validate_written(table, key, value)
        except StoreError as exc:
            served = _reads(table, key, value)
            self._problems.append(Problem(table, key, str(exc), served))
            return
        match table:
            case Table.KV:
                assert kv_seq is not None  # validate_written's for a kv record
                self._kv_seqs.append((kv_seq, key))
            case Table.KV_META:
                self._last_seq = decode_seq(value)
            case Table.TITANIC_REQUESTS:
                self._requests.add(key)
            case Table.TITANIC_REPLIES:
                self._replies.add(key)
            case Table.TITANIC_QUEUE:
                self._queued[decode_queue_key(key)[1]] += 1

    def finish(self) -> list[Problem]:
        """Every problem found, record problems first, in feeding order."""
        problems = list(self._problems)
        if self._kv_seqs and self._last_seq is None:
            problems.append(
                Problem(Table.KV_META, None, "kv has records but no last_seq")
            )
        last = self._last_seq
        if last is not None:
            for seq, key in self._kv_seqs:
                if seq > last:
                    message = f"seq {seq} is above kv.meta last_seq {last}"
                    problems.append(Problem(Table.KV, key, message))
        for uuid in sorted(self._replies - self._requests):
            problems.append(
                Problem(Table.TITANIC_REPLIES, uuid, "reply without request")
            )
        for uuid, times in sorted(self._queued.items()):
            if uuid not in self._requests:
                problems.append(
                    Problem(Table.TITANIC_QUEUE, uuid, "queued without request")
                )
            if times > 1:
                problems.append(
                    Problem(Table.TITANIC_QUEUE, uuid, f"queued {times} times")
                )
        return problems
