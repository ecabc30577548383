"""An expression tested again as what it reads changes: a `when:` trigger's
(rules.when_watch) and a `wait_until`'s (rules.run_waits). What the two share is
written here once, so that a trigger and a wait never read the same change
differently:

- no value is no change: a test that faults (a null compared, a text added to a
  number) is neither true nor false, and the fault is said once, when it begins,
  not at every re-test (the scenario's `last_error` is on an SD card);
- a change is tested with its key as that change left it (`changed`): the shared
  view of the tree may be ahead already (a bell's 0, 1, 0 in quick succession
  reaches a scenario after the view says 0 again), and the 1 must count;
- a test that reads the time is tested again as the wall clock turns a minute
  (`next_minute`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, TypeVar

from raspy.devices.template import JsonValue
from raspy.errors import ScenarioError
from raspy.rules.model import EvalContext, Expression

MINUTE_S: Final = 60.0
# a re-test a hair after the minute turns, so that hour() and between() read the new
# minute even when the wall clock's fraction rounds the other way
_PAST_THE_MINUTE_S: Final = 0.01
_REASON_CHARS: Final = 500  # a fault as the scenario's last_error shows it
Read = TypeVar("Read")


class Fault:
    """A test that faulted: neither true nor false."""


FAULT: Final = Fault()


@dataclass(slots=True)
class Retested:
    """One expression's tests in turn; `name` says whose it is in a fault's
    reason (`trigger 2 when`, `wait_until`); `fault`: the last test faulted."""

    expression: Expression
    name: str
    fault: bool = False

    def value(
        self,
        context: EvalContext,
        said: list[str],
        changed: tuple[str, JsonValue] | None = None,
    ) -> JsonValue | Fault:
        """The expression's value in `context` (`changed`: that key read as its
        change left it), or FAULT; a fault that begins with this test is appended
        to `said`, the one after it is not."""
        if changed is not None:
            key, seen = changed
            context = dataclasses.replace(
                context,
                kv=_overlaid(context.kv, key, seen),
                kv_size=_overlaid(context.kv_size, key, 0),  # at hand: none decoded
            )
        try:
            value = self.expression.evaluate(context)
        except ScenarioError as exc:
            if not self.fault:
                said.append(f"{self.name}: {exc}"[:_REASON_CHARS])
            self.fault = True
            return FAULT
        self.fault = False
        return value


def _overlaid(
    read: Callable[[str], Read], key: str, value: Read
) -> Callable[[str], Read]:
    """`read` (a key's value, or its size) with `key` reading `value`."""
    return lambda asked: value if asked == key else read(asked)


def next_minute(mono: float, wall: float) -> float:
    """The monotonic time of the next turn of the wall clock's minute."""
    return mono + (MINUTE_S - wall % MINUTE_S) + _PAST_THE_MINUTE_S
