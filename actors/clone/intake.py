"""The Clone server's input side: what the collector, the snapshot ROUTER and the
in-process outbox bring is handed to CloneCore, and what the core decides is carried
out: accepted updates to the commit pipeline (stored, then published), snapshot
requests to the streamer, refusals counted and logged, rate-limited. Each source is
read at most DRAIN_BATCH messages a turn, so none starves the others. Clone I/O
thread only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Final

import structlog

from raspy.actors.clone.backpressure import CollectorPause
from raspy.actors.clone.commit import CommitPipeline
from raspy.actors.clone.snapshot import SnapshotStreamer
from raspy.clock import Clock
from raspy.cores import clone as core_mod
from raspy.cores.clone_pacing import ClonePacing
from raspy.errors import StoreError, ValueTooLargeError, quote
from raspy.ratelimit import LogRateLimiter
from raspy.stats import Stats
from raspy.storage.ops import Op
from raspy.transport.multipart import drain
from raspy.transport.outbox import Outbox
from raspy.transport.runner import Runner
from raspy.transport.sockets import Socket

log = structlog.get_logger(component="clone")

DRAIN_BATCH: Final = 1000  # messages read from one source per loop turn
_QUEUE_FULL: Final = core_mod.Rejected("snapshot_queue_full", "")

Outputs = list[core_mod.CloneOutput]
Step = Callable[[Sequence[bytes], float], Outputs]  # a CloneCore input method
Handler = Callable[[int], None]  # a Runner handler: called with the poll events
Refusal = Callable[[bytes, bytes, str], None]  # key, uuid, reason


class CloneIntake:
    """Sources into CloneCore, and the core's decisions carried out."""

    def __init__(
        self,
        core: core_mod.CloneCore,
        commits: CommitPipeline,
        snapshots: SnapshotStreamer,
        pacing: ClonePacing,
        clock: Clock,
        stats: Stats,
        limiter: LogRateLimiter,
        on_refused: Refusal | None = None,
    ) -> None:
        """`on_refused(key, uuid, reason)`: an in-process write was refused."""
        self._core = core
        self._on_refused = on_refused
        self._commits = commits
        self._snapshots = snapshots
        self._pacing = pacing
        self._clock = clock
        self._stats = stats
        self._limiter = limiter  # shared: one log line per (peer, reason)
        # the last number given out when the outbox was last read: every in-process
        # publish read so far is numbered at or below it (set per read, not update)
        self._local_seq = 0

    def register(
        self, runner: Runner, collector: Socket, outbox: Outbox, pause: CollectorPause
    ) -> None:
        """Read the collector's KVSETs (§6.4) on `runner`, paused while an in-process
        subscriber is behind (`pause`), and in-process publishes, never paused."""
        on_kvset = self._core.on_kvset
        pause.attach(
            runner, collector, self.socket_reader(collector, "collector", on_kvset)
        )
        runner.register(outbox.read_fd, self.outbox_reader(outbox))

    def socket_reader(self, sock: Socket, peer: str, step: Step) -> Handler:
        """A handler that reads `sock` into `step`, refusals logged under `peer`."""

        def on_readable(_events: int) -> None:
            now = self._clock.monotonic()
            self._full(
                drain(sock, lambda f: self.apply(step(f, now), peer), DRAIN_BATCH)
            )

        return on_readable

    def outbox_reader(self, outbox: Outbox) -> Handler:
        """A handler that reads in-process publishes (ClonePublisher) into the core."""

        def on_readable(_events: int) -> None:
            self._full(self._read_outbox(outbox, DRAIN_BATCH))

        return on_readable

    def take_sent(self, outbox: Outbox) -> int:
        """Read every in-process publish sent so far, now (a command that must come
        after them, msgs.GetUnstored); those sent meanwhile wait for their turn.
        The number each one read so far is at or below: once it is published,
        so are they (a client's or a compare-and-set's write is not waited for)."""
        self._read_outbox(outbox, outbox.pending)
        return self._local_seq

    def _read_outbox(self, outbox: Outbox, limit: int) -> int:
        on_local = self._core.on_local
        now = self._clock.monotonic()
        taken = outbox.drain(
            lambda m: self.apply(on_local(m, now), "local", local=True), limit
        )
        if taken:
            self._local_seq = self._core.last_seq
        return taken

    def guarded(self, groups: Sequence[core_mod.Guarded]) -> list[int]:
        """Compare-and-set groups (msgs.SetIfUnchanged), decided here on the I/O
        thread, so nothing comes between the check and the write; the indexes of
        the groups skipped because a key they expect changed."""
        commits = self._commits
        keys = {key for group in groups for key, _ in group.expect}
        current = {key: commits.current_seq(key) for key in keys}
        outputs = self._core.on_guarded(groups, current, self._clock.monotonic())
        self.apply(outputs, "local")
        return [out.index for out in outputs if isinstance(out, core_mod.Skipped)]

    def along(
        self,
        entries: Sequence[tuple[bytes, bytes]],
        ops: Sequence[Op],
        done: Future[None],
    ) -> None:
        """msgs.CommitAlong: `entries` set as durable in-process writes and `ops`
        stored in their transaction; before anything is taken, StoreError for an
        entry the tree refuses (ValueTooLargeError for a body over its limit) and
        ValueTooLargeError for an op over the store's limits."""
        for key, body in entries:
            _check_along(self._core.refusal(key, body))
        if not self._commits.accept_along(ops, done):
            return  # its asker gave up first: nothing of it is set
        group = core_mod.Guarded((), tuple(entries))
        self.apply(self._core.on_guarded([group], {}, self._clock.monotonic()), "local")

    def expire(self, now: float) -> None:
        """Ephemeral keys whose time is up: the core's deletions carried out."""
        deadline = self._core.next_deadline()
        if deadline is not None and deadline <= now:
            self.apply(self._core.on_tick(now), "ttl")

    def read_snapshot_requests(self, router: Socket) -> None:
        """ICANHAZ? on the ROUTER; each peer's refusals logged under its id in hex."""
        drained = drain(router, self._on_icanhaz, DRAIN_BATCH)
        self._full(drained)

    def _on_icanhaz(self, frames: list[bytes]) -> None:
        self.apply(self._core.on_icanhaz(frames[1:]), frames[0].hex(), frames[0])

    def _full(self, count: int) -> None:
        if count >= DRAIN_BATCH:  # more may wait: the next poll does not sleep
            self._pacing.drained_full()

    def apply(
        self,
        outputs: Outputs,
        peer: str,
        routing_id: bytes = b"",
        *,
        local: bool = False,
    ) -> None:
        """`local`: the outputs of in-process writes, whose refusals their writers
        are told (a TCP client is not: it reads the tree, not our word)."""
        for out in outputs:
            if isinstance(out, core_mod.Accept):
                self._commits.accept(out.update, coalesced=out.coalesced)
            elif isinstance(out, core_mod.SnapshotRequested):
                if not self._snapshots.request(routing_id, out.subtree):
                    self._rejected(peer, _QUEUE_FULL)
            elif isinstance(out, core_mod.Skipped):
                self._stats.incr("clone.guarded_skipped")
            else:
                self._rejected(peer, out)
                if local and out.uuid and self._on_refused is not None:
                    self._on_refused(out.key, out.uuid, out.reason)

    def _rejected(self, peer: str, out: core_mod.Rejected) -> None:
        """Counted every time, logged once per (peer, reason) a minute (docs/style.md §5)."""
        self._stats.incr(out.counter)
        now = self._clock.monotonic()
        if out.worth_logging and self._limiter.should_log((peer, out.reason), now):
            # the update refused, when it names one: the key cut short, as every
            # outside value (docs/style.md §4), the uuid as hex
            named: dict[str, str] = {}
            if out.key:
                named["key"] = quote(out.key)
            if out.uuid:
                named["uuid"] = out.uuid.hex()
            log.warning(
                "clone_input_rejected",
                peer=peer,
                reason=out.reason,
                detail=out.detail,
                **named,
            )


def _check_along(refused: core_mod.Rejected | None) -> None:
    """An entry of a CommitAlong the tree refuses, raised as the store's error: its
    askers take a StoreError as nothing stored."""
    if refused is None:
        return
    text = (
        f"the tree refuses key {quote(refused.key)}: {refused.reason} {refused.detail}"
    )
    if refused.reason == core_mod.BODY_TOO_LARGE:
        raise ValueTooLargeError(text)
    raise StoreError(text)
