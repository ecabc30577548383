"""raspy-poller once its config is read and sound: the store, the device service,
the Clone client and the MDP worker, until SIGTERM or SIGINT (raspy.cli.poller says
what it does). Imported only then: pykka, ZeroMQ, LMDB and structlog are most of a
board's start-up CPU, which `--help` or a refused config need not pay."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any, Final

import pykka
import structlog
import zmq

from raspy import config as config_mod
from raspy import heap
from raspy import log as log_mod
from raspy.actors import devices
from raspy.cli import EXIT_FAILURE, EXIT_USAGE, fail, start_wait
from raspy.cli.board_probe import HubSaysNo, Probe
from raspy.cli.board_publisher import ClientPublisher
from raspy.cli.board_service import (
    ASK_TIMEOUT_S,
    STOP_TIMEOUT_S,
    BoardDeviceService,
    not_answered,
    stopped,
)
from raspy.cli.endpoints import host_port
from raspy.cli.hub_reach import HubReach
from raspy.cli.hub_watch import HubWatch
from raspy.cli.signals import SignalInbox
from raspy.client.clone import CloneClient
from raspy.client.mdp import Worker
from raspy.clock import SystemClock
from raspy.config_link import LinkConfig
from raspy.devices import registries
from raspy.devices.reading import DEVICE_TREE
from raspy.devices.registry import Registry
from raspy.errors import (
    DataDirError,
    RaspyError,
    StoreBeingReadError,
    StoreError,
    StoreFullError,
    StoreLockedError,
    StoreNewerError,
)
from raspy.sdnotify import Notifier
from raspy.stats import Stats
from raspy.storage.device_settings import DeviceSettings
from raspy.storage.store import Store
from raspy.transport.sockets import CurveKeys

_RECV_WAIT_S: Final = 0.25  # how often the loop looks at its stop flag
_DEFAULT_LINK: Final = LinkConfig()  # a file without [link]


def start(
    args: argparse.Namespace,
    cfg: config_mod.Config,
    registry: Registry,
    hostname: str,
    curve: CurveKeys | None,
    warnings: list[str],
    stop: SignalInbox,
) -> int:
    """Log, open the store and serve until `stop`; the exit status."""
    heap.limit_arenas()  # before any thread: raspy.heap says why
    log_mod.configure(cfg.log_level, cfg.log_format)  # type: ignore[arg-type]  # validated by config
    for warning in warnings:  # a hub's secret certificate as --server-key
        structlog.get_logger(component="raspy-poller").warning(
            "server_key_is_secret", path=args.server_key, reason=warning
        )
    unused = registries.board_unused(args.service, cfg.devices)
    if unused:  # as a warning: a file that worked before must not stop a board
        structlog.get_logger(component="raspy-poller").warning(
            "config_not_used",
            keys=unused,
            service=args.service,
            reason="raspy-poller serves only the --service it is given, onewire or "
            "fake; GPIO and the RTC are served by raspyd only",
        )
    try:
        store = _open_store(args.data_dir, cfg, stop)
    except _StoppedBeforeStart:  # SIGTERM or SIGINT while a read held the data dir
        structlog.get_logger(component="raspy-poller").info(
            "poller_stopped_before_start", service=args.service
        )
        return 0
    except StoreBeingReadError as exc:  # still read after the wait: no usage
        # error; exit 1, restarted (not 2)
        return fail("raspy-poller", str(exc), EXIT_FAILURE)
    except (StoreLockedError, DataDirError) as exc:  # the data dir: a usage error
        return fail("raspy-poller", str(exc), EXIT_USAGE)
    except StoreError as exc:  # damaged, a newer raspy's, a full disk: sensors go on
        structlog.get_logger(component="raspy-poller").error(
            "board_store_unusable",
            data_dir=args.data_dir,
            reason=str(exc),
            consequence="the settings it holds are not applied; one changed over "
            "MDP lasts until raspy-poller restarts",
            hint=_store_hint(exc, args.data_dir),
        )
        store = None
    discover = (
        registries.onewire_discover(cfg.devices)
        if args.service == registries.ONEWIRE
        else None
    )
    settings = None if store is None else DeviceSettings(store)
    try:
        return _run(
            args.connect, registry, discover, stop, curve, settings, link=cfg.link
        )
    except HubSaysNo as exc:
        return fail("raspy-poller", str(exc), exc.status)
    except _ServiceStuck as exc:
        store = None  # its thread may still write: the process's exit closes it
        return fail("raspy-poller", *stuck_failure(exc))
    except RaspyError as exc:
        return fail("raspy-poller", str(exc), EXIT_FAILURE)
    finally:
        if store is not None:
            store.close()
        structlog.get_logger(component="raspy-poller").info(
            "poller_stopped", hostname=hostname, service=args.service
        )


def _store_hint(exc: StoreError, data_dir: str) -> str:
    """What helps with a store the board runs without: a full disk's own message
    says it (free space, then restart), and a check would only find the store sound."""
    if isinstance(exc, StoreNewerError):
        return "upgrade raspy on this board"
    if isinstance(exc, StoreFullError):
        return "free space as the reason says, then restart raspy-poller"
    return f"raspy-kv check --data-dir {data_dir}"


class _StoppedBeforeStart(Exception):
    """A stop came while the store's open waited for a read of the data dir."""


