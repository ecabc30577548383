"""The steps of a run that go out of it (rules.run_walk calls them): a device
command and a `call:` (an MDP request, and its reply read), and the checks a key or
value passes before a `set` or `event` sends it, so that the tree never refuses
after the fact what a run thinks it wrote."""

from __future__ import annotations

import json
import math
from collections.abc import Generator, Mapping
from typing import Final

from raspy import json_text
from raspy.devices.template import JsonValue
from raspy.errors import MalformedMessage, shown
from raspy.protocol import clone
from raspy.rules import model
from raspy.rules.raspy_keys import refusal_of_raspys_key
from raspy.rules.run_scope import RunScope, short
from raspy.rules.run_steps import Reply, Resume, RunFailed, SendRequest, Step

TITANIC_SERVICE: Final = "titanic.request"


def _asked(request: Mapping[str, JsonValue]) -> str:
    """A device request in a trace line: its action, and the value sent if any."""
    given = f" {short(request['value'])}" if "value" in request else ""
    return f"{request['action']}{given}"


def fitting(scope: RunScope, action: str, key: str, value: JsonValue) -> JsonValue:
    """`value`, or RunFailed naming the `action` (`set`) and its key when the tree
    would drop it as too large (the server refuses it after the fact, and the run
    would look successful), or when it is no JSON (a number that is not finite,
    from a tree body `1e400`), as `expr:` fails for such a result."""
    limit = scope.env.max_value_bytes
    if isinstance(value, float) and not math.isfinite(value):
        raise RunFailed(f"{action}: key {shown(key)}: the value is not a finite number")
    if not isinstance(value, str | list | dict):
        return value  # a number, true, false or null: a few bytes
    if isinstance(value, str) and 6 * len(value) + 2 <= limit:
        return value  # even all \uXXXX escapes fit: no need to encode it here
    try:
        size = len(json_text.encode(value))
    except ValueError:
        raise RunFailed(
            f"{action}: key {shown(key)}: the value holds a number that is not finite"
        ) from None
    if size > limit:
        raise RunFailed(
            f"{action}: key {shown(key)}: a value of {size} bytes is over [clone] "
            f"max_value_bytes ({limit})"
        )
    return value


def _utf8(text: str, where: str) -> bytes:
    """`text` as UTF-8, or RunFailed saying `where` (`key "/x":`) holds text no
    UTF-8 holds: a tree value may name a lone surrogate (`"caf\\ud800"` is ASCII
    and JSON), which a template puts in a key, a frame or a name."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        lone = f"\\u{ord(text[exc.start]):04x}"
        raise RunFailed(f"{where} not UTF-8 text (a lone surrogate, {lone})") from None


def _frame(scope: RunScope, template: str, where: str) -> bytes:
    """A `call:` body frame filled in; RunFailed naming `where` (`call hub.echo:
    body frame 2`) when a field cannot fill it: one naming a number that is not
    finite (a tree body `1e400`) would write `Infinity` or `NaN`, no JSON, where a
    device's value or an http body fails the run (scope.text refuses it)."""
    text = scope.text(template, where)
    return _utf8(text, f"{where} is")


def checked_key(scope: RunScope, template: str, action: str) -> str:
    """A Clone key filled in; RunFailed when the tree would refuse it (§6.2), or
    when a field cannot fill it, naming the `action` (`set`) and its key."""
    key = scope.text(template, lambda: f"{action}: key")
    raw = _utf8(key, f"{action}: key {shown(key)}:")
    try:
        clone.check_path_key(raw, scope.env.max_key_bytes)
    except MalformedMessage as exc:
        raise RunFailed(f"{action}: key {shown(key)}: {exc.detail}") from None
    refusal = refusal_of_raspys_key(key)
    if refusal is not None:  # a key made at run time: `/scenario/{trigger.value}/…`
        raise RunFailed(f"{action}: {refusal}")
    return key


