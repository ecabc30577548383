"""The statistics actor: answers `<host>.<svc>.statistics` and `<host>.<svc>.mmi` for
every supervised part, and publishes the values under `/stats/` once per interval.

One actor owns all these in-process workers (peer ids `statistics/<svc>.<kind>`); it
follows the supervisor's snapshot when told that its parts changed (PartsChanged), so
parts started later (a SIGHUP that enables devices) get their services too, and at
each publication; an idle hub does not wake it in between. A publication is one
batch, of the values that differ from what the tree holds: one store write per
interval, not one per change, and none to the SD card: `/stats/` lives in the Clone
server's memory only (raspy.cores.clone_durability.is_volatile), so after a start
the first publication writes every value again. The keys of a part that is no
longer there (a section turned off, then a SIGHUP) are deleted once it is missing at
two publications in a row: the tree would otherwise say `running` for it until the
next restart.

What the tree holds is this actor's own view of `/stats/<host>/`, seeded where its
subscription to the Clone server begins (subscribe_seeded) and kept by the
KeyChanged that follow: a key a user deleted is put back, not taken for still
published, and a publication asks the Clone server nothing. Reading the tree at
each publication was a blocking round trip to the Clone I/O thread a period, and a
publication skipped whenever the server did not answer. The view is taken again
from a new server (the supervisor restarted it: the old one's subscription and
`/stats/` went with it); a subscription that fails is said and tried again at the
next publication, which waits for it. Its seed is the only store read (a read
transaction, once a subscription), never one a publication. A write of its own not
yet told back when the next publication comes is sent again: harmless.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, Final

import pykka
import structlog

from raspy import service_stats
from raspy.actors import messages as msgs
from raspy.actors.clone.publisher import ClonePublisher
from raspy.actors.clone.server import subscribe_seeded
from raspy.actors.worker import LocalWorker, ServiceWorkerActor, local_peer_id
from raspy.clock import Clock
from raspy.cores.supervision import PartStatus
from raspy.errors import StoreError
from raspy.protocol import clone
from raspy.ticker import DeadlineTicker
from raspy.transport.outbox import Outbox

log = structlog.get_logger(component="statistics")

_PEER: Final = "statistics"
_SYNC_INTERVAL_S: Final = 60.0  # without publications
_KINDS: Final = ("statistics", "mmi")


class StatisticsActor(pykka.ThreadingActor):
    """See the module docstring."""

    def __init__(  # the runtime's parts, passed in one by one
        self,
        edge: pykka.ActorRef[Any],
        outbox: Outbox,
        host: str,
        snapshot: Callable[[], service_stats.Snapshot],
        statuses: Callable[[], tuple[PartStatus, ...]],
        publish_outbox: Callable[[], Outbox | None],  # the Clone server's
        clock: Clock,
        publish_interval_s: float,
        clone_server: Callable[[], pykka.ActorRef[Any] | None],  # None: down
        max_key_bytes: int = clone.MAX_KEY_BYTES,  # [clone] max_key_bytes
    ) -> None:
        super().__init__()
        self._max_key_bytes = max_key_bytes
        self._clone_server = clone_server
        # the parts' keys under /stats/<host>/ as the tree holds them (the seed, then
        # each KeyChanged): what need not be written again, and the keys of parts
        # gone; None while not subscribed. `_followed`: the server it follows
        self._view: dict[bytes, bytes] | None = None
        self._followed: pykka.ActorRef[Any] | None = None
        self._unfollowed_said = False  # a failed subscription: said once until one
        self._edge = edge
        self._outbox = outbox
        self._host = host
        self._snapshot = snapshot  # every counter: an ask to the edge, so only on use
        self._statuses = statuses
        self._publish_outbox = publish_outbox
        self._clock = clock
        self._interval_s = publish_interval_s
        self._workers: dict[bytes, tuple[str, str, LocalWorker]] = {}
        self._publisher: ClonePublisher | None = None
        self._missing: frozenset[str] = frozenset()  # not there at the last one
        self._refused: set[bytes] = set()  # keys the publisher refused, said once
        self._next_publish = clock.monotonic() + publish_interval_s
        self._ticker = DeadlineTicker(self.actor_ref, clock, name="raspy-stats-tick")

    def on_start(self) -> None:
        self._edge.ask(
            msgs.AttachLocal(local_peer_id(_PEER), self.actor_ref), timeout=5
        )
        self._sync(self._statuses())
        self._ticker.start()
        self._ticker.set(self._next_deadline(self._clock.monotonic()))

    def on_stop(self) -> None:
        self._release()

    def on_failure(
        self,
        exception_type: type[BaseException] | None,
        exception_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """A told message that raised: pykka calls no on_stop then, and the ticker
        thread, the workers and the subscription were left behind at each crash (a
        `raspy-stats-tick` thread more each time). The supervisor restarts it."""
        log.error(
            "statistics_failed",
            exc_info=(exception_type, exception_value, traceback),
        )
        self._release()

    def _release(self) -> None:
        self._ticker.stop()
        for _part, _kind, worker in self._workers.values():
            worker.disconnect()
        self._unfollow()

    def on_receive(self, message: Any) -> Any:
        match message:
            case msgs.MdpFrames(frames=frames, peer_id=peer_id):
                self._on_frames(peer_id, frames)
            case msgs.KeyChanged(key=key, body=body):
                self._on_key(key, body)
            case msgs.Tick():
                self._on_tick()
            case msgs.Settle() | msgs.PartsChanged():  # every part's services now
                self._sync(self._statuses())
            case _:
                log.warning("unexpected_message", kind=type(message).__name__)
        return None

    def _on_tick(self) -> None:
        now = self._clock.monotonic()
        self._sync(self._statuses())
        if self._interval_s > 0 and now >= self._next_publish:
            self._next_publish = now + self._interval_s
            self._publish(self._snapshot())
        self._ticker.set(self._next_deadline(now))

    def _next_deadline(self, now: float) -> float:
        """The next publication; without any, a look at the parts now and then (a
        PartsChanged that could not be told, at the supervisor's first rounds)."""
        if self._interval_s > 0:
            return self._next_publish
        return now + _SYNC_INTERVAL_S

    def _sync(self, statuses: tuple[PartStatus, ...]) -> None:
        """A worker pair for every part; none for parts gone."""
        wanted = {status.name for status in statuses}
        for peer, (part, _kind, worker) in list(self._workers.items()):
            if part not in wanted:
                worker.disconnect()
                del self._workers[peer]
        known = {part for part, _kind, _worker in self._workers.values()}
        for part in sorted(wanted - known):
            for kind in _KINDS:
                peer = local_peer_id(_PEER, f"{part}.{kind}")
                service = f"{self._host}.{part}.{kind}".encode()
                worker = LocalWorker(self._outbox, peer, service)
                self._workers[peer] = (part, kind, worker)
                worker.ready()

    def _on_frames(self, peer_id: bytes, frames: Sequence[bytes]) -> None:
        entry = self._workers.get(peer_id)
        if entry is None:
            return
        part, kind, worker = entry
        rejected = worker.serve(frames, lambda body: self._answer(part, kind, body))
        if rejected is not None:
            log.warning(
                "frame_rejected", reason=rejected.reason, detail=rejected.detail
            )

    def _answer(self, part: str, kind: str, body: list[bytes]) -> list[bytes]:
        if kind == "mmi":
            status = next((s for s in self._statuses() if s.name == part), None)
            return service_stats.mmi_reply(status, body)
        values = service_stats.service_values(self._snapshot(), part)
        return service_stats.statistics_reply(values, body)

    def _publish(self, snapshot: service_stats.Snapshot) -> None:
        publisher = self._current_publisher()
        if publisher is None:
            return
        values = {
            status.name: service_stats.service_values(snapshot, status.name)
            for status in snapshot.statuses
        }
        # what the tree holds, not what was sent: a key a user deleted (or set)
        # is put right, and a reason deleted by its empty value is sent again
        published = self._followed_view()
        if published is None:  # not subscribed (said why): the next one
            return
        changed = [
            (key, body)
            for key, body in service_stats.tree_entries(self._host, values)
            if published.get(key, b"") != body
        ]
        gone, self._missing = service_stats.keys_gone(
            self._host, published, values.keys(), self._missing
        )
        changed.extend((key, b"") for key in gone)  # an empty body deletes
        if not changed:
            return
        refused = publisher.set_many(changed)  # one batch: one store write
        for key, reason in refused:  # tried at each publication, said once
            if key not in self._refused:
                self._refused.add(key)  # bounded: the parts' keys
                log.warning("stats_key_refused", key=key.decode(), reason=reason)

    def _current_publisher(self) -> ClonePublisher | None:
        endpoint = self._publish_outbox()
        if self._publisher is not None and self._publisher.outbox is not endpoint:
            self._publisher = None  # a new Clone server
        if self._publisher is None and endpoint is not None:
            self._publisher = ClonePublisher(endpoint, self._max_key_bytes)
        return self._publisher

    def _on_key(self, key: bytes, body: bytes) -> None:
        """A change under /stats/<host>/, a user's or this actor's own coming back."""
        view = self._view
        if view is None or service_stats.part_of_key(self._host, key) is None:
            return  # not followed (a server's before it stopped), or no part's
        if body:
            view[key] = body
        else:  # an empty body: deleted
            view.pop(key, None)

    def _followed_view(self) -> dict[bytes, bytes] | None:
        """The view of the server running now, subscribed to first if need be (a
        new server: the last one's went with it); None without one."""
        server = self._clone_server()
        if self._followed is not None and self._followed is not server:
            self._unfollow()  # replaced: one still alive tells no more changes
        if self._view is None and server is not None:
            self._follow(server)
        return self._view

    def _follow(self, server: pykka.ActorRef[Any]) -> None:
        """Subscribe to /stats/<host>/ and seed the view; a failure is said (once
        until a subscription is made) and left to the next publication."""
        try:
            seed = subscribe_seeded(server, f"/stats/{self._host}/", self.actor_ref)
        except (pykka.ActorDeadError, pykka.Timeout, StoreError) as exc:
            if not self._unfollowed_said:
                self._unfollowed_said = True
                log.warning("stats_subscribe_failed", reason=repr(exc))
            return
        self._unfollowed_said = False
        self._followed = server
        self._view = {}
        for key, body in seed:
            self._on_key(key.encode("utf-8"), body)

    def _unfollow(self) -> None:
        """Unsubscribe without waiting: a server gone forgets a dead subscriber."""
        server, self._followed, self._view = self._followed, None, None
        if server is not None:
            with contextlib.suppress(pykka.ActorDeadError):
                server.tell(msgs.CloneUnsubscribe(self.actor_ref))


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
