"""Where in a scenario's actions a run waits: a path from the top-level actions down
through `choose` branches, `if` sides and `repeat` passes to the `wait` (or the
`wait_until`) itself (pure).

The resume record (rules.resume_record) keeps it as JSON, and a restart takes the run
up there (rules.run.resumed). A path read back is checked against the document before
anything runs from it: one that points nowhere raises MalformedMessage, so the run
is named lost and the core never trips over it.
"""

from __future__ import annotations

from typing import Final, TypeAlias, TypeGuard

from raspy.devices.template import JsonValue
from raspy.errors import MalformedMessage, shown
from raspy.records import frozen
from raspy.rules import model

PROTOCOL: Final = "resume record"
ELSE: Final = "else"  # a choose's `else:` in a path's JSON
MAX_DEPTH: Final = 64  # far past any household's nesting; a record edited by hand


@frozen
class Place:
    """One level of a path: the action at `index` (from 0) of its block. Above the
    wait, that action holds the next level: a choose with the `choice` it took
    (from 1, in document order; 0 is its `else:`), an `if` as a one-choice choose
    (1 its `then:`, 0 its `else:`), or a repeat in its `pass_` (from 1). The last
    level is the wait, neither."""

    index: int
    choice: int | None = None
    pass_: int | None = None


Path: TypeAlias = tuple[Place, ...]


def to_json(path: Path) -> list[JsonValue]:
    """`[{"action": 2, "choice": 1}, {"action": 0, "pass": 3}, {"action": 1}]`."""
    found: list[JsonValue] = []
    for place in path:
        item: dict[str, JsonValue] = {"action": place.index}
        if place.choice is not None:
            item["choice"] = place.choice or ELSE
        if place.pass_ is not None:
            item["pass"] = place.pass_
        found.append(item)
    return found


def from_json(
    value: JsonValue, actions: tuple[model.Action, ...], *, until: bool = False
) -> tuple[Path, model.WaitAction | model.WaitUntilAction]:
    """The path `value` names in `actions`, and the wait (`until`: the wait_until)
    it ends at; MalformedMessage when it is no such path (a wrong shape, an index
    past its block, a choice or a pass where the action holds none, a last level
    that is not a wait, or not a wait_until)."""
    kind = model.WaitUntilAction if until else model.WaitAction
    if not isinstance(value, list) or not value:
        raise bad("bad_path", f"expected a list of places, got {shown(value)}")
    if len(value) > MAX_DEPTH:
        raise bad("bad_path", f"{len(value)} levels, more than {MAX_DEPTH}")
    path: list[Place] = []
    block = actions
    for depth, item in enumerate(value):
        last = depth == len(value) - 1
        place = _place(item, depth)
        if not place.index < len(block):
            raise bad("no_such_place", f"level {depth}: no action {place.index}")
        action = block[place.index]
        path.append(place)
        if last:
            if not isinstance(action, kind) or place != Place(place.index):
                what = "a wait_until" if until else "a wait"
                raise bad("no_such_place", f"level {depth}: not {what}")
            return tuple(path), action
        block = _inside(action, place, depth)
    raise AssertionError("unreachable: the loop returns at its last level")


def _place(item: JsonValue, depth: int) -> Place:
    if not isinstance(item, dict) or not set(item) <= {"action", "choice", "pass"}:
        raise bad("bad_path", f"level {depth}: expected a place, got {shown(item)}")
    index, choice, pass_ = item.get("action"), item.get("choice"), item.get("pass")
    if not is_count(index, 0):
        raise bad("bad_path", f"level {depth}: action {shown(index)}")
    assert isinstance(index, int)  # _count said so
    if choice is not None and choice != ELSE and not is_count(choice, 1):
        raise bad("bad_path", f"level {depth}: choice {shown(choice)}")
    if pass_ is not None and not is_count(pass_, 1):
        raise bad("bad_path", f"level {depth}: pass {shown(pass_)}")
    if choice is not None and pass_ is not None:
        raise bad("bad_path", f"level {depth}: both a choice and a pass")
    number = None if choice is None else 0 if choice == ELSE else choice
    assert number is None or isinstance(number, int)  # idem
    assert pass_ is None or isinstance(pass_, int)  # idem
    return Place(index, number, pass_)


def _inside(action: model.Action, place: Place, depth: int) -> tuple[model.Action, ...]:
    """The block of `action` that `place` goes into."""
    match action:
        case model.ChooseAction(branches=branches, otherwise=otherwise) if (
            place.choice is not None
        ):
            if place.choice == 0:
                return otherwise
            if place.choice <= len(branches):
                return branches[place.choice - 1].actions
            raise bad("no_such_place", f"level {depth}: no choice {place.choice}")
        case model.IfAction(then=then, otherwise=otherwise) if place.choice is not None:
            if place.choice > 1:
                raise bad("no_such_place", f"level {depth}: no choice {place.choice}")
            return then if place.choice else otherwise
        case model.RepeatAction(count=count, actions=inner) if place.pass_ is not None:
            if count is not None and place.pass_ > count:
                raise bad("no_such_place", f"level {depth}: pass {place.pass_}")
            return inner
    raise bad("no_such_place", f"level {depth}: no block at action {place.index}")


def is_count(value: JsonValue, least: int) -> TypeGuard[int]:
    """A whole number (not a bool) of at least `least`."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def bad(reason: str, detail: str) -> MalformedMessage:
    """A resume record's fault (the record and its paths alike)."""
    return MalformedMessage(PROTOCOL, reason, detail)
