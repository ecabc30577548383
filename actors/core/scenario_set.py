"""ScenarioSet: the CoreActor's scenario set, what becomes of each stored scenario:
installed (loaded, its runs taken up at a start), its ScenarioActor started and
stopped, its state shown. What a user's change of it stores (enabled, disabled,
deleted) is StoredChanges (stored_changes.py), built over it.

The base of CoreActor (actors/core/__init__.py), on its thread, so the core's
service (service.py, service_imports.py) calls these on the actor itself; CoreActor's
__init__ sets the state declared here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo

import pykka
import structlog

from raspy.actors.core import start_notes
from raspy.actors.core.parts import CoreLinks, Entry
from raspy.actors.core.service import CoreService
from raspy.actors.core.status_keys import StatusKeys, with_error, with_state
from raspy.actors.core.timers import CoreTimers
from raspy.config import CoreConfig
from raspy.hang_watch import Inner
from raspy.rules.tree_view import Routes, TreeView
from raspy.secrets_file import SecretsFile
from raspy.storage.scenario_store import ScenarioStore, StoredScenario
from raspy.ticker import SharedTicker

# The scenario engine (some 40 modules, most of a raspyd start's CPU) is imported
# by the methods that have a scenario at hand: a core with none never loads it.
if TYPE_CHECKING:
    from raspy.rules import engine, model
    from raspy.rules.engine import Status

log = structlog.get_logger(component="core")

ASK_TIMEOUT_S: Final = 5.0  # an ask of a part of the hub (a scenario, the Clone server)
_STOP_TIMEOUT_S: Final = 5.0
# a run a change's stop cut short, when the change could not be stored
FAILED_RUN_ERROR: Final = (
    "a run was cut short by a {change} of the scenario that failed; it was not resumed"
)


class ScenarioSet(pykka.ThreadingActor):
    """install, stop_actor, show, run_lost: the scenarios' actors and states, as
    the core's start and its changes (StoredChanges) make them."""

    # set by CoreActor.__init__
    host: str
    http_service: bool  # `<host>.http` served: else an `http:` action always fails
    daemon_start: bool  # `startup:` triggers fire once per daemon start
    links: CoreLinks
    tree: TreeView
    keys: StatusKeys
    routes: Routes[pykka.ActorRef[Any]]
    entries: dict[str, Entry]
    store: ScenarioStore
    config: CoreConfig
    tz: ZoneInfo
    secrets: SecretsFile | None
    value_limits: tuple[int, int]  # [clone] max_value_bytes, max_key_bytes
    _ticker: SharedTicker
    _timers: CoreTimers
    _service: CoreService
    # the scenario actors running or stopping, by name, for the supervisor's hang
    # watch (scenario_actors): replaced whole on this thread, read on the
    # supervisor's. One whose stop timed out stays while it is alive: still watched
    watched: tuple[tuple[str, pykka.ActorRef[Any]], ...]

    def scenario_actors(self) -> Inner:
        """The scenario actors, for the supervisor: each is pinged as the core is, and
        one stuck in a handler makes the core hung (raspy.hang_watch.Inner)."""
        return Inner("scenario", lambda: self.watched)

    def _rewatch(
        self, stopping: tuple[tuple[str, pykka.ActorRef[Any]], ...] = ()
    ) -> None:
        """The list the supervisor reads, after a scenario actor started or stopped:
        the running ones, and those still alive of the ones stopping, each once (one
        just stopping is in `stopping` and in the list before)."""
        running = tuple(
            (name, entry.ref) for name, entry in self.entries.items() if entry.ref
        )
        ids = {ref.actor_urn for _, ref in running}
        kept: list[tuple[str, pykka.ActorRef[Any]]] = []
        for name, ref in (*self.watched, *stopping):
            if ref.actor_urn not in ids and ref.is_alive():
                ids.add(ref.actor_urn)
                kept.append((name, ref))
        self.watched = running + tuple(kept)

    @functools.cached_property
    def settings(self) -> engine.EngineSettings:
        """What every scenario's engine is given, made when the first one starts."""
        from raspy.rules.engine import EngineSettings  # with the first scenario

        max_value_bytes, max_key_bytes = self.value_limits
        settings = EngineSettings(
            self.host,
            self.tz,
            self.config.max_runs_per_minute,
            max_value_bytes=max_value_bytes,
            max_key_bytes=max_key_bytes,
            http_service=self.http_service,  # else an `http:` action fails at once
        )
        if self.secrets is None:
            return settings
        return dataclasses.replace(settings, secrets=self.secrets.load)

    @property
    def timers(self) -> CoreTimers:
        """The time triggers' scheduler: the service shows their next fires."""
        return self._timers

    def install(
        self,
        record: StoredScenario,
        *,
        startup: bool = False,
        status: Status | None = None,
    ) -> Entry:
        """Load a stored record, start its actor if enabled, show its state."""
        from raspy.rules import resume_start  # with the first scenario
        from raspy.rules.engine import State
        from raspy.rules.resume_record import resume_key
        from raspy.rules.tree_view import status_from_tree

        scenario, error = self._service.load(record)
        base = status or status_from_tree(self.tree, record.name)
        resume: tuple[engine.Checkpoint, ...] = ()
        if startup:
            found = resume_start.at_start(
                self.tree,
                record.name,
                record.code,
                enabled=record.enabled,
                scenario=scenario,
                clock=self.links.clock,
                daemon_start=self.daemon_start,
            )
            resume = found.runs
            if found.drop_record:
                self.keys.delete([resume_key(record.name)])
            if found.lost is not None:
                base = self.run_lost(record.name, base, found.lost)
        entry = Entry(record, scenario, base)
        self.entries[record.name] = entry
        if startup and scenario is not None and record.enabled:
            start_notes.say_http_off(record.name, scenario, self.http_service)
        if scenario is None:
            self.show(entry, self._load_error(base, error))
        elif not record.enabled:
            self.show(entry, with_state(base, State.DISABLED))
        else:
            self._start_actor(entry, scenario, startup, resume)
        return entry

    def run_lost(self, name: str, status: Status, reason: str) -> Status:
        """A run was under way when raspyd stopped or a new version replaced the
        scenario: its remaining actions (a delay, a wait) are not resumed, so say so
        once."""
        self.links.stats.incr("core.runs_lost")
        log.warning(
            "scenario_run_lost", scenario=name, last_run=status.last_run, reason=reason
        )
        return with_error(status, reason, self.links.clock, status.state)

    def _start_actor(
        self,
        entry: Entry,
        scenario: model.Scenario,
        startup: bool,
        resume: tuple[engine.Checkpoint, ...] = (),
    ) -> None:
        from raspy.actors import scenario_messages as scn  # with the first scenario
        from raspy.actors.scenario import ScenarioActor, ScenarioLinks
        from raspy.rules.engine import State
        from raspy.rules.engine_output import ErrorFrom
        from raspy.rules.resume_record import fingerprint
        from raspy.rules.tree_view import interest, when_patterns
        from raspy.rules.trigger_match import hold_patterns

        links = ScenarioLinks(
            self.actor_ref,
            self.links.edge,
            self.links.outbox,
            self.links.publisher,
            self._ticker,
            self.links.clock,
            self.links.stats,
        )
        # a failed run's `error` stays until the next run starts (docs/scenarios.md);
        # one of the text or of a start is this start's to judge: it loads now
        old = entry.status
        kept = old.state is State.ERROR and old.error_from is ErrorFrom.RUN
        status = with_state(old, State.ERROR if kept else State.IDLE)
        # shown once its triggers are scheduled (below), with its next fire: shown
        # now, before them, it wrote next_fire null, then the time
        entry.status = status
        try:
            wanted = interest(scenario, self.host)  # before the actor, which it routes
            entry.ref = ScenarioActor.start(
                scenario,
                self.settings,
                links,
                tree=self.tree,
                sun=self._timers.sun,
                rng=self.links.rng,
                status=status,
                version=fingerprint(entry.stored.code),
                sun_up=self._timers.sun_up,
            )
        except Exception as exc:  # this scenario fails, the others run
            log.exception("scenario_start_failed", scenario=scenario.name)
            error = f"did not start: {exc}"
            source = ErrorFrom.START
            self.show(entry, with_error(status, error, self.links.clock, source=source))
            return
        self.routes.add(scenario.name, entry.ref, wanted)
        self._rewatch()
        self._timers.add(scenario)
        self._timers.arm(self.actor_ref)
        self.show(entry, entry.status)  # its next fire, now it is scheduled
        # whenever a scenario starts (raspyd's start, an import, a new version, an
        # enable): a `for:` test the tree meets holds from now, for its whole time;
        # a `when:` test starts from the tree as it is now: a change after this is
        # routed to the actor behind the start, and crosses there
        patterns = hold_patterns(scenario.triggers, self.host)
        current = self.tree.matching(patterns)
        seen = self.tree.matching(when_patterns(scenario, self.host))
        fire = startup and self.daemon_start
        entry.ref.tell(scn.Startup(current, fire=fire, resume=resume, seen=seen))

    def stop_actor(
        self, name: str, *, shutdown: bool = False, keep_record: bool = False
    ) -> bool:
        """Stop a scenario's actor; True when it ended runs under way (or may have:
        it did not answer while the core saw it running). `shutdown`: the core
        itself stops, and the runs in a long wait are to be taken up at its next
        start (their record stays). `keep_record`: their record stays, for the
        caller to delete in its own transaction (scn.StopRuns)."""
        entry = self.entries.get(name)
        if entry is None or entry.ref is None:
            return False
        from raspy.actors import scenario_messages as scn  # loaded with its actor
        from raspy.rules.engine import State

        ref, entry.ref = entry.ref, None
        self.routes.remove(name)
        if entry.scenario is not None:
            self._timers.remove(name, len(entry.scenario.triggers))
        # its runs stopped before the actor, which hands back the status: the run
        # a disable cuts short is the last trace, not the one before. Asked even
        # when the core saw it idle: the actor's report of a run just started may
        # still wait here, behind this very request
        cut = entry.status.state is State.RUNNING
        with contextlib.suppress(pykka.ActorDeadError, pykka.Timeout):
            # the last input it takes: a hold due before its stop starts no run
            asked = scn.StopRuns(shutdown, last=True, keep_record=keep_record)
            stopped = ref.ask(asked, timeout=ASK_TIMEOUT_S)
            if isinstance(stopped, scn.RunsStopped):
                entry.status = stopped.status
                cut = stopped.ended > 0
        try:
            ref.stop(block=True, timeout=_STOP_TIMEOUT_S)
        except (pykka.ActorDeadError, pykka.Timeout):
            log.warning("scenario_stop_timed_out", scenario=name)
        self._rewatch(((name, ref),))  # kept while it is alive (stop timed out)
        return cut

    def _load_error(self, status: Status, error: str | None) -> Status:
        """The state `error` of a text that no longer loads, and why: judged again
        at each start, never kept as a run's (tree_view.status_from_tree)."""
        from raspy.rules.engine_output import ErrorFrom  # loaded with the entry

        return with_error(status, error, self.links.clock, source=ErrorFrom.LOAD)

    def show(self, entry: Entry, status: Status) -> None:
        """Remember a scenario's state and write what changed (StatusKeys), its
        next fire with it."""
        self.keys.show(entry, status, lambda: self._next_fire(entry))

    def _next_fire(self, entry: Entry) -> float | None:
        """When a running scenario's soonest time trigger fires (None: none)."""
        if entry.scenario is None or entry.ref is None:
            return None
        fires = self._timers.next_fires(entry.scenario)
        return min((at for _, at in fires), default=None)
