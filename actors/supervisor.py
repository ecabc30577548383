"""The supervisor: starts raspyd's parts in dependency order (store, edge, services),
restarts a crashed part with backoff until it has crashed too often (`failed`), and
stops everything in reverse order without losing acknowledged data.

It is a plain object with one owner, not an actor: after start() only its own
`raspy-supervisor` thread changes the parts (restarts, SIGHUP reloads, which other
threads queue to it and wait for); everyone else reads the immutable snapshot it
publishes. A pykka actor would need a timer it does not have, and its own failure
would need supervising; a thread that only decides (raspy.cores.supervision) and calls
start()/stop() cannot crash on a part's behalf. The edge and the store cannot be
restarted in place (every service holds them): when one dies it is `failed` and
`fatal` is set, and raspyd exits non-zero so that systemd restarts the whole daemon.
"""

from __future__ import annotations

import contextlib
import dataclasses
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Final

import pykka
import structlog
import zmq

from raspy import names
from raspy.actors import edge as edge_mod
from raspy.actors import messages as msgs
from raspy.actors.clone.server import ClonePublisher, start_clone_server
from raspy.actors.core.wiring import start_core
from raspy.actors.devices import hardware
from raspy.actors.history import start_history_child
from raspy.actors.mqtt_bridge import start_mqtt
from raspy.actors.statistics import StatisticsActor, StatsWorkerActor
from raspy.actors.titanic import start_titanic
from raspy.actors.web import check_config as check_web_config
from raspy.actors.web import start_web
from raspy.actors.worker import EchoWorkerActor
from raspy.clock import Clock, SystemClock
from raspy.config import Config
from raspy.cores.broker import BrokerCore, BrokerSettings
from raspy.cores.supervision import (
    LIVE_SECTIONS,
    PartState,
    PartStatus,
    PartTracker,
    RestartPolicy,
    changed_keys,
    restart_policy,
)
from raspy.devices import registries
from raspy.service_stats import Snapshot
from raspy.stats import Stats
from raspy.storage.store import Store
from raspy.transport.curve import CurveServer, start_curve_server
from raspy.transport.outbox import Outbox
from raspy.transport.sockets import CurveKeys

log = structlog.get_logger(component="supervisor")

_WATCH_INTERVAL_S: Final = 0.2
_HEALTHY_WITHIN_S: Final = 10.0
_DOWN: Final = (PartState.RESTARTING, PartState.FAILED)
EDGE: Final = "edge"
STORE: Final = "store"


def short_hostname(config: Config) -> str:
    """The `<hostname>` of service names: the config's, or this machine's short name."""
    return names.short_hostname(config.hostname)


@dataclass
class Child:
    """A part the supervisor keeps alive; `ref` is None while it is down."""

    name: str
    start: Callable[[], pykka.ActorRef[Any]]
    tracker: PartTracker
    ref: pykka.ActorRef[Any] | None = None

    @property
    def restarts(self) -> int:
        return self.tracker.restarts


