"""raspy-poller: a device service and its pollers on another host, joined to a hub.

    raspy-poller --connect tcp://HUB:PORT-BASE --service onewire|fake
                 [--config FILE] [--hostname NAME] [--data-dir DIR]

The service answers `<hostname>.<service>.devices` as an external MDP worker of the
hub (port N) and publishes readings as Clone KVSETs to the hub's collector (N+3),
so several boards make one tree. The Clone client waits until the collector listens
(docs/protocols.md §1.6) and resends until the hub publishes each update (§6.4). Once
it has the hub's copy of its subtree, the readings of devices no longer here are
deleted; after a loss of the hub every reading is sent again in full (the hub marks
the readings of a board it has not heard for `[devices] offline_after_s` offline).
SIGTERM or SIGINT ends it cleanly (exit 0): the worker's DISCONNECT starts the hub's
grace at once, and nothing is marked before it ends, so a restart costs no write;
the config is read at start only, and a SIGHUP (raspyd's reload), at any time
from the start of main on, is logged and changes nothing (`systemctl restart
raspy-poller` applies a changed one);
bad usage or config exits 2, and so does a hub that refuses this board's keys (or
wants keys it was not given), or one whose own device service has this board's
service name (the board runs under the hub's name). A hub that already has a live
worker of this board's service from another board, at start or later (two boards
with one hostname, raspy.cli.board_check), ends it with status 1 and a line naming
the clash.

With `--data-dir`, a device's `config` changed over MDP (a rename) is stored in this
board's own store, committed before the reply, and applied again at the next start,
as raspyd does for its own devices; without it the change lasts until the poller
stops. The store is written only at such a change, so it costs the SD card nothing
while the board just polls.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any, Final

import pykka
import structlog
import zmq

from raspy import config as config_mod
from raspy import heap, names
from raspy import log as log_mod
from raspy.actors import devices
from raspy.cli import EXIT_FAILURE, EXIT_USAGE, version_line
from raspy.cli.arguments import UsageParser, add_curve_options
from raspy.cli.board_check import BoardCheck, Verdict
from raspy.cli.endpoints import port_base_argument
from raspy.cli.last_resort import guarded
from raspy.cli.signals import SignalInbox
from raspy.client.clone import Change, CloneClient
from raspy.client.hub_probe import HubAnswer, probe_hub
from raspy.client.mdp import Worker
from raspy.clock import SystemClock
from raspy.devices import registries
from raspy.devices.reading import DEVICE_TREE, Status
from raspy.devices.registry import Registry
from raspy.devices.service import DEVICE_ERROR, Request, parse_request, refused
from raspy.errors import (
    ConfigError,
    DataDirError,
    RaspyError,
    StoreError,
    StoreLockedError,
    StoreNewerError,
)
from raspy.protocol import clone
from raspy.sdnotify import Notifier
from raspy.stats import Stats
from raspy.storage.device_settings import DeviceSettings
from raspy.storage.store import Store
from raspy.transport.curve import client_keys
from raspy.transport.sockets import CurveKeys, check_endpoint

_RECV_WAIT_S: Final = 0.25  # how often the loop looks at its stop flag
_STATUS_SUFFIX: Final = b"/status"  # a reading's status key, /device/<fullname>/status
_OFFLINE_BODY: Final = json.dumps(Status.OFFLINE.value).encode()
_ASK_TIMEOUT_S: Final = 5.0
_STOP_TIMEOUT_S: Final = 10.0
_PROBE_TIMEOUT_S: Final = 3.0
# the broker gives a silent worker up after 3 x 2.5 s (the Worker's defaults): a
# worker of ours that lost its connection is counted until then, and a poller
# killed a moment ago is still served; a margin on top
_WORKER_EXPIRY_S: Final = 3 * 2.5 + 2.5
_CHECK_EVERY_S: Final = 15.0
_REFUSED_AGAIN_S: Final = 1.0  # at start, before a refusal is probed again
# An offline mark of ours is looked at again this long after it was seen: one that
# the readings sent meanwhile (a start's first ones) have overwritten needs nothing
MARK_SETTLE_S: Final = 2.0


def build_parser() -> argparse.ArgumentParser:
    parser = UsageParser(
        prog="raspy-poller",
        description="Run a device service on this host for a raspyd hub.",
    )
    parser.add_argument(
        "--connect",
        required=True,
        type=port_base_argument,
        help="the hub, tcp://HOST:PORT-BASE",
    )
    parser.add_argument(
        "--service", required=True, choices=(registries.ONEWIRE, registries.FAKE)
    )
    parser.add_argument("--config", help="TOML configuration file ([devices] table)")
    parser.add_argument(
        "--data-dir",
        help="this board's store (created 0700): device settings changed over MDP "
        "last across restarts",
    )
    add_curve_options(parser, owner="this poller's")
    parser.add_argument("--hostname", help="the <hostname> of service and device names")
    parser.add_argument("--log-format", choices=("console", "json"))
    parser.add_argument("--log-level", choices=("debug", "info", "warning", "error"))
    parser.add_argument(
        "--version", action="version", version=version_line("raspy-poller")
    )
    return parser


class ClientPublisher:
    """raspy.devices.tree.DevicePublisher over a CloneClient, used by the device
    service's thread.

    While the hub is away (the client is not live) only the latest value of each key
    is held, so memory stays bounded by the number of keys; it goes out, oldest key
    first, as soon as the client is live again (flush(), from the main loop's turn),
    not at the next poll, which for a 1-Wire board may be minutes away; or with the
    next update if that comes first. An event (set())
    goes to the Clone client at once, which sends it when the hub's collector
    listens: a key outside this board's subtree is sent once, never confirmed.
    """

    def __init__(self, client: CloneClient) -> None:
        self._client = client
        self._held: dict[bytes, bytes] = {}
        # the device service's thread and the main loop's: a key's values go out
        # in the order they were given
        self._lock = threading.Lock()

    def set_many(
        self, entries: Sequence[tuple[bytes, bytes]]
    ) -> list[tuple[bytes, str]]:
        valid, refused = clone.split_by_key(entries)
        with self._lock:
            if not self._client.live:
                for key, body in valid:
                    self._held.pop(key, None)
                    self._held[key] = body
                return refused
            self._send([*self._take_held(), *valid])
        return refused

    def flush(self) -> None:
        """Send what was held while the hub was away, if the client is live again."""
        with self._lock:
            if self._held and self._client.live:
                self._send(self._take_held())

    def _take_held(self) -> list[tuple[bytes, bytes]]:
        held, self._held = self._held, {}
        return list(held.items())

    def _send(self, entries: Sequence[tuple[bytes, bytes]]) -> None:
        for key, body in entries:
            if body:
                self._client.set(key, body)
            else:  # the readings of a device gone (ForgetGone)
                self._client.delete(key)

    def set(self, key: bytes, body: bytes, *, ttl_s: float | None = None) -> None:
        self._client.set(key, body, ttl_s=ttl_s)


def _fail(message: str, status: int) -> int:
    print(f"raspy-poller: {message}", file=sys.stderr)
    return status


def _load(args: argparse.Namespace) -> tuple[config_mod.Config, Registry, str]:
    """Config, register and hostname; raises ConfigError or ValueError."""
    text, source = "", "<defaults>"
    if args.config:
        source = args.config
        text = config_mod.read_file(args.config)
    cfg = config_mod.load(
        text,
        source,
        hostname=args.hostname,
        log_format=args.log_format,
        log_level=args.log_level,
    )
    clone.Endpoints.parse(args.connect)  # ValueError unless tcp://HOST:PORT-BASE
    check_endpoint(args.connect)  # and what ZeroMQ refuses (`tcp://-:5514`)
    hostname = names.short_hostname(cfg.hostname)
    build = (
        registries.fake_registry
        if args.service == registries.FAKE
        else registries.onewire_registry
    )
    try:
        registry = build(hostname, cfg.devices)
    except ConfigError as exc:  # named by key: with the file, as every other one
        raise ConfigError(
            [f"{source}: {problem}" for problem in exc.problems]
        ) from None
    return cfg, registry, hostname


def main(argv: list[str] | None = None) -> int:
    """Entry point of `raspy-poller`; what no check foresaw is one line and status 70
    (raspy.cli.last_resort), as for the other tools."""
    return guarded("raspy-poller", lambda: _main(argv))


def _main(argv: list[str] | None) -> int:
    # is_set(): asked to stop; a SIGHUP (raspyd reloads at it) is only noted: its
    # default action would end the board without a word, and systemd's
    # Restart=on-failure would not start it again. First of all: a SIGHUP while
    # the config is read or the store opened (a slow SD card) is noted too, and a
    # SIGTERM or SIGINT then stops the board before it starts anything (exit 0)
    stop = SignalInbox((signal.SIGTERM, signal.SIGINT), noted=(signal.SIGHUP,))
    try:
        return _start(build_parser().parse_args(argv), stop)
    finally:
        stop.close()


def _start(args: argparse.Namespace, stop: SignalInbox) -> int:
    heap.limit_arenas()  # before any thread: raspy.heap says why
    try:
        cfg, registry, hostname = _load(args)
        curve = client_keys(args.server_key, args.client_cert)
    except (ConfigError, ValueError) as exc:
        return _fail(str(exc), EXIT_USAGE)
    log_mod.configure(cfg.log_level, cfg.log_format)  # type: ignore[arg-type]  # validated by config
    try:
        store = _open_store(args.data_dir, cfg)
    except (StoreLockedError, DataDirError) as exc:  # the data dir: a usage error
        return _fail(str(exc), EXIT_USAGE)
    except StoreError as exc:  # damaged, or a newer raspy's: the sensors go on
        newer = isinstance(exc, StoreNewerError)
        structlog.get_logger(component="raspy-poller").error(
            "board_store_unusable",
            data_dir=args.data_dir,
            reason=str(exc),
            consequence="the settings it holds are not applied; one changed over "
            "MDP lasts until raspy-poller restarts",
            hint="upgrade raspy on this board"
            if newer
            else f"raspy-kv check --data-dir {args.data_dir}",
        )
        store = None
    discover = (
        registries.onewire_discover(cfg.devices)
        if args.service == registries.ONEWIRE
        else None
    )
    settings = None if store is None else DeviceSettings(store)
    try:
        return _run(args.connect, registry, discover, stop, curve, settings)
    except _HubSaysNo as exc:
        return _fail(str(exc), exc.status)
    except _ServiceStuck as exc:
        store = None  # its thread may still write: the process's exit closes it
        return _fail(*stuck_failure(exc))
    except RaspyError as exc:
        return _fail(str(exc), EXIT_FAILURE)
    finally:
        if store is not None:
            store.close()
        structlog.get_logger(component="raspy-poller").info(
            "poller_stopped", hostname=hostname, service=args.service
        )


def _open_store(data_dir: str | None, cfg: config_mod.Config) -> Store | None:
    """This board's store, if it has one (--data-dir); raises StoreError. It holds
    only settings changed over MDP, which a board can do without: a lost one is
    made anew, and the caller runs without a damaged one, so neither keeps the
    board's sensors from the hub (raspyd refuses to start on either instead)."""
    if not data_dir:
        return None
    return Store.open(data_dir, cfg.store, init=True)


def _run(
    hub: str,
    registry: Registry,
    discover: registries.Discover | None,
    stop: SignalInbox,
    curve: CurveKeys | None = None,
    settings: DeviceSettings | None = None,
) -> int:
    log = structlog.get_logger(component="raspy-poller")
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    probe = _Probe(context, hub, registry, curve)
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
    try:
        service = BoardDeviceService.start(
            registry,
            publisher,
            clock=SystemClock(),
            stats=Stats(),
            discover=discover,
            settings=settings,
        )
        # the hub gives a dead board up in liveness x interval, even with a request
        # at it (docs/protocols.md §2.6), so its readings go offline in time
        worker = Worker(
            hub,
            registry.devices_service,
            show_busy_heartbeats=True,
            context=context,
            curve=curve,
        )
        log.info("poller_started", service=registry.devices_service, hub=hub)
        watch = _HubWatch(tree, publisher, worker, service, probe)
        notifier.ready(f"serving {registry.devices_service} for {hub}")
        return _serve(worker, service, watch, stop, notifier)
    finally:
        notifier.stopping()
        notifier.close()
        if worker is not None:
            worker.close()  # DISCONNECT: the hub's offline grace starts now
        stuck = service is not None and service.is_alive() and not _stopped(service)
        tree.close()
        context.term()
        if stuck:
            raise _ServiceStuck(
                f"the device service did not stop within {_STOP_TIMEOUT_S:g} s"
            )


class BoardDeviceService(devices.DeviceServiceActor):
    """The board's device service, on a daemon thread: one stuck past its stop (a
    read or a write the kernel does not end) must not keep the process from its
    exit, which Python holds for every thread that is not a daemon (systemd ended
    it at its stop timeout). raspy-poller has no outputs to put in a safe state."""

    use_daemon_thread = True


class _ServiceStuck(RaspyError):
    """The device service outlived its stop: its thread may still use the store."""


def stuck_failure(exc: RaspyError) -> tuple[str, int]:
    """The line and status for a stop that found the device service stuck: those
    of what ended the run, if something did (the hub's refusal, a failure; the
    stuck service is logged), else the stuck service's."""
    cause = exc.__context__
    if isinstance(cause, _HubSaysNo):
        return str(cause), cause.status
    if isinstance(cause, RaspyError):
        return str(cause), EXIT_FAILURE
    return str(exc), EXIT_FAILURE


def _stopped(service: pykka.ActorRef[Any]) -> bool:
    """Stop the device service; False if it is still running after the timeout."""
    try:
        service.stop(block=True, timeout=_STOP_TIMEOUT_S)
    except pykka.Timeout:
        structlog.get_logger(component="raspy-poller").error(
            "device_service_stop_timeout", timeout_s=_STOP_TIMEOUT_S
        )
        return False
    return True


class _HubSaysNo(RaspyError):
    """The hub will not have this board: its keys, or its name taken; `status` is
    the exit status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class _Probe:
    """This board's looks at the hub (raspy.client.hub_probe): its handshake and
    the workers of its service."""

    def __init__(
        self,
        context: zmq.Context[zmq.Socket[bytes]],
        hub: str,
        registry: Registry,
        curve: CurveKeys | None,
    ) -> None:
        self._context = context
        self._hub = hub
        self._curve = curve
        self.service = registry.devices_service
        self.hostname = registry.hostname
        self.check = BoardCheck(_WORKER_EXPIRY_S, _CHECK_EVERY_S)

    def ask(self, service: str | None = None) -> HubAnswer:
        """What the hub says of `service` (default: this board's device service)."""
        return probe_hub(
            self._context,
            self._hub,
            (service or self.service).encode(),
            curve=self._curve,
            timeout_s=_PROBE_TIMEOUT_S,
        )

    def twin(self) -> _HubSaysNo:
        """Why the hub has another worker of our service: the hub's own device
        service when raspyd runs under this board's name (the board started on the
        hub's host with the same service, or named after it), else a twin board."""
        if self.ask(f"{self.hostname}.{names.ECHO_SERVICE}").workers:
            return _HubSaysNo(
                f"the hub itself serves {self.service} (raspyd's own devices: the "
                f"hub runs under the host name {self.hostname!r} too), so this "
                "board cannot use that name; give it a name of its own (--hostname "
                'NAME, or hostname = "NAME" in its config) and start it again',
                EXIT_USAGE,  # a config to change, not a clash that passes: no restart
            )
        return _HubSaysNo(
            f"another board already serves {self.service} at the hub: two boards run "
            f"as {self.hostname!r} (one booted from a copy of the other's SD card?); "
            "give this one a hostname of its own (hostnamectl set-hostname NAME, or "
            "--hostname NAME) and start it again",
            EXIT_FAILURE,
        )

    def before_start(self, stop: SignalInbox) -> bool:
        """Refuse to start against a hub that refuses our keys, or that has a worker
        of our service for longer than a killed predecessor of ours would keep it.
        A hub that does not answer is not waited for: the checks go on later.
        False: a signal came meanwhile (taken from `stop`), so start nothing."""
        deadline = time.monotonic() + _WORKER_EXPIRY_S
        waiting = False
        refused: str | None = None  # by the probe before
        while not stop.is_set():
            answer = self.ask()
            if answer.refused is not None:
                # believed when the next probe says it again: a handshake cut short
                # once (a hub that is starting) would end this board with status 2,
                # which systemd does not restart
                if answer.refused == refused:
                    raise _HubSaysNo(answer.refused, EXIT_USAGE)
                refused = answer.refused
                if stop.wait(_REFUSED_AGAIN_S):
                    return False
                continue
            refused = None
            if not answer.workers:
                return True
            if time.monotonic() >= deadline:
                raise self.twin()
            if not waiting:  # says why the start takes these seconds
                waiting = True
                structlog.get_logger(component="raspy-poller").info(
                    "hub_has_our_service",
                    service=self.service,
                    workers=answer.workers,
                    wait_s=_WORKER_EXPIRY_S,
                    reason="a predecessor of this board that is gone, or a twin",
                )
            if stop.wait(1.0):  # taken here: the caller must not wait for it again
                return False
        return False


class _HubWatch:
    """What the device service is told as the hub comes and goes, looked at between
    requests: the hub's copy of its subtree each time the Clone client has a new
    snapshot (readings of devices gone are deleted, as raspyd does at start; a hub
    restored from an older dump, or killed before its last coalesced commit, has
    them back; the Clone client takes a new snapshot by itself whenever its
    connection to the hub's publisher is made again), and every new MDP session
    after the first (all readings sent again in full: while this board was away the
    hub may have marked them offline).

    And an offline mark of ours seen at any other time: the hub decides to mark
    when it has not heard of this board for its grace, and a mark it decided just
    before this board came back can land after the readings sent again. This board
    is alive, so it sends them all again (the device service writes only what
    changed, and a status `ok` that the mark overwrote would not change again).
    Only if the mark still stands MARK_SETTLE_S after it was seen: the one a board
    finds in its first snapshot after a stop is from before it started, and the
    readings it sends at start overwrite it."""

    def __init__(
        self,
        tree: CloneClient,
        publisher: ClientPublisher,
        worker: Worker,
        service: pykka.ActorRef[Any],
        probe: _Probe,
    ) -> None:
        self._tree = tree
        self._publisher = publisher
        self._worker = worker
        self._service = service
        self._probe = probe
        self._syncs = 0
        self._sessions = 0
        self._session_since: float | None = None
        self._marked = threading.Event()  # set on the Clone client's thread
        self._mark_seen_at: float | None = None  # monotonic; looked at again later
        self._log = structlog.get_logger(component="raspy-poller")
        tree.on_change(self._on_change)

    def _on_change(self, change: Change) -> None:
        """An offline mark of one of our readings (only the hub writes `offline`)."""
        if change.key.endswith(_STATUS_SUFFIX) and change.body == _OFFLINE_BODY:
            self._marked.set()

    def check(self) -> None:
        tree, service = self._tree, self._service
        self._publisher.flush()  # the hub is back: what was held goes now
        syncs = tree.syncs
        if syncs != self._syncs and tree.live:
            self._syncs = syncs
            copy = {key.decode("utf-8", "replace"): body for key, body in tree.items()}
            service.tell(devices.ForgetGone(copy))
        sessions = self._worker.sessions
        now = time.monotonic()
        if self._marked.is_set():  # a mark set after this look stays for the next one
            self._marked.clear()
            if self._mark_seen_at is None:
                self._mark_seen_at = now
        if sessions != self._sessions:
            self._sessions = sessions
            self._session_since = now
            if sessions > 1:  # the first session: nothing was lost yet
                service.tell(devices.Republish())
                self._mark_seen_at = None  # sent again in full already
        seen = self._mark_seen_at
        if seen is not None and sessions > 0 and now - seen >= MARK_SETTLE_S:
            self._mark_seen_at = None
            if self._mark_stands():
                self._log.warning("readings_marked_offline_while_here")
                service.tell(devices.Republish())
        self._look_at_hub()

    def _mark_stands(self) -> bool:
        """One of our readings is offline in the hub's tree as this board sees it."""
        return any(
            key.endswith(_STATUS_SUFFIX) and body == _OFFLINE_BODY
            for key, body in self._tree.items()
        )

    def _look_at_hub(self) -> None:
        """Now and then: is our name still ours, and does the hub take our keys?"""
        probe = self._probe
        if not probe.check.due(time.monotonic()):
            return
        answer = probe.ask()
        verdict = probe.check.answer(answer, time.monotonic(), self._session_since)
        if verdict is Verdict.TWIN:
            raise probe.twin()
        if verdict is Verdict.REFUSED:
            self._log.error("hub_refused_board", reason=answer.refused)


def _not_answered(body: Sequence[bytes]) -> tuple[bytes, bytes]:
    """The 500 for a request the device service did not answer in time (a rescan
    held up by parts that do not answer, a read the kernel holds)."""
    request = parse_request(body)
    action = request.action if isinstance(request, Request) else None
    structlog.get_logger(component="raspy-poller").warning(
        "device_request_timeout", action=action, timeout_s=_ASK_TIMEOUT_S
    )
    return refused(
        DEVICE_ERROR,
        action,
        "device_error",
        f"the device service did not answer within {_ASK_TIMEOUT_S:g} s; it may "
        "still carry the request out",
    )


def _serve(
    worker: Worker,
    service: pykka.ActorRef[Any],
    hub: _HubWatch,
    stop: SignalInbox,
    notifier: Notifier,
) -> int:
    """Answer requests until `stop`; 1 if the device service died. systemd's
    watchdog is pinged from here, while the device service lives: a loop stuck
    anywhere gets the board restarted."""
    every_s = notifier.watchdog_interval_s
    next_ping = 0.0
    while not stop.is_set():
        if not service.is_alive():
            return _fail("the device service failed (see the log)", EXIT_FAILURE)
        if every_s is not None and time.monotonic() >= next_ping:
            notifier.watchdog()
            next_ping = time.monotonic() + every_s
        hub.check()
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
                devices.HandleRequest(tuple(body)), timeout=_ASK_TIMEOUT_S
            )
        except pykka.ActorDeadError:
            continue  # the loop ends at its next turn
        except pykka.Timeout:
            # answered all the same: until a reply goes, the broker holds this
            # worker busy with the request and the hub's others wait for ever
            reply = _not_answered(body)
        assert isinstance(reply, tuple)  # (status, json), as HandleRequest answers
        worker.reply(client, [bytes(frame) for frame in reply])
    return 0


if __name__ == "__main__":
    sys.exit(main())
