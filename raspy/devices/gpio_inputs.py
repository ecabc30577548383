"""The `gpio` service's inputs: each edge debounced, the reading published, and a
button's presses and gestures said as events.

The service's actor (raspy.actors.gpio) keeps the thread and the alarm: it hands
each edge and each alarm here with the times (no clock read here), and asks
next_deadline() for when to be woken. What is written goes through the tree writer
and the events it is given.
"""

from __future__ import annotations

from raspy.devices import gpio_options
from raspy.devices.gpio_gesture import Buttons, Gesture
from raspy.devices.gpio_logic import BUTTON, Debounce
from raspy.devices.gpio_tree import Events, gesture_key, pressed_key
from raspy.devices.reading import Reading, Status
from raspy.devices.registry import Device, Registry
from raspy.devices.template import DeviceConfig
from raspy.devices.tree import TreeWriter
from raspy.stats import Stats


class Inputs:
    """The debouncing and the gestures of a service's inputs, by device name."""

    def __init__(
        self,
        registry: Registry,
        tree: TreeWriter,
        events: Events,
        stats: Stats,
        service: str,
    ) -> None:
        self._registry = registry
        self._tree = tree
        self._events = events
        self._stats = stats
        self._service = service
        self._debounce: dict[str, Debounce] = {}
        # the wall time of each input's edge held by its debouncing: the time of the
        # level its window ends at, if that is reported (the edge's, not the end's)
        self._held_at: dict[str, float] = {}
        self._buttons = Buttons()  # the gestures of buttons with their options on

    def read(self, device: Device, active: bool) -> None:
        """An input's level read at its start (or again, after a failure): its
        debouncing from there, and a button's gestures from nothing under way (a
        press held now makes none: its start was not seen)."""
        self._debounce[device.name] = Debounce(active)
        self._held_at.pop(device.name, None)
        self._buttons.start(device.name, gpio_options.gesture_timing(device.config))

    def edge(self, name: str, active: bool, mono: float, wall_ts: float) -> bool:
        """gpiozero saw `name` change at these times. True: a deadline may have
        changed (the alarm is to be set again)."""
        device = self._registry.find(name)
        debounce = self._debounce.get(name)
        if device is None or debounce is None:
            return False
        self._stats.incr(f"devices.{self._service}.edges")
        bounce_s = device.config.real("bounce_time_s")
        value = debounce.on_edge(active, bounce_s, mono)
        if value is not None:
            return self._report(device, value, mono, wall_ts)
        if debounce.settle_at() is not None:
            self._held_at[name] = wall_ts  # the last one held: the pending level's
            self._stats.incr(f"devices.{self._service}.edges_held")
            return True
        return False

    def due(self, mono: float, wall_ts: float) -> None:
        """The alarm came at these times: the levels that settled (each dated from
        its edge that was held), the gestures whose time came."""
        for name, debounce in self._debounce.items():
            device = self._registry.find(name)
            if device is None:
                continue
            value = debounce.on_settle(device.config.real("bounce_time_s"), mono)
            if value is not None:
                self._report(device, value, mono, self._held_at.get(name, wall_ts))
        for name, gesture in self._buttons.due(mono):
            device = self._registry.find(name)
            if device is not None:
                self._said(device, [gesture], wall_ts)

    def retime(self, name: str, config: DeviceConfig) -> bool:
        """A config change over MDP: a button's new gesture options from its next
        press. True if a press under way was dropped, unsaid (the alarm is to be
        set again)."""
        timing = gpio_options.gesture_timing(config)
        return name in self._debounce and self._buttons.retime(name, timing)

    def next_deadline(self) -> float | None:
        """When due() has something to decide (monotonic s), or None."""
        deadlines = [d.settle_at() for d in self._debounce.values()]
        deadlines.append(self._buttons.next_deadline())
        return min((d for d in deadlines if d is not None), default=None)

    def _report(
        self, device: Device, active: bool, mono: float, wall_ts: float
    ) -> bool:
        """A debounced change: the reading, and a button's press and gestures.
        True if the button's gestures may have a new deadline."""
        reading = Reading(active, device.config.text("unit"), Status.OK, wall_ts)
        device.record(reading)
        self._tree.write(device.fullname, reading)
        if active and device.config.text("device_class") == BUTTON:
            self._events.write(pressed_key(device.fullname), wall_ts)
        if device.name not in self._buttons:
            return False
        self._said(device, self._buttons.edge(device.name, active, mono), wall_ts)
        return True

    def _said(self, device: Device, gestures: list[Gesture], wall_ts: float) -> None:
        """A button's gestures as events (raspy.devices.gpio_gesture)."""
        for gesture in gestures:
            self._stats.incr(f"devices.{self._service}.gestures")
            self._events.write(gesture_key(device.fullname, gesture), wall_ts)