@dataclass
class Runtime:
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
    children: list[Child] = field(default_factory=list)
    publisher: ClonePublisher | None = None
    curve: CurveServer | None = None  # ZAP allowlist + server keys, when configured
    # why raspyd must exit (the edge or the store failed); None while all is well
    fatal: str | None = None
    started_at: float = 0.0
    core_trackers: dict[str, PartTracker] = field(default_factory=dict)
    statuses: tuple[PartStatus, ...] = ()  # the last snapshot; replaced, never edited
    fatal_event: threading.Event = field(default_factory=threading.Event)
    _requests: queue.SimpleQueue[tuple[Callable[[], object], Future[object]]] = field(
        default_factory=queue.SimpleQueue
    )
    _announced_restart_keys: frozenset[str] = frozenset()
    _stop: threading.Event = field(default_factory=threading.Event)
    _watcher: threading.Thread | None = None
    _last_round_at: float = 0.0  # when the supervisor thread last looked at the parts
    _edge_proxy: Any = None

    def collect_stats(self) -> dict[str, float]:
        merged = dict(self.stats.snapshot())
        try:
            merged.update(self.edge.ask(msgs.GetStats(), timeout=2))  # type: ignore[arg-type]  # edge answers a dict
        except (pykka.ActorDeadError, TimeoutError):
            merged["edge.alive"] = 0
        merged.update({f"store.{k}": v for k, v in self.store.stats().items()})
        return merged

    def statistics_snapshot(self) -> Snapshot:
        """Statuses and every counter and gauge, for the per-service statistics."""
        counters = self.stats.counters()
        gauges = self.stats.gauges()
        with contextlib.suppress(pykka.ActorDeadError, TimeoutError):  # state says why
            counters.update(self.edge.ask(msgs.GetStats(), timeout=2))  # type: ignore[arg-type]  # edge answers a dict
        counters.update({f"store.{k}": int(v) for k, v in self.store.stats().items()})
        if self.curve is not None:  # issue 18: refused CURVE clients, shown by the edge
            counters["edge.curve_refused"] = self.curve.refused
        return Snapshot(self.statuses, counters, gauges, self.clock.monotonic())

    def clone_publish_endpoint(self) -> str | None:
        return None if self.publisher is None else self.publisher.endpoint

    @property
    def policy(self) -> RestartPolicy:
        return restart_policy(self.config.supervisor)

    def add_child(
        self,
        name: str,
        start: Callable[[], pykka.ActorRef[Any]],
        *,
        critical: bool = False,
    ) -> Child:
        """Start a part and supervise it. If its first start raises, a `critical`
        part raises (raspyd does not start); any other is retried with backoff."""
        now = self.clock.monotonic()
        child = Child(name, start, PartTracker(name, self.policy, now))
        try:
            child.ref = start()
        except Exception as exc:
            if critical:
                raise
            self._crashed(child, now, f"start failed: {exc}")
        else:
            log.info("component_started", component=name)
        self.children.append(child)
        self._publish_statuses()
        return child

    def reload(self, new: Config) -> list[str]:
        """Apply a new, valid config in the supervisor thread; return the changed keys.

        Titanic and the device services restart with their new sections. Every other
        change needs a daemon restart: it is named once in the log (a second SIGHUP
        with the same file does not log it again) and left as it is.
        """
        result = self.call(lambda: self._reload(new))
        assert isinstance(result, list)
        return result

    def call(self, work: Callable[[], object], timeout_s: float = 30.0) -> object:
        """Run `work` in the supervisor thread (the parts' one owner); wait for it."""
        done: Future[object] = Future()
        self._requests.put((work, done))
        return done.result(timeout=timeout_s)

    def _reload(self, new: Config) -> list[str]:
        changed = changed_keys(self.config, new)
        fixed = frozenset(k for k in changed if k.split(".")[0] not in LIVE_SECTIONS)
        if fixed and fixed != self._announced_restart_keys:
            log.warning("config_change_needs_restart", keys=sorted(fixed))
        self._announced_restart_keys = fixed
        live = {k.split(".")[0] for k in changed} & LIVE_SECTIONS
        self.config = dataclasses.replace(
            self.config, **{section: getattr(new, section) for section in live}
        )
        if "titanic" in live:
            for child in self.stop_children(lambda name: name == "titanic"):
                if self.config.titanic.enabled:
                    self.add_child(child.name, child.start)
            if self.config.titanic.enabled and not self._has("titanic"):
                _add_titanic(self)
        if "devices" in live and self.config.clone.enabled:
            _start_devices(self)
        log.info("config_reloaded", keys=changed, applied=sorted(live))
        self._publish_statuses()
        return changed

    def _has(self, name: str) -> bool:
        return any(child.name == name for child in self.children)

    def stop_children(self, selected: Callable[[str], bool]) -> list[Child]:
        """Stop and forget the selected children; return them."""
        stopped = [child for child in self.children if selected(child.name)]
        for child in stopped:
            _stop_ref(child.name, child.ref)
        self.children = [c for c in self.children if c not in stopped]
        return stopped

    def watch(self) -> None:
        """Supervise from now on, in the supervisor thread."""
        self._publish_statuses()
        self._watcher = threading.Thread(
            target=self._watch_loop, name="raspy-supervisor", daemon=True
        )
        self._watcher.start()

    def _watch_loop(self) -> None:
        while not self._stop.wait(_WATCH_INTERVAL_S):
            self._run_requests()
            now = self.clock.monotonic()
            self._check_core(now)
            if self.fatal is None:  # raspyd is stopping: restart nothing
                self._check_children(now)
            self._publish_statuses()
            self._last_round_at = now

    def healthy(self) -> bool:
        """Is the supervisor thread still going round, with no fatal failure?"""
        recent = self.clock.monotonic() - self._last_round_at < _HEALTHY_WITHIN_S
        alive = self._watcher is not None and self._watcher.is_alive()
        return self.fatal is None and alive and recent

    def summary(self) -> str:
        """One line for systemd's STATUS: all running, or the parts that are not."""
        down = [f"{s.name} {s.state.value}" for s in self.statuses if s.state in _DOWN]
        parts = len(self.statuses)
        return f"{parts} parts running" if not down else "; ".join(down)

    def _run_requests(self) -> None:
        while True:
            try:
                work, done = self._requests.get_nowait()
            except queue.Empty:
                return
            try:
                done.set_result(work())
            except Exception as exc:  # noqa: BLE001  # the caller gets it; supervising goes on
                done.set_exception(exc)

    def _check_core(self, now: float) -> None:
        # a damaged store fails every part that reads it: fatal, never a restart loop
        damage = self.store.damage()
        alive = {
            EDGE: self._edge_alive(),
            STORE: damage is None and self.store.is_alive(),
        }
        for name, ok in alive.items():
            tracker = self.core_trackers[name]
            if ok or tracker.state is not PartState.RUNNING:
                continue
            tracker.crashed(now, damage or f"the {name} stopped")
            reason = tracker.status().reason
            log.error("component_failed", component=name, reason=reason)
            self.stats.incr(f"supervisor.failed.{name}")
            if self.fatal is None:
                self.fatal = f"{name} failed: {reason}"
                self.fatal_event.set()

    def _edge_alive(self) -> bool:
        try:
            if self._edge_proxy is None:  # made once: a proxy inspects the actor
                self._edge_proxy = self.edge.proxy()
            return bool(self._edge_proxy.io_alive.get(timeout=2))
        except (pykka.ActorDeadError, TimeoutError):
            return False

    def _check_children(self, now: float) -> None:
        for child in list(self.children):
            tracker = child.tracker
            if tracker.state is PartState.RUNNING:
                if child.ref is not None and child.ref.is_alive():
                    tracker.tick(now)
                    continue
                child.ref = None
                self._crashed(child, now, "stopped unexpectedly")
            elif tracker.due(now):
                self._restart(child, now)

    def _restart(self, child: Child, now: float) -> None:
        try:
            child.ref = child.start()
        except Exception as exc:  # noqa: BLE001  # a part's start may raise anything
            self._crashed(child, now, f"start failed: {exc}")
            return
        child.tracker.started(now)
        self.stats.incr(f"supervisor.restarts.{child.name}")
        log.warning(
            "component_restarted", component=child.name, count=child.tracker.restarts
        )
        if child.name == "clone":
            _start_devices(self)
            start_web(self)  # the live pages follow the new Clone server

    def _crashed(self, child: Child, now: float, reason: str) -> None:
        state = child.tracker.crashed(now, reason)
        status = child.tracker.status()
        if state is PartState.FAILED:
            self.stats.incr(f"supervisor.failed.{child.name}")
            log.error("component_failed", component=child.name, reason=status.reason)
            return
        retry_in_s = (status.next_try_at or now) - now
        log.error(
            "component_died",
            component=child.name,
            reason=reason,
            retry_in_s=round(retry_in_s, 3),
            failures_in_a_row=child.tracker.failures_in_a_row,
        )

    def _publish_statuses(self) -> None:
        trackers = [*self.core_trackers.values()]
        trackers += [child.tracker for child in self.children]
        self.statuses = tuple(tracker.status() for tracker in trackers)

    def status_of(self, name: str) -> PartStatus | None:
        return next((s for s in self.statuses if s.name == name), None)

    def inject_fault(self, part: str) -> None:
        """Stop the edge or the store from inside, as a crash would (tests only)."""
        if part == EDGE:
            _stop_ref(EDGE, self.edge)
        elif part == STORE:
            self.store.close()
        else:
            raise ValueError(f"no fault to inject into {part}")

    def stop(self) -> None:
        """Stop children (reverse order), then the edge (DISCONNECTs workers), then the store."""
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
        self._run_requests()
        for child in reversed(self.children):
            _stop_ref(child.name, child.ref)
        _stop_ref(EDGE, self.edge)
        self.store.close()
        if self.curve is not None:  # after the sockets close, before term (§8.2)
            self.curve.stop()
        self.context.term()
        log.info("daemon_stopped")

    @property
    def stopping(self) -> bool:
        """stop() has begun (device services then put outputs in their safe state)."""
        return self._stop.is_set()

    @property
    def curve_keys(self) -> CurveKeys | None:
        return None if self.curve is None else self.curve.keys


