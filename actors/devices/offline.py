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

Between that read and the write, the board may be retired (its keys deleted) or be
back (its first readings in): so each device's mark is a compare-and-set that the
Clone server decides on its own thread, against the sequence numbers read, and a
device written since is left as it is (counted and logged as skipped).

The same actor keeps each remote board's one status key (raspy.devices.board):
`online` when a worker of its service appears, `offline` in the turn that marks its
readings, through the same compare-and-set (durable), and only when the tree holds
something else.

Its keys are built from what others chose: a worker's service name, the device
names a board wrote. One past the Clone server's key limit would be refused there,
and, inside a group, the rest of the group written without it; so each write is
checked first, and one with such a key is logged, counted and left out whole.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final

import pykka
import structlog

from raspy.actors import messages as msgs
from raspy.clock import Clock
from raspy.cores.clone import Guarded
from raspy.devices import board, offline
from raspy.devices.reading import DEVICE_TREE
from raspy.protocol import clone
from raspy.stats import Stats
from raspy.ticker import DeadlineTicker

log = structlog.get_logger(component="devices")

_ASK_TIMEOUT_S: Final = 5.0
OFFLINE_RETRY_S: Final = 10.0  # a mark the Clone server did not take: again after
# a board's status write the Clone server skipped (the key changed since it was
# read): read and decided again after
STATUS_RECHECK_S: Final = 1.0
# what a write through the Clone server raises when it did not answer
_NOT_WRITTEN: Final = (pykka.ActorDeadError, pykka.Timeout, TimeoutError, RuntimeError)

ReadRecords = Callable[[str], Iterable[tuple[str, int, bytes]]]
"""The tree under a prefix with each key's sequence number, (key, seq, body):
raspy.actors.clone.server.read_records in raspyd."""

SetIfUnchanged = Callable[[Sequence[Guarded]], list[int]]
"""Compare-and-set groups on the Clone server; the indexes of those skipped:
raspy.actors.clone.server.set_if_unchanged in raspyd."""