def _open_store(
    data_dir: str | None, cfg: config_mod.Config, stop: SignalInbox
) -> Store | None:
    """This board's store, if it has one (--data-dir); raises StoreError. It holds
    only settings changed over MDP, which a board can do without: a lost one is
    made anew, and the caller runs without a damaged one, so neither keeps the
    board's sensors from the hub (raspyd refuses to start on either instead).

    A raspy-kv reading the data dir without a reader slot is waited for, as raspyd
    does (raspy.cli.start_wait): refused at once, it was a usage error (exit 2),
    which the unit does not restart, and the board stayed down for good."""
    if not data_dir:
        return None
    waiting = Notifier()  # systemd's start timeout, pushed back while it waits
    try:
        store = start_wait.start_after_slotless_reads(
            lambda: Store.open(data_dir, cfg.store, init=True, holder="raspy-poller"),
            Path(data_dir),
            waiting,
            lambda timeout_s: bool(stop.wait(timeout_s)),
            structlog.get_logger(component="raspy-poller"),
            program="raspy-poller",
        )
    finally:
        waiting.close()
    if store is None:
        raise _StoppedBeforeStart
    return store


def _run(
    hub: str,
    registry: Registry,
    discover: registries.Discover | None,
    stop: SignalInbox,
    curve: CurveKeys | None = None,
    settings: DeviceSettings | None = None,
    *,
    link: LinkConfig = _DEFAULT_LINK,
) -> int:
    """Serve until `stop`, with the worker's and the probe's timings of `link`."""
    log = structlog.get_logger(component="raspy-poller")
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    probe = Probe(
        context,
        hub,
        registry,
        curve,
        timeout_s=link.hub_check_timeout_s,
        every_s=link.hub_check_every_s,
        expiry_s=link.worker_expiry_s,
    )
    try:
        started = probe.before_start(stop)
    except BaseException:
        context.term()
        raise
    if not started:  # SIGTERM or SIGINT during the check: nothing started yet
        context.term()
        log.info("poller_stopped_before_start", service=registry.devices_service)
        return 0
    notifier = Notifier()  # systemd's: raspy-poller.service is Type=notify
    subtree = f"{DEVICE_TREE}{registry.hostname}.{registry.service}.".encode()
    tree = CloneClient(hub, subtree, context=context, curve=curve)
    publisher = ClientPublisher(tree)
    service: pykka.ActorRef[Any] | None = None
    worker: Worker | None = None
    # simulated outputs keep state like a relay: from the hub's copy
    resume_outputs = registry.service == registries.FAKE
    try:
        service = BoardDeviceService.start(
            registry,
            publisher,
            clock=SystemClock(),
            stats=Stats(),
            discover=discover,
            settings=settings,
            resume_outputs=resume_outputs,
        )
        # the hub gives a dead board up in liveness x interval, even with a request
        # at it (docs/protocols.md §2.6), so its readings go offline in time; the
        # hub's interval x liveness must span two of our heartbeats, and our own
        # silence two of its (raspy.config_link checks both against [link])
        worker = Worker(
            hub,
            registry.devices_service,
            heartbeat_interval_s=link.heartbeat_interval_s,
            heartbeat_liveness=link.heartbeat_liveness,
            reconnect_initial_s=link.reconnect_initial_s,
            reconnect_max_s=link.reconnect_max_s,
            show_busy_heartbeats=True,
            context=context,
            curve=curve,
        )
        log.info("poller_started", service=registry.devices_service, hub=hub)
        watch = HubWatch(
            tree, publisher, worker, service, probe, resume_outputs=resume_outputs
        )
        notifier.ready(f"serving {registry.devices_service} for {hub}")
        return _serve(worker, service, watch, stop, notifier, _reach(hub))
    finally:
        notifier.stopping()
        notifier.close()
        if worker is not None:
            worker.close()  # DISCONNECT: the hub's offline grace starts now
        stuck = service is not None and service.is_alive() and not stopped(service)
        tree.close()
        probe.close()  # a look under way: its sockets would hold the term()
        context.term()
        if stuck:
            raise _ServiceStuck(
                f"the device service did not stop within {STOP_TIMEOUT_S:g} s"
            )