def _stop_ref(name: str, ref: pykka.ActorRef[Any] | None) -> None:
    if ref is None:
        return
    try:
        ref.stop(block=True, timeout=3)
    except pykka.ActorDeadError:
        return
    except TimeoutError:
        log.warning("component_stop_timed_out", component=name)


def mdp_endpoint_for(config: Config) -> str:
    return f"tcp://{config.network.bind}:{config.network.port_base}"


def check_config(config: Config) -> None:
    """What only the services can check (device configs), before anything starts."""
    registries.check_config(short_hostname(config), config.devices)
    check_web_config(config)


def start(
    config: Config, *, clock: Clock | None = None, init_store: bool = False
) -> Runtime:
    """Open the store, start the edge and every service; raises on any start failure.

    The store is checked page by page and record by record before anything writes to
    it; `init_store` allows a new store where one was lost (raspyd --init)."""
    clock = clock or SystemClock()
    stats = Stats()
    hostname = short_hostname(config)
    store = Store.open(
        config.data_dir, config.store, init=init_store, check_records=True
    )
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    curve: CurveServer | None = None
    try:
        if config.security.enabled:  # the ZAP handler first: before any bind (§8.2)
            curve = start_curve_server(context, config.security)
            log.info("curve_enabled", keys_dir=config.security.authorized_keys_dir)
        core = BrokerCore(BrokerSettings.from_config(config.broker, config.limits))
        settings = edge_mod.EdgeSettings(
            mdp_endpoint=mdp_endpoint_for(config),
            linger_ms=config.network.linger_ms,
            curve=None if curve is None else curve.keys,
            max_frame_bytes=config.broker.max_frame_bytes,
        )
        edge_ref, endpoint, outbox = edge_mod.start_edge(
            context, settings, core, clock, stats
        )
    except BaseException:
        if curve is not None:
            curve.stop()
        context.term()
        store.close()
        raise
    runtime = Runtime(
        config=config,
        hostname=hostname,
        context=context,
        store=store,
        stats=stats,
        clock=clock,
        edge=edge_ref,
        outbox=outbox,
        mdp_endpoint=endpoint,
        curve=curve,
        started_at=clock.monotonic(),
    )
    for name in (STORE, EDGE):
        runtime.core_trackers[name] = PartTracker(
            name, runtime.policy, runtime.started_at, restartable=False
        )
    runtime._publish_statuses()
    try:
        _start_services(runtime)
    except BaseException:
        runtime.stop()
        raise
    runtime.watch()
    return runtime


