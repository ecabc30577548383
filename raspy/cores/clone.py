"""CloneCore: sequence numbers, ephemeral deadlines and KVSET dedupe (docs/protocols.md §6).

Sans-IO: frames and `now` (monotonic seconds) in, outputs out. It holds no values (they
live in the store), never reads a clock, never logs and never touches a socket.
Invariant: every Accept carries the next sequence number; a number is never given twice.
"""

from __future__ import annotations

import heapq
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

from raspy.errors import MalformedMessage
from raspy.protocol import clone, clone_local
from raspy.records import frozen

DEFAULT_RECENT_UUIDS: Final = 10_000
DEFAULT_MAX_VALUE_BYTES: Final = 64 * 1024
DUPLICATE_UUID: Final = "duplicate_uuid"
BODY_TOO_LARGE: Final = "body_too_large"


@frozen
class Update:
    """An accepted change with its sequence number; an empty body is a delete (§6.4).

    `ttl_s` is the relative ttl (None: permanent); server deletions have an empty
    uuid and no properties (§6.6). `props_frame` is the properties frame as the
    KVSET carried it, published and stored as it came; `props` its parsed pairs.
    """

    seq: int
    key: bytes
    uuid: bytes
    props: clone.Props
    body: bytes
    ttl_s: float | None
    props_frame: bytes = b""

    @property
    def is_delete(self) -> bool:
        return not self.body

    def kvpub(self) -> list[bytes]:
        """The KVPUB: uuid, properties and body echoed unchanged (§6.4)."""
        seq = clone.encode_seq(self.seq)
        return [self.key, seq, self.uuid, self.props_frame, self.body]


@frozen
class Accept:
    """Store this update, then publish it (durable before published); a coalesced
    one is published at once and stored with the next group commit (issue 17)."""

    update: Update
    coalesced: bool = False


@frozen
class Rejected:
    """Input dropped: a stable reason token and a detail for the log; for a KVSET
    that still reads as one, its `key` and `uuid` (an in-process writer is told)."""

    reason: str
    detail: str
    key: bytes = b""
    uuid: bytes = b""

    @property
    def counter(self) -> str:
        """The statistic it counts; a resend (§6.4 raspy) is expected, not bad input."""
        if self.reason == DUPLICATE_UUID:
            return "clone.duplicates"
        return f"clone.rejected.{self.reason}"

    @property
    def worth_logging(self) -> bool:
        """Bad input is logged (rate-limited by the shell); a resend is not."""
        return self.reason != DUPLICATE_UUID


@frozen
class SnapshotRequested:
    """A well-formed ICANHAZ? (§6.3): stream the subtree, then KTHXBAI."""

    subtree: bytes


@frozen
class Guarded:
    """In-process plain sets applied only while each key of `expect` still holds
    the update it was read at: its sequence number, 0 for a key absent or deleted.

    A sequence number, not a value: a writer that sends the same bytes again (a
    board back with a status `ok` it had before) has written all the same.
    """

    expect: tuple[tuple[bytes, int], ...]
    entries: tuple[tuple[bytes, bytes], ...]


@frozen
class Skipped:
    """Group `index` of an on_guarded call was left out: `key` changed since."""

    index: int
    key: bytes


CloneOutput = Accept | Rejected | SnapshotRequested | Skipped


