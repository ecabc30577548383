"""HistoryActor: records the values of logged devices and answers
`<host>.logger.history`.

It follows the daemon's own Clone updates in-process (subscribe_seeded on `/device/`,
no socket), keeps the values of devices whose `log` flag is true in the pure
Recorder, and writes the rows of one interval as ONE group-committed transaction
every `flush_interval_s` and at a clean stop: a kill -9 loses at most one interval.
Which devices are logged it learns from the device services themselves: every
LOG_REFRESH_S (and when one appears) it sends each `*.devices` service a `list`
request through the broker, in-process, so a flag changed at run time (the `log`
action, `config`, `reset`) is followed within seconds, sub-devices included.
The service's requests (queries, `forget`) are answered by its base class
HistoryQueries (`history_queries.py`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

import pykka
import structlog

from raspy.actors import messages as msgs
from raspy.actors.clone.server import subscribe_seeded
from raspy.actors.history_queries import HistoryQueries
from raspy.actors.runtime import CLONE
from raspy.actors.worker import (
    LocalClient,
    LocalReply,
    LocalWorker,
    PeerLinks,
    RejectedReply,
    attach,
    leave,
    local_peer_id,
)
from raspy.config import HistoryConfig
from raspy.devices.reading import (
    DEVICE_TREE,
    TIMESTAMP_FIELD,
    VALUE_FIELD,
    device_of_key,
)
from raspy.errors import StoreError
from raspy.history.intake import logged_devices, sample_value
from raspy.history.recorder import Bucket, Recorder, RowId
from raspy.history.tiers import Tier, parse_tiers
from raspy.names import DEVICES_SUFFIX
from raspy.storage.history_rows import bucket_of
from raspy.storage.store import Put
from raspy.storage.tables import (
    HISTORY_KEY_PREFIX,
    Table,
    encode_history_row,
    history_row_key,
    recorded_key_record,
)
from raspy.ticker import DeadlineTicker

if TYPE_CHECKING:
    from raspy.actors.supervisor import Runtime

log = structlog.get_logger(component="history")

CHILD_NAME: Final = "history"

LOG_REFRESH_S: Final = 5.0
_ASK_TIMEOUT_S: Final = 5.0
_DEVICES_SUFFIX: Final = DEVICES_SUFFIX.encode()
_LIST_BODY: Final = b'{"v": 1, "action": "list"}'


HistoryLinks = PeerLinks  # what the history actor talks to


class HistoryActor(HistoryQueries):
    """See the module docstring."""

    def __init__(
        self,
        host: str,
        config: HistoryConfig,
        links: HistoryLinks,
        started_wall: float | None = None,
    ) -> None:
        """`started_wall`: when raspyd started (wall clock; None: now), what tells a
        value of the seed read in this run from one of the run before."""
        super().__init__()
        self.links = links
        self._clone = links.tree()
        self.tiers: tuple[Tier, ...] = parse_tiers(config.tiers)
        self.flush_interval_s = config.flush_interval_s
        self.recorder = Recorder(self.tiers)
        self.recorded: set[str] = set()
        self._new_keys: set[str] = set()
        self._logged: dict[bytes, set[str]] = {}  # device service -> logged names
        # what a service logged when it went away: its return is no new log flag
        self._away: dict[bytes, set[str]] = {}
        self._services: set[bytes] = set()
        # a device's last `/value` as a sample (None: not a number, e.g. null when
        # its board is offline), the seed's first (a reading may have set it before
        # the subscription), and those whose reading it was: a reading that repeats
        # the value sets only `/timestamp`, and is a sample of it all the same
        self._last: dict[str, float | None] = {}
        self._fresh: set[str] = set()
        # the devices read in this run: a `/timestamp` since raspyd started, in the
        # seed (the tree loaded from the store holds the run before's) or after it
        self._read: set[str] = set()
        self._started_wall = (
            links.clock.wall() if started_wall is None else started_wall
        )
        # request -> the devices service asked; unanswered by the next round: forgotten
        self._client: LocalClient[bytes] = LocalClient(
            links.outbox,
            local_peer_id(f"history.{uuid.uuid4().hex[:8]}"),
            timeout_s=LOG_REFRESH_S,
        )
        self._worker = LocalWorker(
            links.outbox,
            local_peer_id(f"history.worker.{uuid.uuid4().hex[:8]}"),
            f"{host}.logger.history".encode(),
        )
        self._ticker = DeadlineTicker(self.actor_ref, links.clock, name="raspy-history")
        now = links.clock.monotonic()
        self._next_flush = now + self.flush_interval_s
        self._next_refresh = now

    # --- lifecycle ----------------------------------------------------------------
    def on_start(self) -> None:
        try:
            self._start_up()
        except BaseException:
            # pykka calls neither on_stop nor on_failure here: the subscription and
            # the worker made before the step that failed would be held for a gone
            # actor (the broker handed that worker the next request, and it was lost)
            self._leave()
            raise
        log.info("history_started", keys=len(self.recorded), tiers=len(self.tiers))

    def _start_up(self) -> None:
        store = self.links.store
        for key, _ in store.scan(Table.HISTORY, HISTORY_KEY_PREFIX):
            self.recorded.add(key[1:].decode("utf-8", "replace"))
        # the live tree, not the store: the store has the coalesced readings of an
        # interval ago (after a kill -9, the values of the run before), and a
        # device's first reading may have set `/value` before this subscription
        seed = subscribe_seeded(self._clone, DEVICE_TREE, self.actor_ref)
        for tree_key, body in seed:
            device = device_of_key(tree_key)
            if device is not None and device[1] == VALUE_FIELD:
                self._last[device[0]] = sample_value(body)
            elif device is not None and device[1] == TIMESTAMP_FIELD:
                stamp = sample_value(body)
                if stamp is not None and stamp >= self._started_wall:
                    self._read.add(device[0])
        self._client.attach(self.links.edge, self.actor_ref, _ASK_TIMEOUT_S)
        attach(self.links.edge, self._worker, self.actor_ref)
        self.links.edge.ask(msgs.WatchServices(self.actor_ref), timeout=_ASK_TIMEOUT_S)
        self._ticker.start()  # last: an ask above that fails leaves no thread behind
        self._set_deadline()

    def on_stop(self) -> None:
        self._flush(read_ahead=False)  # a clean stop loses nothing
        self._leave()
        log.info("history_stopped", keys=len(self.recorded))

    def _leave(self) -> None:
        """Stop the ticker, DISCONNECT the worker, leave the tree and the edge."""
        self._ticker.stop()
        self._worker.disconnect()
        leave(self.links, self.actor_ref, [self._worker.peer_id, self._client.owner])

    # --- messages -----------------------------------------------------------------
    def on_receive(self, message: Any) -> Any:
        try:
            return self._receive(message)
        except Exception:  # the recorder outlives any one message (style §4)
            self.links.stats.incr("history.errors")
            log.exception("history_message_failed", kind=type(message).__name__)
            return None

    def _receive(self, message: Any) -> Any:
        match message:
            case msgs.KeyChanged(key=key, body=body):
                self._on_key(key, body)
            case msgs.Tick():
                self._on_tick()
            case msgs.MdpFrames(frames=frames, peer_id=peer_id):
                if peer_id == self._worker.peer_id:
                    self._on_request(frames)
                else:
                    self._on_reply(peer_id, frames)
            case msgs.ServiceAvailabilityChanged(service=name, available=available):
                self._on_service(name, available)
            case _:
                log.warning("unexpected_message", kind=type(message).__name__)
        return None

    def _on_key(self, raw_key: bytes, body: bytes) -> None:
        key = raw_key.decode("utf-8", "replace")
        device = device_of_key(key)
        if device is None or device[1] not in (VALUE_FIELD, TIMESTAMP_FIELD):
            return
        fullname, field = device
        if not body:  # deleted (`raspy-kv del`): nothing to repeat
            self._fresh.discard(fullname)
            if field == VALUE_FIELD:  # known gone
                self._last[fullname] = None
            return
        # every device's last value is kept, logged or not: one logged later must
        # not repeat a value that has changed since
        self._read.add(fullname)
        if field == VALUE_FIELD:
            self._last[fullname] = sample_value(body)
            self._fresh.add(fullname)
        elif fullname in self._fresh:  # the reading's `/value` was the sample
            self._fresh.discard(fullname)
            return
        if not any(fullname in names for names in self._logged.values()):
            return
        value = self._last.get(fullname)
        if value is not None:
            self._sample(fullname, value)

    def _sample(self, fullname: str, value: float) -> None:
        value_key = f"{DEVICE_TREE}{fullname}/{VALUE_FIELD}"
        wall = self.links.clock.wall()
        dropped = self.recorder.record(value_key, wall, value, self._stored)
        # a key is recorded from its first sample a tier kept: one of skipped
        # numbers alone (1e300, a misread register) has nothing to answer (404)
        if value_key not in self.recorded and self.recorder.holds(value_key):
            self.recorded.add(value_key)
            self._new_keys.add(value_key)
        self.links.stats.incr("history.samples")
        if dropped:  # a counter of the shared stats: it goes on across restarts
            self.links.stats.incr("history.dropped", dropped)

    def _on_tick(self) -> None:
        now = self.links.clock.monotonic()
        self._client.expire(now)
        if now >= self._next_flush:
            self._next_flush = now + self.flush_interval_s
            self._flush()
        if now >= self._next_refresh:
            self._next_refresh = now + LOG_REFRESH_S
            for name in sorted(self._services):
                self._ask_devices(name)
        self._set_deadline()

    def _set_deadline(self) -> None:
        self._ticker.set(min(self._next_flush, self._next_refresh))

    # --- which devices are logged -----------------------------------------------------
    def _on_service(self, name: bytes, available: bool) -> None:
        if not name.endswith(_DEVICES_SUFFIX):
            return
        if available:
            self._services.add(name)
            self._ask_devices(name)
        else:
            self._services.discard(name)
            gone = self._logged.pop(name, None)
            if gone is not None:
                self._away[name] = gone
            self._gauge_logged()

    def _ask_devices(self, name: bytes) -> None:
        # one question a service at a time: an unanswered one is forgotten, so a
        # service that never answers cannot grow the table
        self._client.forget(lambda asked: asked == name)
        self._client.request(name, (_LIST_BODY,), name, self.links.clock.monotonic())

    def _on_reply(self, peer_id: bytes, frames: tuple[bytes, ...]) -> None:
        # an answer to a request of an earlier refresh round is dropped: the next comes
        match self._client.reply(peer_id, frames):
            case LocalReply(request_id=request_id, body=body):
                name = self._client.take(request_id)
                if name is not None:
                    self._on_device_list(name, body)
            case RejectedReply(request_id=request_id, error=error):
                name = self._client.take(request_id)
                if name is not None:
                    log.warning(
                        "frame_rejected", service=name.decode(), reason=error.reason
                    )

    def _on_device_list(self, name: bytes, body: tuple[bytes, ...]) -> None:
        logged = logged_devices(body)
        if logged is None:
            log.warning("device_list_refused", service=name.decode())
            return
        if self._logged.get(name) != logged:
            log.info("history_devices_logged", service=name.decode(), count=len(logged))
        # a device of a service that went away and is back was logged all along:
        # its last value, read before, is no new first point (stamped now)
        newly = logged.difference(*self._logged.values(), self._away.pop(name, ()))
        self._logged[name] = logged
        for fullname in sorted(newly):
            # its value now, if read in this run (the seed's too: at a start the
            # first readings come before the subscription): a device just set to
            # record (or seen before its service's first list) has a point at once,
            # not at its next reading, which for a slow poll may be an hour away
            value = self._last.get(fullname) if fullname in self._read else None
            if value is not None:
                self._sample(fullname, value)
        self._gauge_logged()

    def _gauge_logged(self) -> None:
        self.links.stats.gauge(
            "history.logged_devices", sum(len(names) for names in self._logged.values())
        )

    # --- storage ------------------------------------------------------------------------
    def _stored(self, rows: Sequence[RowId]) -> list[Bucket | None]:
        # ONE read txn for all: each writes its reader slot in lock.mdb (the card)
        with self.links.store.read_view() as view:
            found = [
                view.get(Table.HISTORY, history_row_key(r.step_s, r.slot, r.key))
                for r in rows
            ]
        return [None if data is None else bucket_of(data) for data in found]

    def _flush(self, *, read_ahead: bool = True) -> None:
        rows = self.recorder.take_pending()
        new_keys, self._new_keys = sorted(self._new_keys), set()
        if not rows and not new_keys:
            return
        ops = [Put(Table.HISTORY, *recorded_key_record(key)) for key in new_keys]
        for row, bucket in rows:
            value = encode_history_row(bucket)  # a Bucket is the stored row type
            ops.append(
                Put(
                    Table.HISTORY, history_row_key(row.step_s, row.slot, row.key), value
                )
            )
        try:
            self.links.store.commit(ops)
        except StoreError as exc:  # kept for the next interval, never dropped
            self.recorder.restore_pending(rows)
            self._new_keys.update(new_keys)
            self.links.stats.incr("history.flush_failed")
            log.error("history_flush_failed", reason=str(exc), count=len(rows))
            return
        self.links.stats.incr("history.flushes")
        log.debug("history_flushed", count=len(rows))
        if read_ahead:
            # now, while the commit's write of lock.mdb's reader page is still
            # to be written back: the step changes to come read nothing of their own
            self._read_ahead()

    def _read_ahead(self) -> None:
        try:
            self.recorder.read_ahead(self.links.clock.wall(), self._stored)
        except StoreError as exc:  # the step changes look their rows up themselves
            log.warning("history_read_ahead_failed", reason=str(exc))


def start_history(
    host: str, config: HistoryConfig, links: HistoryLinks, started_wall: float
) -> pykka.ActorRef[Any]:
    """Start the recorder (the supervisor's one call)."""
    return HistoryActor.start(host, config, links, started_wall)


def start_history_child(rt: Runtime) -> None:
    """Start the recorder after the Clone server (called again whenever that one is
    restarted: a new server means a new subscription, so a new recorder)."""

    def start(clone: pykka.ActorRef[Any]) -> pykka.ActorRef[Any]:
        # what a reading the recorder may take as new is after: since the Clone
        # server it follows began (raspyd's start, at first). Readings published
        # into it since (the devices read again when it is new) were seen by no
        # recorder; older ones in its seed, the run before's or a recorder's
        # before this one's, are not taken again as points stamped now
        status = rt.status_of(CLONE)
        began = rt.started_at if status is None else max(rt.started_at, status.since)
        since = rt.clock.wall() - (rt.clock.monotonic() - began)  # on the wall clock
        links = rt.peer_links(clone)
        return start_history(rt.hostname, rt.config.history, links, since)

    rt.follow_clone(CHILD_NAME, start, enabled=rt.config.history.enabled)
