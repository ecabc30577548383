"""DevicePollerActor: reads the devices of one bus on their intervals, off actor threads.

The actor is a control shell; one dedicated reader thread per bus owns the schedule
and calls each device's read(), which may block (a DS18B20 takes about 750 ms), so no
actor that others wait for ever blocks on a device. Readings go to the owning device
service in batches (DevicesRead). A read that raises becomes a reading with status
`error`; no device fault ends the loop. PollSchedule is pure: `now` comes in.
"""

from __future__ import annotations

import heapq
import itertools
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import pykka
import structlog

from raspy.clock import Clock
from raspy.devices.reading import Reading, Status
from raspy.errors import quote
from raspy.stats import Stats

log = structlog.get_logger(component="poller")

RETRY_INITIAL_S: Final = 1.0  # first retry after a failed read ...
RETRY_MAX_S: Final = 60.0  # ... doubling up to this, or the interval if longer
STAGGER_MAX_S: Final = 1.0  # devices added together are spread over at most this
COALESCE_S: Final = 0.02  # devices due this soon are read in the same turn
_MAX_WAIT_S: Final = 0.25  # also bounds how late a test's FakeClock.advance() is seen
_FLUSH_AFTER_S: Final = 0.02  # a batch slower than this is delivered in parts
_JOIN_S: Final = 5.0


@dataclass(frozen=True, slots=True)
class PolledDevice:
    """A device to poll: `read(wall_ts)` may block and never raises for a fault."""

    name: str
    interval_s: float
    read: Callable[[float], Reading]


@dataclass(frozen=True, slots=True)
class AddDevices:
    """Poll these too (or with a new interval and reader, if the name is known)."""

    devices: tuple[PolledDevice, ...]


@dataclass(frozen=True, slots=True)
class PollNow:
    name: str


@dataclass(frozen=True, slots=True)
class SetInterval:
    name: str
    interval_s: float


@dataclass(frozen=True, slots=True)
class RemoveDevice:
    name: str


@dataclass(frozen=True, slots=True)
class DevicesRead:
    """Readings of one bus, in the order they were taken (poller -> device service)."""

    bus: str
    readings: tuple[tuple[str, Reading], ...]


@dataclass(frozen=True, slots=True)
class PollerFailed:
    """The reader thread of `bus` ended on an unexpected error."""

    bus: str
    error: BaseException


Command = AddDevices | PollNow | SetInterval | RemoveDevice


@dataclass(slots=True)
class _Slot:
    interval_s: float
    due: float
    failures: int = 0
    busy: bool = False  # taken by take_due(), not yet done()
    again: bool = False  # poll_now() while busy: read again at once
    generation: int = 0


