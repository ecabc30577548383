"""A scenario's `when:` triggers: an expression re-tested as the keys it reads change
(and each minute when it reads the time), firing when it **becomes** true (pure: the
times passed in).

As a kv trigger's `above:`, it is a crossing: a test that stays true fires once.
No value is no change: a test that faults (a null compared, a text added to a number)
is neither true nor false. It fires nothing, breaks a `for:` hold, and the next
truth is taken against the one before the fault; the fault is told once, when it
begins, not at every reading (the scenario's `last_error` is on an SD card).

A step of the wall clock back (NTP correcting it by minutes) makes the minutes
before it come again: a test of the time alone (the minute's re-test) that becomes
true again then does not fire again until the clock passes where it was before the
step, as an `at:` trigger does not (rules.timing_scheduler: the same threshold, and
a step back of over REPEAT_GUARD_S is a correction, after which it fires at once).
A step forward of up to REPEAT_GUARD_S (a drifted clock set right) lets the next
minute's re-test fire a crossing it makes, once, as an `at:` the step went over
fires once at once; a larger one (a clock set right hours or days after a boot) is
a new time: that re-test takes the truth it finds and fires nothing (nor starts
a `for:` hold), as the scheduler fires nothing that step skipped.

The step is seen by whichever re-test comes first: a key's change that comes
before the minute's re-test (a sensor read every few seconds) would otherwise
fire the crossing the step made. While these rules hold (`_again`), a change
first re-tests the tests that read the time as the minute's re-test would, with
the key as it was before the change, then as the change left it, as ever: the
crossing the step made fires nothing; the one the change makes fires. A change in
the same moment as the step is thus taken as coming just after it: what fires is
what fires when the minute's re-test comes between them, so it does not hang on
which of the two the hub heard first.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from raspy.devices.template import JsonValue
from raspy.rules import model
from raspy.rules.engine_env import Surroundings
from raspy.rules.expr_keys import literal_globs
from raspy.rules.expr_values import truthy
from raspy.rules.retest import MINUTE_S, Fault, Retested, next_minute
from raspy.rules.timing_scheduler import DEFAULT_JUMP_THRESHOLD_S, REPEAT_GUARD_S
from raspy.rules.trigger_match import TriggerData, matcher, trigger_data


@dataclass(slots=True)
class _When:
    """One `when:` trigger and what it knows: its last truth (kept through a fault),
    its tests (whether it faults now), and its `for:` hold (start and deadline,
    monotonic)."""

    trigger: model.WhenTrigger
    tested: Retested  # its fault named by its number: `trigger 2 when: ...`
    wants: Callable[[str], bool]  # the keys whose change re-tests it
    context_trigger: Mapping[str, JsonValue]
    truth: bool = False
    broken: bool = False  # a fault broke its hold: a truth back holds again
    hold: TriggerData | None = None
    hold_start: float = 0.0
    hold_deadline: float = 0.0
    hold_wall: float = 0.0  # its start on the wall clock (a minute's turn: exact)


@dataclass(slots=True)
class WhenOutcome:
    """What a re-test gave: the triggers that fire, and the faults that began."""

    fired: list[TriggerData] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)


class WhenWatch:
    """The `when:` triggers of one scenario; see the module docstring."""

    def __init__(self, triggers: Iterable[model.Trigger], env: Surroundings) -> None:
        self._env = env
        names: dict[str, JsonValue] = {**env.variables, "host": env.settings.host}
        self._whens: list[_When] = []
        for number, trigger in enumerate(triggers, 1):
            if not isinstance(trigger, model.WhenTrigger):
                continue
            globs = literal_globs([trigger.expression], names)
            self._whens.append(
                _When(
                    trigger,
                    Retested(trigger.expression, f"trigger {number} when"),
                    matcher(globs),
                    trigger_data("when", trigger.id),
                )
            )
        self._timed = [w for w in self._whens if w.trigger.reads_time]
        self.active = bool(self._whens)  # an attribute: read on each key's change
        self._next_minute: float | None = None  # monotonic, when _timed re-test
        self._offset = 0.0  # wall - mono at the last look: a minute's or a change's
        # after a small step back: the wall time the clock was at before it, until
        # which a crossing of the minute's re-test fires nothing
        self._back_until: float | None = None

    def start(
        self,
        mono: float,
        wall: float,
        seen: Iterable[tuple[str, JsonValue]] | None = None,
    ) -> WhenOutcome:
        """The scenario starts (raspyd's start, an import, an enable): the truth now
        is where it starts from, so a test already true fires nothing; with `for:`
        it holds from now, for its whole time (as a kv trigger's `for:`).

        `seen`: the keys the tests read as the owner had them when it told the
        start (a key missing: absent). The shared view may be ahead by the time
        the start is taken, and a change after the start is on its way here: read
        from the view, it would be the start's truth and never cross (a door
        opened just after an import answered fired nothing). None: the view."""
        outcome = WhenOutcome()
        values = None if seen is None else dict(seen)
        for when in self._whens:
            when.truth = when.tested.fault = when.broken = False
            when.hold = None
            value = self._test(when, wall, outcome, as_seen=values)
            if isinstance(value, Fault):
                continue
            when.truth = truthy(value)
            if when.truth and when.trigger.for_s > 0:
                self._hold(when, None, value, mono, wall)
        if self._timed:
            self._next_minute = next_minute(mono, wall)
        self._offset, self._back_until = wall - mono, None
        return outcome

    def on_change(
        self, key: str, old: JsonValue, new: JsonValue, mono: float, wall: float
    ) -> WhenOutcome:
        """`key` changed from `old` to `new` (None: absent, deleted): the triggers
        that read it are re-tested with `key` as this change left it. The shared
        view of the tree may be ahead already (a 0, 1, 0 in quick succession
        reaches the scenario after the view says 0 again), and a change that
        crossed must fire, as a kv trigger's `to:` does from the change itself.

        A step of the clock is seen here too when this change comes before the
        minute's re-test (a sensor read every few seconds): see `_after_a_step`."""
        outcome = WhenOutcome()
        if self._timed:
            self._after_a_step(key, old, mono, wall, outcome)
        for when in self._whens:
            if when.wants(key):
                self._step(when, key, mono, wall, outcome, (key, new))
        return outcome

    def due(self, mono: float, wall: float) -> WhenOutcome:
        """The holds that held long enough (each fires once, its `trigger.since`
        counted back by the monotonic clock, as a kv hold's), then, when the minute
        turned, the tests that read the time (`trigger.key` null)."""
        outcome = WhenOutcome()
        for when in self._whens:
            if when.hold is not None and when.hold_deadline <= mono:
                when.hold["since"] = wall - (mono - when.hold_start)
                outcome.fired.append(when.hold)
                when.hold = None
        if self._next_minute is not None and self._next_minute <= mono:
            again = self._again(mono, wall)
            for when in self._timed:
                self._step(when, None, mono, wall, outcome, again=again)
            self._next_minute = next_minute(mono, wall)
        return outcome

    def _after_a_step(
        self, key: str, old: JsonValue, mono: float, wall: float, outcome: WhenOutcome
    ) -> None:
        """Before a change's re-test, while the step rules hold (`_again`): the
        tests that read the time are re-tested as the minute's re-test would be,
        with `key` as it was before the change, so that the crossing the clock made
        fires nothing and the one the change makes fires as ever. A change in the
        same moment as the step is taken as coming after it: what fires does not
        hang on whether the minute's re-test came between them."""
        if not self._again(mono, wall):
            return
        for when in self._timed:
            before = (key, old) if when.wants(key) else None
            self._step(when, None, mono, wall, outcome, before, again=True)

    @property
    def faulting(self) -> bool:
        """Whether a test faults now (its last test did)."""
        return any(when.tested.fault for when in self._whens)

    def next_deadline(self) -> float | None:
        holds = [w.hold_deadline for w in self._whens if w.hold is not None]
        if self._next_minute is not None:
            holds.append(self._next_minute)
        return min(holds, default=None)

    def clear(self) -> None:
        """A disable: nothing holds, nothing is re-tested until the next start."""
        for when in self._whens:
            when.hold = None
        self._next_minute = None

    def _again(self, mono: float, wall: float) -> bool:
        """Whether the wall clock is in minutes it went through already, before a
        step back of up to REPEAT_GUARD_S (seen by the offset from the monotonic
        clock, as the scheduler sees one, at a minute's re-test or a change's,
        whichever comes first); a step forward or a larger one back ends that.
        True too right after a step forward of more than REPEAT_GUARD_S, once: a
        new time, whose truth is taken without a fire."""
        delta, self._offset = wall - mono - self._offset, wall - mono
        if -REPEAT_GUARD_S <= delta < -DEFAULT_JUMP_THRESHOLD_S:
            before = wall - delta  # where the clock would be without the step
            self._back_until = max(before, self._back_until or before)
        elif abs(delta) > DEFAULT_JUMP_THRESHOLD_S:
            self._back_until = None
            if delta > REPEAT_GUARD_S:
                return True
        if self._back_until is not None and wall >= self._back_until:
            self._back_until = None
        return self._back_until is not None

    # --- one trigger ---------------------------------------------------------------------
    def _step(
        self,
        when: _When,
        key: str | None,
        mono: float,
        wall: float,
        outcome: WhenOutcome,
        changed: tuple[str, JsonValue] | None = None,
        *,
        again: bool = False,
    ) -> None:
        """`again`: the clock is in minutes it went through before a step back, or
        just stepped forward by hours: a crossing is its truth, and fires nothing
        (it fired the first time, or its time was not seen); given only to a
        re-test of the time (`key` None), never to a change's."""
        value = self._test(when, wall, outcome, changed)
        if isinstance(value, Fault):
            if when.hold is not None:
                when.broken = True  # it cannot be said to have held through
            when.hold = None
            return
        now_true = truthy(value)
        was, broken = when.truth, when.broken
        when.truth, when.broken = now_true, False
        if not now_true:
            if key is None and when.hold is not None:
                self._held_to_the_turn(when, mono, wall, outcome)
            when.hold = None
            return
        if when.hold is not None:
            when.hold["value"] = value
            return
        if (was and not broken) or again:
            return  # still true: no crossing; or one made again by a step back
        if when.trigger.for_s > 0:
            self._hold(when, key, value, mono, wall, turned=key is None)
        else:
            outcome.fired.append(
                trigger_data("when", when.trigger.id, key=key, value=value)
            )

    def _test(
        self,
        when: _When,
        wall: float,
        outcome: WhenOutcome,
        changed: tuple[str, JsonValue] | None = None,
        *,
        as_seen: Mapping[str, JsonValue] | None = None,
    ) -> JsonValue | Fault:
        """The expression's value now (`changed`: that key as its change left it;
        `as_seen`: the keys it reads as the start saw them), or FAULT (said once,
        when it begins)."""
        context = self._env.context(when.context_trigger, wall)
        if as_seen is not None:
            live, wants, sized = context.kv, when.wants, context.kv_size
            context = dataclasses.replace(
                context,
                kv=lambda key: as_seen.get(key) if wants(key) else live(key),
                kv_size=lambda key: 0 if wants(key) else sized(key),  # at hand
            )
        return when.tested.value(context, outcome.faults, changed)

    @staticmethod
    def _hold(
        when: _When,
        key: str | None,
        value: JsonValue,
        mono: float,
        wall: float,
        *,
        turned: bool = False,
    ) -> None:
        """Hold from now; `turned`: the minute's re-test found it true, so it holds
        from the minute's turn (a test of the time changes there), not from its
        tick, which may come late."""
        back = wall % MINUTE_S if turned else 0.0
        when.hold = trigger_data("when", when.trigger.id, key=key, value=value)
        when.hold_start = mono - back
        when.hold_wall = wall - back
        when.hold_deadline = when.hold_start + when.trigger.for_s

    @staticmethod
    def _held_to_the_turn(
        when: _When, mono: float, wall: float, outcome: WhenOutcome
    ) -> None:
        """The minute's re-test finds a hold's test false: if it held from its start
        to this turn of the minute for its whole time (`between('22:00',
        '06:00')` held `for: 8h`), it fires, as the hold's deadline would have at
        the same moment. Measured on the wall clock, between turns of its minute:
        on the monotonic one, whether the deadline came before the re-test hung
        on a late tick or the clock's slew. Not after a step of the wall clock."""
        hold = when.hold
        turn = wall - wall % MINUTE_S
        drift = (wall - mono) - (when.hold_wall - when.hold_start)
        if hold is None or abs(drift) > DEFAULT_JUMP_THRESHOLD_S:
            return
        if turn - when.hold_wall >= when.trigger.for_s:
            hold["since"] = when.hold_wall
            outcome.fired.append(hold)