def _start_services(rt: Runtime) -> None:
    host = rt.hostname
    rt.add_child(
        "echo",
        lambda: EchoWorkerActor.start(
            rt.edge, rt.outbox, f"{host}.echo".encode(), "echo"
        ),
    )
    rt.add_child(
        "stats",
        lambda: StatsWorkerActor.start(
            rt.edge, rt.outbox, f"{host}.stats".encode(), rt.collect_stats
        ),
    )
    rt.add_child(
        "statistics",
        lambda: StatisticsActor.start(
            rt.edge,
            rt.outbox,
            host,
            rt.statistics_snapshot,
            lambda: rt.statuses,
            rt.clone_publish_endpoint,
            rt.context,
            rt.clock,
            rt.config.stats.publish_interval_s,
        ),
    )
    if rt.config.titanic.enabled:
        _add_titanic(rt)
    if rt.config.clone.enabled:
        rt.add_child(
            "clone",
            lambda: start_clone_server(
                rt.context,
                rt.store,
                rt.config.clone,
                rt.config.network,
                clock=rt.clock,
                stats=rt.stats,
                curve=rt.curve_keys,
                limits=rt.config.limits,
            ),
            critical=True,
        )
        _start_devices(rt)
    start_web(rt)  # last: its pages ask the services started above


def _add_titanic(rt: Runtime) -> None:
    rt.add_child(
        "titanic",
        lambda: start_titanic(
            rt.edge,
            rt.outbox,
            rt.store,
            rt.config.titanic,
            rt.clock,
            rt.stats,
            limits=rt.config.limits,
        ),
        critical=True,
    )


def _start_devices(rt: Runtime) -> None:
    """Device services publish into the Clone tree through the server's inproc
    publish endpoint; a restarted Clone server binds a new one, and inproc peers do
    not reconnect, so the device services are started again with a new publisher."""
    clone_ref = next((c.ref for c in rt.children if c.name == "clone"), None)
    if clone_ref is None:
        return  # the Clone server is down: started again when it is back
    endpoint = clone_ref.ask(msgs.GetPublishEndpoint(), timeout=5)
    assert isinstance(endpoint, str)
    rt.stop_children(lambda name: name.startswith("devices."))
    if rt.publisher is not None:
        rt.publisher.close_all()
    publisher = ClonePublisher(rt.context, endpoint)
    rt.publisher = publisher
    start_mqtt(rt)  # before the devices: it hears their first readings
    for name, start in hardware.start_devices(rt, publisher):
        rt.add_child(name, start)
    start_core(rt)  # after the devices; a new Clone server means a new core
    start_history_child(rt)  # [history]: the value recorder, idem
