"""The supervisor: starts raspyd's parts in dependency order, restarts failed actors with
backoff, and stops everything in reverse order without losing acknowledged data.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import pykka
import structlog
import zmq

from raspy import names
from raspy.actors import devices as devices_mod
from raspy.actors import edge as edge_mod
from raspy.actors import messages as msgs
from raspy.actors.clone_server import ClonePublisher, start_clone_server
from raspy.actors.core_wiring import start_core
from raspy.actors.outbox import Outbox
from raspy.actors.titanic import start_titanic
from raspy.actors.worker import EchoWorkerActor, ServiceWorkerActor
from raspy.clock import Clock, SystemClock
from raspy.config import Config
from raspy.cores.broker import BrokerCore, BrokerSettings
from raspy.stats import Stats
from raspy.storage.store import Store
from raspy.transport.curve import CurveServer, start_curve_server
from raspy.transport.sockets import CurveKeys

log = structlog.get_logger(component="supervisor")

_RESTART_INITIAL_S: Final = 1.0
_RESTART_MAX_S: Final = 60.0
_WATCH_INTERVAL_S: Final = 0.5


def short_hostname(config: Config) -> str:
    """The `<hostname>` of service names: the config's, or this machine's short name."""
    return names.short_hostname(config.hostname)


@dataclass
class Child:
    """An actor the supervisor keeps alive."""

    name: str
    start: Callable[[], pykka.ActorRef[Any]]
    ref: pykka.ActorRef[Any] | None = None
    restarts: int = 0
    next_restart_at: float = 0.0
    backoff_s: float = _RESTART_INITIAL_S


class StatsWorkerActor(ServiceWorkerActor):
    """`<hostname>.stats`: the daemon's counters and gauges as one JSON object."""

    def __init__(
        self,
        edge: pykka.ActorRef[Any],
        outbox: Outbox,
        service: bytes,
        collect: Callable[[], dict[str, float]],
    ) -> None:
        super().__init__(edge, outbox, service, "stats")
        self._collect = collect

    def handle(self, body: list[bytes]) -> Sequence[bytes]:
        return [b"200", json.dumps(self._collect(), sort_keys=True).encode()]


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
    _children_lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _watcher: threading.Thread | None = None

    def collect_stats(self) -> dict[str, float]:
        merged = dict(self.stats.snapshot())
        try:
            merged.update(self.edge.ask(msgs.GetStats(), timeout=2))  # type: ignore[arg-type]  # edge answers a dict
        except (pykka.ActorDeadError, TimeoutError):
            merged["edge.alive"] = 0
        merged.update({f"store.{k}": v for k, v in self.store.stats().items()})
        return merged

    def add_child(self, name: str, start: Callable[[], pykka.ActorRef[Any]]) -> None:
        child = Child(name, start)
        child.ref = start()
        self.children.append(child)
        log.info("component_started", component=name)

    def reload(self, new: Config) -> list[str]:
        """Apply a new config: restart what changed; return the changed sections.

        Titanic and the device services restart with their new sections. Sections
        that own sockets or the store (network, broker, store, clone, data_dir) need
        a daemon restart: they are logged and left as they are.
        """
        changed = [
            f.name
            for f in dataclasses.fields(Config)
            if getattr(new, f.name) != getattr(self.config, f.name)
        ]
        live = {"titanic", "devices", "log_level", "log_format"}
        fixed = [name for name in changed if name not in live]
        if fixed:
            log.warning("config_change_needs_restart", sections=fixed)
        with self._children_lock:
            self.config = dataclasses.replace(
                self.config, titanic=new.titanic, devices=new.devices
            )
            if "titanic" in changed:
                for child in self.stop_children(lambda name: name == "titanic"):
                    self.add_child(child.name, child.start)
            if "devices" in changed and self.config.clone.enabled:
                _start_devices(self)
        log.info("config_reloaded", sections=changed)
        return changed

    def stop_children(self, selected: Callable[[str], bool]) -> list[Child]:
        """Stop and forget the selected children; return them."""
        stopped = [child for child in self.children if selected(child.name)]
        for child in stopped:
            if child.ref is not None:
                try:
                    child.ref.stop(block=True, timeout=2)
                except (pykka.ActorDeadError, TimeoutError):
                    log.warning("component_stop_timed_out", component=child.name)
        self.children = [c for c in self.children if c not in stopped]
        return stopped

    def watch(self) -> None:
        """Restart children that died, with backoff (in a thread of its own)."""
        self._watcher = threading.Thread(
            target=self._watch_loop, name="raspy-supervisor", daemon=True
        )
        self._watcher.start()

    def _watch_loop(self) -> None:
        while not self._stop.wait(_WATCH_INTERVAL_S):
            with self._children_lock:
                self._restart_dead()

    def _restart_dead(self) -> None:
        now = self.clock.monotonic()
        restarted: list[str] = []
        for child in list(self.children):
            if child.ref is not None and child.ref.is_alive():
                continue
            if now < child.next_restart_at:
                continue
            if child.ref is not None:
                log.error("component_died", component=child.name)
                child.ref = None
                child.next_restart_at = now + child.backoff_s
                continue
            try:
                child.ref = child.start()
                restarted.append(child.name)
                child.restarts += 1
                self.stats.incr(f"supervisor.restarts.{child.name}")
                log.warning(
                    "component_restarted",
                    component=child.name,
                    count=child.restarts,
                )
                child.backoff_s = _RESTART_INITIAL_S
            except Exception:  # keep supervising the others
                log.exception("component_restart_failed", component=child.name)
                child.backoff_s = min(child.backoff_s * 2, _RESTART_MAX_S)
                child.next_restart_at = now + child.backoff_s

        if "clone" in restarted:
            _start_devices(self)

    def stop(self) -> None:
        """Stop children (reverse order), then the edge (DISCONNECTs workers), then the store."""
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=2)
        for child in reversed(self.children):
            if child.ref is not None:
                try:
                    child.ref.stop(block=True, timeout=2)
                except (pykka.ActorDeadError, TimeoutError):
                    log.warning("component_stop_timed_out", component=child.name)
        try:
            self.edge.stop(block=True, timeout=3)
        except (pykka.ActorDeadError, TimeoutError):
            log.warning("component_stop_timed_out", component="edge")
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


