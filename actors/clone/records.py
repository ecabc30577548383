"""The kv records the Clone server reads and writes (docs/protocols.md §6.2, §6.6).

A snapshot reads every record, so `kv_essentials` checks only the fields the server
needs; `load_state` restores the sequence and the ephemeral keys at start-up, and warns
of a stored key that is a Clone command (snapshots leave it out); `forget_volatile`
deletes the records of volatile keys an older version stored; `store_ops` is one
group commit's transaction, `kv_ops` a coalesced flush's (no mark). No sockets here.
"""

from __future__ import annotations

from typing import Final

import structlog

from raspy import packing
from raspy.cores import clone as core_mod
from raspy.cores.clone_durability import VOLATILE_PREFIXES, is_volatile
from raspy.errors import PackingError, StoreError, quote
from raspy.protocol import clone
from raspy.records import frozen
from raspy.stats import Stats
from raspy.storage.store import Delete, Op, Put, Store
from raspy.storage.tables import (
    LAST_SEQ_KEY,
    Table,
    decode_kv,
    decode_seq,
    encode_kv,
    encode_seq,
)

log = structlog.get_logger(component="clone")

_LOAD_CHUNK: Final = 1000


def kv_essentials(value: bytes) -> tuple[int, bytes, float | None]:
    """(seq, body, ttl) of a kv record: a quick check of the fields the Clone server
    needs (a snapshot reads every record); anything unusual goes through decode_kv,
    which raises StoreError naming the problem."""
    try:
        record = packing.unpack(value)
    except PackingError:
        record = None
    if isinstance(record, dict) and len(record) == 4:
        seq, body, ttl = record.get("seq"), record.get("body"), record.get("ttl")
        if (
            type(seq) is int
            and 0 <= seq <= clone.MAX_SEQ
            and type(body) is bytes
            and (ttl is None or type(ttl) is float)
        ):
            return seq, body, ttl
    full = decode_kv(value)
    return full.seq, full.body, full.ttl


@frozen
class Loaded:
    """What a start reads back from the kv records."""

    last_seq: int  # the last sequence given out (kv.meta, or higher in kv)
    ephemeral: list[tuple[bytes, float]]  # every ephemeral key with its ttl
    volatile: list[bytes]  # stored keys that are volatile: to delete


def load_state(store: Store, stats: Stats) -> Loaded:
    """The last sequence given out, every ephemeral key with its ttl and the stored
    volatile keys; unreadable records are logged, counted and skipped (a volatile
    one is still deleted)."""
    last_seq = 0
    ephemeral: list[tuple[bytes, float]] = []
    volatile: list[bytes] = []
    with store.read_view() as view:
        raw = view.get(Table.KV_META, LAST_SEQ_KEY)
        if raw is not None:
            last_seq = decode_seq(raw)
        after: bytes | None = None
        while True:
            items = view.iter_from(Table.KV, b"", after, _LOAD_CHUNK)
            for key, value in items:
                if is_volatile(key):
                    volatile.append(key)
                try:
                    seq, _, ttl_s = kv_essentials(value)
                except StoreError as exc:
                    stats.incr("clone.load.bad_record")
                    log.error("clone_record_unreadable", key=key.hex(), reason=str(exc))
                    continue
                last_seq = max(last_seq, seq)
                if clone.is_command(key):
                    _command_key(key, stats)  # kept, never served, never expired
                elif ttl_s and not is_volatile(key):
                    ephemeral.append((key, ttl_s))
            if len(items) < _LOAD_CHUNK:
                return Loaded(last_seq, ephemeral, volatile)
            after = items[-1][0]


def forget_volatile(store: Store, loaded: Loaded, stats: Stats) -> None:
    """Delete the stored records of volatile keys (an older raspyd wrote `/stats/`,
    and a restore of its dump brings them back), in one transaction with the
    high-water mark, which keeps every number they had used. Once: no later start
    finds any. A failure is logged: the server still starts, and serves them (its
    own publications are newer, and win in a snapshot) until the next start."""
    if not loaded.volatile:
        return
    ops: list[Op] = [Delete(Table.KV, key) for key in loaded.volatile]
    ops.append(Put(Table.KV_META, LAST_SEQ_KEY, encode_seq(loaded.last_seq)))
    try:
        store.commit(ops)
    except StoreError as exc:
        stats.incr("clone.load.volatile_not_deleted")
        log.error(
            "clone_volatile_records_not_deleted",
            count=len(loaded.volatile),
            reason=str(exc),
        )
        return
    stats.incr("clone.load.volatile_deleted", len(loaded.volatile))
    log.info(
        "clone_volatile_records_deleted",
        count=len(loaded.volatile),
        prefixes=[prefix.decode() for prefix in VOLATILE_PREFIXES],
        why="kept in memory only: published again after a start",
    )


def _command_key(key: bytes, stats: Stats) -> None:
    """A kv key that is a Clone command (an older restore let it in; writes refuse
    it): snapshots leave it out (raspy.cores.clone_snapshot), else each would end at
    it. Left in the store, where `raspy-kv check` names it and `dump` shows it."""
    stats.incr("clone.load.command_key")
    log.warning(
        "clone_command_key_not_served",
        key=quote(key),
        hint="a Clone command, not a key: snapshots leave it out; "
        "`raspy-kv check` names such records",
    )


def kv_ops(updates: list[core_mod.Update]) -> list[Op]:
    """Put (or Delete) each key: a coalesced flush's whole transaction. Its updates
    are covered by a mark already synced (SequenceBlocks.confirmed), so it writes no
    mark of its own: kv.meta is a tree of its own, and rewriting its one record
    every interval would copy one more page to the card a minute for nothing."""
    ops: list[Op] = []
    for update in updates:
        if update.is_delete:
            ops.append(Delete(Table.KV, update.key))
        else:
            value = encode_kv(update.seq, update.body, update.props_frame, update.ttl_s)
            ops.append(Put(Table.KV, update.key, value))
    return ops


def store_ops(updates: list[core_mod.Update], mark: int) -> list[Op]:
    """kv_ops, then kv.meta last_seq: one transaction, §6.2 raspy.

    last_seq is the high-water mark: no sequence number above it was given out.
    """
    return [*kv_ops(updates), Put(Table.KV_META, LAST_SEQ_KEY, encode_seq(mark))]
