"""CoreActor: owns the scenario set, feeds the scenario actors, serves core.scenario.

It loads the stored scenarios at start (and the preload folder's), runs one
ScenarioActor per enabled scenario, follows the daemon's own Clone updates in-process
(CloneSubscribe: no polling, no socket), keeps the latest values expressions read with
kv() (and the scenarios' own writes until they come back: TreeView), schedules every
time trigger (timers.CoreTimers), writes `/scenario/<name>/…` (status_keys: the only
writer of those keys, so their order is kept), takes up the runs a stop left in a
long wait (rules.resume_start) and answers `<host>.core.scenario` (service.py). What
becomes of each scenario (installed, started, stopped) is ScenarioSet
(scenario_set.py), and what a change of it stores (enabled, disabled, deleted) is
StoredChanges (stored_changes.py), CoreActor's base class, built over ScenarioSet.
Nothing that fails here stops the daemon.

The scenario engine (rules.engine, its runs, the parser, the scenario actors) is
imported with the first scenario read, stored or imported: a core with none (most
starts) answers `list` and follows the tree without it.
"""

from __future__ import annotations

import contextlib
import uuid
from typing import Any
from zoneinfo import ZoneInfo

import pykka
import structlog

from raspy.actors import messages as msgs
from raspy.actors.clone.publisher import inbox_length
from raspy.actors.clone.server import read_tree, subscribe_seeded
from raspy.actors.core import start_notes
from raspy.actors.core.parts import CoreLinks, Entry
from raspy.actors.core.scenario_set import ASK_TIMEOUT_S
from raspy.actors.core.service import CoreService
from raspy.actors.core.status_keys import StatusKeys
from raspy.actors.core.stored_changes import StoredChanges
from raspy.actors.core.timers import CoreTimers
from raspy.actors.worker import LocalWorker, attach, local_peer_id
from raspy.config import CoreConfig
from raspy.cores.clone import DEFAULT_MAX_VALUE_BYTES
from raspy.errors import StoreError, StoreOutcomeUnknown, quote
from raspy.json_text import tree_value
from raspy.protocol.clone import MAX_KEY_BYTES
from raspy.rules.clock_steps import ClockSteps
from raspy.rules.last_fires import LastFires
from raspy.rules.tree_view import Routes, TreeView
from raspy.secrets_file import SecretsFile
from raspy.storage.scenario_store import ScenarioStore
from raspy.ticker import SharedTicker

log = structlog.get_logger(component="core")

__all__ = ["CoreActor", "CoreLinks", "Entry"]


