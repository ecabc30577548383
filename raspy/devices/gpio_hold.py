"""A switch's change held by its min_on_s / min_off_s, in the `gpio` service: what a
command is answered, and the change carried out once it is due.

A command that would switch a relay sooner than its limit allows is not refused (a
thermostat's `on` refused 40 s after the compressor stopped never came again, since
a trigger fires on a crossing, and the food thawed): it is answered at once, 200
with what is pending and when, and the output switches by itself when the limit
ends. The latest command wins (raspy.devices.gpio_logic.decide). The held state is
kept on the pin (raspy.devices.gpio_pins.OutputPin.pending) over a reload, and with
`initial = "restore"` stored with the output's state over a stop of raspyd: a
scenario's `on` answered 200 and lost to an upgrade or a power cut was the freezer's
trap again. What is pending is also in the tree (pending_entry), for every reader.

Pure but for the drivers it is given and HoldLog's lines: no clock (times are passed
in), no timer; the service's actor (raspy.actors.gpio) sets its alarm by the
deadlines kept here, and says through HoldLog what was held and carried out.
"""

from __future__ import annotations

from typing import Final

import structlog

from raspy.devices.gpio import GpioOutput
from raspy.devices.gpio_logic import Deadlines, Hold, Verdict, too_soon
from raspy.devices.reading import Reading, Status
from raspy.devices.registry import Device
from raspy.devices.service_vocabulary import Request, ok
from raspy.devices.template import JsonValue
from raspy.ratelimit import LogRateLimiter
from raspy.records import frozen
from raspy.stats import Stats

log = structlog.get_logger(component="gpio")

# a held change this close to its time is due (floats: see carry_out)
_DUE_WITHIN_S: Final = 1e-6


@frozen
class Answer:
    """What a request did: `reply` replaces the common handling (None: it goes
    on); `hold` is the change held by it, if it was held."""

    reply: tuple[bytes, bytes] | None = None
    hold: Hold | None = None


class Holds(Deadlines):
    """The changes held for a service's switches and when each is due, by name
    (the actor asks due() at its alarm, and sets the alarm by next_deadline())."""

    def answer(
        self,
        device: Device,
        driver: GpioOutput,
        request: Request,
        now: float,
        wall: float,
    ) -> Answer:
        """The request to `device` (a switch or dimmer) at monotonic `now`, epoch
        `wall`: held, a held change dropped, or left to the common handling.
        `reset` (the way back to the safe state) drops what was held, and goes on;
        one with a value, which the common handling refuses, changes nothing."""
        if request.action == "reset":
            if request.value is not None:  # 400 reset takes no value: nothing done
                return Answer()
            return self._drop(device, driver, None)
        command = device.kind.main if request.action == "set" else request.action
        decision = driver.decide(device.config, command, request.value, now)
        if decision is None:  # no switching command: nothing held changes
            return Answer()
        if decision.verdict is Verdict.CANCEL:  # as asked already: nothing to do
            return self._drop(
                device, driver, reply(device, driver, request.action, wall)
            )
        hold = decision.hold
        if decision.verdict is Verdict.NOW or hold is None:
            return self._drop(device, driver, None)  # to the pin, as any command
        driver.hold(hold.state)
        self.set(device.name, hold.due)
        return Answer(reply(device, driver, request.action, wall, hold), hold)

    def _drop(
        self, device: Device, driver: GpioOutput, answered: tuple[bytes, bytes] | None
    ) -> Answer:
        driver.hold(None)
        self.forget(device.name)
        return Answer(answered)

    def retime(self, device: Device, driver: GpioOutput, now: float) -> None:
        """The held change's time under the limits the config has now (a reload or
        a `config` changed them: a shorter one, or none, switches it sooner)."""
        left_s = driver.held_left_s(device.config, now)
        if left_s is None:
            self.forget(device.name)
        else:
            self.set(device.name, now + left_s)

    def carry_out(
        self, device: Device, driver: GpioOutput, now: float, wall: float
    ) -> Reading | None:
        """The held change if it is due at monotonic `now`: the pin switched (which
        drops it, also when the pin fails: it is not retried), and its reading.
        None if nothing is held, or not yet (a limit made longer meanwhile: its
        time is set again)."""
        state = driver.pending
        left_s = driver.held_left_s(device.config, now)
        # at its due time, the wait computed again may be a few 1e-12 s above 0,
        # which a deadline of now + that cannot hold: the alarm came back at once
        if state is None or left_s is None:
            self.forget(device.name)
            return None
        if left_s > _DUE_WITHIN_S:
            self.set(device.name, now + left_s)  # retime(): a limit made longer
            return None
        self.forget(device.name)
        return driver.switch(device.config, state, wall)


