"""The `actions:` of a scenario document -> rules.model actions (problems recorded in
Checks): each action's kind and keys, the blocks (`repeat`, `choose`, `if`), the
waits, `run`, `stop`, `log` and `condition`; rules.document_calls reads those that
reach outside the run, rules.document_http an `http:`. Strings the engine fills in
are checked as templates here, at load."""

from __future__ import annotations

import re
from typing import Final

import yaml

from raspy.errors import quote
from raspy.names import NAME_PATTERN
from raspy.rules import document_calls, document_http, model
from raspy.rules.document_checks import Checks
from raspy.rules.document_shapes import join
from raspy.rules.document_values import seconds, wait
from raspy.rules.document_when import reads_nothing, reads_time
from raspy.rules.document_yaml import Invalid, kind_of, scalar, text_offset

KEYS: Final[dict[str, tuple[str, ...]]] = {
    "device": ("action", "value", "expr", "timeout"),
    "set": ("value", "expr", "ttl"),
    "delete": (),
    "call": ("body", "titanic", "timeout"),
    "http": document_http.KEYS,
    "wait": (),
    "wait_until": ("timeout", "continue_on_timeout"),
    "repeat": (),
    "choose": ("else",),
    "if": ("then", "else"),
    "event": ("value", "expr"),
    "run": (),
    "stop": (),
    "log": ("level",),
    "condition": (),
}
KINDS: Final = tuple(KEYS)
MAX_ACTIONS: Final = 200
MAX_COUNT: Final = 10_000
LEVELS: Final = ("debug", "info", "warning", "error")
_NAME: Final = re.compile(NAME_PATTERN)
# a wait_until that nothing tests again (no key, no time) and no timeout ends: it
# holds at once or waits for ever. With a timeout it is a pause of that timeout at
# most: taken, as before (a stored scenario so written still loads after an upgrade)
NEVER_RETESTED: Final = (
    "reads no key with kv('...') and not the time, so nothing tests it again:"
    " without a timeout it holds at once or waits for ever (give it a timeout:, or"
    " write a wait:)"
)

Entries = dict[str, tuple[yaml.Node, yaml.Node]]


def read_actions(
    checks: Checks, node: yaml.Node, path: str, *, empty_ok: bool = True
) -> tuple[model.Action, ...] | None:
    items = checks.sequence(node, path, MAX_ACTIONS)
    if items is None:
        return None
    if not items and not empty_ok:
        checks.problem(node, path, "expected at least one action")
        return None
    actions = [
        read_action(checks, item, f"{path}[{i}]") for i, item in enumerate(items)
    ]
    if any(action is None for action in actions):
        return None
    return tuple(action for action in actions if action is not None)


def read_action(checks: Checks, node: yaml.Node, path: str) -> model.Action | None:
    entries = checks.mapping(node, path)
    if entries is None:
        return None
    extras = {k for extra in KEYS.values() for k in extra}
    kind = checks.kind(node, entries, path, KINDS, extras, "an action")
    if kind is None:
        return None
    known = checks.known_keys(entries, path, (kind, *KEYS[kind]))
    action = _READERS[kind](checks, entries, path, entries[kind][1], join(path, kind))
    return action if known else None


def _wait(
    checks: Checks, _entries: Entries, _path: str, node: yaml.Node, where: str
) -> model.Action | None:
    return wait(checks, node, where)


def _wait_until(
    checks: Checks, entries: Entries, path: str, node: yaml.Node, where: str
) -> model.Action | None:
    condition = checks.expression(node, where)
    timeout_s = seconds(checks, entries, path, "timeout", -1.0)  # -1: none
    go_on: bool | None = False
    if "continue_on_timeout" in entries:
        go_on = checks.boolean(
            entries["continue_on_timeout"][1], join(path, "continue_on_timeout")
        )
    if condition is None or isinstance(timeout_s, Invalid) or go_on is None:
        return None
    if timeout_s < 0 and reads_nothing(condition):
        offset = text_offset(node, 0, checks.document)
        checks.problem(node, where, NEVER_RETESTED, offset)
        return None
    timeout = None if timeout_s < 0 else timeout_s
    return model.WaitUntilAction(condition, timeout, go_on, reads_time(condition))


def _repeat(
    checks: Checks, entries: Entries, path: str, node: yaml.Node, where: str
) -> model.Action | None:
    """A repeat; `repeat.index` is known in its actions and tests."""
    checks.repeats += 1
    try:
        return _repeat_inside(checks, entries, path, node, where)
    finally:
        checks.repeats -= 1