class PollSchedule:
    """When to read which device: fixed intervals without drift, backoff on failure.

    Pure and single-threaded: every method takes `now` (monotonic s).
    """

    def __init__(
        self,
        *,
        retry_initial_s: float = RETRY_INITIAL_S,
        retry_max_s: float = RETRY_MAX_S,
    ) -> None:
        self._retry_initial_s = retry_initial_s
        self._retry_max_s = retry_max_s
        self._slots: dict[str, _Slot] = {}
        self._heap: list[tuple[float, int, str, int]] = []
        self._order = itertools.count()

    def __len__(self) -> int:
        return len(self._slots)

    def add(self, name: str, interval_s: float, due: float) -> None:
        """Poll `name` every `interval_s`, first at `due`; a known name is rescheduled."""
        if interval_s <= 0:
            raise ValueError(f"{name}: interval must be > 0, got {interval_s}")
        slot = self._slots.get(name)
        if slot is None:
            slot = self._slots[name] = _Slot(interval_s, due)
        slot.interval_s = interval_s
        if not slot.busy:
            self._push(name, slot, due)

    def remove(self, name: str) -> None:
        self._slots.pop(name, None)

    def set_interval(self, name: str, interval_s: float, now: float) -> None:
        """A new interval, effective from now (a shorter one brings the next read in)."""
        slot = self._slots.get(name)
        if slot is None:
            return
        if interval_s <= 0:
            raise ValueError(f"{name}: interval must be > 0, got {interval_s}")
        slot.interval_s = interval_s
        if not slot.busy:
            self._push(name, slot, min(slot.due, now + interval_s))

    def poll_now(self, name: str, now: float) -> None:
        slot = self._slots.get(name)
        if slot is None:
            return
        if slot.busy:
            slot.again = True
        else:
            self._push(name, slot, now)

    def take_due(self, now: float) -> list[str]:
        """The devices due at `now`, earliest first; each is busy until done()."""
        due: list[str] = []
        while self._heap and self._heap[0][0] <= now:
            _, _, name, generation = heapq.heappop(self._heap)
            slot = self._slots.get(name)
            if slot is None or slot.generation != generation or slot.busy:
                continue
            slot.busy = True
            due.append(name)
        return due

    def done(self, name: str, ok: bool, now: float) -> None:
        """A read of `name` ended at `now`; schedule the next one."""
        slot = self._slots.get(name)
        if slot is None or not slot.busy:
            return
        slot.busy = False
        slot.failures = 0 if ok else slot.failures + 1
        if slot.again:
            slot.again = False
            due = now
        elif ok:
            due = slot.due + slot.interval_s
            if due <= now:  # fell behind (a slow bus): skip the missed turns
                due += (math.floor((now - due) / slot.interval_s) + 1) * slot.interval_s
                if due <= now:  # the division rounded down one turn too many
                    due += slot.interval_s
        else:
            due = now + self.backoff_s(slot.interval_s, slot.failures)
        self._push(name, slot, due)

    def backoff_s(self, interval_s: float, failures: int) -> float:
        """The wait before retry number `failures` (>= 1) of a failing device."""
        ceiling = max(interval_s, self._retry_max_s)
        return min(self._retry_initial_s * 2.0 ** min(failures - 1, 32), ceiling)

    def failures(self, name: str) -> int:
        slot = self._slots.get(name)
        return 0 if slot is None else slot.failures

    def next_deadline(self) -> float | None:
        """When the next device is due (monotonic s), or None if none is waiting."""
        heap = self._heap
        while heap:
            _, _, name, generation = heap[0]
            slot = self._slots.get(name)
            if slot is not None and slot.generation == generation and not slot.busy:
                return heap[0][0]
            heapq.heappop(heap)
        return None

    def _push(self, name: str, slot: _Slot, due: float) -> None:
        slot.generation += 1
        slot.due = due
        heapq.heappush(self._heap, (due, next(self._order), name, slot.generation))


def stagger(devices: Sequence[PolledDevice], now: float) -> list[tuple[str, float]]:
    """First due times spreading devices added together over min(interval, 1 s)."""
    count = max(1, len(devices))
    return [
        (d.name, now + min(d.interval_s, STAGGER_MAX_S) * index / count)
        for index, d in enumerate(devices)
    ]


class _Stop:
    pass


