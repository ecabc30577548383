"""Marks the readings of remote device services offline once they are gone for good.

raspy-poller on another board publishes its readings into this hub's tree; if it is
killed, powered off or cut off, they would stay "ok" for ever and scenarios, the web
face and MQTT would act on a dead sensor. This actor watches the broker's service
availability (WatchServices) and, `[devices] offline_after_s` after a remote
`*.devices` service lost its last worker, writes every device of that service found
in the tree as `offline` (raspy.devices.offline decides what and when). A poller
that comes back sends its readings again and heals them. At start the services
with readings in the tree but no worker are waited for too (a board that died while
the hub was down). It reads the tree only then and once per outage: no polling.
"""

from __future__ import annotations

import contextlib
from typing import Any, Final

import pykka
import structlog

from raspy.actors import messages as msgs
from raspy.clock import Clock
from raspy.devices import offline
from raspy.devices.reading import DEVICE_TREE
from raspy.devices.tree import Publisher, ReadTree
from raspy.stats import Stats
from raspy.ticker import DeadlineTicker

log = structlog.get_logger(component="devices")

_ASK_TIMEOUT_S: Final = 5.0


class OfflineMarkerActor(pykka.ThreadingActor):
    """See the module docstring."""

    def __init__(
        self,
        watch: offline.OfflineWatch,
        publisher: Publisher,
        read_tree: ReadTree,
        edge: pykka.ActorRef[Any],
        *,
        clock: Clock,
        stats: Stats,
    ) -> None:
        super().__init__()
        self._watch = watch
        self._publisher = publisher
        self._read_tree = read_tree
        self._edge = edge
        self._clock = clock
        self._stats = stats
        self._ticker = DeadlineTicker(self.actor_ref, clock, name="raspy-offline")

    def on_start(self) -> None:
        keys = (key for key, _ in self._read_tree(DEVICE_TREE))
        self._watch.found(offline.services_in(keys), self._clock.monotonic())
        # after the tree: the services live now are told at once and cancel the wait
        self._edge.ask(msgs.WatchServices(self.actor_ref), timeout=_ASK_TIMEOUT_S)
        self._ticker.start()
        self._ticker.set(self._watch.next_deadline())

    def on_stop(self) -> None:
        self._end()

    def on_failure(self, *_: object) -> None:
        self._end()

    def _end(self) -> None:
        self._ticker.stop()
        with contextlib.suppress(pykka.ActorDeadError):
            self._edge.tell(msgs.UnwatchServices(self.actor_ref))

    def on_receive(self, message: Any) -> Any:
        now = self._clock.monotonic()
        match message:
            case msgs.ServiceAvailabilityChanged(service=name, available=up):
                self._watch.availability(name.decode("utf-8", "replace"), up, now)
            case msgs.Tick():
                for service in self._watch.due(now):
                    self._mark(service)
            case _:
                log.warning("unexpected_message", kind=type(message).__name__)
        self._ticker.set(self._watch.next_deadline())
        return None

    def _mark(self, service: str) -> None:
        tree = self._read_tree(offline.subtree_of(service))
        marked, entries = offline.offline_entries(tree, self._clock.wall())
        if not marked:
            return
        refused = self._publisher.set_many(
            [(key.encode("utf-8"), body) for key, body in entries.items()]
        )
        self._stats.incr("devices.offline_marked", len(marked))
        log.warning(
            "device_service_offline",
            service=service,
            after_s=self._watch.grace_s,
            devices=marked,
            refused=len(refused),
        )
