"""Device services in raspyd: one DeviceServiceActor per device-owning service.

Each actor owns its Registry (raspy.devices.registry: one owner thread), answers
`<hostname>.<service>.devices` (raspy.devices.service.handle) as an in-process MDP
worker or, in raspy-poller, through HandleRequest asks, records what its
DevicePollerActor reads and publishes it under `/device/<fullname>/` in the Clone tree
(raspy.devices.service_readings). What a request's reply carries out is its base
class DeviceRequests (`requests.py`); what it takes on at start, the devices
discovery finds and the outputs' values from the first copy of the tree, is that
one's base class DeviceStartup (`startup.py`).
It never reads a device itself: reads block, and run on the poller's reader thread.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any, Final

import pykka
import structlog

from raspy.actors import messages as msgs
from raspy.actors import poller as poller_mod
from raspy.actors.devices.requests import DeviceRequests
from raspy.actors.steady import AskNotingInbox
from raspy.actors.worker import LocalWorker, attach, local_peer_id
from raspy.clock import Clock
from raspy.devices.registries import Discover
from raspy.devices.registry import Registry
from raspy.devices.service_readings import ServiceReadings
from raspy.devices.tree import DevicePublisher, ReadTree, TreeWriter
from raspy.ratelimit import LogRateLimiter
from raspy.records import frozen
from raspy.stats import Stats
from raspy.storage.device_settings import DeviceSettings, Saved, ServiceSettings
from raspy.transport.outbox import Outbox

log = structlog.get_logger(component="devices")

_STOP_TIMEOUT_S: Final = 8.0  # the poller may be inside a 1-Wire read


@frozen
class MdpLink:
    """The edge and outbox an in-process device service registers through."""

    edge: pykka.ActorRef[Any]
    outbox: Outbox


@frozen
class HandleRequest:
    """Answer one request body (ask): the reply frames `(status, json)`."""

    body: tuple[bytes, ...]


@frozen
class ForgetGone:
    """raspy-poller: the hub's copy of this service's subtree, once its Clone client
    has the snapshot; the readings of devices no longer here are deleted, as the
    in-hub service does at start with `stored`, and at the first copy simulated
    outputs take the value the hub kept for them (`resume_outputs`). Asked, so
    that the board sends nothing before (raspy.cli.hub_watch)."""

    tree: Mapping[str, bytes]


@frozen
class Republish:
    """raspy-poller: back with the hub after a loss; send every current reading in
    full, since the hub may have marked them offline meanwhile."""


class DeviceServiceActor(DeviceRequests):
    """One device-owning service (`fake`, `onewire`): register, MDP worker, poller."""

    # notes whether the message in hand was asked: a told one that raises ends the
    # actor, and what it leaves is settled first (on_receive)
    _create_actor_inbox = staticmethod(AskNotingInbox)

    def __init__(
        self,
        registry: Registry,
        publisher: DevicePublisher,
        *,
        clock: Clock,
        stats: Stats,
        link: MdpLink | None = None,
        discover: Discover | None = None,
        settings: DeviceSettings | None = None,
        stored: ReadTree | None = None,
        resume_outputs: bool = False,
        read_stall_s: float = poller_mod.STALL_AFTER_S,
    ) -> None:
        super().__init__()
        self._read_stall_s = read_stall_s
        # simulated outputs take their value again from the first copy of the tree:
        # `stored` at start, or (raspy-poller: none) the hub's, with ForgetGone
        self._resume_outputs = resume_outputs
        self._tree_at_start = stored is not None
        # devices a request changed before that copy came (raspy-poller): newer
        # than the hub's value of them, so not resumed
        self._commanded: set[str] = set()
        self._registry = registry
        # the config file's values, under what was changed over MDP (reset: back)
        self._settings = ServiceSettings(registry, settings)
        self._publisher = publisher
        self._tree = TreeWriter(publisher, stats, registry.service)
        # the stored tree at start (raspy-poller: none), a poll's readings recorded
        self._readings = ServiceReadings(registry, self._tree, publisher, stats, stored)
        self._clock = clock
        self._stats = stats
        self._link = link
        self._discover = discover
        self._name = registry.service
        self._worker: LocalWorker | None = None
        if link is not None:
            self._worker = LocalWorker(
                link.outbox,
                local_peer_id(registry.devices_service),
                registry.devices_service.encode("utf-8"),
            )
        self._poller: pykka.ActorRef[Any] | None = None
        self._limiter = LogRateLimiter()

    # --- lifecycle --------------------------------------------------------------------
    def on_start(self) -> None:
        try:
            saved = self._settings.load()  # the device table, read once
            self._rescan(saved)  # a stored friendly name is not a found sensor's
            stored = self._readings.stored()
            self._readings.forget_gone(stored)
            if self._discover is None:  # a 1-Wire sensor off the bus keeps its own
                self._settings.forget_removed(saved)
            self._settings.apply_saved(saved)
            if self._tree_at_start:
                self._resume(stored)
            self._started(stored, saved)
            self._poller = poller_mod.DevicePollerActor.start(
                self._name,
                self.actor_ref,
                self._polled_devices(),
                clock=self._clock,
                stats=self._stats,
                stall_after_s=self._read_stall_s,
            )
            if self._link is not None and self._worker is not None:
                attach(self._link.edge, self._worker, self.actor_ref)
        except BaseException:
            self._release()  # on_stop/on_failure are not called for a failed start
            raise
        log.info(
            "device_service_started",
            service=self._registry.devices_service,
            count=len(self._registry.names()),
        )

    def on_stop(self) -> None:
        if self._worker is not None:
            self._worker.disconnect()
        self._release()

    # --- hooks for services with hardware of their own (actors/gpio.py) --------------
    def _started(self, stored: Mapping[str, bytes], saved: Saved) -> None:
        """After saved settings are applied, before polling starts; `stored` is this
        service's keys as the tree had them at start, `saved` what the store's
        device table has for them (the outputs' states)."""

    def _stopping(self) -> None:
        """At a stop or a failure, after polling ended (release hardware here)."""

    def _on_other(self, message: Any) -> bool:
        """A message of the subclass's own; False if not one."""
        return False

    def on_failure(
        self,
        exception_type: type[BaseException] | None,
        exception_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Logged with its cause; the supervisor restarts the service from its config."""
        log.error(
            "device_service_failed",
            service=self._registry.devices_service,
            exc_info=(exception_type, exception_value, traceback),
        )
        self._release()

    def _release(self) -> None:
        """The poller stopped, then the hook; again is nothing (a failure that ends
        the actor released first in on_receive, and on_failure releases again)."""
        self._release_poller()
        self._stopping()

    def _release_poller(self) -> None:
        if self._poller is not None:
            try:
                self._poller.stop(block=True, timeout=_STOP_TIMEOUT_S)
            except (pykka.ActorDeadError, pykka.Timeout):
                log.warning("device_poller_stop_timed_out", service=self._name)
            self._poller = None

    # --- messages ---------------------------------------------------------------------
    def on_receive(self, message: Any) -> Any:
        """What a message ends the service with is settled before it raises (a gpio
        service's outputs kept for its restart, or at their on_stop if raspyd
        stops): pykka shows the actor stopped before on_failure runs, and a stop or
        the supervisor seeing it gone released the outputs kept so far while this
        one kept its own after them, a heater left on. An asked message's error goes
        to the asker, and the service runs on."""
        try:
            return self._receive(message)
        except BaseException as exc:
            if not isinstance(exc, Exception) or not self._asked():
                self._release()
            raise

    def _asked(self) -> bool:
        """Whether the message in hand was asked; True when the inbox cannot tell
        (then a failure is settled by on_failure, as in plain pykka)."""
        inbox = self.actor_inbox
        return not isinstance(inbox, AskNotingInbox) or inbox.asked

    def _receive(self, message: Any) -> Any:
        match message:
            case poller_mod.DevicesRead(readings=readings):
                self._readings.polled(readings)
            case msgs.MdpFrames(frames=frames):
                self._on_mdp(frames)
            case HandleRequest(body=body):
                return self._handle(body)
            case ForgetGone(tree=tree):
                self._readings.forget_gone(tree)
                self._resume(tree)  # the first copy only
            case Republish():
                self._readings.republish()
            case poller_mod.PollerFailed(bus=bus, error=error):
                raise RuntimeError(f"device poller of {bus} failed") from error
            case _ if self._on_other(message):
                pass
            case _:
                log.warning("unexpected_message", kind=type(message).__name__)
        return None

    def _on_mdp(self, frames: tuple[bytes, ...]) -> None:
        assert self._worker is not None
        exc = self._worker.serve(frames, self._handle)
        if exc is not None:
            self._stats.incr(f"devices.{self._name}.rejected.{exc.reason}")
            if self._limiter.should_log(exc.reason, self._clock.monotonic()):
                log.warning("frame_rejected", reason=exc.reason, detail=exc.detail)