def mdp_endpoint_for(config: Config) -> str:
    return f"tcp://{config.network.bind}:{config.network.port_base}"


def check_config(config: Config) -> None:
    """What only the services can check (device configs), before anything starts."""
    devices_mod.check_config(short_hostname(config), config.devices)


def start(config: Config, *, clock: Clock | None = None) -> Runtime:
    """Open the store, start the edge and every service; raises on any start failure."""
    clock = clock or SystemClock()
    stats = Stats()
    hostname = short_hostname(config)
    store = Store.open(config.data_dir, config.store)
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    curve: CurveServer | None = None
    try:
        if config.security.enabled:  # the ZAP handler first: before any bind (§8.2)
            curve = start_curve_server(context, config.security)
            log.info("curve_enabled", keys_dir=config.security.authorized_keys_dir)
        core = BrokerCore(BrokerSettings.from_config(config.broker))
        settings = edge_mod.EdgeSettings(
            mdp_endpoint=mdp_endpoint_for(config),
            linger_ms=config.network.linger_ms,
            curve=None if curve is None else curve.keys,
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
    )
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
    if rt.config.titanic.enabled:
        rt.add_child(
            "titanic",
            lambda: start_titanic(
                rt.edge, rt.outbox, rt.store, rt.config.titanic, rt.clock, rt.stats
            ),
        )
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
            ),
        )
        _start_devices(rt)


def _start_devices(rt: Runtime) -> None:
    """Device services publish into the Clone tree through the server's inproc
    publish endpoint; a restarted Clone server binds a new one, and inproc peers do
    not reconnect, so the device services are started again with a new publisher."""
    clone_ref = next(c.ref for c in rt.children if c.name == "clone")
    assert clone_ref is not None
    endpoint = clone_ref.ask(msgs.GetPublishEndpoint(), timeout=5)
    assert isinstance(endpoint, str)
    rt.stop_children(lambda name: name.startswith("devices."))
    if rt.publisher is not None:
        rt.publisher.close_all()
    publisher = ClonePublisher(rt.context, endpoint)
    rt.publisher = publisher
    for name, start in devices_mod.start_devices(rt, publisher):
        rt.add_child(name, start)
    start_core(rt)  # after the devices; a new Clone server means a new core