def reply(
    device: Device,
    driver: GpioOutput,
    action: str,
    wall: float,
    hold: Hold | None = None,
) -> tuple[bytes, bytes]:
    """200 with the output's reading as it is (the pin does not move), and what is
    pending (`{"state", "in_s", "detail"}`) if a change is held."""
    reading = Reading(driver.value(), device.config.text("unit"), Status.OK, wall)
    fields: dict[str, JsonValue] = {"reading": reading.as_json()}
    if hold is not None:
        fields["pending"] = hold.as_json()
    return ok(action, device=device.name, **fields)


def get_reply(
    device: Device, driver: GpioOutput, request: Request, now: float
) -> tuple[bytes, bytes] | None:
    """A `get` of a switch with a change held: the common reply with what is
    pending, as a held command's reply says it, at monotonic `now` (after a restart
    the reading alone looked as if the command had been lost). None: nothing held,
    or a `get` with a value, which the common handling refuses."""
    state = driver.pending
    if request.action != "get" or request.value is not None or state is None:
        return None
    decision = driver.decide(device.config, "on" if state else "off", None, now)
    if decision is None or decision.hold is None:
        return None
    return ok(
        "get",
        device=device.name,
        fullname=device.fullname,
        reading=None if device.last is None else device.last.as_json(),
        errors=device.errors,
        pending=decision.hold.as_json(),
    )


def pending_entry(
    device: Device, driver: GpioOutput, due: float | None, now: float, wall: float
) -> dict[str, JsonValue] | None:
    """What is pending for a switch, as its tree key says it (None: nothing):
    the state, when it is due as epoch s (`due` monotonic, `now` and `wall` the
    same moment), and why (the reply's `detail`, as of `now`)."""
    state, since = driver.pending, driver.last_change(now)
    if state is None or due is None or since is None:
        return None
    config = device.config
    detail = too_soon(
        not state, since, config.real("min_on_s"), config.real("min_off_s"), now
    )
    due_wall = round(wall + max(0.0, due - now), 3)  # the same at each look
    return {"state": state, "due": due_wall, "detail": detail or ""}


class HoldLog:
    """Counts each change held and each carried out, and logs them at most once a
    minute per output (a scenario's toggle loop is held every other time)."""

    def __init__(self, stats: Stats, service: str) -> None:
        self._stats = stats
        self._stat = f"devices.{service}."
        self._limiter = LogRateLimiter()

    def restored(self, device: Device, state: bool) -> None:
        """A start held a stored change again (initial = "restore"): said once, so
        that the log tells why a switch goes by itself minutes after a start."""
        self._stats.incr(f"{self._stat}held_restored")
        log.info("device_held_switch_restored", device=device.fullname, state=state)

    def held(self, device: Device, action: str, hold: Hold, now: float) -> None:
        self._stats.incr(f"{self._stat}held")
        if self._limiter.should_log(f"held {device.name}", now):
            log.info(
                "device_switch_held",
                device=device.fullname,
                action=action,
                reason=hold.detail,
            )

    def done(
        self, device: Device, state: bool | None, reading: Reading, now: float
    ) -> None:
        self._stats.incr(f"{self._stat}held_done")
        if self._limiter.should_log(f"held_done {device.name}", now):
            log.info(
                "device_held_switch_done",
                device=device.fullname,
                state=state,
                status=reading.status.value,
            )
