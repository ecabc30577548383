"""The `gpio` device service: relays, PWM dimmers and binary inputs on the Pi's pins.

A DeviceServiceActor whose drivers hold gpiozero devices (raspy.devices.gpio). Inputs
are event-driven: gpiozero's edge callback tells this actor an InputEdge (it never
touches the actor's state: raspy.devices.gpio_edge), which has it debounced and the
value published at once, with the edge's time as `timestamp`
(raspy.devices.gpio_inputs); inputs are never polled. Outputs take their initial state at start (off, on, or the state last
stored), are switched off after `max_on_s` (`/event/<fullname>/max_on_expired` says
so: raspy.devices.gpio_max_on), and at a clean stop are switched off or kept (`on_stop`). A switch's command that would turn it off sooner
than `min_on_s` after it went on, or on sooner than `min_off_s` after it went off,
is held: answered at once (200, with what is pending and when) and carried out by
this actor when the limit ends, the latest command winning (raspy.devices.gpio_hold).
What is pending is in the tree (`/device/<fullname>/pending`), and with `initial =
"restore"` stored with the state: a start holds it again.
A button also publishes `/event/<fullname>/pressed` at each press, and with its
`double_press_s` / `long_press_s` its gestures, `single`, `double` and `long`
(raspy.devices.gpio_gesture), timed on the same alarm as the rest.
The service's own switch-offs (max_on_s, on_stop, an output dropped from the config)
and `reset` are never held, and drop what was: safety first.

With `pin_factory = "mock"` only, the service takes one more action, `drive`
(raspy.devices.gpio_drive); without mock pins it is an unknown action (501).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any, Final

import pykka
import structlog

from raspy.actors import poller as poller_mod
from raspy.actors.devices import DeviceServiceActor
from raspy.devices import gpio, gpio_binary, gpio_hold, gpio_options
from raspy.devices.gpio_drive import drive
from raspy.devices.gpio_edge import InputEdge, notifier
from raspy.devices.gpio_inputs import Inputs
from raspy.devices.gpio_max_on import MaxOn
from raspy.devices.gpio_pins import PinFactoryKind, Pins
from raspy.devices.gpio_saved import GpioSavedStates, keeps_pending, restores_as_is
from raspy.devices.gpio_tree import Events, PendingKeys, same_since
from raspy.devices.reading import Reading, Status
from raspy.devices.registry import Device
from raspy.devices.saved_states import StateRecord
from raspy.devices.service_vocabulary import (
    BAD_REQUEST,
    Effect,
    PollRequested,
    Request,
    refused,
)
from raspy.devices.template import DeviceConfig
from raspy.storage.device_settings import Saved
from raspy.ticker import DeadlineTicker, Tick

log = structlog.get_logger(component="gpio")

_NO_PINS: Final = "no pin factory"


class GpioServiceActor(DeviceServiceActor):
    """The `gpio` service: see the module docstring."""

    def __init__(
        self,
        *args: Any,
        pins: Pins | None,
        unavailable: str = _NO_PINS,
        restarting: Callable[[], bool] = lambda: False,
        **kwargs: Any,
    ) -> None:
        """`pins` None: the pin factory could not be made, for the reason
        `unavailable` (every device's status and every command's reply say it).
        `restarting()` True at a stop: the daemon runs on (a reload, a restart after a
        failure), so outputs stay as they are for the next start to adopt; on_stop
        applies only when the daemon stops."""
        super().__init__(*args, **kwargs)
        self._pins = pins
        self._unavailable = unavailable
        self._restarting = restarting
        self._events = Events(self._publisher, self._stats, self._name)
        # debouncing and a button's gestures (raspy.devices.gpio_inputs)
        self._inputs = Inputs(
            self._registry, self._tree, self._events, self._stats, self._name
        )
        self._max_on = MaxOn(self._events, self._stats, self._name)
        self._held = gpio_hold.Holds()
        self._hold_log = gpio_hold.HoldLog(self._stats, self._name)
        # what the store has of each output (a change only is written), and
        # what the tree says is pending for each switch
        self._saved = GpioSavedStates(self._settings.stored, self._stats, self._name)
        self._pending_keys = PendingKeys(self._publisher, self._stats, self._name)
        self._alarm: DeadlineTicker | None = None

    # --- lifecycle --------------------------------------------------------------------
    def _started(self, tree: Mapping[str, bytes], saved: Saved) -> None:
        self._alarm = DeadlineTicker(
            self.actor_ref, self._clock, name="raspy-gpio-alarm"
        )
        self._alarm.start()
        devices = self._registry.devices()
        outputs = [d for d in devices if isinstance(d.driver, gpio.GpioOutput)]
        for device in outputs:  # first: they adopt the outputs kept for them
            fullname = device.fullname
            self._pending_keys.found(fullname, tree)
            state, since = saved.states.get(fullname), saved.states_since.get(fullname)
            self._open(device, state, since, pending=saved.pending.get(fullname))
        if self._pins is not None:  # before the inputs, which may want those pins
            for pin in self._pins.release_kept():
                log.warning("gpio_output_released", pin=pin, reason="not configured")
        for device in devices:
            if device not in outputs:
                self._open(device, None, None, tree)
        self._arm()

    def _open(
        self,
        device: Device,
        stored: Any,
        since: float | None,
        tree: Mapping[str, bytes] | None = None,
        pending: bool | None = None,
    ) -> None:
        """Open a device's pin; an output at its initial state (`stored`: the state
        saved last, on `since` that wall time, with the change `pending` held for
        it); an input's level read, with the time `tree` (the tree at start) has
        for it if that level has not changed."""
        driver, pins, config = device.driver, self._pins, device.config
        now = self._clock.wall()
        # a wall clock behind the saved time (a Pi without RTC at boot): from now
        on_for_s = None if since is None else max(0.0, now - since)
        expired = False
        if pins is not None:
            if isinstance(driver, gpio.GpioOutput):
                mono = self._clock.monotonic()
                expired = driver.open(
                    pins, config, stored, on_for_s=on_for_s, now=mono,
                    stored_pending=pending,
                )  # fmt: skip
            elif isinstance(driver, gpio_binary.GpioInput):
                driver.open(
                    pins, config, notifier(self._tell, self._clock, device.name)
                )
        elif isinstance(driver, gpio.GpioOutput | gpio_binary.GpioInput):
            driver.unavailable(self._unavailable)
        reading = device.read(now)
        if tree is not None and isinstance(driver, gpio_binary.GpioInput):
            reading = same_since(reading, device.fullname, tree)
        if reading.status is not Status.OK:
            log.error("gpio_pin_failed", device=device.fullname, detail=reading.detail)
        elif isinstance(driver, gpio_binary.GpioInput):
            self._inputs.read(device, bool(reading.value))
        elif isinstance(driver, gpio.GpioOutput):
            self._track_on(device, driver)
            self._held.retime(device, driver, self._clock.monotonic())  # a reload
        device.record(reading)
        self._tree.write(device.fullname, reading)
        if not isinstance(driver, gpio.GpioOutput):
            return
        # a pin that did not open held nothing again: the next start that opens it
        # does (a stored change is dropped only by an output that opened)
        opened = reading.status is Status.OK
        self._pending_key(device, driver)  # held again, or none (one left by a crash)
        self._saved.found_output(
            device, driver, stored, pending, self._clock.monotonic()
        )
        if expired and on_for_s is not None:
            self._not_restored(device, driver, on_for_s)
        elif pending is not None and driver.pending != pending and opened:
            self._store_state(device, driver)  # not held again: dropped
        elif pending is not None and opened and driver.pending_from_store:
            self._hold_log.restored(device, pending)  # not a reload's kept pin
        elif opened and not restores_as_is(driver, stored):
            # started elsewhere (initial = on or off): a later start with initial =
            # restore takes this state, not that of the last command before it
            self._store_state(device, driver)

    def _not_restored(
        self, device: Device, driver: gpio.GpioOutput, on_for_s: float
    ) -> None:
        """A stored `on` older than max_on_s was not restored: said as a switch-off
        by max_on_s is, and stored off (the next start has nothing to say)."""
        self._max_on.not_restored(device, on_for_s, self._clock.wall())
        self._store_state(device, driver)

    def _stopping(self) -> None:
        if self._alarm is not None:
            self._alarm.stop()
            self._alarm = None
        # a state the store refused, tried once more before the service goes (a
        # reload or a stop before its retry was due would leave the store's old one)
        self._saved.retry(math.inf, self._current_state, self._clock.monotonic())
        restarting = self._restarting()
        for device in self._registry.devices():
            driver = device.driver
            if isinstance(driver, gpio.GpioOutput) and self._pins is not None:
                pin = driver.stop(self._pins, device.config, restarting=restarting)
                if pin is not None:  # given up beside it: no successor will come
                    log.warning(
                        "gpio_output_released", pin=pin, reason="gpio service failed"
                    )
            elif isinstance(driver, gpio_binary.GpioInput):
                driver.close()

    def _polled_devices(self) -> list[poller_mod.PolledDevice]:
        """Outputs only (a slow check of the pin); inputs are edge-driven."""
        return [
            p
            for p in super()._polled_devices()
            if not isinstance(self._registry.get(p.name).driver, gpio_binary.GpioInput)
        ]

    # --- messages ---------------------------------------------------------------------
    def _on_other(self, message: Any) -> bool:
        match message:
            case InputEdge(name=name, active=active, monotonic=mono, wall_ts=wall_ts):
                if self._inputs.edge(name, active, mono, wall_ts):
                    self._arm()
            case Tick():  # a max-on or debounce deadline may have come
                self._on_alarm()
            case _:
                return False
        return True

    def _on_alarm(self) -> None:
        now = self._clock.monotonic()
        for name in self._max_on.due(now):
            device = self._registry.find(name)
            if device is not None:  # raspy.devices.gpio_max_on
                self._max_on.switch_off(device, self._clock, self._switched)
        for name in self._held.due(now):
            device = self._registry.find(name)
            if device is not None and isinstance(device.driver, gpio.GpioOutput):
                self._carry_out(device, device.driver)
        self._inputs.due(now, self._clock.wall())
        # states the store refused, as they are now
        self._saved.retry(now, self._current_state, self._clock.monotonic())
        self._arm()

    def _tell(self, edge: InputEdge) -> None:
        """An edge from gpiozero's thread; none once the actor is stopped."""
        with contextlib.suppress(pykka.ActorDeadError):
            self.actor_ref.tell(edge)

    def _switched(
        self, device: Device, driver: gpio.GpioOutput, reading: Reading, now: float
    ) -> None:
        """raspy switched an output itself (max_on_s, a held change come due):
        published, stored and timed (min_on_s, min_off_s) as a command's switch."""
        self._readings.commanded(device.name, now)  # a poll before it is stale
        self._held.forget(device.name)
        driver.last_change(self._clock.monotonic())  # also when the pin failed
        device.record(reading)
        self._tree.write(device.fullname, reading)
        if reading.status is Status.OK:
            self._published(device, reading)  # stored, timed, its pending key
        else:
            self._pending_key(device, driver)  # dropped also when the pin failed

    def _arm(self) -> None:
        if self._alarm is None:
            return
        deadlines = [self._max_on.next_deadline(), self._held.next_deadline()]
        deadlines += [self._inputs.next_deadline(), self._saved.retry_at()]
        due = [d for d in deadlines if d is not None]
        self._alarm.set(min(due) if due else None)

    # --- requests ---------------------------------------------------------------------
    def _as_meant(self, request: Request) -> Request:
        """A config's `pin` as gpiozero resolves it, compared so with the device's
        (stored by its canonical name): `{"pin": 17}` on GPIO17 changes nothing."""
        value, pins = request.value, self._pins
        if request.action != "config" or not isinstance(value, dict) or pins is None:
            return request
        resolved = gpio_options.as_resolved(value, pins.resolve)
        return dataclasses.replace(request, value=dict(resolved))

    def _before_handle(self, request: Request) -> tuple[bytes, bytes] | None:
        pins = self._pins
        mock = pins is not None and pins.kind is PinFactoryKind.MOCK
        if request.action == "drive" and mock:
            assert pins is not None
            return drive(pins, self._registry, request)
        device = (
            None if request.device is None else self._registry.resolve(request.device)
        )
        if device is None:
            return None
        if request.action == "reset" and request.value is None:
            self._open_again(device)
        if request.action == "config" and isinstance(request.value, dict):
            detail = gpio_options.fixed_change(device.config, request.value)
            if detail is not None:
                return refused(BAD_REQUEST, "config", "invalid_config", detail)
        if isinstance(device.driver, gpio.GpioOutput):
            now = self._clock.monotonic()
            got = gpio_hold.get_reply(device, device.driver, request, now)
            return (
                got if got is not None else self._hold(device, device.driver, request)
            )
        return None

    def _open_again(self, device: Device) -> None:
        """A `reset` of a device whose pin did not open at the start (another
        program or a kernel driver held it then) claims it again, as the start
        would: an output off, the reset's safe state; an input with its edges
        heard, read by the reset's poll (_read_input)."""
        driver, pins = device.driver, self._pins
        outputs_or_inputs = gpio.GpioOutput | gpio_binary.GpioInput
        if (
            pins is None
            or not isinstance(driver, outputs_or_inputs)
            or driver.is_open()
        ):
            return
        if isinstance(driver, gpio.GpioOutput):
            driver.open_off(pins, device.config)
        else:
            notify = notifier(self._tell, self._clock, device.name)
            driver.open(pins, device.config, notify)
        if driver.is_open():
            log.info("gpio_pin_opened_at_reset", device=device.fullname)

    def _hold(
        self, device: Device, driver: gpio.GpioOutput, request: Request
    ) -> tuple[bytes, bytes] | None:
        """A command that would switch the output sooner than min_on_s / min_off_s
        allow is held (raspy.devices.gpio_hold): answered at once, and carried out
        when the limit ends. None: the common handling goes on."""
        now = self._clock.monotonic()
        answer = self._held.answer(device, driver, request, now, self._clock.wall())
        if answer.reply is not None:  # held, or what was held dropped
            if keeps_pending(device):
                self._store_state(device, driver)
            self._pending_key(device, driver)
        if answer.hold is not None:
            self._arm()
            self._hold_log.held(device, request.action, answer.hold, now)
        return answer.reply

    def _carry_out(self, device: Device, driver: gpio.GpioOutput) -> None:
        """A held change is due: the output switches by itself."""
        state, mono, now = driver.pending, self._clock.monotonic(), self._clock.wall()
        reading = self._held.carry_out(device, driver, mono, now)
        if reading is None:  # not yet after all (timed anew)
            self._pending_key(device, driver)
            return
        self._hold_log.done(device, state, reading, mono)
        self._switched(device, driver, reading, now)

    def _apply(self, effect: Effect) -> None:
        """A read asked of an input (`reset`, `poll`) is done here: inputs are not
        polled, so the poller would drop it."""
        if isinstance(effect, PollRequested):
            device = self._registry.find(effect.device)
            if device is not None and isinstance(device.driver, gpio_binary.GpioInput):
                self._read_input(device)
                return
        super()._apply(effect)

    def _read_input(self, device: Device) -> None:
        """An input with no good reading (reset, or a pin that failed) reads its pin
        again, as at its start; one that has its edges keep it current."""
        if device.last is not None and device.last.status is Status.OK:
            return
        reading = device.read(self._clock.wall())
        if reading.status is Status.OK:
            self._inputs.read(device, bool(reading.value))
            self._arm()
        device.record(reading)
        self._tree.write(device.fullname, reading)

    def _published(self, device: Device, reading: Reading) -> None:
        driver = device.driver
        if isinstance(driver, gpio.GpioOutput) and reading.status is Status.OK:
            self._store_state(device, driver)
            self._track_on(device, driver)
            self._pending_key(device, driver)

    def _reschedule(self, name: str, config: DeviceConfig) -> None:
        """A config change over MDP: a new max_on_s applies to an output on now
        (it only took effect at the next switch); a button's new gesture options
        from its next press (one under way says nothing)."""
        super()._reschedule(name, config)
        device = self._registry.find(name)
        if self._inputs.retime(name, config):
            self._arm()  # a button's options: a press under way dropped, unsaid
        if device is not None and isinstance(device.driver, gpio.GpioOutput):
            self._max_on.forget(name)
            self._held.retime(device, device.driver, self._clock.monotonic())
            self._track_on(device, device.driver)  # and the alarm set
            self._pending_key(device, device.driver)

    def _track_on(self, device: Device, driver: gpio.GpioOutput) -> None:
        """max_on_s counts from when the output went on, also across restarts of
        this service (a reload every half hour kept a heater on for good); and
        min_on_s / min_off_s from its last change, noted here after every switch
        (a command, a reset, the state at start)."""
        mono = self._clock.monotonic()
        driver.last_change(mono)
        self._max_on.track(device, driver, mono)
        self._arm()

    def _store_state(self, device: Device, driver: gpio.GpioOutput) -> None:
        """An output's state, durable (for initial = restore) if it changed."""
        self._saved.store(device, driver, self._clock.monotonic(), self._clock.wall())
        self._arm()  # a write that failed is tried again (raspy.devices.gpio_saved)

    def _current_state(self, name: str) -> tuple[Device, StateRecord] | None:
        """An output's device and state as it is now, for a write tried again."""
        device = self._registry.find(name)
        if device is None or not isinstance(device.driver, gpio.GpioOutput):
            return None
        now, wall = self._clock.monotonic(), self._clock.wall()
        return device, self._saved.change(device, device.driver, now, wall)

    def _pending_key(self, device: Device, driver: gpio.GpioOutput) -> None:
        """`/device/<fullname>/pending` as the held change now is (deleted when
        there is none), written only when that changes."""
        mono, due = self._clock.monotonic(), self._held.get(device.name)
        pending = gpio_hold.pending_entry(device, driver, due, mono, self._clock.wall())
        self._pending_keys.write(device.fullname, pending)
