"""TitanicActor: the Titanic services of raspyd (RFC 9; docs/protocols.md §5.5, §5.6).

A thin shell over TitanicCore. The broker hands `titanic.request`, `titanic.reply`
and `titanic.close` to it directly (msgs.HandleLocally: up to handler_capacity per
service at once, one tell per edge turn, answers straight back to the client through
the outbox); past that capacity they wait in the broker's queue, which each answer
drains, or go to its in-process MDP workers (service_workers per service, one by
default, which also make the services visible to MMI). It dispatches stored requests
as an in-process MDP client, one client id ("slot") per attempt in flight. Its writes
reach the store, and their results come back, through its base class TitanicCommits
(`titanic_commits.py`), which also holds its stop. Nothing is acknowledged before its
commit.
"""

from __future__ import annotations

import uuid as uuid_mod
from collections import deque
from collections.abc import Sequence
from typing import Any, Final

import pykka
import structlog

from raspy.actors import messages as msgs
from raspy.actors.titanic_commits import Flush, PrepareStop, TitanicCommits
from raspy.actors.worker import LocalWorker, local_peer_id
from raspy.clock import Clock
from raspy.config import LimitsConfig, TitanicConfig
from raspy.cores import titanic as core_mod
from raspy.cores.titanic import Caller, TitanicCore, TitanicSettings
from raspy.errors import MalformedMessage, StoreError
from raspy.protocol import mdp, mdp_decode
from raspy.protocol import titanic as tsp
from raspy.records import frozen
from raspy.stats import Stats
from raspy.storage import tables
from raspy.storage import titanic_records as records
from raspy.storage.store import Store, Table
from raspy.ticker import DeadlineTicker
from raspy.titanic_log import QUIET_EVENTS, TitanicLog
from raspy.transport.outbox import Outbox, pack_patience

log = structlog.get_logger(component="titanic")

_ASK_TIMEOUT_S: Final = 5.0


@frozen
class Inspect:
    """Ask (tests, stats): counts of known, pending and in-flight requests."""


