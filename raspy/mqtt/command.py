"""The MQTT bridge's requests to MDP services (pure): the commands from MQTT back to
the devices (or scenarios), and the `list` requests discovery makes.

A message on a command topic becomes a request to the device service (or the
scenario service), or a refusal on `…/result`; a reply goes out on `…/result`, a
request with none in REQUEST_TIMEOUT_S gets a 504 there. A control's command
(raspy.mqtt.controls) is checked here and becomes a write of its key (WriteKey),
answered when the Clone server publishes it (by the update's uuid) or refuses it. A `list` request's reply
and timeout are handed back to the caller (raspy.mqtt.announce reads them).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Final

from raspy.controls import ControlError, body_of
from raspy.devices.reading import value_key
from raspy.devices.template import JsonValue
from raspy.errors import MalformedMessage, quote
from raspy.mqtt import payload as payloads
from raspy.mqtt.buffer import Message
from raspy.mqtt.controls import ControlMap, control_value
from raspy.mqtt.mirror import Mirror
from raspy.mqtt.output import (
    REQUEST_TIMEOUT_S,
    BridgeSettings,
    Output,
    Refused,
    SendRequest,
    WriteKey,
)
from raspy.mqtt.topics import ControlTarget, DeviceTarget, ScenarioTarget, Target
from raspy.records import frozen

# commands waiting for an answer, at most: one more is answered 503 `busy` (the
# `list` requests of discovery, one per service, are not counted)
MAX_PENDING: Final = 256
# the detail of a retained command's refusal (its topic is logged beside it)
RETAINED_COMMAND: Final = "sent retained: an old command the broker replays, not run"
ADMIN_ACTIONS: Final = frozenset({"config", "log", "reset"})  # not over MQTT
# the device-service actions bridged besides the kinds' commands: `set` (the main
# command) and `commands`, the read that tells an MQTT user a device's actions (a
# word that is none gets no `…/result`: the bridge subscribes only to known actions)
SERVICE_ACTIONS: Final = frozenset({"set", "commands"})
READ_ACTIONS: Final = frozenset({"commands"})  # change nothing: every exposed device

# a `list` request's service (`<host>.<svc>.devices`), its reply's status and body
Listed = Callable[[str, int, JsonValue], list[Output]]
# a `list` request timed out: its service
ListExpired = Callable[[str], list[Output]]


@frozen
class _Pending:
    expires_at: float
    target: Target | None  # None: a `list` request for discovery
    action: str
    service: str


class Requests:
    """The requests in flight, by id; see the module docstring."""

    def __init__(
        self, settings: BridgeSettings, mirror: Mirror, controls: ControlMap
    ) -> None:
        self.settings = settings
        self.topics = settings.topics
        self._mirror = mirror
        self._controls = controls
        self._pending: dict[int, _Pending] = {}
        self._next_id = 0
        self._writes: dict[bytes, int] = {}  # a control's update uuid -> request id

    def command(
        self, topic: str, payload: bytes, now: float, *, retained: bool = False
    ) -> list[Output]:
        """A message on a command topic: a request, or a refusal on `…/result`.

        A retained message is an old command the broker replays on subscribing: it
        is refused, not run again at every restart of the bridge. One on a topic
        that is no command of this hub's is another's (a hub's, or with the
        discovery prefix equal to the base topic, another tool's config): left
        alone, as a live one is."""
        try:
            target = self.topics.parse_command(topic)
        except MalformedMessage as exc:
            return [] if retained else [Refused(exc.reason, exc.detail, topic=topic)]
        if not self._ours(target):
            return []  # another hub's, at the same broker: it answers it
        if retained:
            return [Refused("retained_command", RETAINED_COMMAND, topic=topic)]
        if isinstance(target, ControlTarget):
            return self._control(target, payload, now)
        action = target.action if isinstance(target, DeviceTarget) else "run"
        refusal = self._refusal(target)
        if refusal is not None:
            return self._answer(target, action, *refusal)
        try:
            value = payloads.parse_command(payload)
        except MalformedMessage as exc:
            return self._answer(target, action, 400, exc.reason, exc.detail)
        if self._waiting() >= MAX_PENDING:
            return self._answer(target, action, 503, "busy", "too many commands")
        if isinstance(target, ScenarioTarget):
            document: dict[str, JsonValue] = {
                "v": 1,
                "action": "run",
                "name": target.name,
            }
            service = target.service
        else:
            document = {"v": 1, "action": action, "device": target.device}
            if value is not None:
                document["value"] = value
            service = target.devices_service
        body = json.dumps(document, ensure_ascii=False).encode("utf-8")
        return self.request(target, action, service, body, now)

    def takes(self, topic: str) -> bool:
        """Is `topic` a command this hub answers (a refusal on `…/result` too): what
        `mqtt.commands` counts, not another hub's nor a topic that is no command."""
        try:
            target = self.topics.parse_command(topic)
        except MalformedMessage:
            return False
        return self._ours(target)

    def _waiting(self) -> int:
        """The commands in flight (a `list` request has no target)."""
        return sum(1 for p in self._pending.values() if p.target is not None)

    def _ours(self, target: Target) -> bool:
        """Is a command this hub's to answer: one for its own host, or for a device
        of another host (a raspy-poller) whose value it mirrors? Several hubs may
        meet at one broker, each subscribed to every host's command topics."""
        if target.host == self.topics.host or isinstance(target, ControlTarget):
            return True  # (a ControlTarget is only ever this host's)
        if isinstance(target, ScenarioTarget):
            return False
        return self._mirror.has_value(self.topics, target.fullname)

    def _control(
        self, target: ControlTarget, payload: bytes, now: float
    ) -> list[Output]:
        """A control's `set`: its payload checked as the web face checks a form
        (raspy.controls.check), then its key written in-process (WriteKey)."""
        control = self._controls.by_level.get(target.level)
        if control is None:
            detail = f"no control {quote(target.level)} on {self.topics.host}"
            return self._answer(target, target.action, 404, "unknown_control", detail)
        if target.action != "set":
            detail = f"a control takes only set, not {target.action}"
            return self._answer(target, target.action, 403, "forbidden", detail)
        try:
            value = control_value(control, payload)
        except MalformedMessage as exc:
            return self._answer(target, "set", 400, exc.reason, exc.detail)
        except ControlError as exc:
            detail = f"{control.key}: {exc}"
            return self._answer(target, "set", 400, "invalid_value", detail)
        if self._waiting() >= MAX_PENDING:
            return self._answer(target, "set", 503, "busy", "too many commands")
        request_id = self._track(target, "set", control.key, now)
        return [WriteKey(request_id, control.key, body_of(value))]

    def writing(self, request_id: int, made: bytes) -> None:
        """The link handed a control's write to the Clone server: its uuid."""
        if request_id in self._pending:
            self._writes[made] = request_id

    def write_failed(self, request_id: int, reason: str) -> list[Output]:
        """A control's write the Clone server will not publish (a reason for a
        person): 503 on `…/result`, as the web face answers it."""
        pending = self._pending.pop(request_id, None)
        if pending is None or pending.target is None:
            return []
        detail = f"{pending.service}: not written: {reason}"
        return self._answer(pending.target, "set", 503, "not_written", detail)

    def written(self, made: bytes, body: bytes) -> None:
        """The Clone server published the update `made`: a control's write is
        answered 200 with its key and the value now in the tree."""
        request_id = self._writes.pop(made, None)
        pending = None if request_id is None else self._pending.pop(request_id, None)
        if pending is None or pending.target is None:
            return
        reply = {"key": pending.service, "value": payloads.decode_reply(body)}
        self._result(pending.target, "set", 200, reply)

    def refused_write(self, made: bytes, reason: str) -> list[Output]:
        """The Clone server dropped the update `made` (KeyRefused)."""
        request_id = self._writes.pop(made, None)
        return [] if request_id is None else self.write_failed(request_id, reason)

    def _refusal(
        self, target: DeviceTarget | ScenarioTarget
    ) -> tuple[int, str, str] | None:
        settings = self.settings
        if isinstance(target, ScenarioTarget):
            if not settings.scenario_buttons:
                return 403, "forbidden", "scenarios are not run over MQTT here"
            return None
        if target.action not in settings.actions or target.action in ADMIN_ACTIONS:
            return 403, "forbidden", f"{target.action} is not bridged"
        exposed = settings.exposed(value_key(target.fullname))
        commandable = target.action in READ_ACTIONS or settings.commandable(
            target.fullname
        )
        if not exposed or not commandable:
            return 403, "forbidden", f"{target.fullname} takes no MQTT commands"
        return None

    def _answer(
        self, target: Target, action: str, status: int, token: str, detail: str
    ) -> list[Output]:
        self._result(target, action, status, payloads.refusal(token, detail))
        return [Refused(token, detail, topic=self.topics.command_topic(target))]

    def _result(
        self, target: Target, action: str, status: int, reply: JsonValue
    ) -> None:
        """A command's answer on its `…/result`, queued in its turn (not retained)."""
        body = payloads.result_payload(action, status, reply)
        message = Message(self.topics.result_topic(target), body, retain=False)
        self._mirror.buffer.put(message)

    def request(
        self, target: Target | None, action: str, service: str, body: bytes, now: float
    ) -> list[Output]:
        """`body` to `service`, answered for `target` (None: a `list`)."""
        return [SendRequest(self._track(target, action, service, now), service, body)]

    def _track(
        self, target: Target | None, action: str, service: str, now: float
    ) -> int:
        """A new request in flight, answered for `target` by REQUEST_TIMEOUT_S."""
        self._next_id += 1
        expires_at = now + REQUEST_TIMEOUT_S
        self._pending[self._next_id] = _Pending(expires_at, target, action, service)
        return self._next_id

    def reply(
        self, request_id: int, frames: list[bytes], listed: Listed
    ) -> list[Output]:
        """A service answered request `request_id` (frames: `[status, json]`): a
        command's reply on `…/result`, a `list`'s to `listed`."""
        pending = self._pending.pop(request_id, None)
        if pending is None:
            return []  # timed out already
        status_text = frames[0].decode("ascii", "replace") if frames else ""
        # three digits (a worker may send any frame: int() of 5000 digits raises)
        ok = len(status_text) == 3 and status_text.isdigit()
        status = int(status_text) if ok else 502
        reply = payloads.decode_reply(frames[1]) if len(frames) > 1 else None
        if pending.target is None:
            return listed(pending.service, status, reply)
        self._result(pending.target, pending.action, status, reply)
        return []

    def expire(self, now: float, list_expired: ListExpired) -> list[Output]:
        """Requests with no reply by `now`: a command's 504 on `…/result`, a
        `list`'s service to `list_expired`."""
        outputs: list[Output] = []
        for request_id, pending in list(self._pending.items()):
            if pending.expires_at > now:
                continue
            del self._pending[request_id]
            if pending.target is None:
                outputs += list_expired(pending.service)
                continue
            outputs += self._answer(
                pending.target, pending.action, 504, "timeout", pending.service
            )
        if self._writes and outputs:
            self._writes = {u: i for u, i in self._writes.items() if i in self._pending}
        return outputs

    def next_deadline(self) -> float | None:
        return min((p.expires_at for p in self._pending.values()), default=None)
