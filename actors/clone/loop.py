"""The Clone server's socket owner on one I/O Runner (docs/protocols.md §6).

Snapshot ROUTER (N+1), publisher XPUB (N+2) and collector SUB (N+3) belong to this
thread, and it reads the outbox that in-process publishers (ClonePublisher) append to.
It only moves bytes between them and the parts (raspy.actors.clone.parts): CloneIntake
feeds CloneCore, ClonePacing rules timers and flow, CommitPipeline stores before it
releases, XpubSender and SnapshotRouter send. Nothing here decides.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from functools import partial
from typing import Final

import structlog
import zmq

from raspy import heap
from raspy.actors import messages as msgs
from raspy.actors.clone.parts import CloneParts
from raspy.actors.clone.router import SnapshotRouter
from raspy.actors.clone.sockets import (
    CloneSockets,
    bind_clone_sockets,
    checked_publisher_hwm,
)
from raspy.actors.clone.xpub import XpubSender
from raspy.clock import Clock
from raspy.config import CloneConfig, LimitsConfig
from raspy.protocol import clone
from raspy.stats import Stats
from raspy.storage.store import Store
from raspy.transport.outbox import Outbox
from raspy.transport.runner import Runner, UnknownCommand
from raspy.transport.sockets import CurveKeys

log = structlog.get_logger(component="clone")

STOP_FLUSH_S: Final = 5.0


class CloneLoop:
    """The Runner owner of the CHP sockets. Only the runner's thread touches them."""

    _xpub: XpubSender  # from open() on

    def __init__(
        self,
        context: zmq.Context[zmq.Socket[bytes]],
        store: Store,
        config: CloneConfig,
        endpoints: clone.Endpoints,
        *,
        clock: Clock,
        stats: Stats,
        linger_ms: int = 500,
        on_failure: Callable[[BaseException], None] | None = None,
        curve: CurveKeys | None = None,
        limits: LimitsConfig | None = None,
    ) -> None:
        self.outbox = Outbox()  # in-process publishes, from any thread
        self.bound_endpoints = endpoints
        self._config, self._clock, self._stats = config, clock, stats
        self._bind = partial(bind_clone_sockets, context, config, endpoints)
        self._linger_ms, self._curve = linger_ms, curve  # curve: server keys (§8.2)
        limits = limits or LimitsConfig()
        self.runner = Runner(
            "clone",
            self,
            clock=clock,  # sleeps until the next timer; a test clock's move wakes it
            stats=stats,
            on_failure=on_failure,
        )
        self._parts = parts = CloneParts.build(
            store, config, limits, clock=clock, stats=stats, wakeup=self.runner.wakeup
        )
        self._core, self._commits = parts.core, parts.commits
        self._socks: CloneSockets | None = None
        self._router: SnapshotRouter | None = None  # open() got that far: its monitor

    # --- the Runner's owner -----------------------------------------------------------
    def open(self, runner: Runner) -> None:
        parts = self._parts
        last_seq = self._commits.load(self._clock.monotonic())  # before any TCP bind
        hwm = checked_publisher_hwm(self._config, parts.pacing.queue_budget_bytes)
        socks = self._socks = self._bind(
            publisher_hwm=hwm,
            snapshot_hwm=parts.snapshots.hwm,
            linger_ms=self._linger_ms,
            curve=self._curve,
        )
        self._stats.gauge("clone.publisher.hwm", hwm)
        self._stats.gauge("clone.snapshots.hwm", parts.snapshots.hwm)
        self._xpub = XpubSender(socks.publisher, parts.pacing, self._stats, hwm)
        self._router = SnapshotRouter(
            socks.router,
            parts.snapshots,
            parts.intake,
            runner,
            stats=self._stats,
            on_peer_left=parts.pacing.trim_later,
        )
        runner.register(socks.publisher, self._xpub.on_notices)
        parts.intake.register(runner, socks.collector, self.outbox, parts.collector)
        self.bound_endpoints = socks.endpoints  # snapshot, publisher, collector
        log.info("clone_bound", **asdict(self.bound_endpoints), seq=last_seq)

    def next_deadline(self) -> float | None:
        now, real_now = self._clock.monotonic(), time.monotonic()
        return self._parts.next_deadline(now, real_now, self._xpub.waiting)

    def on_turn(self, now: float) -> None:
        self._parts.intake.expire(now)
        real_now = time.monotonic()
        self._xpub.flush(real_now)
        due = self._parts.pacing.on_turn(real_now)
        if due.hugz:
            self._xpub.send(self._core.hugz_frames())
        self._parts.submit_writes()
        self._publish_committed()
        seeds = self._parts.seeds
        if seeds.due:  # once nothing is on its way to the store, or is published
            seeds.serve()
        self._commits.tick(now)  # after: a flush writes only what was published
        self._parts.collector.on_turn()  # after the subscribers were told
        if due.trim:
            heap.release_freed_memory()
        if self._router is not None:  # opened
            self._router.on_turn()

    def execute(self, command: object) -> object:
        match command:
            case msgs.CloneSubscribe(
                prefix=prefix, ref=ref, refusals=refusals, backlog=backlog
            ):
                self._parts.subscribers.add(
                    prefix, ref, refusals=refusals, backlog=backlog
                )
            case msgs.CloneUnsubscribe(ref=ref, prefix=prefix):
                self._parts.subscribers.remove(ref, prefix)
            case msgs.SubscribeSeeded():
                # its seed holds every in-process publish sent before it, as a
                # read does: taken in and sent on their way to the store now, so
                # the seed waits for them (a held-back write was left out of it)
                self._parts.intake.take_sent(self.outbox)
                self._parts.commits.submit()
                return self._parts.seeds.request(command)
            case msgs.GetUnstored():  # after every publish sent before it
                sent_seq = self._parts.intake.take_sent(self.outbox)
                return self._parts.seeds.read(command, sent_seq)
            case msgs.SetIfUnchanged(groups=groups):
                return self._parts.intake.guarded(groups)
            case msgs.CommitAlong(entries=entries, ops=ops, done=done):
                # after every publish sent before it: a writer's earlier sets
                # are not stored after (over) these
                self._parts.intake.take_sent(self.outbox)
                self._parts.intake.along(entries, ops, done)
            case msgs.GetStats():
                return self._parts.stats()
            case msgs.Tick():
                pass
            case _:
                raise UnknownCommand("clone", command)
        return None

    def close(self) -> None:
        """A clean stop publishes what is stored first (up to STOP_FLUSH_S); what
        in-process publishers send from then on is dropped. After a failure the
        coalesced values are still stored, and nothing is published."""
        try:
            if self.runner.failure is None:  # opened: publish what is still stored
                self._commits.finish(self._publish_committed, STOP_FLUSH_S)
                self._xpub.flush(time.monotonic(), stopping=True)
            else:  # the readings published in the last interval are not lost
                self._commits.write_pending(STOP_FLUSH_S)
        finally:
            self._commits.abandon_along("the Clone server stopped")
            self.outbox.close()
            self._parts.snapshots.close()
            self._parts.seeds.close()
            if self._socks is not None:
                if self._router is not None:
                    self._router.close()
                self._socks.close()

    def _publish_committed(self) -> None:
        for update in self._commits.released():
            self._xpub.send(update.kvpub())
            self._parts.subscribers.notify(update)
        self._stats.gauge("clone.ephemeral_keys", self._core.ephemeral_count)
