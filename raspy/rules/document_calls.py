"""The actions of a scenario document that reach outside the run -> rules.model
actions (problems recorded in Checks): a device command, a `call:` and its frames,
a key set or deleted, an event published (rules.run_calls checks them again as they
run). Strings the engine fills in are checked as templates here, at load."""

from __future__ import annotations

import json
from typing import Final

import yaml

from raspy.errors import quote
from raspy.rules import model
from raspy.rules.document_checks import Checks
from raspy.rules.document_shapes import join
from raspy.rules.document_values import Entries, seconds, value_or_expr
from raspy.rules.document_yaml import Invalid
from raspy.rules.raspy_keys import refusal_of_raspys_key

MAX_FRAMES: Final = 16


def _key(checks: Checks, node: yaml.Node, path: str, prefix: str) -> str | None:
    key = checks.template(node, path)
    if key is not None and not key.startswith(prefix):
        checks.problem(
            node, path, f"expected a key starting with {prefix}, got {quote(key)}"
        )
        return None
    refusal = None if key is None or "{" in key else refusal_of_raspys_key(key)
    if refusal is not None:
        checks.problem(node, path, refusal)
        return None
    return key


def read_device(
    checks: Checks, entries: Entries, path: str, node: yaml.Node, where: str
) -> model.Action | None:
    device = checks.template(node, where)
    if device is not None and len([p for p in device.split(".", 2) if p]) < 3:
        checks.problem(
            node,
            where,
            f"expected <host>.<service>.<device> (e.g. {{host}}.fake.lamp), got {quote(device)}",
        )
        device = None
    if "action" not in entries:
        checks.problem(
            entries["device"][0],
            path,
            "a device action needs action: (e.g. action: set)",
        )
        return None
    action = checks.template(entries["action"][1], join(path, "action"))
    given = value_or_expr(checks, entries, path)
    timeout_s = seconds(checks, entries, path, "timeout", 5.0)
    if (
        device is None
        or action is None
        or isinstance(given, Invalid)
        or isinstance(timeout_s, Invalid)
    ):
        return None
    value, expr = given
    return model.DeviceAction(device, action, value, timeout_s, expr)


def read_set(
    checks: Checks, entries: Entries, path: str, node: yaml.Node, where: str
) -> model.Action | None:
    key = _key(checks, node, where, "/")
    if "value" not in entries and "expr" not in entries:
        checks.problem(
            entries["set"][0],
            path,
            "a set action needs value: or expr: (delete: KEY removes a key)",
        )
        return None
    given = value_or_expr(checks, entries, path)
    ttl_s = seconds(checks, entries, path, "ttl", 0.0)
    if key is None or isinstance(given, Invalid) or isinstance(ttl_s, Invalid):
        return None
    value, expr = given
    return model.SetAction(key, value, ttl_s, expr)


def read_delete(
    checks: Checks, _entries: Entries, _path: str, node: yaml.Node, where: str
) -> model.Action | None:
    key = _key(checks, node, where, "/")
    return None if key is None else model.DeleteAction(key)


def read_call(
    checks: Checks, entries: Entries, path: str, node: yaml.Node, where: str
) -> model.Action | None:
    service = checks.template(node, where)
    if service is not None and not service.strip():
        checks.problem(node, where, "expected a service name such as {host}.echo")
        service = None
    body = (
        _body(checks, entries["body"][1], join(path, "body"))
        if "body" in entries
        else ()
    )
    titanic: bool | None = False
    if "titanic" in entries:
        titanic = checks.boolean(entries["titanic"][1], join(path, "titanic"))
    timeout_s = seconds(checks, entries, path, "timeout", 5.0)
    if (
        service is None
        or body is None
        or titanic is None
        or isinstance(timeout_s, Invalid)
    ):
        return None
    return model.CallAction(service, body, titanic, timeout_s)


def _body(checks: Checks, node: yaml.Node, path: str) -> tuple[str, ...] | None:
    """Frames: text is a template; a list, mapping or number is sent as its JSON text."""
    items = (
        [node]
        if isinstance(node, yaml.ScalarNode)
        else checks.sequence(node, path, MAX_FRAMES)
    )
    if items is None:
        return None
    frames: list[str] = []
    for index, item in enumerate(items):
        where = path if item is node else f"{path}[{index}]"
        value = checks.json(item, where)
        if isinstance(value, Invalid):
            return None
        if isinstance(value, str):
            if not checks.check_template(item, where, value):
                return None
            frames.append(value)
        else:
            text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
            frames.append(text.replace("{", "{{").replace("}", "}}"))
    return tuple(frames)


def read_event(
    checks: Checks, entries: Entries, path: str, node: yaml.Node, where: str
) -> model.Action | None:
    key = _key(checks, node, where, "/event/")
    given = value_or_expr(checks, entries, path)
    if key is None or isinstance(given, Invalid):
        return None
    value, expr = given
    if "value" not in entries and expr is None:
        value = True  # an event without a value says that it happened
    return model.EventAction(key, value, expr)
