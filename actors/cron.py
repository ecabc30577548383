"""CronActor (the part `cron`): the plain cron jobs it serves as `<host>.core.cron`,
fired into the Clone tree.

It owns the jobs (kept in the store's `cron` table) and one TimeScheduler; a
DeadlineTicker thread tells it Tick when the next fire or jump check is due. A fire
publishes `/event/cron/<job>` through the ClonePublisher, like a device reading. The
request handling is raspy.rules.cron_jobs (pure); a change is committed durably
before the reply, and only then scheduled (a job deleted in one transaction with its
last fire's key, through the Clone server).

Wiring: actors/core/wiring.py starts it as the part `cron`, beside the core and
started again with it whenever the Clone publisher is new, with a publisher of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo

import pykka
import structlog

from raspy.actors import messages as msgs
from raspy.actors.worker import LocalWorker, attach, local_peer_id
from raspy.clock import Clock
from raspy.devices.tree import Publisher
from raspy.errors import StoreError, StoreOutcomeUnknown, outcome_unknown
from raspy.rules import cron_jobs
from raspy.rules.clock_steps import ClockSteps
from raspy.rules.cron_jobs import CronJob, Deleted, Saved
from raspy.rules.last_fires import LastFires
from raspy.rules.timing_scheduler import ClockJumped, Fired, TimeScheduler
from raspy.stats import Stats
from raspy.storage.store import Delete, Op, Put, Store
from raspy.storage.tables import Table
from raspy.ticker import DeadlineTicker
from raspy.transport.outbox import Outbox

if TYPE_CHECKING:
    from raspy.rules.model import CronTrigger

log = structlog.get_logger(component="cron")

SERVICE_SUFFIX: Final = "core.cron"
_PEER_NAME: Final = "core.cron"


class CronActor(pykka.ThreadingActor):
    """Serves `<hostname>.core.cron` and publishes `/event/cron/<job>` on each fire."""

    def __init__(
        self,
        *,
        edge: pykka.ActorRef[Any] | None,
        outbox: Outbox | None,
        store: Store,
        publisher: Publisher,
        hostname: str,
        tz: ZoneInfo,
        clock: Clock,
        stats: Stats,
        steps: ClockSteps | None = None,
        fires: LastFires | None = None,
        clone: pykka.ActorRef[Any] | None = None,
    ) -> None:
        super().__init__()
        # the Clone server: a job deleted goes with its last fire's key in one
        # transaction (None: the key is deleted after, as its own write)
        self._clone = clone
        self._steps = steps or ClockSteps(tz)  # shared with the core: one log a step
        # each job's last fire, raspyd's: a job scheduled again (enabled, added
        # again, a new cron actor) does not fire it again after a step back
        self._fires = fires or LastFires()
        self._edge = edge
        self._store = store
        self._publisher = publisher
        self._tz = tz
        self._clock = clock
        self._stats = stats
        self.service = f"{hostname}.{SERVICE_SUFFIX}"
        self._worker: LocalWorker | None = None
        if edge is not None and outbox is not None:
            self._worker = LocalWorker(
                outbox, local_peer_id(_PEER_NAME), self.service.encode("utf-8")
            )
        self._jobs: dict[str, CronJob] = {}
        self._scheduler = TimeScheduler(tz)
        self._ticker: DeadlineTicker | None = None

    # --- lifecycle --------------------------------------------------------------------
    def on_start(self) -> None:
        try:
            self._load()
            self._ticker = DeadlineTicker(
                self.actor_ref, self._clock, name="raspy-cron"
            )
            self._ticker.start()
            self._rearm()
            if self._edge is not None and self._worker is not None:
                attach(self._edge, self._worker, self.actor_ref)
        except BaseException:
            self._release()  # on_stop/on_failure are not called for a failed start
            raise
        log.info("cron_started", service=self.service, count=len(self._jobs))

    def on_stop(self) -> None:
        if self._worker is not None:
            self._worker.disconnect()
        self._release()

    def on_failure(
        self,
        exception_type: type[BaseException] | None,
        exception_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        log.error(
            "cron_failed",
            service=self.service,
            exc_info=(exception_type, exception_value, traceback),
        )
        self._release()

    def _release(self) -> None:
        if self._ticker is not None:
            self._ticker.stop()
            self._ticker = None

    def _load(self) -> None:
        """The stored jobs; a record that does not decode is skipped with a warning."""
        now_wall, now_mono = self._clock.wall(), self._clock.monotonic()
        for key, value in self._store.scan(Table.CRON, cron_jobs.KEY_PREFIX):
            try:
                job = cron_jobs.decode_job(key, value)
            except ValueError as exc:
                log.warning(
                    "cron_record_skipped",
                    key=key.decode("utf-8", "replace"),
                    reason=str(exc),
                )
                self._stats.incr("cron.records_skipped")
                continue
            self._jobs[job.name] = job
            if job.enabled:
                self._schedule(job, now_wall, now_mono)

    # --- messages ---------------------------------------------------------------------
    def on_receive(self, message: Any) -> Any:
        match message:
            case msgs.Tick():
                self._on_tick()
            case msgs.MdpFrames(frames=frames):
                self._on_frames(frames)
            case _:
                log.warning("unexpected_message", kind=type(message).__name__)
        return None

    def _on_tick(self) -> None:
        now_wall, now_mono = self._clock.wall(), self._clock.monotonic()
        fired: list[tuple[bytes, bytes]] = []
        for output in self._scheduler.due(now_wall, now_mono):
            match output:
                case ClockJumped(delta_s=delta_s):
                    self._stats.incr("cron.clock_jumps")
                    said = self._steps.first(delta_s, now_wall, now_mono)
                    if said is not None:  # the core may have said this step
                        log.warning("clock_jumped", **said)
                case Fired(
                    key=name, scheduled_wall_ts=scheduled, clock_offset_s=offset
                ):
                    job = self._jobs[name]
                    self._fires.note(
                        name, _trigger(job), scheduled, clock_offset_s=offset
                    )
                    body = cron_jobs.event_body(job, scheduled, now_wall, self._tz)
                    fired.append((job.event_key.encode("utf-8"), body))
                    log.debug("cron_job_fired", job=name, scheduled=scheduled)
        if fired:
            self._publish(fired)
        self._rearm()

    def _publish(self, fired: list[tuple[bytes, bytes]]) -> None:
        self._stats.incr("cron.fired", len(fired))
        try:
            refused = self._publisher.set_many(fired)
        except Exception:  # the edge of the actor: a lost event must not stop cron
            log.exception("cron_publish_failed", count=len(fired))
            self._stats.incr("cron.publish_failed")
            return
        for key, reason in refused:
            log.warning(
                "cron_event_refused", key=key.decode("utf-8", "replace"), reason=reason
            )
            self._stats.incr("cron.events_refused")

    def _on_frames(self, frames: Sequence[bytes]) -> None:
        if self._worker is None:
            return
        rejected = self._worker.serve(frames, self.handle)
        if rejected is not None:
            log.warning(
                "frame_rejected", reason=rejected.reason, detail=rejected.detail
            )

    def handle(self, body: Sequence[bytes]) -> tuple[bytes, bytes]:
        """One request: commit its change durably, then schedule it, then the reply."""
        handled = cron_jobs.handle(
            self._jobs, body, self._tz, self._scheduler.next_wall
        )
        if not handled.effects:
            return cron_jobs.answer(handled, self._tz, self._scheduler.next_wall)
        ops: list[Op] = []
        for effect in handled.effects:
            match effect:
                case Saved(job=job):
                    ops.append(
                        Put(
                            Table.CRON,
                            cron_jobs.job_key(job.name),
                            cron_jobs.encode_job(job),
                        )
                    )
                case Deleted(name=name):
                    ops.append(Delete(Table.CRON, cron_jobs.job_key(name)))
        try:
            self._commit(ops, handled.effects)
        except StoreOutcomeUnknown as exc:
            # it may land: taken as done (a job deleted fires no more), as the
            # core takes a scenario's change; the reply says it is not known
            log.warning("cron_store_unknown", reason=str(exc))
            self._stats.incr("cron.store_unknown")  # not failed: it may land
            self._apply(handled.effects)
            said = outcome_unknown("the change was stored", exc)
            return self._store_failed(handled, said)
        except (StoreError, pykka.ActorDeadError, pykka.Timeout) as exc:
            log.warning("cron_store_failed", reason=str(exc))
            self._stats.incr("cron.store_failed")
            return self._store_failed(handled, str(exc))
        self._apply(handled.effects)
        # the job's next fire as scheduled, as list and get say it
        return cron_jobs.answer(handled, self._tz, self._scheduler.next_wall)

    def _store_failed(
        self, handled: cron_jobs.Handled, detail: str
    ) -> tuple[bytes, bytes]:
        """The 500 of a change not stored, or not known to be (`detail` says)."""
        failed = cron_jobs.error(
            cron_jobs.STORE_ERROR, handled.action, "store_error", detail
        )
        return cron_jobs.answer(failed, self._tz, self._scheduler.next_wall)

    def _apply(self, effects: Sequence[Saved | Deleted]) -> None:
        """A request's change, stored (or maybe): the jobs and their schedule."""
        # both clocks read again, together: the write may have taken seconds, and
        # a wall time from before it beside a monotonic one after it is a step
        now_wall, now_mono = self._clock.wall(), self._clock.monotonic()
        for effect in effects:
            match effect:
                case Saved(job=job):
                    self._jobs[job.name] = job
                    if job.enabled:
                        self._schedule(job, now_wall, now_mono)
                    else:
                        self._scheduler.remove(job.name)
                case Deleted(name=name):
                    gone = self._jobs.pop(name, None)
                    self._scheduler.remove(name)
                    if gone is not None and self._clone is None:
                        # its last fire would stay in the tree for ever (an empty
                        # body deletes the key)
                        key = gone.event_key.encode("utf-8")
                        self._publisher.set_many([(key, b"")])
            log.info(
                "cron_job_changed",
                job=_name_of(effect),
                effect=type(effect).__name__.lower(),
            )
        self._rearm()

    def _commit(self, ops: list[Op], effects: Sequence[object]) -> None:
        """Store a request's change, durable on return: with the Clone server, a
        job deleted and its last fire's key (which would stay in the tree for
        ever) in ONE transaction, so that a kill never leaves that key alone."""
        gone = [
            self._jobs[effect.name].event_key.encode("utf-8")
            for effect in effects
            if isinstance(effect, Deleted) and effect.name in self._jobs
        ]
        if self._clone is None or not gone:
            self._store.commit(ops)
            return
        from raspy.actors.clone.server import commit_along

        commit_along(self._clone, [(key, b"") for key in gone], ops)

    def _schedule(self, job: CronJob, now_wall: float, now_mono: float) -> None:
        trigger = _trigger(job)
        # not again after a small step back
        last = self._fires.last(job.name, trigger, clock_offset_s=now_wall - now_mono)
        self._scheduler.add(job.name, trigger, now_wall, now_mono, last_fire=last)

    def _rearm(self) -> None:
        if self._ticker is not None:
            self._ticker.set(self._scheduler.next_deadline_mono())


def _trigger(job: CronJob) -> CronTrigger:
    # the triggers' model: loaded with the first job, not at every start
    from raspy.rules.model import CronTrigger

    return CronTrigger(job.schedule)


def _name_of(effect: Saved | Deleted) -> str:
    return effect.job.name if isinstance(effect, Saved) else effect.name


def start_cron(
    *,
    edge: pykka.ActorRef[Any],
    outbox: Outbox,
    store: Store,
    publisher: Publisher,
    hostname: str,
    tz: ZoneInfo,
    clock: Clock,
    stats: Stats,
    steps: ClockSteps | None = None,
    fires: LastFires | None = None,
    clone: pykka.ActorRef[Any] | None = None,
) -> pykka.ActorRef[Any]:
    """Start the cron service; returns once its jobs are loaded and it is registered.
    `clone`: the Clone server, which stores a job's deletion with its key's."""
    return CronActor.start(
        edge=edge,
        outbox=outbox,
        store=store,
        publisher=publisher,
        hostname=hostname,
        tz=tz,
        clock=clock,
        stats=stats,
        steps=steps,
        fires=fires,
        clone=clone,
    )