class TitanicActor(TitanicCommits):
    """Titanic inside raspyd; see the module docstring."""

    def __init__(
        self,
        edge: pykka.ActorRef[Any],
        outbox: Outbox,
        store: Store,
        config: TitanicConfig,
        *,
        clock: Clock,
        stats: Stats,
        limits: LimitsConfig | None = None,
        not_relayed: frozenset[bytes] = frozenset(),
    ) -> None:
        super().__init__(store)
        self._edge = edge
        self._outbox = outbox
        self._store = store
        self._config = config
        self._clock = clock
        self._stats = stats
        settings = TitanicSettings.from_config(
            config, limits or LimitsConfig(), not_relayed
        )
        self._core = TitanicCore(settings, tsp.PooledUuids())
        # an attempt still queued in the broker at its timeout is dropped there, never
        # run beside the next attempt
        self._patience = pack_patience(settings.dispatch_timeout_s)
        # Slot ids are new for every instance: a late reply meant for an attempt of a
        # previous instance must never be taken for one of ours.
        # One route at the edge for every peer of this actor: `<owner>/<worker>` and
        # `<owner>/d<slot>` (dispatcher slots come and go without asking the edge).
        owner = f"titanic.{uuid_mod.uuid4().hex[:8]}"
        self._owner = local_peer_id(owner)
        self._slot_prefix = local_peer_id(owner, "d")
        self._slots: dict[bytes, int] = {}
        self._workers: dict[bytes, LocalWorker] = {}
        for service in tsp.SERVICES:
            for index in range(max(1, config.service_workers)):
                name = f"{service.decode()}.{index}"
                worker = LocalWorker(outbox, local_peer_id(owner, name), service)
                self._workers[worker.peer_id] = worker
        self._ticker = DeadlineTicker(
            self.actor_ref, clock, name="raspy-titanic-ticker"
        )
        self._logs = TitanicLog(stats, clock.monotonic, self._core.quota_usage)
        self._handler_capacity = max(0, config.handler_capacity)
        self._local_replies: list[bytes] = []  # answers gathered in one _run
        self._worker_replies: list[tuple[Caller, Sequence[bytes]]] = []  # the same

    # ------------------------------------------------------------ lifecycle

    def on_start(self) -> None:
        outputs = self._load()
        try:
            self._edge.ask(
                msgs.AttachLocal(self._owner, self.actor_ref, batched=True),
                timeout=_ASK_TIMEOUT_S,
            )
            for worker in self._workers.values():
                worker.ready()
            self._edge.ask(msgs.WatchServices(self.actor_ref), timeout=_ASK_TIMEOUT_S)
            for service in tsp.SERVICES:
                handle = msgs.HandleLocally(
                    service, self.actor_ref, self._handler_capacity
                )
                self._edge.ask(handle, timeout=_ASK_TIMEOUT_S)
            self._ticker.start()
            self._run(outputs)
        except BaseException:
            # pykka does not call on_stop after a failed start: READY workers left
            # behind would each take a request for ever, and the ticker would run on
            self._leave()
            raise
        log.info(
            "titanic_started",
            count=self._core.known_count(),
            pending=self._core.pending_count(),
            workers=len(self._workers),
        )

    def on_stop(self) -> None:
        unacknowledged = self._leave()
        log.info(
            "titanic_stopped",
            pending=self._core.pending_count(),
            unacknowledged=unacknowledged,
        )

    def _load(self) -> list[core_mod.Output]:
        """Read every stored request and queue entry (§5.5.3), once the writes of
        an actor before this one (a reload restarts Titanic) are in: the store
        writes in order, and a reply still waiting in its queue would be read as
        pending, and its request dispatched again."""
        self._store.written()
        requests, bad = records.stored_requests(
            self._store.scan(Table.TITANIC_REQUESTS)
        )
        queue, bad_keys = records.queue_entries(self._store.scan(Table.TITANIC_QUEUE))
        self._logs.unreadable([*bad, *bad_keys])
        return self._core.load(
            requests, queue, self._clock.monotonic(), self._clock.wall()
        )

    # ------------------------------------------------------------ messages

    def on_receive(self, message: Any) -> Any:
        try:
            return self._receive(message)
        except Exception:  # an actor must not die of one message (docs/style.md §4)
            self._stats.incr("titanic.errors")
            log.exception("titanic_message_failed", kind=type(message).__name__)
            return None

    def _receive(self, message: Any) -> Any:
        core = self._core
        match message:
            case msgs.LocalRequests(service=service, requests=requests):
                self._on_local_requests(service, requests)
            case msgs.MdpFramesBatch(messages=messages):
                self._on_batch(messages)
            case msgs.MdpFrames():
                self._on_batch((message,))
            case Flush():
                self._writes.flush()
            case msgs.Committed():
                self._take_results()
            case msgs.ServiceAvailabilityChanged(service=service, available=available):
                self._run(core.on_service(service, available, self._now()))
            case msgs.Tick():
                self._run(core.on_tick(self._now(), self._clock.wall()))
            case PrepareStop():
                if not self._left:
                    self._prepare_stop()
            case Inspect():
                return {
                    "known": core.known_count(),
                    "pending": core.pending_count(),
                    "in_flight": core.in_flight_count(),
                }
            case _:
                log.warning("unexpected_message", kind=type(message).__name__)
        return None

    def _on_batch(self, messages: Sequence[msgs.MdpFrames]) -> None:
        """One edge turn's messages: the dispatch replies among them in one core call
        (one dispatch pump, one outbox message for the next dispatches), every write
        in one submit."""
        self._writes.covered()  # the flush below covers the whole batch
        try:
            replies: list[tuple[int, tuple[bytes, ...], bool]] = []
            for one in messages:
                slot = self._slots.get(one.peer_id)
                if slot is None:
                    self._on_worker_frames(one.peer_id, one.frames)
                    continue
                try:
                    reply = mdp_decode.decode_at_client(one.frames, mdp.Version.V02)
                except MalformedMessage as exc:
                    self._logs.rejected(one.peer_id, exc)
                    continue
                replies.append((slot, reply.body, reply.final))
            if replies:
                now, wall = self._now(), self._clock.wall()
                self._run(self._core.on_dispatch_replies(replies, now, wall))
        finally:
            self._writes.flush()

    def _on_worker_frames(self, peer_id: bytes, frames: tuple[bytes, ...]) -> None:
        """A request for one of the in-process titanic.* workers (past the capacity
        the broker hands over directly)."""
        worker = self._workers.get(peer_id)
        if worker is None:
            self._stats.incr("titanic.unroutable")
            return
        if self._left:  # its DISCONNECT queued this request again at the broker
            self._stats.incr("titanic.stop_dropped")
            return
        try:
            decoded = worker.decode(frames)
        except MalformedMessage as exc:
            self._logs.rejected(peer_id, exc)
            return
        if isinstance(decoded, mdp.Disconnect):
            worker.ready()  # the broker forgot this worker: register again
            return
        if not isinstance(decoded, mdp.WorkerRequest):
            return
        caller = Caller(peer_id, decoded.client)
        self._stats.incr("titanic.via_workers")
        self._run(self._serve(worker.service, caller, decoded.body))

    def _on_local_requests(
        self, service: bytes, requests: tuple[tuple[bytes, mdp.ClientRequest], ...]
    ) -> None:
        """A batch from the edge: one pass, one submit for all its writes."""
        self._stats.incr("titanic.handed", len(requests))
        outputs: list[core_mod.Output] = []
        for client, request in requests:
            caller = Caller(b"", client, request.version, service)
            outputs.extend(self._serve(service, caller, request.body))
        self._writes.covered()  # the flush below covers this batch
        try:
            self._run(outputs)
        finally:
            self._writes.flush()

    def _serve(
        self, service: bytes, caller: Caller, body: tuple[bytes, ...]
    ) -> list[core_mod.Output]:
        core = self._core
        if service == tsp.REQUEST_SERVICE:
            return core.on_request(caller, body, self._clock.wall())
        if service == tsp.REPLY_SERVICE:
            return core.on_reply_query(caller, body, self._now())
        return core.on_close(caller, body)

    def _answer(self, caller: Caller, body: Sequence[bytes]) -> None:
        """Gathered, and sent once the run has counted what it did: a client that
        reads the statistics after its answer finds its request in them."""
        if caller.version is None:
            self._worker_replies.append((caller, body))
            return
        frames = mdp.client_reply_frames(
            caller.version, caller.service, tuple(body), True
        )
        records = self._local_replies
        records += (caller.service, caller.client, b"%d" % len(frames))
        records += frames

    # ------------------------------------------------------------ outputs

    def _run(self, outputs: list[core_mod.Output]) -> None:
        """Carry out the core's outputs; a failed submit feeds its result back."""
        todo = deque(outputs)
        counted: dict[str, int] = {}  # quiet events, counted once per run
        dispatches: list[bytes] = []  # sent in one outbox message (MDP_BATCH_CHANNEL)
        while todo:
            out = todo.popleft()
            match out:
                case core_mod.Noted(event=event) if event in QUIET_EVENTS:
                    counted[event] = counted.get(event, 0) + 1
                case core_mod.Answer(caller=caller, body=body):
                    self._answer(caller, body)
                case core_mod.Persist(token=token, writes=writes):
                    todo.extend(self._persist(token, writes))
                case core_mod.Dispatch(slot=slot, service=service, body=body):
                    counted["dispatched"] = counted.get("dispatched", 0) + 1
                    request = mdp.ClientRequest(mdp.Version.V02, service, body)
                    frames = mdp.encode(request)
                    dispatches += (self._slot_peer(slot), self._patience)
                    dispatches.append(b"%d" % len(frames))
                    dispatches += frames
                case core_mod.AnswerStored(caller=caller, uuid=uuid):
                    self._answer_stored(caller, uuid)
                case core_mod.OpenSlot(slot=slot):
                    self._slots[self._slot_peer(slot)] = slot
                case core_mod.CloseSlot(slot=slot):
                    # a late reply to a retired slot reaches no slot: dropped
                    self._slots.pop(self._slot_peer(slot), None)
                case core_mod.Noted():
                    self._logs.note(out)
        for name, count in counted.items():
            self._stats.incr(f"titanic.{name}", count)
        if self._worker_replies:
            replies, self._worker_replies = self._worker_replies, []
            for to, answer in replies:
                self._workers[to.worker].reply(to.client, answer)
        if dispatches and not self._stopping:
            self._outbox.send_mdp_batch(dispatches)
        if self._local_replies:
            records, self._local_replies = self._local_replies, []
            self._outbox.send_local_replies(records)
        self._ticker.set(self._core.next_deadline())

    def _answer_stored(self, caller: Caller, uuid: str) -> None:
        try:
            raw = self._store.get(Table.TITANIC_REPLIES, uuid.encode("ascii"))
            record = None if raw is None else tables.decode_titanic_reply(raw)
        except StoreError as exc:
            log.error("titanic_reply_unreadable", uuid=uuid, reason=str(exc))
            record = None
        if record is None:
            # closed meanwhile, or the store failed: "retry later" (§5.3)
            self._stats.incr("titanic.failed")
            self._answer(caller, [tsp.Status.ERROR.value])
            return
        self._answer(caller, [tsp.Status.OK.value, *record.body])

    def _slot_peer(self, slot: int) -> bytes:
        return self._slot_prefix + str(slot).encode("ascii")

    def _now(self) -> float:
        return self._clock.monotonic()


def start_titanic(
    edge: pykka.ActorRef[Any],
    outbox: Outbox,
    store: Store,
    config: TitanicConfig,
    clock: Clock,
    stats: Stats,
    *,
    limits: LimitsConfig | None = None,
    not_relayed: frozenset[bytes] = frozenset(),
) -> pykka.ActorRef[TitanicActor]:
    """Start Titanic: reload the store, register the workers, dispatch the pending.
    `not_relayed`: the services it refuses to take a request for (TitanicSettings)."""
    return TitanicActor.start(
        edge,
        outbox,
        store,
        config,
        clock=clock,
        stats=stats,
        limits=limits,
        not_relayed=not_relayed,
    )
