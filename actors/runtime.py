"""The supervisor's runtime: everything raspyd started, kept alive by one thread.

It is a plain object with one owner, not an actor: after watch() only its own
`raspy-supervisor` thread (raspy.owner_thread) changes the parts: the supervision
rounds, and the SIGHUP reloads and changes other threads queue to it and wait for;
everyone else reads the immutable snapshot of statuses it publishes. A pykka actor
would need a timer it does not have, and its own failure would need supervising; a
thread that only observes, asks raspy.cores.supervision what to do, and calls
start()/stop() cannot crash on a part's behalf. The children are raspy.child_set's.
The edge and the store cannot be restarted in place (every service holds them;
watched by RuntimeWatch, raspy.actors.runtime_watch): when one dies it is `failed`
and `fatal` is set, and raspyd exits non-zero so that systemd restarts the whole
daemon. So it is when a critical part (the Clone server, Titanic, the web face) is
given up after its restarts: raspyd is of no use without it; and when any part (or
the edge's actor) is hung, its thread taking no message for `supervisor.hung_after_s`
(raspy.hang_watch): a thread cannot be killed, nor a part started safely beside one
that still holds what it held. What is started, and in which order, is the
start-up's job (raspy.actors.supervisor); it hands this object the start-ups a
restart or a reload repeats (Wiring).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo

import pykka
import structlog
import zmq

from raspy.actors import edge as edge_mod
from raspy.actors import messages as msgs
from raspy.actors.clone.publisher import ClonePublisher
from raspy.actors.runtime_watch import EDGE, STORE, RuntimeWatch
from raspy.actors.worker import PeerLinks
from raspy.child_set import (
    ActorStart,
    BeforeStop,
    Child,
    ChildSet,
    InnerAsk,
    IoAsk,
    LeaderStart,
    OptionalLeaderStart,
    stop_actor,
)
from raspy.clock import Clock
from raspy.config import Config
from raspy.cores import supervision
from raspy.cores.supervision import (
    PartStatus,
    PartTracker,
    RestartPolicy,
    restart_policy,
)
from raspy.hang_watch import Asked, Pulse
from raspy.owner_thread import OwnerThread
from raspy.rules.last_fires import LastFires
from raspy.stats import Stats
from raspy.storage.store import Store
from raspy.transport.outbox import Outbox
from raspy.transport.sockets import CurveKeys, term_within

if TYPE_CHECKING:  # loaded with [security] only (zmq.auth, its thread)
    from raspy.transport.curve import CurveServer

log = structlog.get_logger(component="supervisor")

# a part found stopped is restarted at most this late (restarts back off from 1 s);
# each round is an idle wake-up on a Pi
_WATCH_INTERVAL_S: Final = 0.5
_HEALTHY_WITHIN_S: Final = 10.0
TERM_TIMEOUT_S: Final = 10.0  # a socket owner that never ended keeps term() waiting
# the store's last writes at a stop (each an fsync): a writer still on them past
# this, or one already stuck in a commit (not waited for at all), is left to the exit
STORE_CLOSE_TIMEOUT_S: Final = 10.0
# a reload's steps, each bounded (a part's stop: child_set.STOP_TIMEOUT_S after its
# prepare_stop; a part's start): one still running this long after the last step
# ended is a stuck supervisor thread. A reload of several slow stops may take
# longer as a whole: it is waited for while its steps go on
RELOAD_STEP_TIMEOUT_S: Final = 30.0
CLONE: Final = "clone"
STATISTICS: Final = "statistics"

__all__ = ["CLONE", "ActorStart", "Child", "Runtime", "Wiring"]


@dataclass(frozen=True)
class Wiring:
    """The start-ups a restart or a reload repeats, from raspy.actors.supervisor
    (which imports every actor; this module does not)."""

    add_titanic: Callable[[Runtime, bool], None]  # (runtime, retried)
    start_devices: Callable[[Runtime], None]  # the device services and their followers
    clone_restarted: Callable[[Runtime], None]  # everything bound to the Clone server
    given_up: Callable[[Runtime, str], None]  # a part failed for good (its name)
    stopped: Callable[[Runtime], None]  # every part stopped: what they left is cleared


@dataclass
class Runtime(RuntimeWatch):
    """Everything raspyd started, for stop() and for tests."""

    config: Config
    hostname: str
    context: zmq.Context[zmq.Socket[bytes]]
    store: Store
    stats: Stats
    clock: Clock
    edge: pykka.ActorRef[edge_mod.EdgeActor]
    outbox: Outbox
    mdp_endpoint: str
    wiring: Wiring
    publisher: ClonePublisher | None = None
    curve: CurveServer | None = None  # ZAP allowlist + server keys, when configured
    # why raspyd must exit (the edge or the store failed); None while all is well
    fatal: str | None = None
    started_at: float = 0.0
    core_trackers: dict[str, PartTracker] = field(default_factory=dict)
    controls_seeded: bool = False  # the controls' initial values: at the start only
    core_started: bool = False  # once: `startup:` triggers fire at the first core only
    # the time triggers' last fires, kept for the next core (raspy.rules.last_fires)
    core_fires: LastFires = field(default_factory=LastFires)
    cron_fires: LastFires = field(default_factory=LastFires)  # cron's jobs', as well
    # [core] timezone or this machine's zone, read at the first ask (zone())
    _zone: ZoneInfo | None = None
    statuses: tuple[PartStatus, ...] = ()  # the last snapshot; replaced, never edited
    fatal_event: threading.Event = field(default_factory=threading.Event)
    on_fatal: Callable[[], None] | None = None  # raspyd's main loop, woken at once
    _announced_restart_keys: frozenset[str] = frozenset()
    # how the edge's I/O thread is checked and asked (hang_watch): asked of the
    # edge once without waiting, its answer taken at a round (_edge_alive)
    _edge_io_asked: Asked[edge_mod.IoWatch] = field(init=False)
    _edge_pulse: Pulse = field(init=False)  # the edge actor's proof of life
    _edge_io_pulse: Pulse = field(init=False)  # and its I/O thread's
    _part_names: frozenset[str] = frozenset()  # as the statistics actor was told
    _owner: OwnerThread = field(init=False)
    _children: ChildSet = field(init=False)

    def __post_init__(self) -> None:
        self._owner = OwnerThread(
            "raspy-supervisor", _WATCH_INTERVAL_S, self._round, self.clock
        )
        self._children = ChildSet(
            lambda: self.policy,
            self.clock,
            self.stats,
            self._restarted,
            lambda name: self.wiring.given_up(self, name),
            self._make_fatal,
            self._owner.progressed,
        )
        edge = self.edge
        self._edge_io_asked = Asked(
            lambda: edge.proxy().io_watch(),
            lambda exc: log.warning("edge_io_watch_failed", reason=repr(exc)),
        )
        self._edge_pulse = Pulse.of(self.policy, self.started_at)
        self._edge_io_pulse = Pulse.of(self.policy, self.started_at)

    @property
    def children(self) -> list[Child]:
        """The supervised parts in start order (the edge and the store are not)."""
        return self._children.children

    @property
    def policy(self) -> RestartPolicy:
        return restart_policy(self.config.supervisor)

    def track_core_parts(self) -> None:
        """The store and the edge: watched, never restarted in place."""
        for name in (STORE, EDGE):
            self.core_trackers[name] = PartTracker(
                name, self.policy, self.started_at, restartable=False
            )
        self._edge_io_asked.ask()  # asked now: its answer is in by the first round
        self._publish_statuses()

    def add_child(
        self,
        name: str,
        start: ActorStart,
        *,
        critical: bool = False,
        retried: bool = False,
        prepare_stop: BeforeStop | None = None,
        io_ask: IoAsk | None = None,
        inner_ask: InnerAsk | None = None,
    ) -> Child:
        """Start a part and supervise it. If its first start raises, a `critical`
        part raises (raspyd does not start) unless `retried`; any other is retried
        with backoff. A critical part given up (`failed`) ends raspyd (fatal).
        `prepare_stop`: asked of its actor before each stop; `io_ask`: its I/O
        thread's proof of life; `inner_ask`: its own actors' (ChildSet.add)."""
        child = self._children.add(
            name,
            start,
            critical=critical,
            retried=retried,
            prepare_stop=prepare_stop,
            io_ask=io_ask,
            inner_ask=inner_ask,
        )
        self._publish_statuses()
        return child

    def ref_of(self, name: str) -> pykka.ActorRef[Any] | None:
        """The running actor of child `name`; None while it is down or absent."""
        return self._children.ref_of(name)

    def peer_links(self, clone: pykka.ActorRef[Any] | None) -> PeerLinks:
        """What an in-process follower of the tree on `clone` talks to."""
        return PeerLinks(
            self.edge, self.outbox, clone, self.store, self.clock, self.stats
        )

    def follow_clone(
        self,
        name: str,
        start_with: LeaderStart,
        *,
        enabled: bool = True,
        critical: bool = False,
    ) -> None:
        """Start child `name` bound to the running Clone server, unless it already
        is; stopped while there is none (raspy.child_set.ChildSet.follow)."""
        self._children.follow(
            name, CLONE, start_with, enabled=enabled, critical=critical
        )
        self._publish_statuses()

    def follow_clone_or_none(
        self, name: str, start_with: OptionalLeaderStart, *, critical: bool = False
    ) -> None:
        """As follow_clone, but also run while there is no Clone server (started
        with None): the web face serves its pages without the tree."""
        self._children.follow(
            name, CLONE, start_with, critical=critical, without_leader=True
        )
        self._publish_statuses()

    def reload(
        self,
        new: Config,
        waiting: Callable[[], None] | None = None,
        every_s: float = 1.0,
    ) -> list[str]:
        """Apply a new, valid config in the supervisor thread; return the changed keys.

        Titanic and the device services restart with their new sections. Every other
        change needs a daemon restart: it is named once in the log (a second SIGHUP
        with the same file does not log it again) and left as it is. `waiting` is
        called every `every_s` while the reload runs, within its bound
        (RELOAD_STEP_TIMEOUT_S since its last part stopped or started;
        TimeoutError past it): several stops that time out (3 s each) may take
        longer than systemd's watchdog, and longer than the bound as a whole.
        """
        result = self._owner.call(
            lambda: self._reload(new),
            RELOAD_STEP_TIMEOUT_S,
            waiting=waiting,
            every_s=every_s,
        )
        assert isinstance(result, list)
        return result

    def zone(self) -> ZoneInfo:
        """The hub's zone, read once a raspyd: a core, cron and web face started
        again inside it (a new Clone server) keep the one they started in, though
        the machine's zone changed since (a restart of raspyd takes the new one)."""
        if self._zone is None:
            from raspy.actors.core.wiring import core_zone  # the core's own rule

            self._zone = core_zone(self.config.core)
        return self._zone

    def call(self, work: Callable[[], object], timeout_s: float = 30.0) -> object:
        """Run `work` in the supervisor thread (the parts' one owner); wait for it."""
        return self._owner.call(work, timeout_s)

    def _reload(self, new: Config) -> list[str]:
        plan = supervision.plan_reload(self.config, new, self._announced_restart_keys)
        if plan.announce:
            log.warning("config_change_needs_restart", keys=sorted(plan.needs_restart))
        self._announced_restart_keys = plan.needs_restart
        self.config = plan.config
        if plan.restart_titanic:
            for child in self.stop_children(lambda name: name == "titanic"):
                if self.config.titanic.enabled:
                    self.add_child(
                        child.name,
                        child.start,
                        critical=child.critical,
                        retried=True,
                        prepare_stop=child.prepare_stop,
                        io_ask=child.io_ask,
                        inner_ask=child.inner_ask,
                    )
            if self.config.titanic.enabled and self._children.named("titanic") is None:
                self.wiring.add_titanic(self, True)
        if plan.restart_devices:
            self.wiring.start_devices(self)
        changed = list(plan.changed)
        log.info("config_reloaded", keys=changed, applied=sorted(plan.live))
        self._publish_statuses()
        return changed

    def stop_children(self, selected: Callable[[str], bool]) -> list[Child]:
        """Stop and forget the selected children; return them."""
        return self._children.stop(selected)

    def watch(self) -> None:
        """Supervise from now on, in the supervisor thread."""
        self._publish_statuses()
        self._owner.start()

    def _round(self, now: float) -> None:
        self._check_core(now)
        if self.fatal is None:  # raspyd is stopping: restart nothing
            self._children.check(now)
        self._publish_statuses()

    def healthy(self) -> bool:
        """Is the supervisor thread still going round, with no fatal failure?"""
        return self.fatal is None and self._owner.going_round(_HEALTHY_WITHIN_S)

    def summary(self) -> str:
        """One line for systemd's STATUS: all running, or the parts that are not."""
        return supervision.summary(self.statuses)

    def _restarted(self, child: Child) -> None:
        if child.name == CLONE:
            self.wiring.clone_restarted(self)

    def _publish_statuses(self) -> None:
        trackers = [*self.core_trackers.values()]
        trackers += [child.tracker for child in self.children]
        self.statuses = tuple(tracker.status() for tracker in trackers)
        names = frozenset(status.name for status in self.statuses)
        if names != self._part_names:
            statistics = self.ref_of(STATISTICS)
            if statistics is not None:  # else it reads them as it starts
                try:
                    statistics.tell(msgs.PartsChanged())
                except pykka.ActorDeadError:  # died since the last round: see above
                    return
                self._part_names = names

    def status_of(self, name: str) -> PartStatus | None:
        return next((s for s in self.statuses if s.name == name), None)

    def inject_fault(self, part: str) -> None:
        """Stop the edge or the store from inside, as a crash would (tests only)."""
        if part == EDGE:
            stop_actor(EDGE, self.edge)
        elif part == STORE:
            self.store.close()
        else:
            raise ValueError(f"no fault to inject into {part}")

    def stop(self) -> bool:
        """Stop children (reverse order), then the edge (DISCONNECTs workers), then the
        store; False if a part did not stop in time (raspy.child_set.STOP_TIMEOUT_S)
        or a socket owner never ended (its context is left open): raspyd exits 1.
        The store's writer stuck in a commit is not waited for: its thread cannot be
        stopped, and a join would keep raspyd from ever exiting."""
        self._owner.stop()
        running = self._children.stop_all()
        self.wiring.stopped(self)
        if not stop_actor(EDGE, self.edge):
            running.append(EDGE)
        stuck = self._writer_stuck() is not None
        if not self.store.close_within(0.0 if stuck else STORE_CLOSE_TIMEOUT_S):
            running.append(STORE)  # named by store_writer_stuck_at_stop
        if self.curve is not None:  # after the sockets close, before term (§8.2)
            self.curve.stop()
        if term_within(self.context, TERM_TIMEOUT_S) is not None:
            # "runner_stuck" said whose socket is still open
            log.error("context_term_stuck", waited_s=TERM_TIMEOUT_S)
            return False
        if running:  # each named by component_stop_timed_out; their threads go on
            log.error("daemon_stopped", components_still_running=running)
            return False
        log.info("daemon_stopped")
        return True

    @property
    def stopping(self) -> bool:
        """stop() has begun (device services then put outputs in their safe state)."""
        return self._owner.stopping

    @property
    def curve_keys(self) -> CurveKeys | None:
        return None if self.curve is None else self.curve.keys