class CloneCore:
    """The server's decisions; the shell stores, publishes and streams snapshots."""

    def __init__(
        self,
        *,
        max_key_bytes: int = clone.MAX_KEY_BYTES,
        max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES,
        recent_uuids: int = DEFAULT_RECENT_UUIDS,
        coalesced_prefixes: Sequence[bytes] = (),
    ) -> None:
        """`coalesced_prefixes`: subtrees whose in-process plain sets are coalesced."""
        if recent_uuids < 1:
            raise ValueError(f"recent_uuids must be >= 1, got {recent_uuids}")
        self._max_key_bytes = max_key_bytes
        self._max_value_bytes = max_value_bytes
        self._recent_limit = recent_uuids
        self._coalesced_prefixes = tuple(coalesced_prefixes)
        self._last_seq = 0
        self._expires_at: dict[bytes, float] = {}
        self._heap: list[tuple[float, bytes]] = []
        self._recent: OrderedDict[bytes, None] = OrderedDict()

    @property
    def last_seq(self) -> int:
        """The last sequence number given to an update (0: none yet)."""
        return self._last_seq

    @property
    def ephemeral_count(self) -> int:
        return len(self._expires_at)

    def load(
        self, last_seq: int, ephemeral_keys: Iterable[tuple[bytes, float]], now: float
    ) -> None:
        """Start from the store: its last sequence, its ephemeral keys and their ttl.

        §6.6 (raspy): every persisted ephemeral key gets a fresh full ttl from `now`.
        """
        if last_seq < 0:
            raise ValueError(f"last_seq must be >= 0, got {last_seq}")
        self._last_seq = max(self._last_seq, last_seq)
        self._expires_at.clear()
        self._heap.clear()
        for key, ttl_s in ephemeral_keys:
            if ttl_s > 0:
                self._set_deadline(key, now + ttl_s)

    def on_kvset(self, frames: Sequence[bytes], now: float) -> list[CloneOutput]:
        """A KVSET from the collector (§6.4)."""
        try:
            msg = clone.decode_kvset(frames, self._max_key_bytes)
            ttl_s = clone.ttl_of(msg.props)
        except MalformedMessage as exc:
            return [Rejected(exc.reason, exc.detail, *_writer_of(frames))]
        return self._accept(
            key=msg.key,
            body=msg.body,
            props=msg.props,
            ttl_s=ttl_s,
            uuid=msg.uuid,
            now=now,
            props_frame=bytes(frames[3]),
        )

    def on_local(self, frames: Sequence[bytes], now: float) -> list[CloneOutput]:
        """A ClonePublisher message (raspy.protocol.clone_local): a KVSET, or a batch."""
        try:
            message = clone_local.decode_local(frames)
        except MalformedMessage as exc:
            return [Rejected(exc.reason, exc.detail)]
        if isinstance(message, clone_local.LocalKvset):
            return self.on_kvset(message.frames, now)
        return self.on_local_batch(message.entries, now)

    def on_local_batch(
        self, entries: Sequence[tuple[bytes, bytes]], now: float
    ) -> list[CloneOutput]:
        """In-process plain sets (no properties, no ttl), e.g. a poll batch's readings.

        They carry an empty UUID, as the server's own deletions do (§6.6): they come
        from inside the server, so there is no client to confirm and nothing to dedupe.
        Under a coalesced prefix they are coalesced: no client waits for them, and the
        next poll replaces them anyway (issue 17). Everything else is durable.
        """
        return self._plain_sets(entries, now, self._coalesced_prefixes)

    def on_guarded(
        self, groups: Sequence[Guarded], current: Mapping[bytes, int], now: float
    ) -> list[CloneOutput]:
        """Compare-and-set: each group's sets, if every key it expects is still at
        the sequence number it gives; otherwise Skipped, and nothing of it is set.

        `current`: the sequence number of each expected key's latest update, as the
        shell knows it (missing, or a deletion: 0). Groups are decided in order, the
        sets of an earlier one counting for a later one. What is set is durable, not
        coalesced: a rare write that something else was careful not to overwrite.
        """
        seqs = dict(current)
        out: list[CloneOutput] = []
        for index, group in enumerate(groups):
            changed = next(
                (key for key, seq in group.expect if seqs.get(key, 0) != seq), None
            )
            if changed is not None:
                out.append(Skipped(index, changed))
                continue
            applied = self._plain_sets(group.entries, now, ())
            for accepted in applied:
                if isinstance(accepted, Accept):
                    update = accepted.update
                    seqs[update.key] = 0 if update.is_delete else update.seq
            out.extend(applied)
        return out

    def refusal(self, key: bytes, body: bytes) -> Rejected | None:
        """Why a plain set of `key` to `body` would be refused (None: it would not),
        told before anything is set: the checks _plain_sets and _accept apply."""
        try:
            clone.check_path_key(key, self._max_key_bytes)
        except MalformedMessage as exc:
            return Rejected(exc.reason, exc.detail, key)
        if len(body) > self._max_value_bytes:
            detail = f"{len(body)} > {self._max_value_bytes}"
            return Rejected(BODY_TOO_LARGE, detail, key)
        return None

    def _plain_sets(
        self,
        entries: Iterable[tuple[bytes, bytes]],
        now: float,
        coalesced_prefixes: tuple[bytes, ...],
    ) -> list[CloneOutput]:
        out: list[CloneOutput] = []
        max_key_bytes = self._max_key_bytes
        for key, body in entries:
            try:
                clone.check_path_key(key, max_key_bytes)
            except MalformedMessage as exc:
                out.append(Rejected(exc.reason, exc.detail))
                continue
            out.extend(
                self._accept(
                    key=key,
                    body=body,
                    props=(),
                    ttl_s=None,
                    uuid=b"",
                    now=now,
                    coalesced=key.startswith(coalesced_prefixes),
                )
            )
        return out

    def _accept(
        self,
        *,
        key: bytes,
        body: bytes,
        props: clone.Props,
        ttl_s: float | None,
        uuid: bytes,
        now: float,
        coalesced: bool = False,
        props_frame: bytes = b"",
    ) -> list[CloneOutput]:
        if len(body) > self._max_value_bytes:
            detail = f"{len(body)} > {self._max_value_bytes}"
            return [Rejected(BODY_TOO_LARGE, detail, key, uuid)]
        if uuid:
            if uuid in self._recent:
                # §6.4 (raspy): a resent KVSET is applied once
                return [Rejected(DUPLICATE_UUID, uuid.hex())]
            self._remember(uuid)
        if body and ttl_s is not None:
            self._set_deadline(key, now + ttl_s)
        else:
            # §6.6: a set without ttl (or ttl=0) is permanent; a delete ends the ttl
            self._expires_at.pop(key, None)
        ttl_s = ttl_s if body else None
        update = self._next(key, uuid, props, body, ttl_s, props_frame)
        return [Accept(update, coalesced)]

    def on_tick(self, now: float) -> list[CloneOutput]:
        """Server deletions for ephemeral keys whose deadline has passed (§6.6)."""
        out: list[CloneOutput] = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            expires_at, key = heapq.heappop(heap)
            if self._expires_at.get(key) != expires_at:
                continue  # refreshed or deleted since: a stale heap entry
            del self._expires_at[key]
            out.append(Accept(self._next(key, b"", (), b"", None)))
        return out

    def on_icanhaz(self, frames: Sequence[bytes]) -> list[CloneOutput]:
        """A snapshot request on the ROUTER, routing id stripped (§6.3)."""
        try:
            request = clone.decode_icanhaz(frames)
        except MalformedMessage as exc:
            return [Rejected(exc.reason, exc.detail)]
        return [SnapshotRequested(request.subtree)]

    def next_deadline(self) -> float | None:
        """The earliest ephemeral deadline (monotonic s), or None."""
        heap = self._heap
        while heap and self._expires_at.get(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def hugz_frames(self) -> list[bytes]:
        """The heartbeat to publish (§6.5): sequence eight zero bytes."""
        return clone.hugz()

    def restore_expiry(self, key: bytes, ttl_s: float | None, now: float) -> None:
        """After a failed commit: `key` expires as the store has it (its stored ttl
        afresh from `now`, as at a start, §6.6), not as the lost update set it."""
        if ttl_s:
            self._set_deadline(key, now + ttl_s)
        else:
            self._expires_at.pop(key, None)

    def forget(self, uuids: Iterable[bytes]) -> None:
        """Updates that could not be stored: let their resends through again."""
        for uuid in uuids:
            self._recent.pop(uuid, None)

    def _next(
        self,
        key: bytes,
        uuid: bytes,
        props: clone.Props,
        body: bytes,
        ttl_s: float | None,
        props_frame: bytes = b"",
    ) -> Update:
        self._last_seq += 1
        return Update(self._last_seq, key, uuid, props, body, ttl_s, props_frame)

    def _set_deadline(self, key: bytes, expires_at: float) -> None:
        self._expires_at[key] = expires_at
        heapq.heappush(self._heap, (expires_at, key))
        if len(self._heap) > 2 * len(self._expires_at) + 64:
            # refreshes leave stale entries behind: rebuild from the live deadlines
            self._heap = [(at, k) for k, at in self._expires_at.items()]
            heapq.heapify(self._heap)

    def _remember(self, uuid: bytes) -> None:
        self._recent[uuid] = None
        if len(self._recent) > self._recent_limit:
            self._recent.popitem(last=False)


def _writer_of(frames: Sequence[bytes]) -> tuple[bytes, bytes]:
    """(key, uuid) of a refused KVSET of five frames, whatever else is wrong with it
    (its properties, its sequence): empty when it has no key, and the uuid empty
    when it is not 16 bytes. For the log and for an in-process writer."""
    if len(frames) != 5 or not frames[0]:
        return b"", b""
    uuid = bytes(frames[2])
    return bytes(frames[0]), uuid if len(uuid) == clone.UUID_BYTES else b""
