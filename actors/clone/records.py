"""The kv records the Clone server reads and writes (docs/protocols.md §6.2, §6.6).

A snapshot reads every record, so `kv_essentials` checks only the fields the server
needs; `load_state` restores the sequence and the ephemeral keys at start-up, and warns
of a stored key that is a Clone command (snapshots leave it out); `store_ops` is one
group commit's transaction, `kv_ops` a coalesced flush's (no mark). No sockets here.
"""

from __future__ import annotations

from typing import Final

import structlog

from raspy import packing
from raspy.cores import clone as core_mod
from raspy.errors import PackingError, StoreError, quote
from raspy.protocol import clone
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


def load_state(store: Store, stats: Stats) -> tuple[int, list[tuple[bytes, float]]]:
    """The last sequence given out (kv.meta, or higher in kv) and every ephemeral key
    with its ttl; unreadable records are logged, counted and skipped."""
    last_seq = 0
    ephemeral: list[tuple[bytes, float]] = []
    with store.read_view() as view:
        raw = view.get(Table.KV_META, LAST_SEQ_KEY)
        if raw is not None:
            last_seq = decode_seq(raw)
        after: bytes | None = None
        while True:
            items = view.iter_from(Table.KV, b"", after, _LOAD_CHUNK)
            for key, value in items:
                try:
                    seq, _, ttl_s = kv_essentials(value)
                except StoreError as exc:
                    stats.incr("clone.load.bad_record")
                    log.error("clone_record_unreadable", key=key.hex(), reason=str(exc))
                    continue
                last_seq = max(last_seq, seq)
                if clone.is_command(key):
                    _command_key(key, stats)  # kept, never served, never expired
                elif ttl_s:
                    ephemeral.append((key, ttl_s))
            if len(items) < _LOAD_CHUNK:
                return last_seq, ephemeral
            after = items[-1][0]


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