class OfflineMarkerActor(pykka.ThreadingActor):
    """See the module docstring."""

    def __init__(
        self,
        watch: offline.OfflineWatch,
        read_records: ReadRecords,
        set_if_unchanged: SetIfUnchanged,
        edge: pykka.ActorRef[Any],
        *,
        clock: Clock,
        stats: Stats,
        max_key_bytes: int = clone.MAX_KEY_BYTES,
    ) -> None:
        """`max_key_bytes`: the Clone server's ([clone] max_key_bytes)."""
        super().__init__()
        self._watch = watch
        self._read = read_records
        self._write = set_if_unchanged
        self._edge = edge
        self._clock = clock
        self._stats = stats
        self._max_key_bytes = max_key_bytes
        self._online = board.OnlineWrites()
        self._written: dict[str, board.BoardStatus] = {}  # service -> what we wrote
        self._ticker = DeadlineTicker(self.actor_ref, clock, name="raspy-offline")

    def on_start(self) -> None:
        keys = (key for key, _, _ in self._read(DEVICE_TREE))
        services = offline.services_in(keys)
        # a board whose key says online but whose devices' keys are gone (or that
        # has none) is gone as well once its grace ends without a worker
        services |= board.online_services_in(self._read(board.BOARD_TREE))
        self._watch.found(services, self._clock.monotonic())
        # after the tree: the services live now are told at once and cancel the wait
        self._edge.ask(msgs.WatchServices(self.actor_ref), timeout=_ASK_TIMEOUT_S)
        self._ticker.start()
        self._ticker.set(self._next_deadline())

    def on_stop(self) -> None:
        self._end()

    def on_failure(self, *_: object) -> None:
        self._end()

    def _end(self) -> None:
        self._ticker.stop()
        with contextlib.suppress(pykka.ActorDeadError):
            self._edge.tell(msgs.UnwatchServices(self.actor_ref))

    def _next_deadline(self) -> float | None:
        deadlines = [self._watch.next_deadline(), self._online.next_deadline()]
        return min((at for at in deadlines if at is not None), default=None)

    def on_receive(self, message: Any) -> Any:
        now = self._clock.monotonic()
        match message:
            case msgs.ServiceAvailabilityChanged(service=name, available=up):
                service = name.decode("utf-8", "replace")
                self._watch.availability(service, up, now)
                if self._watch.watched(service):
                    if up:
                        self._online.appeared(service, now)
                    else:
                        self._online.gone(service)
            case msgs.Tick():
                for service in self._watch.due(now):
                    self._mark(service)
            case _:
                log.warning("unexpected_message", kind=type(message).__name__)
        for service in self._online.due(now):
            self._announce(service)
        self._ticker.set(self._next_deadline())
        return None

    def _mark(self, service: str) -> None:
        records = self._read(offline.subtree_of(service))
        key = board.board_key(service)
        status_records = self._key(key)
        marks = offline.offline_marks(records, self._clock.wall())
        skipped: set[int] = set()
        if not marks:  # retired within the grace, or all offline already
            log.info("device_service_offline_nothing_to_mark", service=service)
        else:
            marks = [mark for mark in marks if self._fits(service, mark.entries)]
        if marks:
            try:
                skipped = self._write_marks(service, marks)
            except _NOT_WRITTEN as exc:
                # the Clone server is gone (the supervisor starts the device parts
                # again with it) or stuck for a moment: tried again a little later
                log.error(
                    "device_service_not_marked", service=service, reason=repr(exc)
                )
                self._watch.retry(service, self._clock.monotonic() + OFFLINE_RETRY_S)
                return
        stands = board.offline_stands(
            board_known=bool(status_records),
            devices_found=bool(records),
            marks=len(marks),
            skipped=len(skipped),
        )
        if not stands:
            return
        write = board.status_write(
            service,
            board.BoardStatus.OFFLINE,
            status_records,
            self._written.get(service),
        )
        again_in = None if write is None else self._set_status(write)
        if again_in is not None:
            self._watch.retry(service, self._clock.monotonic() + again_in)

    def _write_marks(self, service: str, marks: list[offline.OfflineMark]) -> set[int]:
        """Each device's mark as a compare-and-set; the indexes of those skipped."""
        groups = [
            Guarded(
                tuple((key.encode("utf-8"), seq) for key, seq in mark.expect),
                tuple(
                    (key.encode("utf-8"), body) for key, body in mark.entries.items()
                ),
            )
            for mark in marks
        ]
        skipped = set(self._write(groups))
        marked = [m.fullname for i, m in enumerate(marks) if i not in skipped]
        changed = [m.fullname for i, m in enumerate(marks) if i in skipped]
        if marked:
            self._stats.incr("devices.offline.marked", len(marked))
            log.warning(
                "device_service_offline",
                service=service,
                after_s=self._watch.grace_s,
                devices=marked,
                skipped=len(changed),
            )
        if changed:
            # retired (its keys deleted) or back (fresh readings) since the read
            self._stats.incr("devices.offline.skipped", len(changed))
            log.info(
                "device_offline_mark_skipped",
                service=service,
                count=len(changed),
                devices=changed,
            )
        return skipped

    def _announce(self, service: str) -> None:
        """A worker of `service` appeared: its status key says `online`, written
        only if the tree holds something else."""
        write = board.status_write(
            service,
            board.BoardStatus.ONLINE,
            self._key(board.board_key(service)),
            self._written.get(service),
        )
        if write is None:
            return
        again_in = self._set_status(write)
        if again_in is not None:
            self._online.retry(service, self._clock.monotonic() + again_in)

    def _key(self, key: str) -> list[tuple[str, int, bytes]]:
        """The record of one key, if it is in the tree (a read of it as a prefix
        may bring longer keys too)."""
        return [record for record in self._read(key) if record[0] == key]

    def _set_status(self, write: board.StatusWrite) -> float | None:
        """A board's status key written as a compare-and-set, as the device marks
        are (durable: a restart keeps `offline`). None once written; else in how many
        seconds to decide again: the Clone server did not answer, or the key changed
        since the read (a write of ours not yet published when it was read, or the
        key deleted by hand: the next read tells)."""
        if not self._fits(write.service, [write.key]):
            return None  # a service name that long never gets a key: not again
        key = write.key.encode("utf-8")
        status = write.status.value
        group = Guarded(((key, write.expect),), ((key, write.status.body),))
        try:
            skipped = self._write([group])
        except _NOT_WRITTEN as exc:
            log.error(
                "board_status_not_written",
                service=write.service,
                status=status,
                reason=repr(exc),
            )
            return OFFLINE_RETRY_S
        if skipped:
            self._stats.incr("devices.offline.board_status_skipped")
            log.info("board_status_skipped", service=write.service, status=status)
            return STATUS_RECHECK_S
        self._written[write.service] = write.status
        self._stats.incr(f"devices.offline.board_{status}")
        log.info("board_status", service=write.service, status=status)
        return None

    def _fits(self, service: str, keys: Iterable[str]) -> bool:
        """Whether every key of one write is within the Clone server's limit; if
        not, the longest is logged (its first 64 bytes) and counted, and the caller
        writes nothing of it."""
        sizes = {key: len(key.encode("utf-8")) for key in keys}
        longest = max(sizes, key=sizes.__getitem__, default=None)
        if longest is None or sizes[longest] <= self._max_key_bytes:
            return True
        self._stats.incr("devices.offline.keys_too_long")
        log.warning(
            "clone_key_too_long",
            service=service.encode("utf-8")[:64].decode("utf-8", "ignore"),
            key=longest.encode("utf-8")[:64].decode("utf-8", "ignore"),
            bytes=sizes[longest],
            limit_bytes=self._max_key_bytes,
        )
        return False
