"""A remote board's one status key, `/board/<host>.<svc>/status` (pure).

The hub marks each device of a remote devices service (raspy-poller on another
board) `offline` when the service has been without a worker for `[devices]
offline_after_s` (raspy.devices.offline). A household that wants one alert for the
whole board, not one a device, triggers on this key instead: `online` while the
service has a worker (written when one appears: first seen, or back), `offline`
written by the same decision that marks the readings (the same grace, no timer of
its own). It is written only when the tree holds something else (the SD card's
write budget), so a board online before and after a restart of raspyd is not
written again. Services the hub hosts itself get no key: they live and stop with
raspyd, and a key of theirs could only say `offline` at a clean stop.

Every write is a compare-and-set against the sequence number read, as the device
marks are, so a key deleted in the meantime (a board retired) stays deleted; one
the Clone server skipped is read again and decided again a moment later.
No clock and no I/O here: `now` (monotonic s) comes in.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from enum import StrEnum
from typing import Final

from raspy import json_text
from raspy.names import DEVICES_SUFFIX
from raspy.records import frozen

BOARD_TREE: Final = "/board/"  # a board's keys: /board/<host>.<svc>/<field>
STATUS_FIELD: Final = "status"


class BoardStatus(StrEnum):
    """What a board's status key says; its value is this text as JSON."""

    ONLINE = "online"  # its devices service has a worker at the hub's broker
    OFFLINE = "offline"  # it has had none for `[devices] offline_after_s`

    @property
    def body(self) -> bytes:
        return json.dumps(self.value).encode()


def board_key(service: str) -> str:
    """`/board/<host>.<svc>/status` of the devices service `<host>.<svc>.devices`."""
    return f"{BOARD_TREE}{service.removesuffix(DEVICES_SUFFIX)}/{STATUS_FIELD}"


def service_of_board_key(key: str) -> str | None:
    """The devices service whose status key `key` is; None for any other key."""
    if not key.startswith(BOARD_TREE):
        return None
    board, slash, field = key[len(BOARD_TREE) :].partition("/")
    if not slash or field != STATUS_FIELD or not board:
        return None
    return f"{board}{DEVICES_SUFFIX}"


def status_of(body: bytes) -> BoardStatus | None:
    """The status a key's value says; None for anything else (absent, deleted,
    or a value written by hand that is neither)."""
    try:
        value = json_text.loads(body) if body else None
    except ValueError:
        return None
    if value in (BoardStatus.ONLINE.value, BoardStatus.OFFLINE.value):
        return BoardStatus(value)
    return None


def online_services_in(records: Iterable[tuple[str, int, bytes]]) -> set[str]:
    """The devices services whose status key among `records` (key, seq, body) says
    `online`: at start, boards to wait for even without a device key in the tree."""
    found: set[str] = set()
    for key, _, body in records:
        service = service_of_board_key(key)
        if service is not None and status_of(body) is BoardStatus.ONLINE:
            found.add(service)
    return found


@frozen
class StatusWrite:
    """`key` set to `status`, only while it is still at sequence number `expect`
    (0: absent or deleted)."""

    service: str
    key: str
    expect: int
    status: BoardStatus


def status_write(
    service: str,
    status: BoardStatus,
    records: Iterable[tuple[str, int, bytes]],
    written: BoardStatus | None = None,
) -> StatusWrite | None:
    """The write that makes `service`'s status key say `status`, expecting the key
    as read (`records`: a read of the tree that holds it, if it exists); None when
    it says so already, and so does what this hub last wrote there (`written`).

    A read shows what the Clone server has published, and a durable write is
    published once it is on disk: a read just after a write of ours may not show
    it yet. So what we wrote counts too: a key read as `online` just after we wrote
    `offline` is written (and, expecting the sequence number read, skipped by the
    Clone server until our write is out: the caller reads again a moment later).
    """
    key = board_key(service)
    found = [(seq, body) for k, seq, body in records if k == key]
    seq, body = found[0] if found else (0, b"")
    if status_of(body) is status and written in (None, status):
        return None
    return StatusWrite(service, key, seq, status)


def offline_stands(
    *, board_known: bool, devices_found: bool, marks: int, skipped: int
) -> bool:
    """Whether the outage the readings' mark decided writes the board `offline`.

    `board_known`: its status key is in the tree; `devices_found`: the mark's read
    found keys of its devices; `marks`/`skipped`: the device marks tried, and those
    the Clone server skipped. Not when every mark was skipped (the board came back,
    or was retired, between the read and the write: its readings won, and so does
    what its key says), nor when the tree has nothing of the board at all (retired
    for good, its keys deleted: nothing is written back).
    """
    if marks and skipped == marks:
        return False
    return board_known or devices_found


class OnlineWrites:
    """The watched services whose `online` is yet to be written: from the moment a
    worker of one appears until it is written, or the service loses its worker again
    first. A write the Clone server did not take is due again later."""

    def __init__(self) -> None:
        self._due: dict[str, float] = {}  # service -> when to write it

    def appeared(self, service: str, now: float) -> None:
        self._due[service] = now

    def gone(self, service: str) -> None:
        self._due.pop(service, None)

    def retry(self, service: str, at: float) -> None:
        self._due[service] = at

    def next_deadline(self) -> float | None:
        return min(self._due.values(), default=None)

    def due(self, now: float) -> list[str]:
        """The services to write `online` now (sorted), each taken off the list."""
        ready = sorted(s for s, at in self._due.items() if at <= now)
        for service in ready:
            del self._due[service]
        return ready
