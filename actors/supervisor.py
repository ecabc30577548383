"""raspyd's start-up: what the supervisor starts and in which order (the store, the
edge, then the services), and what it starts again when the Clone server is replaced
or a reload changes Titanic or the devices. The parts are then kept alive by the
Runtime (raspy.actors.runtime), which this module re-exports for its users.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

import pykka
import structlog
import zmq

from raspy import config_files, http_lookup, names, secrets_file
from raspy.actors import edge as edge_mod
from raspy.actors import messages as msgs
from raspy.actors.clone.server import (
    ClonePublisher,
    clone_io_ask,
    read_tree,
    start_clone_server,
)
from raspy.actors.config_check import check_config
from raspy.actors.control_start import write_initials
from raspy.actors.core.wiring import start_core
from raspy.actors.devices import hardware
from raspy.actors.history import start_history_child
from raspy.actors.http_client import PART as HTTP_CLIENT
from raspy.actors.http_client import HttpClientActor
from raspy.actors.runtime import CLONE, STATISTICS, Child, Runtime, Wiring
from raspy.actors.runtime_watch import EDGE, STORE
from raspy.actors.statistics import StatisticsActor, StatsWorkerActor
from raspy.actors.titanic import start_titanic
from raspy.actors.titanic_commits import prepare_stop as prepare_titanic_stop
from raspy.actors.worker import EchoWorkerActor
from raspy.child_watch import ON_START_DONE
from raspy.clock import Clock, SystemClock
from raspy.config import Config
from raspy.control_tables import declared
from raspy.cores.broker import BrokerCore
from raspy.cores.broker_settings import BrokerSettings
from raspy.service_stats import Snapshot
from raspy.stats import Stats
from raspy.storage.damage import Progress, no_progress
from raspy.storage.store import Store
from raspy.transport.outbox import Outbox

if TYPE_CHECKING:  # loaded with [security] only (zmq.auth, its thread)
    from raspy.transport.curve import CurveServer

__all__ = [
    "EDGE",
    "STORE",
    "Child",
    "Runtime",
    "check_config",
    "mdp_endpoint_for",
    "short_hostname",
    "start",
]

log = structlog.get_logger(component="supervisor")

_ASK_TIMEOUT_S: Final = 2.0
_SETTLE_TIMEOUT_S: Final = 5.0


def short_hostname(config: Config) -> str:
    """The `<hostname>` of service names: the config's, or this machine's short name."""
    return names.short_hostname(config.hostname)


def mdp_endpoint_for(config: Config) -> str:
    return f"tcp://{config.network.bind}:{config.network.port_base}"


def start(
    config: Config,
    *,
    clock: Clock | None = None,
    init_store: bool = False,
    progress: Progress = no_progress,
    store_opened: Callable[[], None] = no_progress,
) -> Runtime:
    """Open the store, start the edge and every service; raises on any start failure.

    The store is checked page by page and record by record before anything writes to
    it, calling `progress` as it goes (raspyd asks systemd for more time), then
    `store_opened` once (raspyd's STATUS moves on to the services); `init_store`
    allows a new store where one was lost (raspyd --init)."""
    clock = clock or SystemClock()
    stats = Stats()
    hostname = short_hostname(config)
    store = Store.open(
        config.data_dir,
        config.store,
        init=init_store,
        check_records=True,
        progress=progress,
        holder="raspyd",
    )
    store_opened()
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    curve: CurveServer | None = None
    try:
        if config.security.enabled:  # the ZAP handler first: before any bind (§8.2)
            # with [security] only: zmq.auth and its thread, which a hub without
            # CURVE skips
            from raspy.transport.curve import start_curve_server

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
        wiring=_WIRING,
        curve=curve,
        started_at=clock.monotonic(),
    )
    runtime.track_core_parts()
    try:
        _start_services(runtime)
        # every service's READY is in the broker before the daemon says it started:
        # a client's first mmi.service gets 200, not a 404 from a READY in flight;
        # the parts' own .mmi/.statistics services (raspy status) included
        _parts_started(runtime)
        statistics = runtime.ref_of("statistics")
        if statistics is not None:
            statistics.ask(msgs.Settle(), timeout=_SETTLE_TIMEOUT_S)
        edge_ref.ask(msgs.Settle(), timeout=_SETTLE_TIMEOUT_S)
    except BaseException:
        runtime.stop()
        raise
    runtime.watch()
    return runtime


def _parts_started(rt: Runtime) -> None:
    """Wait until every part has run its on_start. pykka runs it on the part's own
    thread after start() returned, and a worker attaches there (its READY): the
    core's `core.scenario` answered "no worker" to a request right after the start.
    A part that fails there is the supervisor's to see, as any crash; one slower
    than the bound is waited for no longer (the start goes on, as before)."""
    # asked of every part at once, waited for against one deadline
    answers = []
    for child in rt.children:
        if child.ref is not None:
            with contextlib.suppress(pykka.ActorDeadError):
                answers.append(child.ref.ask(ON_START_DONE, block=False))
    deadline = time.monotonic() + _SETTLE_TIMEOUT_S
    for answer in answers:
        with contextlib.suppress(pykka.ActorDeadError, pykka.Timeout):
            answer.get(timeout=max(0.0, deadline - time.monotonic()))


def _start_services(rt: Runtime) -> None:
    host = rt.hostname
    rt.add_child(
        names.ECHO_SERVICE,
        lambda: EchoWorkerActor.start(
            rt.edge,
            rt.outbox,
            f"{host}.{names.ECHO_SERVICE}".encode(),
            names.ECHO_SERVICE,
        ),
    )
    rt.add_child(
        "stats",
        lambda: StatsWorkerActor.start(
            rt.edge, rt.outbox, f"{host}.stats".encode(), lambda: _collect_stats(rt)
        ),
    )
    rt.add_child(
        STATISTICS,
        lambda: StatisticsActor.start(
            rt.edge,
            rt.outbox,
            host,
            lambda: _statistics_snapshot(rt),
            lambda: rt.statuses,
            lambda: None if rt.publisher is None else rt.publisher.outbox,
            rt.clock,
            rt.config.stats.publish_interval_s,
            lambda: rt.ref_of(CLONE),  # followed under /stats/<host>/
            rt.config.clone.max_key_bytes,
        ),
    )
    if rt.config.titanic.enabled:
        _add_titanic(rt)
    if rt.config.http_client.enabled:
        secrets_file.say_mode(
            secrets_file.secrets_path(
                rt.config.data_dir, rt.config.http_client.secrets_file
            )
        )
        for problem in config_files.secrets_problems(rt.config):
            # not a refusal (raspy.config_files.secrets_problems says why): the
            # http: actions that name a secret fail, each saying this
            log.error("secrets_file_unusable", problem=problem)
        # one bound on lookup threads for every life of the service (a restart
        # leaves the lookups of the last one stuck in a hung resolver)
        lookup = http_lookup.HostLookup(rt.config.http_client.max_concurrent)
        rt.add_child(
            HTTP_CLIENT,
            lambda: HttpClientActor.start(
                rt.edge,
                rt.outbox,
                f"{host}.{names.HTTP_SERVICE}".encode(),
                rt.stats,
                workers=rt.config.http_client.max_concurrent,
                clock=rt.clock,  # the scenarios' give_up_at is on it
                lookup=lookup,
            ),
        )
    if rt.config.clone.enabled:
        rt.add_child(
            CLONE,
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
            io_ask=clone_io_ask,  # its work is on its I/O thread
        )
        _start_devices(rt)
    if rt.config.http.enabled:
        from raspy.actors.web import check_files

        check_files(rt.config)
    _start_web(rt)  # last: its pages ask the services started above


def _add_titanic(rt: Runtime, retried: bool = False) -> None:
    """Titanic as a part; `retried`: turned on by a reload in a running raspyd, where
    a start that raises is retried by the supervisor (not raised out of the reload,
    which would leave no Titanic part at all)."""
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
            # the hub's own `http` service refuses network clients: Titanic must not
            # relay a network client's request to it as an in-process one
            not_relayed=frozenset({f"{rt.hostname}.{names.HTTP_SERVICE}".encode()}),
        ),
        critical=True,
        retried=retried,
        # its stop's answers go out while the edge can still reach it
        prepare_stop=prepare_titanic_stop,
    )


def _start_devices(rt: Runtime) -> None:
    """Device services publish into the Clone tree through the server's outbox; a
    restarted Clone server has a new one, and what goes to the old one is dropped,
    so the device services are started again with a new publisher."""
    clone_ref = rt.ref_of(CLONE)
    if clone_ref is None:
        return  # the Clone server is down: started again when it is back
    publish_outbox = clone_ref.ask(msgs.GetPublishOutbox(), timeout=5)
    assert isinstance(publish_outbox, Outbox)
    rt.stop_children(lambda name: name.startswith("devices."))
    publisher = ClonePublisher(publish_outbox, rt.config.clone.max_key_bytes)
    rt.publisher = publisher
    if not rt.controls_seeded:  # once a start: never over a value deleted since
        rt.controls_seeded = True
        write_initials(
            clone_ref,
            declared(rt.config.controls, rt.config.clone.max_key_bytes),
        )
    if rt.config.mqtt.enabled:  # the bridge (paho) is imported only when used
        from raspy.actors.mqtt import start_mqtt

        start_mqtt(rt)  # before the devices: it hears their first readings
    tree = functools.partial(read_tree, clone_ref, rt.store)
    for name, start in hardware.start_devices(rt, publisher, tree, clone_ref):
        rt.add_child(name, start)
    start_core(rt)  # after the devices; a new Clone server means a new core
    start_history_child(rt)  # [history]: the value recorder, idem


def _clone_restarted(rt: Runtime) -> None:
    _start_devices(rt)
    _start_web(rt)  # the live pages follow the new Clone server


def _start_web(rt: Runtime) -> None:
    """[http] enabled (a restart-only key): the web face, imported only then."""
    if rt.config.http.enabled:
        from raspy.actors.web import start_web

        start_web(rt)


_WIRING: Final = Wiring(
    add_titanic=_add_titanic,
    start_devices=_start_devices,
    clone_restarted=_clone_restarted,
    given_up=lambda rt, name: hardware.given_up(name),
    stopped=lambda rt: hardware.release_abandoned("daemon stopped"),
)


def _collect_stats(rt: Runtime) -> dict[str, float]:
    """`<host>.stats`: every counter and gauge, the edge's and the store's included."""
    merged = dict(rt.stats.snapshot())
    counters, edge_answered = _counters_kept_apart(rt)
    if not edge_answered:
        merged["edge.alive"] = 0
    merged.update(counters)
    return merged


def _statistics_snapshot(rt: Runtime) -> Snapshot:
    """Statuses and every counter and gauge, for the per-service statistics."""
    counters = rt.stats.counters()
    gauges = rt.stats.gauges()
    counters.update(_counters_kept_apart(rt)[0])  # a silent edge: its state says why
    return Snapshot(rt.statuses, counters, gauges, rt.clock.monotonic())


def _counters_kept_apart(rt: Runtime) -> tuple[dict[str, int], bool]:
    """The counters kept outside `rt.stats`, for both statistics services: the
    edge's (its broker's), the store's, and (issue 18) the CURVE clients refused,
    shown as the edge's; and whether the edge answered (dead or slow: none of its)."""
    counters: dict[str, int] = {}
    edge_answered = True
    try:
        counters.update(rt.edge.ask(msgs.GetStats(), timeout=_ASK_TIMEOUT_S))  # type: ignore[arg-type]  # edge answers a dict
    except (pykka.ActorDeadError, pykka.Timeout):
        edge_answered = False
    # the store's are all whole numbers (typed float)
    counters.update({f"store.{k}": int(v) for k, v in rt.store.stats().items()})
    if rt.curve is not None:
        counters["edge.curve_refused"] = rt.curve.refused
    return counters, edge_answered
