"""A board's device service stuck past its stop, in a process of its own (for
tests/integration/test_poller_exit.py): the process must end all the same, as
raspy-poller does after `device_service_stop_timeout`. Prints `stuck`, exits 3."""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence

import pykka

from raspy.cli.board_service import BoardDeviceService
from raspy.clock import SystemClock
from raspy.config import DevicesConfig
from raspy.devices.registries import fake_registry
from raspy.devices.registry import Registry
from raspy.devices.template import JsonValue
from raspy.stats import Stats

STUCK_EXIT = 3


class _Unread:
    """A tree that takes readings and keeps none: none comes, the service is stuck
    before its first."""

    def set_many(
        self, entries: Sequence[tuple[bytes, bytes]]
    ) -> list[tuple[bytes, str]]:
        return []

    def set(self, key: bytes, body: bytes, *, ttl_s: float | None = None) -> None:
        return None


def main() -> int:
    entered, never = threading.Event(), threading.Event()

    def discover(registry: Registry) -> list[dict[str, JsonValue]]:
        entered.set()
        never.wait()  # a call the kernel does not end: a hung bus, a dying SD card
        return []

    service = BoardDeviceService.start(
        fake_registry("board", DevicesConfig()),
        _Unread(),
        clock=SystemClock(),
        stats=Stats(),
        discover=discover,
    )
    if not entered.wait(10.0):
        return 2
    try:
        service.stop(block=True, timeout=0.2)
    except pykka.Timeout:
        sys.stdout.write("stuck\n")
        return STUCK_EXIT
    return 0


if __name__ == "__main__":
    sys.exit(main())
