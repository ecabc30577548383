"""BrokerDepartures: the broker's workers that went away, under BrokerCore (`broker.py`).

A worker expired, sent DISCONNECT, was disconnected for a protocol error, could no
longer be reached (`peer_gone`), or belonged to an in-process actor that is gone
(`forget_local`): it is forgotten, and its request is sent again to another worker
of its service, or dropped once the client has part of its reply or after
MAX_WORKERS_LOST workers lost with it (`broker.py`'s docstring, issue 3). A base class
of BrokerCore, over BrokerHandlers, so that no call goes through another object.
"""

from __future__ import annotations

from typing import Final

from raspy.cores.broker_handlers import BrokerHandlers
from raspy.cores.broker_output import (
    BrokerOutput,
    Send,
    ServiceAvailability,
    WorkerRemoved,
)
from raspy.cores.broker_state import Service, Worker
from raspy.protocol import mdp

# A request whose worker went away this many times is dropped, not sent again: one
# that makes every worker crash would go round for as long as they are restarted.
MAX_WORKERS_LOST: Final = 3


def _busy(worker: Worker) -> bool:
    return worker.request is not None


class BrokerDepartures(BrokerHandlers):
    """peer_gone, forget_local, and the removal every input shares (`_forget`);
    BrokerCore sends a request put back in its queue on (`_dispatch`)."""

    def peer_gone(self, peer: bytes, now: float) -> list[BrokerOutput]:
        """The ROUTER could not send to `peer` (EHOSTUNREACH): its connection is gone,
        e.g. a board that rebooted without DISCONNECT. A worker is forgotten at once
        (`unreachable`) and its request goes to another worker or waits for one, not
        held until its busy timeout and carried out long after its client gave up; a
        request whose own REQUEST was what failed never reached it, so that loss is
        not counted against it (MAX_WORKERS_LOST). Any other peer (a client that
        left) changes nothing."""
        out = self._out = []
        worker = self._workers.get(peer)
        if worker is not None:
            self._counts["unreachable_workers"] += 1
            # nothing was sent to it since the REQUEST: that send is the one that failed
            delivered = worker.last_sent_at != worker.busy_since
            self._forget(worker, "unreachable", now, delivered=delivered)
        return out

    def forget_local(self, owner: bytes, reason: str, now: float) -> list[BrokerOutput]:
        """The in-process actor attached as `owner` is gone (it died without a word,
        or detached): forget its workers, `owner` and every `owner/…`, and send their
        requests again or queue them, as for any worker lost. In-process workers are
        never expired: nothing else would ever free them."""
        out = self._out = []
        # idle ones first: a request sent again must not go to one of them
        for worker in sorted(self._local_workers(owner), key=_busy):
            self._forget(worker, reason, now)
        return out

    def _dispatch(self, service: Service, now: float) -> None:
        """BrokerCore's (§2.5.2): the oldest request to the worker idle longest."""
        raise NotImplementedError

    def _disconnect(self, worker: Worker, reason: str, now: float) -> None:
        """Send DISCONNECT in the worker's own dialect, then forget it."""
        self._out.append(Send(worker.id, mdp.disconnect_frames(worker.version)))
        self._forget(worker, reason, now)

    def _forget(
        self, worker: Worker, reason: str, now: float, *, delivered: bool = True
    ) -> None:
        """Remove `worker`; its request, if `delivered` to it, counts one worker lost."""
        del self._workers[worker.id]
        if not worker.local:
            self._external_workers -= 1
        service = worker.service
        pending = worker.request
        if pending is None:
            service.idle.remove(worker)
        service.live -= 1
        self._out.append(WorkerRemoved(service.name, worker.id, reason))
        if service.live == 0:
            self._out.append(ServiceAvailability(service.name, False))
        if pending is not None and not pending.failed:
            pending.lost += int(delivered)
            if pending.streamed:  # §3.7: the client has part of this attempt's reply
                self._drop(service, pending, "partial_lost")
            elif pending.lost >= MAX_WORKERS_LOST:  # it may be what ends them
                self._drop(service, pending, "workers_lost")
            else:  # issue 3: send it again to another worker of the service
                self._counts["redispatched"] += 1
                pending.restart()
                self._push(service, pending, requeue=True)
                self._at(service.expires_at(pending, self._ttl_s))
                self._dispatch(service, now)
        self._tidy(service)