def device_step(
    scope: RunScope, action: model.DeviceAction
) -> Generator[Step, Resume, None]:
    fullname = scope.text(action.device, lambda: "device")
    _utf8(fullname, f"device {shown(fullname)}:")  # its service is a frame
    host, _, rest = fullname.partition(".")
    service, _, device = rest.partition(".")
    if not (host and service and device):
        raise RunFailed(f"device {shown(fullname)}: expected <host>.<service>.<device>")
    command = scope.text(action.action, lambda: f"device {fullname}: action")
    if not command:  # `action: "{trigger.id}"` in a run without one (a manual run)
        raise RunFailed(
            f"device {fullname}: action {shown(action.action)} gave no command in "
            f"this run (its trigger: {_started(scope.trigger)}): nothing sent"
        )
    request: dict[str, JsonValue] = {"v": 1, "action": command, "device": device}
    if action.expr is not None:
        value = scope.value_of(
            None, action.expr, lambda: f"device {fullname} {command}"
        )
        if value is not None:  # null is no value to a device, as `value: null` is
            request["value"] = value
    elif action.value is not None:
        request["value"] = scope.value(
            action.value, lambda: f"device {fullname} {command}: value"
        )
    try:  # as a `set` does: `Infinity` (a body `1e400` read) is no JSON
        body = (json.dumps(request, allow_nan=False).encode("utf-8"),)
    except ValueError:
        raise RunFailed(
            f"device {fullname}: {command}: the value is or holds a number that is "
            "not finite"
        ) from None
    scope.note(lambda: f"device {fullname} {_asked(request)}")
    reply = yield from _request(
        scope,
        f"{host}.{service}.devices",
        body,
        action.timeout_s,
        f"device {fullname}: {command}",
    )
    status = reply[0] if reply else b""
    scope.note(lambda: f"device {fullname}: {_describe(reply)}")
    if status != b"200":
        raise RunFailed(f"device {fullname}: {command} answered {_describe(reply)}")


def call_step(
    scope: RunScope, action: model.CallAction
) -> Generator[Step, Resume, None]:
    service = scope.text(action.service, lambda: "call")
    # refused here, where the run says why: the actor could not send it, and the
    # run waited for its timeout
    _utf8(service, f"call {shown(service)}: the service is")
    body = tuple(
        _frame(scope, frame, f"call {service}: body frame {number}")
        for number, frame in enumerate(action.body, 1)
    )
    scope.note(lambda: f"call {service}" + (" (titanic)" if action.titanic else ""))
    if action.titanic:
        reply = yield from _request(
            scope,
            TITANIC_SERVICE,
            (service.encode("utf-8"), *body),
            action.timeout_s,
            f"call {service} (titanic)",
        )
        scope.note(lambda: f"call {service} (titanic): {_describe(reply)}")
        if not reply or reply[0] != b"200":
            raise RunFailed(
                f"titanic refused the call to {service}: {_describe(reply)}"
            )
        return
    reply = yield from _request(
        scope, service, body, action.timeout_s, f"call {service}"
    )
    scope.note(lambda: f"call {service}: {_describe(reply)}")
    # a reply whose first frame is an error status (4xx/5xx) is a failure
    if (
        reply
        and len(reply[0]) == 3
        and reply[0][:1] in (b"4", b"5")
        and reply[0].isdigit()
    ):
        raise RunFailed(f"call {service} answered {_describe(reply)}")


def _request(
    scope: RunScope,
    service: str,
    body: tuple[bytes, ...],
    timeout_s: float,
    what: str,
) -> Generator[Step, Resume, tuple[bytes, ...]]:
    """The reply to a request to `service`; no reply by `timeout_s` fails the run
    naming the action (`what`: `device pi.fake.lamp: on`) and the service asked
    (its board may be away)."""
    deadline = scope.clock.mono + timeout_s
    answer = yield SendRequest(scope.env.next_request_id(), service, body, deadline)
    if isinstance(answer, Reply):
        return answer.body
    raise RunFailed(f"{what}: {service} did not answer within {timeout_s:g}s")


def _started(trigger: Mapping[str, JsonValue]) -> str:
    """What started a run, as `raspy scenario show` says it: `manual`, `kv`, ...,
    and `manual by NAME` for a run another scenario's `run:` started."""
    kind, by = trigger.get("kind") or "manual", trigger.get("by")
    return f"{kind} by {by}" if by else str(kind)


def _describe(reply: tuple[bytes, ...]) -> str:
    """A reply shown in a reason: its status and, for JSON errors, the token; for
    a change a device holds (a GPIO switch's min_off_s), what it holds."""
    if not reply:
        return "an empty reply"
    status = reply[0].decode("utf-8", "replace")[:16]
    if len(reply) > 1:
        try:
            detail = json_text.loads(reply[1])
        except ValueError:
            return status
        if isinstance(detail, dict) and "error" in detail:
            extra = f" ({detail['detail']})" if detail.get("detail") else ""
            return f"{status} {detail['error']}{extra}"[:160]
        pending = detail.get("pending") if isinstance(detail, dict) else None
        if isinstance(pending, dict) and isinstance(pending.get("detail"), str):
            return f"{status} held ({pending['detail']})"[:160]
    return status
