"""ScenarioSet: the CoreActor's scenario set, what becomes of each stored scenario:
installed (loaded, its runs taken up at a start), its ScenarioActor started and
stopped, enabled or disabled, its state shown, forgotten when deleted.

The base class of CoreActor (actors/core/__init__.py), on its thread, so the core's
service (service.py, service_imports.py) calls these on the actor itself; CoreActor's
__init__ sets the state declared here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final, Literal
from zoneinfo import ZoneInfo

import pykka
import structlog

from raspy.actors.core import start_notes
from raspy.actors.core.parts import CoreLinks, Entry
from raspy.actors.core.service import CoreService
from raspy.actors.core.status_keys import StatusKeys, with_error, with_state
from raspy.actors.core.timers import CoreTimers
from raspy.config import CoreConfig
from raspy.errors import StoreError, StoreOutcomeUnknown
from raspy.hang_watch import Inner
from raspy.rules.tree_view import Routes, TreeView
from raspy.secrets_file import SecretsFile
from raspy.storage.ops import Op
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
    """install, stop_actor, set_enabled, show, forget, run_lost: the scenarios'
    actors and states, as the core's start and its service change them."""

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

    def set_enabled(
        self,
        name: str,
        enabled: bool,
        *,
        reason: str | None = None,
        stored: bool = False,
        text_ops: Sequence[Op] = (),
    ) -> Entry:
        """Store the flag (unless `stored` already, with its text; `text_ops`: the
        text's records to store instead, the flag in them), start or stop the
        actor; `reason`: the runaway guard's. A disable of a running scenario
        stores its flag and deletes its record of runs in a long wait in ONE
        transaction, once its actor stopped keeping it: as two, a kill between
        them left a disabled scenario's record, and the next start named its run
        lost (`last_error`), where a disable ends it with none."""
        from raspy.rules.engine import State  # loaded with the entry

        entry = self.entries[name]
        wall = self.links.clock.wall()
        ops = list(text_ops) or self.store.set_enabled_ops(name, enabled, wall)
        running = entry.ref is not None
        if not enabled and running:
            try:
                self.stop_storing([name], ops, "disable", reason=reason)
            except StoreOutcomeUnknown:
                # it may land: taken as stored, as its actor stays stopped (the
                # flag kept on, the same text imported again stored nothing)
                self._took_flag(entry, enabled)
                raise
        elif text_ops:
            self.store.commit(ops)
        elif not stored:
            self.store.set_enabled(name, enabled, wall)
        self._took_flag(entry, enabled)
        if enabled and entry.ref is None and entry.scenario is not None:
            self._start_actor(entry, entry.scenario, startup=False)
        elif enabled and entry.scenario is None:
            # a text that no longer loads: enabled, it is in error again and says
            # why, as at a start (it stayed shown disabled, though stored enabled)
            _, error = self._service.load(entry.stored)
            self.show(entry, self._load_error(entry.status, error))
        elif not enabled and not running:  # else shown in the disable's commit
            status = with_error(entry.status, reason, self.links.clock, State.DISABLED)
            self.show(entry, status)
        return entry

    def _took_flag(self, entry: Entry, enabled: bool) -> None:
        """The entry's record takes the flag stored (or maybe stored) now."""
        record = entry.stored
        entry.stored = StoredScenario(
            record.name,
            record.code,
            enabled,
            record.mode,
            record.imported_at,
            self.links.clock.wall(),
        )

    def stop_storing(
        self,
        names: Sequence[str],
        ops: Sequence[Op],
        change: Literal["delete", "disable"],
        *,
        reason: str | None = None,
        along: Sequence[tuple[bytes, bytes]] = (),
    ) -> None:
        """Stop the actors of `names`, then store `ops` and delete their records of
        runs in a long wait (a delete: every key under /scenario/<name>/, asked
        once its actor stopped, so every write it sent is among them) in ONE
        transaction (with `along`, other tree keys to set); a disable with their
        state keys saying so (and why: `reason`, the runaway guard's): a state
        `running` left beside a disabled scenario, the next start named its run
        lost. A kill before it leaves each scenario
        as it was, its waiting runs taken up by the next start. On failure
        (StoreError, or pykka's: the Clone server gone) each actor starts again,
        shown as before, the runs it ended lost (FAILED_RUN_ERROR says so), and
        the error is raised."""
        from raspy.rules.engine import State
        from raspy.rules.resume_record import resume_key  # loaded with the entry

        cuts = {name: self.stop_actor(name, keep_record=True) for name in names}
        # as shown before: a failed disable leaves no guard's reason on a scenario
        # that runs on (changes() takes the new state as written)
        before = {
            name: (self.entries[name].status, dict(self.entries[name].written))
            for name in names
        }
        gone: list[str] = []
        sets = list(along)
        for name in names:
            entry = self.entries[name]
            if change == "delete":
                gone += self.keys.left_by(name)
                continue
            gone.append(resume_key(name))
            status = with_error(entry.status, reason, self.links.clock, State.DISABLED)
            sets += self.keys.changes(entry, status, lambda: None)
        try:
            self.commit_dropping(gone, sets, ops)
        except StoreOutcomeUnknown:
            # it may land: the scenarios stay stopped, as asked (started again, a
            # landed delete or disable would run on beside its stored state)
            log.error("scenario_change_unknown", scenarios=list(names), change=change)
            raise
        except (StoreError, pykka.ActorDeadError, pykka.Timeout):
            log.error("scenario_change_failed", scenarios=list(names), change=change)
            for name in names:
                entry = self.entries[name]
                entry.status, entry.written = before[name]
                self.start_again(
                    name, cuts[name], FAILED_RUN_ERROR.format(change=change)
                )
            raise

    def commit_dropping(
        self, gone: list[str], sets: list[tuple[bytes, bytes]], ops: Sequence[Op]
    ) -> None:
        """Delete the tree keys `gone`, set `sets` (an empty body deletes) and
        store `ops` in ONE transaction (commit_along's errors raised); the core's
        view then loses the keys deleted, and only then: one not stored stays
        in it, as in the tree."""
        from raspy.actors.clone.server import commit_along

        commit_along(
            self.links.clone, [(key.encode("utf-8"), b"") for key in gone] + sets, ops
        )
        self.keys.dropped([*gone, *(key.decode() for key, body in sets if not body)])

    def start_again(self, name: str, cut: bool, failed: str) -> None:
        """A change whose transaction failed: the scenario runs on from now, the
        runs its stop ended lost (their record deleted, no start takes them up)."""
        from raspy.rules.resume_record import resume_key  # loaded with the entry

        entry = self.entries[name]
        self.keys.delete([resume_key(name)])
        status = entry.status
        if cut:
            status = self.run_lost(name, status, failed)
        self.install(entry.stored, status=status)

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

    def delete(self, name: str) -> None:
        """Delete a stored scenario: its records and every key under
        /scenario/<name>/ (its record of runs in a long wait among them) in ONE
        transaction, once its actor has stopped, so that a kill leaves it whole
        (its waiting runs taken up at the next start) or gone, never a record of
        runs for a scenario no longer there (a scenario imported again under the
        name with the same text took them up). StoreError (or pykka's, the Clone
        server gone): not deleted, its actor started again, its runs lost.
        StoreOutcomeUnknown (it may land): taken as deleted, its actor stopped."""
        entry = self.entries[name]
        ops = self.store.delete_ops(name)
        try:
            if entry.ref is None:  # disabled, or not loadable: no runs, no record
                self.commit_dropping(self.keys.left_by(name), [], ops)
            else:
                self.stop_storing([name], ops, "delete")
        except StoreOutcomeUnknown:
            # kept, it was listed idle and enabled with no actor, while the
            # store would not hold it once the delete landed
            self.entries.pop(name, None)
            raise
        self.entries.pop(name, None)