def _repeat_inside(
    checks: Checks, _entries: Entries, _path: str, node: yaml.Node, where: str
) -> model.Action | None:
    entries = checks.mapping(node, where)
    if entries is None or not checks.known_keys(
        entries, where, ("count", "while", "until", "actions")
    ):
        return None
    how = [key for key in ("count", "while", "until") if key in entries]
    if len(how) != 1:
        checks.problem(node, where, "a repeat needs exactly one of count, while, until")
        return None
    if "actions" not in entries:
        checks.problem(node, where, "a repeat needs actions:")
        return None
    actions = read_actions(
        checks, entries["actions"][1], join(where, "actions"), empty_ok=False
    )
    value_node = entries[how[0]][1]
    if how[0] == "count":
        count = checks.integer(value_node, join(where, "count"), 1, MAX_COUNT)
        if count is None or actions is None:
            return None
        return model.RepeatAction(actions, count=count)
    condition = checks.expression(value_node, join(where, how[0]))
    if condition is None or actions is None:
        return None
    if how[0] == "while":
        return model.RepeatAction(actions, while_=condition)
    return model.RepeatAction(actions, until=condition)


def _choose(
    checks: Checks, entries: Entries, path: str, node: yaml.Node, where: str
) -> model.Action | None:
    items = checks.sequence(node, where, MAX_ACTIONS)
    if items == [] and "else" not in entries:
        # as an empty repeat is: nothing to choose from is a mistake; with an
        # else it always takes the else, as it always did (stored texts load)
        checks.problem(
            node, where, "a choose needs at least one if/then choice (or an else:)"
        )
        items = None
    branches: list[model.Branch] = []
    ok = items is not None
    for index, item in enumerate(items or ()):
        branch = _branch(checks, item, f"{where}[{index}]")
        ok = ok and branch is not None
        if branch is not None:
            branches.append(branch)
    otherwise = _otherwise(checks, entries, path)
    if not ok or otherwise is None:
        return None
    return model.ChooseAction(tuple(branches), otherwise)


def _otherwise(
    checks: Checks, entries: Entries, path: str
) -> tuple[model.Action, ...] | None:
    """A choose's or an if's `else:` (none: no actions; None: it has problems)."""
    if "else" not in entries:
        return ()
    return read_actions(checks, entries["else"][1], join(path, "else"))


def _branch(checks: Checks, node: yaml.Node, path: str) -> model.Branch | None:
    entries = checks.mapping(node, path)
    if entries is None or not checks.known_keys(entries, path, ("if", "then")):
        return None
    missing = [key for key in ("if", "then") if key not in entries]
    if missing:
        checks.problem(node, path, f"a choice needs {missing[0]}:")
        return None
    condition = checks.expression(entries["if"][1], join(path, "if"))
    actions = read_actions(checks, entries["then"][1], join(path, "then"))
    if condition is None or actions is None:
        return None
    return model.Branch(condition, actions)


def _if(
    checks: Checks, entries: Entries, path: str, node: yaml.Node, where: str
) -> model.Action | None:
    """`if:`, `then:` and `else:` side by side, checked as a choose's choice is."""
    condition = checks.expression(node, where)
    if "then" not in entries:
        checks.problem(entries["if"][0], path, "an if action needs then:")
        return None
    then = read_actions(checks, entries["then"][1], join(path, "then"), empty_ok=False)
    otherwise = _otherwise(checks, entries, path)
    if condition is None or then is None or otherwise is None:
        return None
    return model.IfAction(condition, then, otherwise)


def _scenario_name(checks: Checks, node: yaml.Node, where: str) -> str | None:
    name = checks.template(node, where)
    if name is not None and "{" not in name and not _NAME.fullmatch(name):
        checks.problem(
            node,
            where,
            f"expected a scenario name ({NAME_PATTERN}), got {quote(name)}",
        )
        return None
    return name


def _run(
    checks: Checks, _entries: Entries, _path: str, node: yaml.Node, where: str
) -> model.Action | None:
    name = _scenario_name(checks, node, where)
    return None if name is None else model.RunAction(name)


def _stop(
    checks: Checks, _entries: Entries, _path: str, node: yaml.Node, where: str
) -> model.Action | None:
    name = _scenario_name(checks, node, where)
    return None if name is None else model.StopAction(name)


def _log(
    checks: Checks, entries: Entries, path: str, node: yaml.Node, where: str
) -> model.Action | None:
    message = checks.template(node, where)
    level: str | None = "info"
    if "level" in entries:
        level_node = entries["level"][1]
        raw = scalar(level_node)
        level = raw if isinstance(raw, str) and raw in LEVELS else None
        if level is None:
            checks.problem(
                level_node,
                join(path, "level"),
                f"expected one of {', '.join(LEVELS)}, got {kind_of(level_node)}",
            )
    if message is None or level is None:
        return None
    return model.LogAction(message, level)


def _condition(
    checks: Checks, _entries: Entries, _path: str, node: yaml.Node, where: str
) -> model.Action | None:
    condition = checks.expression(node, where)
    return None if condition is None else model.ConditionAction(condition)


_READERS: Final = {
    "device": document_calls.read_device,
    "set": document_calls.read_set,
    "delete": document_calls.read_delete,
    "call": document_calls.read_call,
    "http": document_http.read_http,
    "wait": _wait,
    "wait_until": _wait_until,
    "repeat": _repeat,
    "choose": _choose,
    "if": _if,
    "event": document_calls.read_event,
    "run": _run,
    "stop": _stop,
    "log": _log,
    "condition": _condition,
}
