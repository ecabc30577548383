"""CoreActor: owns the scenario set, feeds the scenario actors, serves core.scenario.

It loads the stored scenarios at start (and the preload folder's), runs one
ScenarioActor per enabled scenario, follows the daemon's own Clone updates in-process
(CloneSubscribe: no polling, no socket), keeps the latest values expressions read with
kv() (and the scenarios' own writes until they come back: TreeView), schedules every
time trigger on one TimeScheduler, writes `/scenario/<name>/…` (the only writer of
those keys, so their order is kept) and answers
`<host>.core.scenario` (rules.scenario_api). Nothing that fails here stops the daemon.
"""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from dataclasses import dataclass, field
from typing import Any, Final
from zoneinfo import ZoneInfo

import pykka
import structlog

from raspy.actors import messages as msgs
from raspy.actors import scenario as scn
from raspy.actors.clone.publisher import ClonePublisher
from raspy.actors.clone.server import read_tree
from raspy.actors.core.service import CoreService
from raspy.actors.worker import LocalWorker, attach, local_peer_id
from raspy.clock import Clock
from raspy.config import CoreConfig
from raspy.devices.template import JsonValue
from raspy.errors import MalformedMessage, quote
from raspy.json_text import tree_value
from raspy.rules import engine, model, resume_path, resume_record
from raspy.rules import run as run_mod
from raspy.rules.clock_steps import ClockSteps
from raspy.rules.engine import State, Status
from raspy.rules.model import RandomSource
from raspy.rules.resume_record import fingerprint, resume_key
from raspy.rules.timing import (
    ClockJumped,
    Fired,
    SunLocation,
    TimeScheduler,
    absent_days,
    iso_local,
)
from raspy.rules.tree_view import (
    Routes,
    TreeView,
    interest,
    status_from_tree,
)
from raspy.rules.trigger_match import hold_patterns
from raspy.stats import Stats
from raspy.storage.scenario_store import ScenarioStore, StoredScenario
from raspy.storage.store import Store
from raspy.ticker import SharedTicker
from raspy.transport.outbox import Outbox

log = structlog.get_logger(component="core")

_ASK_TIMEOUT_S: Final = 5.0
SCENARIO_TREE: Final = "/scenario/"  # a scenario's keys: /scenario/<name>/<entry>
LOST_RUN_ERROR: Final = "a run was cut short by a stop of raspyd; it was not resumed"
# the supervisor started the core again inside a running raspyd (after a fault of the
# core, or with a new Clone server): raspyd itself never stopped
RESTARTED_RUN_ERROR: Final = (
    "a run was cut short by a restart of the scenario engine inside raspyd; "
    "it was not resumed"
)
_STOP_TIMEOUT_S: Final = 5.0