class _ServiceStuck(RaspyError):
    """The device service outlived its stop: its thread may still use the store."""


def stuck_failure(exc: RaspyError) -> tuple[str, int]:
    """The line and status for a stop that found the device service stuck: those
    of what ended the run, if something did (the hub's refusal, a failure; the
    stuck service is logged), else the stuck service's."""
    cause = exc.__context__
    if isinstance(cause, HubSaysNo):
        return str(cause), cause.status
    if isinstance(cause, RaspyError):
        return str(cause), EXIT_FAILURE
    return str(exc), EXIT_FAILURE


def _reach(hub: str) -> HubReach:
    """The TCP reach of the hub's MDP port (`tcp://HOST:PORT-BASE`, checked by
    port_base_argument, split by the same parser)."""
    host, port = host_port(hub, max_port=65532, port="PORT-BASE")
    return HubReach(host, port)


def _serve(
    worker: Worker,
    service: pykka.ActorRef[Any],
    hub: HubWatch,
    stop: SignalInbox,
    notifier: Notifier,
    reach: HubReach,
) -> int:
    """Answer requests until `stop`; 1 if the device service died. systemd's
    watchdog is pinged from here, while the device service lives: a loop stuck
    anywhere gets the board restarted."""
    every_s = notifier.watchdog_interval_s
    next_ping = 0.0
    while not stop.is_set():
        if not service.is_alive():
            return fail(
                "raspy-poller", "the device service failed (see the log)", EXIT_FAILURE
            )
        if every_s is not None and time.monotonic() >= next_ping:
            notifier.watchdog()
            next_ping = time.monotonic() + every_s
        hub.check()
        reach.check(worker.heard)  # why the hub is not heard, if it is not
        if stop.noted():
            structlog.get_logger(component="raspy-poller").warning(
                "config_not_reloaded",
                reason="SIGHUP: raspy-poller reads its config at start only",
                hint="systemctl restart raspy-poller",
            )
        request = worker.recv(_RECV_WAIT_S)
        if request is None:
            continue
        client, body = request
        try:
            reply = service.ask(
                devices.HandleRequest(tuple(body)), timeout=ASK_TIMEOUT_S
            )
        except pykka.ActorDeadError:
            continue  # the loop ends at its next turn
        except pykka.Timeout:
            # answered all the same: until a reply goes, the broker holds this
            # worker busy with the request and the hub's others wait for ever
            reply = not_answered(body)
        assert isinstance(reply, tuple)  # (status, json), as HandleRequest answers
        worker.reply(client, [bytes(frame) for frame in reply])
    return 0
