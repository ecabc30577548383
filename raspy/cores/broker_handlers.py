"""BrokerHandlers: the broker's in-process handlers (Titanic), under BrokerCore.

Up to `capacity` requests for such a service at once go straight to its handler
(LocalRequest), one hop instead of a worker round trip; each answer hands it the
oldest queued request of its service (`broker.py`, "In-process handlers"). A base
class of BrokerCore, over BrokerBook, so that no call goes through another object.
"""

from __future__ import annotations

from raspy.cores.broker_book import BrokerBook
from raspy.cores.broker_output import BrokerOutput, LocalRequest
from raspy.protocol import mdp


class BrokerHandlers(BrokerBook):
    """handle_locally, stop_handling, local_answered: a handler's count of the requests
    it holds, and the queued ones handed to it as it has room."""

    def handle_locally(
        self, service: bytes, capacity: int, now: float
    ) -> list[BrokerOutput]:
        """Hand requests for `service` to its in-process handler, `capacity` at once;
        requests already queued for it go first. Resets the count handed."""
        out = self._out = []
        if capacity <= 0:
            raise ValueError(f"handler capacity must be at least 1, not {capacity}")
        self._handlers[service] = [capacity, 0]
        self._hand_queued(service, now)
        return out

    def stop_handling(self, service: bytes) -> None:
        """The handler of `service` is gone: its requests go to workers only."""
        self._handlers.pop(service, None)

    def local_answered(self, service: bytes, now: float) -> list[BrokerOutput]:
        """The handler answered one of the requests handed to it: the oldest queued
        request of its service, if any, takes the place."""
        out = self._out = []
        handler = self._handlers.get(service)
        if handler is not None and handler[1] > 0:
            handler[1] -= 1
            self._hand_queued(service, now)
        return out

    def _hand_queued(self, name: bytes, now: float) -> None:
        """Queued requests of `name` to its handler while it has room, oldest first."""
        service = self._services.get(name)
        if service is None or not service.queue:
            return
        handler = self._handlers[name]
        queue = service.queue
        while queue and handler[1] < handler[0]:
            pending = self._pop(service)
            if now >= service.expires_at(pending, self._ttl_s):
                self._drop_expired(service, pending, now)
                continue
            handler[1] += 1
            service.dispatched_at = now
            request = mdp.ClientRequest(pending.version, name, pending.body)
            self._out.append(LocalRequest(pending.client, request))
        self._tidy(service)