class PollLoop:
    """The reader thread's body: commands in, reads, DevicesRead out to `target`."""

    def __init__(
        self, bus: str, target: pykka.ActorRef[Any], clock: Clock, stats: Stats
    ) -> None:
        self.bus = bus
        self._target = target
        self._clock = clock
        self._stats = stats
        self._schedule = PollSchedule()
        self._devices: dict[str, PolledDevice] = {}
        self._raised: set[str] = set()  # devices whose last read raised (logged once)
        self._cond = threading.Condition()
        self._commands: list[Command | _Stop] = []
        self._stopping = False

    # --- called from other threads ----------------------------------------------------
    def call(self, command: Command) -> None:
        with self._cond:
            self._commands.append(command)
            self._cond.notify()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._commands.append(_Stop())
            self._cond.notify()

    # --- the reader thread ------------------------------------------------------------
    def run(self) -> None:
        try:
            while not self._stopping:
                for command in self._wait():
                    self._apply(command)
                self._poll_due()
        except Exception as exc:  # the edge of the loop: report, the owner restarts us
            log.exception("device_poller_failed", bus=self.bus)
            self._stats.incr(f"devices.{self.bus}.poller_failed")
            try:
                self._target.tell(PollerFailed(self.bus, exc))
            except pykka.ActorDeadError:
                return

    def _wait(self) -> list[Command | _Stop]:
        with self._cond:
            if not self._commands:
                wait_s = _MAX_WAIT_S
                deadline = self._schedule.next_deadline()
                if deadline is not None:
                    wait_s = min(wait_s, deadline - self._clock.monotonic())
                if wait_s > 0:
                    self._cond.wait(wait_s)
            commands, self._commands = self._commands, []
        return commands

    def _apply(self, command: Command | _Stop) -> None:
        schedule, now = self._schedule, self._clock.monotonic()
        match command:
            case AddDevices(devices=devices):
                for device in devices:
                    self._devices[device.name] = device
                for (name, due), device in zip(
                    stagger(devices, now), devices, strict=True
                ):
                    schedule.add(name, device.interval_s, due)
            case PollNow(name=name):
                schedule.poll_now(name, now)
            case SetInterval(name=name, interval_s=interval_s):
                schedule.set_interval(name, interval_s, now)
            case RemoveDevice(name=name):
                schedule.remove(name)
                self._devices.pop(name, None)
            case _Stop():
                self._stopping = True

    def _poll_due(self) -> None:
        names = self._schedule.take_due(self._clock.monotonic() + COALESCE_S)
        batch: list[tuple[str, Reading]] = []
        started = time.monotonic()
        for name in names:
            if self._stopping:
                return
            device = self._devices.get(name)
            if device is None:
                continue
            reading = self._read(device)
            self._schedule.done(
                name, reading.status is Status.OK, self._clock.monotonic()
            )
            batch.append((name, reading))
            if time.monotonic() - started >= _FLUSH_AFTER_S:
                self._deliver(batch)
                batch, started = [], time.monotonic()
        self._deliver(batch)

    def _read(self, device: PolledDevice) -> Reading:
        wall_ts = self._clock.wall()
        try:
            reading = device.read(wall_ts)
        except Exception as exc:  # a driver bug: a status, never the end of polling
            self._stats.incr(f"devices.{self.bus}.read_raised")
            if device.name not in self._raised:
                self._raised.add(device.name)
                log.exception("device_read_raised", bus=self.bus, device=device.name)
            detail = quote(f"{type(exc).__name__}: {exc}")
            return Reading.failed(Status.ERROR, "", wall_ts, detail)
        self._raised.discard(device.name)
        return reading

    def _deliver(self, batch: list[tuple[str, Reading]]) -> None:
        if not batch:
            return
        try:
            self._target.tell(DevicesRead(self.bus, tuple(batch)))
        except pykka.ActorDeadError:  # the service is gone; its successor polls anew
            self._stopping = True


class DevicePollerActor(pykka.ThreadingActor):
    """Polls the devices of one bus for the device service `target` (tell only)."""

    def __init__(
        self,
        bus: str,
        target: pykka.ActorRef[Any],
        devices: Sequence[PolledDevice],
        *,
        clock: Clock,
        stats: Stats,
    ) -> None:
        super().__init__()
        self._loop = PollLoop(bus, target, clock, stats)
        if devices:
            self._loop.call(AddDevices(tuple(devices)))
        self._thread = threading.Thread(
            target=self._loop.run, name=f"raspy-poll-{bus}", daemon=True
        )

    def on_start(self) -> None:
        self._thread.start()

    def on_stop(self) -> None:
        self._end()

    def on_failure(self, *_: object) -> None:
        self._end()

    def _end(self) -> None:
        self._loop.stop()
        self._thread.join(timeout=_JOIN_S)  # at most one read
        if self._thread.is_alive():
            log.warning("device_poller_stuck", bus=self._loop.bus)

    def on_receive(self, message: Any) -> Any:
        match message:
            case AddDevices() | PollNow() | SetInterval() | RemoveDevice():
                self._loop.call(message)
            case _:
                log.warning("unexpected_message", kind=type(message).__name__)
        return None