class CoreActor(StoredChanges):
    """See the module docstring."""

    def __init__(
        self,
        host: str,
        config: CoreConfig,
        tz: ZoneInfo,
        links: CoreLinks,
        *,
        max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES,  # [clone]'s, as the runs'
        max_key_bytes: int = MAX_KEY_BYTES,
        daemon_start: bool = True,
        steps: ClockSteps | None = None,
        fires: LastFires | None = None,
        http_service: bool = True,
        secrets: SecretsFile | None = None,
    ) -> None:
        super().__init__()
        self.host = host
        # `{secret.NAME}` of `http:` actions (None: no secrets file): its runs read
        # it as it is when they send, an import checks the names against it
        self.secrets = secrets
        # raspyd serves `<host>.http` ([http_client] enabled): when not, an `http:`
        # action fails at every run, which its import and the start say
        self.http_service = http_service
        # False when the supervisor restarts the core in a running raspyd: `startup:`
        # triggers fire once per daemon start, not again with each new core
        self.daemon_start = daemon_start
        self.config = config
        self.links = links
        self.tz = tz  # cron, at, sun and now() are in this zone
        self.tree = TreeView()
        self.keys = StatusKeys(self.tree, links.publisher, self._served_keys)
        self.routes: Routes[pykka.ActorRef[Any]] = Routes()
        self.entries: dict[str, Entry] = {}
        self.watched = ()
        self.store = ScenarioStore(links.store)
        # the runs' limits: a larger set fails its run, not silently; so does a key
        # the server would refuse (ScenarioSet.settings, made with the first scenario)
        self.value_limits = (max_value_bytes, max_key_bytes)
        self._ticker = SharedTicker(links.clock)
        # steps: shared with cron, one log a step; fires: with the cores before
        self._timers = CoreTimers(
            config,
            tz,
            links.clock,
            self._ticker,
            steps or ClockSteps(tz),
            fires or LastFires(),
        )
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
        # one that never will must not stay in it (TreeView). The live tree where
        # the subscription begins, not the store alone: device readings reach the
        # store once a coalesce interval, and the devices start first (kv() read
        # null until the value changed again; a run count was one short after a
        # quick restart); nor the store read after subscribing, which may hold a
        # change still to be told (a `to:` trigger then saw old equal to new)
        self.tree.seed(
            subscribe_seeded(
                self.links.clone,
                "",
                self.actor_ref,
                refusals=True,
                backlog=self.backlog,
            )
        )
        for record in self._service.stored_at_start():
            self.install(record, startup=True)
        # once for all: a file that cannot be used is one line, not one a scenario
        start_notes.say_secrets_missing(self.entries, self.secrets, self.http_service)
        self.keys.forget_orphans(self.entries)
        attach(self.links.edge, self._worker, self.actor_ref)
        log.info("core_started", count=len(self.entries), timezone=str(self.tz.key))

    def on_stop(self) -> None:
        self._worker.disconnect()
        with contextlib.suppress(pykka.ActorDeadError, pykka.Timeout):
            self.links.clone.ask(
                msgs.CloneUnsubscribe(self.actor_ref), timeout=ASK_TIMEOUT_S
            )
        for name in list(self.entries):
            self.stop_actor(name, shutdown=True)
        self._ticker.stop()
        with contextlib.suppress(pykka.ActorDeadError):
            self.links.edge.tell(msgs.DetachLocal(self._worker.peer_id))
        log.info("core_stopped")

    def _served_keys(self, prefix: str) -> list[str]:
        return [key for key, _ in read_tree(self.links.clone, self.links.store, prefix)]

    def backlog(self) -> int:
        """The most messages waiting for the core or one of its scenario actors, which
        it tells key changes on to: the Clone server stops reading its collector while
        this is high (raspy.cores.clone_backlog). Called on the Clone I/O thread."""
        waiting = inbox_length(self.actor_ref)
        for ref in self.routes.targets:
            waiting = max(waiting, inbox_length(ref))
        return waiting

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
            case _:
                self._from_scenario(message)
        return None

    def _from_scenario(self, message: object) -> None:
        """A scenario actor's report (or a message nobody should have sent)."""
        # loaded with the first scenario, whose actor alone sends these
        from raspy.actors import scenario_messages as scn

        match message:
            case scn.StatusReported(name=name, status=status, ref=ref):
                entry = self.entries.get(name)
                if entry is not None and entry.ref == ref:
                    self.show(entry, status)
            case scn.RunRequested(name=name, by=by, stop=stop):
                self._run_requested(name, by, stop)
            case scn.RunawayDisabled(name=name, reason=reason, ref=ref):
                entry = self.entries.get(name)
                if entry is not None and entry.ref == ref:
                    self._disable_runaway(name, reason)
            case _:
                log.warning("unexpected_message", kind=type(message).__name__)

    def _disable_runaway(self, name: str, reason: str) -> None:
        """The runaway guard's disable; one that cannot be stored leaves the
        scenario running as before (StoredChanges put it back), said in one line,
        not as a failed message with its traceback: the guard tries again at the
        next flood. One the store has not ended (it may land) is taken as
        stored: the scenario stays stopped, disabled."""
        try:
            self.set_enabled(name, False, reason=reason)
        except StoreOutcomeUnknown as exc:
            log.error(
                "scenario_runaway_disable_unknown",
                scenario=name,
                error=str(exc),
                stays="disabled",
            )
        except (StoreError, pykka.ActorDeadError, pykka.Timeout) as exc:
            log.error(
                "scenario_runaway_disable_failed",
                scenario=name,
                error=str(exc) or type(exc).__name__,
            )

    def _on_key(self, raw_key: bytes, body: bytes, uuid: bytes = b"") -> None:
        key = raw_key.decode("utf-8", "replace")
        old = self.tree.update(key, body, uuid)
        refs = self.routes.refs(key)
        if not refs:
            return
        from raspy.actors import scenario_messages as scn  # loaded with the routes'

        change = scn.KvChanged(key, tree_value(old), tree_value(body or None), not body)
        for ref in refs:
            with contextlib.suppress(pykka.ActorDeadError):
                ref.tell(change)

    def _on_time(self) -> None:
        step = self._timers.stepped()
        refs = [e.ref for e in self.entries.values() if e.ref is not None]
        due = list(self._timers.due())
        if refs or due:
            self._tell_time(step, refs, due)
        if step is not None:  # each next fire is counted again from the new time
            for entry in self.entries.values():
                if entry.ref is not None:
                    self.show(entry, entry.status)
        self._timers.arm(self.actor_ref)

    def _tell_time(
        self,
        step: float | None,
        refs: list[pykka.ActorRef[Any]],
        due: list[tuple[str, int, float]],
    ) -> None:
        """Tell the scenario actors a step of the clock and their fires due."""
        # the scenario actors' messages: loaded with the first of them
        from raspy.actors import scenario_messages as scn

        if step is not None:  # each run's record of its long wait is made again
            for ref in refs:
                with contextlib.suppress(pykka.ActorDeadError):
                    ref.tell(scn.ClockStepped(step))
        for name, index, scheduled in due:
            entry = self.entries.get(name)
            if entry is not None and entry.ref is not None:
                # an actor gone must not cost the fires after it, nor the
                # timer set below (no time trigger fired again)
                with contextlib.suppress(pykka.ActorDeadError):
                    entry.ref.tell(scn.TimeFired(index, scheduled))

    def _on_request(self, frames: tuple[bytes, ...]) -> None:
        rejected = self._worker.serve(frames, self._service.handle)
        if rejected is not None:
            self.links.stats.incr("core.rejected")
            log.warning(
                "frame_rejected", reason=rejected.reason, detail=rejected.detail
            )

    def _run_requested(self, name: str, by: str, stop: bool) -> None:
        from raspy.actors import scenario_messages as scn  # a scenario's: loaded

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
