"""DevicePollerActor: reads the devices of one bus on their intervals, off actor threads.

The actor is a control shell; one dedicated reader thread per bus owns the schedule
and calls each device's read(), which may block (a DS18B20 takes about 750 ms), so no
actor that others wait for ever blocks on a device. Readings go to the owning device
service in batches (DevicesRead). A read that raises becomes a reading with status
`error`; no device fault ends the loop. When to read what: raspy.devices.poll_schedule.

An idle wake-up costs on a Pi, so the reader thread sleeps until the next device is
due or a command comes, as raspy.clock.wait_s says for its clock.

A read that does not return (a hung bus or driver) holds up the whole bus, and the
tree would go on showing every device of it with its last value, `ok`, for good: a
thermostat acting on a temperature of hours ago. A watch thread, waking once per
`stall_after_s`, sees such a read and tells the service once that every device of
the bus reads `no_answer`; the read's own reading, whenever it returns, comes after.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Final

import pykka
import structlog

from raspy.clock import Clock, listen_if_moving, wait_s
from raspy.devices.poll_schedule import PollSchedule, stagger
from raspy.devices.reading import Reading, Status
from raspy.errors import quote
from raspy.records import frozen
from raspy.stats import Stats

log = structlog.get_logger(component="poller")

COALESCE_S: Final = 0.02  # devices due this soon are read in the same turn
_FLUSH_AFTER_S: Final = 0.02  # a batch slower than this is delivered in parts
_JOIN_S: Final = 5.0
# a read that has not returned by then is a hung bus or driver (a DS18B20 takes 0.75 s)
STALL_AFTER_S: Final = 30.0


@frozen
class PolledDevice:
    """A device to poll: `read(wall_ts)` may block and never raises for a fault."""

    name: str
    interval_s: float
    read: Callable[[float], Reading]


@frozen
class AddDevices:
    """Poll these too (or with a new interval and reader, if the name is known)."""

    devices: tuple[PolledDevice, ...]


@frozen
class PollNow:
    name: str


@frozen
class SetInterval:
    name: str
    interval_s: float


@frozen
class RemoveDevice:
    name: str


@frozen
class DevicesRead:
    """Readings of one bus, in the order they were taken (poller -> device service)."""

    bus: str
    readings: tuple[tuple[str, Reading], ...]


@frozen
class PollerFailed:
    """The reader thread of `bus` ended on an unexpected error."""

    bus: str
    error: BaseException


Command = AddDevices | PollNow | SetInterval | RemoveDevice


class _Stop:
    pass


class PollLoop:
    """The reader thread's body: commands in, reads, DevicesRead out to `target`."""

    def __init__(
        self,
        bus: str,
        target: pykka.ActorRef[Any],
        clock: Clock,
        stats: Stats,
        stall_after_s: float = STALL_AFTER_S,
    ) -> None:
        self.bus = bus
        self._target = target
        self._stall_after_s = stall_after_s
        # the read under way, (device, time.monotonic() at its start, its number);
        # the watch thread reads it under the same lock
        self._guard = threading.Lock()
        self._in_read: tuple[str, float, int] | None = None
        self._reads = 0
        self._stalled = 0  # the number of the read whose stall was told
        self._ended = threading.Event()
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
        self._ended.set()

    # --- the watch thread -------------------------------------------------------------
    def watch(self) -> None:
        """Wake once per `stall_after_s` until the loop ends, and look for a read
        under way for that long: one hung is told within twice that time."""
        while not self._ended.wait(self._stall_after_s):
            self.check_stall(time.monotonic())

    def check_stall(self, now: float) -> None:
        """Tell the service once per hung read that the bus's devices do not answer.
        Under the lock: a read that returns meanwhile is delivered after this."""
        with self._guard:
            if self._in_read is None:
                return
            name, started, number = self._in_read
            if number == self._stalled or now - started < self._stall_after_s:
                return
            self._stalled = number
            waited = round(now - started, 1)
            detail = (
                f"a read of {quote(name)} on {self.bus} has not returned in "
                f"{waited:g} s (a hung bus or driver)"
            )
            wall_ts = self._clock.wall()
            stalled = Reading.failed(Status.NO_ANSWER, "", wall_ts, detail)
            readings = tuple((device, stalled) for device in list(self._devices))
            self._stats.incr(f"devices.{self.bus}.read_stalled")
            log.warning(
                "device_read_stalled", bus=self.bus, device=name, after_s=waited
            )
            try:
                self._target.tell(DevicesRead(self.bus, readings))
            except pykka.ActorDeadError:
                return

    def _moved(self) -> None:
        """A MovingClock moved: look at the schedule again."""
        with self._cond:
            self._cond.notify()

    # --- the reader thread ------------------------------------------------------------
    def run(self) -> None:
        unlisten = listen_if_moving(self._clock, self._moved)
        try:
            while not self._stopping:
                for command in self._wait(listening=unlisten is not None):
                    self._apply(command)
                self._poll_due()
        except Exception as exc:  # the edge of the loop: report, the owner restarts us
            log.exception("device_poller_failed", bus=self.bus)
            self._stats.incr(f"devices.{self.bus}.poller_failed")
            try:
                self._target.tell(PollerFailed(self.bus, exc))
            except pykka.ActorDeadError:
                return
        finally:
            if unlisten is not None:
                unlisten()

    def _wait(self, *, listening: bool) -> list[Command | _Stop]:
        with self._cond:  # the clock is read under the lock: no move goes unheard
            if not self._commands:
                deadline = self._schedule.next_deadline()
                until_due = (
                    None if deadline is None else deadline - self._clock.monotonic()
                )
                if until_due is None or until_due > 0:
                    self._cond.wait(wait_s(self._clock, until_due, listening=listening))
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
        with self._guard:
            self._reads += 1
            self._in_read = (device.name, time.monotonic(), self._reads)
        try:
            reading = device.read(wall_ts)
        except Exception as exc:  # a driver bug: a status, never the end of polling
            self._stats.incr(f"devices.{self.bus}.read_raised")
            if device.name not in self._raised:
                self._raised.add(device.name)
                log.exception("device_read_raised", bus=self.bus, device=device.name)
            detail = quote(f"{type(exc).__name__}: {exc}")
            return Reading.failed(Status.ERROR, "", wall_ts, detail)
        finally:
            self._read_ended(device.name)
        self._raised.discard(device.name)
        return reading

    def _read_ended(self, name: str) -> None:
        with self._guard:
            assert self._in_read is not None
            started, number = self._in_read[1:]
            self._in_read = None
            told = number == self._stalled
        if told:
            waited = round(time.monotonic() - started, 1)
            log.info("device_read_returned", bus=self.bus, device=name, after_s=waited)

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
        stall_after_s: float = STALL_AFTER_S,
    ) -> None:
        super().__init__()
        self._loop = PollLoop(bus, target, clock, stats, stall_after_s)
        if devices:
            self._loop.call(AddDevices(tuple(devices)))
        self._thread = threading.Thread(
            target=self._loop.run, name=f"raspy-poll-{bus}", daemon=True
        )
        self._watch = threading.Thread(
            target=self._loop.watch, name=f"raspy-poll-watch-{bus}", daemon=True
        )

    def on_start(self) -> None:
        self._thread.start()
        self._watch.start()

    def on_stop(self) -> None:
        self._end()

    def on_failure(self, *_: object) -> None:
        self._end()

    def _end(self) -> None:
        self._loop.stop()
        self._watch.join(timeout=_JOIN_S)  # woken by the stop
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