@dataclass
class Entry:
    """One stored scenario: its record, what it loaded as, its actor and state."""

    stored: StoredScenario
    scenario: model.Scenario | None  # None: the stored text no longer loads
    status: Status
    ref: pykka.ActorRef[Any] | None = None
    written: dict[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CoreLinks:
    """What the core talks to; `publisher` is its own (closed when it stops). `rng`
    is the random source of all its scenarios (random(), random waits), passed in
    as the clock is: raspyd's is a `random.Random()`, a test's a seeded one."""

    edge: pykka.ActorRef[Any]
    outbox: Outbox
    publisher: ClonePublisher
    clone: pykka.ActorRef[Any]
    store: Store
    clock: Clock
    stats: Stats
    rng: RandomSource


class CoreActor(pykka.ThreadingActor):
    """See the module docstring."""

    def __init__(
        self,
        host: str,
        config: CoreConfig,
        tz: ZoneInfo,
        links: CoreLinks,
        *,
        max_value_bytes: int = run_mod.DEFAULT_MAX_VALUE_BYTES,
        daemon_start: bool = True,
        steps: ClockSteps | None = None,
        http_service: bool = True,
    ) -> None:
        super().__init__()
        self.host = host
        # raspyd serves `<host>.http` ([http_client] enabled): when not, an `http:`
        # action fails at every run, which its import and the start say
        self.http_service = http_service
        # False when the supervisor restarts the core in a running raspyd: `startup:`
        # triggers fire once per daemon start, not again with each new core
        self.daemon_start = daemon_start
        self.config = config
        self.links = links
        self.tz = tz  # cron, at, sun and now() are in this zone
        self.location = (
            SunLocation(config.latitude, config.longitude, self.tz)
            if config.has_location
            else None
        )
        self.tree = TreeView()
        self.routes: Routes[pykka.ActorRef[Any]] = Routes()
        self.entries: dict[str, Entry] = {}
        self.store = ScenarioStore(links.store)
        self.settings = engine.EngineSettings(
            host,
            self.tz,
            config.max_runs_per_minute,
            max_value_bytes=max_value_bytes,  # a larger set fails its run, not silently
            http_service=http_service,  # else an `http:` action fails at once
        )
        self._scheduler = TimeScheduler(self.tz, self.location)
        self._steps = steps or ClockSteps(self.tz)  # shared with cron: one log a step
        self._ticker = SharedTicker(links.clock)
        self._worker = LocalWorker(
            links.outbox,
            local_peer_id(f"core.{uuid.uuid4().hex[:8]}"),
            f"{host}.core.scenario".encode(),
        )
        self._service = CoreService(self)

    # --- lifecycle ----------------------------------------------------------------------
    def on_start(self) -> None:
        self._ticker.start()
        try:
            self._start_up()
        except BaseException:
            # pykka calls no on_stop after a failed start (the Clone server gone, as
            # the supervisor replaces it): what was started is ended here
            self.on_stop()
            raise

    def _start_up(self) -> None:
        # refusals too: the view shows a scenario's write until it comes back, and
        # one that never will must not stay in it (TreeView)
        self.links.clone.ask(
            msgs.CloneSubscribe(b"/", self.actor_ref, refusals=True),
            timeout=_ASK_TIMEOUT_S,
        )
        # the live tree, not the store alone: device readings reach the store once a
        # coalesce interval, and the devices start first (kv() read null until the
        # value changed again; a run count was one short after a quick restart)
        self.tree.seed(read_tree(self.links.clone, self.links.store, ""))
        self.store.write_main_conf(
            {
                "timezone": str(self.tz.key),
                "latitude": self.config.latitude,
                "longitude": self.config.longitude,
                "max_runs_per_minute": self.config.max_runs_per_minute,
            }
        )
        stored, problems = self.store.load()
        names = {record.name for record in stored}
        if self._service.preload(self.config.preload_dir, names):
            stored, problems = self.store.load()  # the first start: with the examples
        for problem in problems:
            log.error("scenario_record_unreadable", reason=problem)
        for record in stored:
            self.install(record, startup=True)
        self._forget_orphans()
        attach(self.links.edge, self._worker, self.actor_ref)
        log.info("core_started", count=len(self.entries), timezone=str(self.tz.key))

    def on_stop(self) -> None:
        self._worker.disconnect()
        with contextlib.suppress(pykka.ActorDeadError, pykka.Timeout):
            self.links.clone.ask(
                msgs.CloneUnsubscribe(self.actor_ref), timeout=_ASK_TIMEOUT_S
            )
        for name in list(self.entries):
            self.stop_actor(name, shutdown=True)
        self._ticker.stop()
        with contextlib.suppress(pykka.ActorDeadError):
            self.links.edge.tell(msgs.DetachLocal(self._worker.peer_id))
        log.info("core_stopped")

    # --- messages -----------------------------------------------------------------------
    def on_receive(self, message: Any) -> Any:
        try:
            return self._receive(message)
        except Exception:  # the core outlives any one message (docs/style.md §4)
            self.links.stats.incr("core.errors")
            log.exception("core_message_failed", kind=type(message).__name__)
            return None

    def _receive(self, message: Any) -> Any:
        match message:
            case msgs.KeyChanged(key=key, body=body, uuid=uuid):
                self._on_key(key, body, uuid)
            case msgs.KeyRefused(key=key, uuid=uuid, reason=reason):
                if self.tree.refused(key.decode("utf-8", "replace"), uuid):
                    # the Clone server logged why (once a minute per reason)
                    self.links.stats.incr("core.writes_refused")
                    log.debug(
                        "scenario_write_refused",
                        key=key[:64].decode("utf-8", "replace"),
                        reason=reason,
                    )
            case msgs.Tick():
                self._on_time()
            case msgs.MdpFrames(frames=frames):
                self._on_request(frames)
            case scn.StatusReported(name=name, status=status, ref=ref):
                entry = self.entries.get(name)
                if entry is not None and entry.ref == ref:
                    self.show(entry, status)
            case scn.RunRequested(name=name, by=by, stop=stop):
                self._run_requested(name, by, stop)
            case scn.RunawayDisabled(name=name, reason=reason, ref=ref):
                entry = self.entries.get(name)
                if entry is not None and entry.ref == ref:
                    self.set_enabled(name, False, reason=reason)
            case _:
                log.warning("unexpected_message", kind=type(message).__name__)
        return None

    def _on_key(self, raw_key: bytes, body: bytes, uuid: bytes = b"") -> None:
        key = raw_key.decode("utf-8", "replace")
        old = self.tree.update(key, body, uuid)
        refs = self.routes.refs(key)
        if not refs:
            return
        change = scn.KvChanged(key, tree_value(old), tree_value(body or None), not body)
        for ref in refs:
            with contextlib.suppress(pykka.ActorDeadError):
                ref.tell(change)

    def _on_time(self) -> None:
        clock = self.links.clock
        jumped = False  # the days between a fire and the next say nothing then
        now_wall, now_mono = clock.wall(), clock.monotonic()
        for out in self._scheduler.due(now_wall, now_mono):
            match out:
                case ClockJumped(delta_s=delta_s):
                    said = self._steps.first(delta_s, now_wall, now_mono)
                    if said is not None:  # cron may have said this step
                        log.warning("clock_jumped", **said)
                    jumped = True
                case Fired(key=key, scheduled_wall_ts=scheduled):
                    name, _, index = key.rpartition("#")
                    entry = self.entries.get(name)
                    if entry is not None and entry.ref is not None:
                        # an actor gone must not cost the fires after it, nor the
                        # timer set below (no time trigger fired again)
                        with contextlib.suppress(pykka.ActorDeadError):
                            entry.ref.tell(scn.TimeFired(int(index), scheduled))
                    if not jumped and entry is not None and entry.scenario is not None:
                        trigger = entry.scenario.triggers[int(index)]
                        self._say_absent_sun(name, key, trigger, scheduled)
        self._ticker.set(self.actor_ref, self._scheduler.next_deadline_mono())

    def _say_absent_sun(
        self, name: str, key: str, trigger: model.Trigger, after_ts: float
    ) -> None:
        """Log once the days a sun trigger will not fire (polar day or night), when
        its next fire is computed, so the silence is not taken for a fault."""
        upcoming = self._scheduler.next_wall(key)
        if not isinstance(trigger, model.SunTrigger) or upcoming is None:
            return
        absent = absent_days(trigger.offset_s, after_ts, upcoming, self.tz)
        if absent is not None:
            log.info(
                "sun_event_absent",
                scenario=name,
                sun=trigger.event.value,
                first_day=absent[0].isoformat(),
                last_day=absent[1].isoformat(),
                next=iso_local(upcoming, self.tz),
            )

    def _on_request(self, frames: tuple[bytes, ...]) -> None:
        rejected = self._worker.serve(frames, self._service.handle)
        if rejected is not None:
            self.links.stats.incr("core.rejected")
            log.warning(
                "frame_rejected", reason=rejected.reason, detail=rejected.detail
            )

    def _run_requested(self, name: str, by: str, stop: bool) -> None:
        entry = self.entries.get(name)
        if stop and entry is not None and entry.ref is None:
            # disabled (or not loadable): no runs, so nothing to stop, which is
            # what was asked; not the caller's error
            log.debug("scenario_stop_nothing", scenario=name, by=by)
            return
        if entry is None or entry.ref is None:
            # as `raspy scenario run` says it: a typo reads apart from a choice
            reason = (
                f"no scenario named {quote(name)}"
                if entry is None
                else f"scenario {name} is {entry.status.state.value}"
            )
            log.warning("scenario_run_refused", scenario=name, by=by, reason=reason)
            caller = self.entries.get(by)
            if caller is not None and caller.ref is not None:
                action = "stop" if stop else "run"
                with contextlib.suppress(pykka.ActorDeadError):
                    caller.ref.tell(scn.ActionRefused(f"{action}: {reason}"))
            return
        entry.ref.tell(scn.StopRuns() if stop else scn.RunNow(by=by))

    # --- the set (used by CoreService too) ------------------------------------------
    def install(
        self,
        record: StoredScenario,
        *,
        startup: bool = False,
        status: Status | None = None,
    ) -> Entry:
        """Load a stored record, start its actor if enabled, show its state."""
        scenario, error = self._service.load(record)
        base = status or status_from_tree(self.tree, record.name)
        resume: tuple[engine.Checkpoint, ...] = ()
        if startup:
            # a run in a long wait left a record: taken up if it is this
            # version's; any other run under way at the stop is lost, and said
            found = self.tree.kv(resume_key(record.name))
            recorded = found is not None
            resume = self._resumable(record, scenario, found)
            if recorded and not resume:
                self._delete_keys([resume_key(record.name)])
            running = self.tree.kv(f"/scenario/{record.name}/state") == "running"
            # runs the stop ended elsewhere than in such a wait: lost, said too
            others = bool(resume) and resume_record.lost_runs(found) > 0
            if others or (not resume and (running or recorded)):
                reason = LOST_RUN_ERROR if self.daemon_start else RESTARTED_RUN_ERROR
                base = self.run_lost(record.name, base, reason)
        entry = Entry(record, scenario, base)
        self.entries[record.name] = entry
        if startup and scenario is not None and record.enabled:
            self._service.say_http_off(record.name, scenario)
        if scenario is None:
            self.show(entry, self._with_error(base, error))
        elif not record.enabled:
            self.show(entry, _with_state(base, State.DISABLED))
        else:
            self._start_actor(entry, scenario, startup, resume)
        return entry

    def _resumable(
        self,
        record: StoredScenario,
        scenario: model.Scenario | None,
        found: JsonValue,
    ) -> tuple[engine.Checkpoint, ...]:
        """The runs recorded in a long wait before this start, when the
        record is this very version's and the scenario runs (enabled, loadable);
        each one said with the time its wait has left. `found`: the record's key as
        the tree has it."""
        if found is None or scenario is None or not record.enabled:
            return ()
        try:
            runs = resume_record.decode(found, fingerprint(record.code), scenario)
        except MalformedMessage as exc:
            # another version's, or a place that is not in this document: lost
            log.warning(
                "scenario_resume_unusable",
                scenario=record.name,
                reason=exc.reason,
                detail=exc.detail,
            )
            return ()
        wall = self.links.clock.wall()
        if resume_record.stale(runs, wall):
            # a record this old comes from a restored backup, or a hub off for days:
            # what was left of those runs is no longer what anyone waits for
            log.warning("scenario_resume_stale", scenario=record.name)
            return ()
        for run in runs:
            log.info(
                "scenario_run_resumed",
                scenario=record.name,
                left_s=round(run.left_s(wall), 3),
                at=resume_path.to_json(run.path),
            )
        return runs

    def run_lost(self, name: str, status: Status, reason: str) -> Status:
        """A run was under way when raspyd stopped or a new version replaced the
        scenario: its remaining actions (a delay, a wait) are not resumed, so say so
        once."""
        self.links.stats.incr("core.runs_lost")
        log.warning(
            "scenario_run_lost", scenario=name, last_run=status.last_run, reason=reason
        )
        return dataclasses.replace(
            status, last_error=reason, last_error_at=self.links.clock.wall()
        )

    def _start_actor(
        self,
        entry: Entry,
        scenario: model.Scenario,
        startup: bool,
        resume: tuple[engine.Checkpoint, ...] = (),
    ) -> None:
        links = scn.ScenarioLinks(
            self.actor_ref,
            self.links.edge,
            self.links.outbox,
            self.links.publisher,
            self._ticker,
            self.links.clock,
            self.links.stats,
        )
        status = _with_state(entry.status, State.IDLE)
        self.show(entry, status)
        try:
            wanted = interest(scenario, self.host)  # before the actor, which it routes
            entry.ref = scn.ScenarioActor.start(
                scenario,
                self.settings,
                links,
                tree=self.tree,
                sun=self._sun,
                rng=self.links.rng,
                status=status,
                version=fingerprint(entry.stored.code),
                sun_up=self._sun_up,
            )
        except Exception as exc:  # this scenario fails, the others run
            log.exception("scenario_start_failed", scenario=scenario.name)
            self.show(entry, self._with_error(status, f"did not start: {exc}"))
            return
        self.routes.add(scenario.name, entry.ref, wanted)
        clock = self.links.clock
        for index, trigger in enumerate(scenario.triggers):
            if isinstance(
                trigger,
                model.CronTrigger
                | model.AtTrigger
                | model.EveryTrigger
                | model.SunTrigger,
            ):
                key, now_wall = f"{scenario.name}#{index}", clock.wall()
                try:
                    self._scheduler.add(key, trigger, now_wall, clock.monotonic())
                except ValueError as exc:
                    log.error(
                        "scenario_trigger_unscheduled",
                        scenario=scenario.name,
                        reason=str(exc),
                    )
                    continue
                self._say_absent_sun(scenario.name, key, trigger, now_wall)
        self._ticker.set(self.actor_ref, self._scheduler.next_deadline_mono())
        # whenever a scenario starts (raspyd's start, an import, a new version, an
        # enable): a `for:` test the tree meets holds from now, for its whole time
        patterns = hold_patterns(scenario.triggers, self.host)
        current = self.tree.matching(patterns)
        fire = startup and self.daemon_start
        entry.ref.tell(scn.Startup(current, fire=fire, resume=resume))

    def stop_actor(self, name: str, *, shutdown: bool = False) -> bool:
        """Stop a scenario's actor; True when it ended runs under way (or may have:
        it did not answer while the core saw it running). `shutdown`: the core
        itself stops, and the runs in a long wait are to be taken up at its next
        start (their record stays)."""
        entry = self.entries.get(name)
        if entry is None or entry.ref is None:
            return False
        ref, entry.ref = entry.ref, None
        self.routes.remove(name)
        if entry.scenario is not None:
            for index in range(len(entry.scenario.triggers)):
                self._scheduler.remove(f"{name}#{index}")
        # its runs stopped before the actor, which hands back the status: the run
        # a disable cuts short is the last trace, not the one before. Asked even
        # when the core saw it idle: the actor's report of a run just started may
        # still wait here, behind this very request
        cut = entry.status.state is State.RUNNING
        with contextlib.suppress(pykka.ActorDeadError, pykka.Timeout):
            stopped = ref.ask(scn.StopRuns(shutdown), timeout=_ASK_TIMEOUT_S)
            if isinstance(stopped, scn.RunsStopped):
                entry.status = stopped.status
                cut = stopped.ended > 0
        try:
            ref.stop(block=True, timeout=_STOP_TIMEOUT_S)
        except (pykka.ActorDeadError, pykka.Timeout):
            log.warning("scenario_stop_timed_out", scenario=name)
        return cut

    def set_enabled(
        self, name: str, enabled: bool, *, reason: str | None = None
    ) -> Entry:
        """Store the flag, start or stop the actor; `reason`: the runaway guard's."""
        entry = self.entries[name]
        self.store.set_enabled(name, enabled, self.links.clock.wall())
        record = entry.stored
        entry.stored = StoredScenario(
            record.name,
            record.code,
            enabled,
            record.mode,
            record.imported_at,
            self.links.clock.wall(),
        )
        if enabled and entry.ref is None and entry.scenario is not None:
            self._start_actor(entry, entry.scenario, startup=False)
        elif enabled and entry.scenario is None:
            # a text that no longer loads: enabled, it is in error again and says
            # why, as at a start (it stayed shown disabled, though stored enabled)
            _, error = self._service.load(entry.stored)
            self.show(entry, self._with_error(entry.status, error))
        elif not enabled:
            self.stop_actor(name)
            self.show(entry, self._with_error(entry.status, reason, State.DISABLED))
        return entry

    def show(self, entry: Entry, status: Status) -> None:
        """Remember a scenario's state and write what changed under /scenario/<name>/.
        A run's trace, which moves at every step, is in no key: when only it moved,
        nothing is built or compared."""
        before = entry.status
        moved_trace_only = (
            status.run_trace != before.run_trace
            and dataclasses.replace(before, run_trace=status.run_trace) == status
        )
        entry.status = status
        if moved_trace_only:
            return
        for key, body in scn.status_entries(entry.stored.name, status).items():
            if entry.written.get(key) != body:
                entry.written[key] = body
                self.links.publisher.set(key.encode("utf-8"), body)

    def _forget_orphans(self) -> None:
        """Delete the tree keys of scenarios no longer stored (deleted from the store
        while raspyd was stopped): the web face and MQTT would show them for ever."""
        gone = [
            key
            for key, _ in self.tree.matching([f"{SCENARIO_TREE}*"])
            if key[len(SCENARIO_TREE) :].partition("/")[0] not in self.entries
        ]
        self._delete_keys(gone)
        if gone:
            log.info("scenario_keys_forgotten", count=len(gone))

    def forget(self, name: str) -> None:
        """Remove a deleted scenario's actor and every key under /scenario/<name>/:
        its state and the keys it wrote itself (those stayed until the next start's
        _forget_orphans, so a hub that deletes scenarios and never restarts kept them
        for ever)."""
        self.stop_actor(name)
        entry = self.entries.pop(name, None)
        if entry is None:
            return
        prefix = f"{SCENARIO_TREE}{name}/"
        keys = set(scn.status_entries(name, entry.status))
        keys.update(key for key, _ in self.tree.matching([f"{prefix}*"]))
        self._delete_keys(sorted(keys))

    def _delete_keys(self, keys: list[str]) -> None:
        """Out of the core's view of the tree at once, and out of the tree."""
        for key in keys:
            self.tree.update(key, b"")
            self.links.publisher.delete(key.encode("utf-8"))

    def _with_error(
        self, status: Status, error: str | None, state: State = State.ERROR
    ) -> Status:
        """`status` in `state`; `error` (if any) replaces the last one, at the time
        now."""
        if not error:
            return _with_state(status, state)
        at = self.links.clock.wall()
        return dataclasses.replace(
            status, state=state, last_error=error, last_error_at=at
        )

    def _sun(self, event: model.SunEvent, wall_ts: float) -> float | None:
        from raspy.rules.sun import sun_time

        return (
            None if self.location is None else sun_time(event, wall_ts, self.location)
        )

    def _sun_up(self, wall_ts: float) -> bool | None:
        """sun_up(): null without a place, as sun('sunset') is."""
        from raspy.rules.sun import sun_is_up

        return None if self.location is None else sun_is_up(wall_ts, self.location)


def _with_state(status: Status, state: State) -> Status:
    """The same counters in another state."""
    return dataclasses.replace(status, state=state)
