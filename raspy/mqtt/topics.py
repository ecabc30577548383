"""Tree keys <-> MQTT topics, and command topics -> what they ask (pure).

`/device/<host>.<svc>.<device>/<field>` is published at `<base>/<host>/<svc>/<device>/<field>`;
any other key `/<a>/<b>/...` at `<base>/<bridge host>/<a>/<b>/...`. A command arrives at
`<base>/<host>/<svc>/<device>/<action>` (`set` or a kind's command) or, for a scenario,
`<base>/<host>/scenario/<name>/run`. Bad input raises MalformedMessage("mqtt", ...).
"""

from __future__ import annotations

import re
from typing import Final

from raspy.devices.reading import DEVICE_TREE, device_of_key, value_key
from raspy.errors import MalformedMessage, quote
from raspy.names import CONTROL_SERVICE, SCENARIO_SERVICE
from raspy.records import frozen

SCENARIO_PREFIX: Final = "/scenario/"
# reserved levels (raspy.names.RESERVED_SERVICES: no device service takes these
# names): the scenarios', and the controls' (raspy.mqtt.controls)
SCENARIO_SEGMENT: Final = SCENARIO_SERVICE
CONTROL_SEGMENT: Final = CONTROL_SERVICE
# a device's keys as state topics; `pending`: a switch's change held by min_on_s /
# min_off_s, while there is one (raspy.devices.gpio_tree.pending_key). Never a
# command, and swept when no key backs it (a crash between a hold and its switch)
STATE_FIELDS: Final = frozenset({"value", "unit", "status", "timestamp", "pending"})
RESULT: Final = "result"
STATUS: Final = "status"
# a GPIO button's gestures, `single`, `double` or `long` as the payload, never
# retained (raspy.mqtt.core): a Home Assistant device trigger listens there
GESTURE: Final = "gesture"
# the leaves of a device's topics that carry what the bridge sends, never a command
NOT_COMMANDS: Final = STATE_FIELDS | {RESULT, STATUS, GESTURE}
RUN: Final = "run"
MAX_TOPIC_BYTES: Final = 1024
# What a topic may not hold besides `/`, `+` and `#`: NUL and surrogates (MQTT 3.1.1
# forbids them), control characters and non-characters (it says "should not";
# Mosquitto disconnects a client that publishes one, so the mirror's re-send at every
# reconnect would drop the connection again and again)
_FORBIDDEN: Final = "\x00-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef" + "".join(
    chr(plane << 16 | 0xFFFE) + chr(plane << 16 | 0xFFFF) for plane in range(17)
)
_LEVEL: Final = re.compile(
    f"[^/+#{_FORBIDDEN}]+"
)  # one MQTT topic level we may publish


def _malformed(reason: str, detail: str) -> MalformedMessage:
    return MalformedMessage("mqtt", reason, detail)


def level_ok(level: str) -> bool:
    """Is `level` one MQTT topic level the bridge may publish?"""
    return _LEVEL.fullmatch(level) is not None


def check_base(base: str) -> str:
    """A base topic: levels without wildcards, no leading or trailing '/'."""
    if not base or not all(_LEVEL.fullmatch(level) for level in base.split("/")):
        raise _malformed("bad_base_topic", quote(base))
    return base


@frozen
class DeviceTarget:
    """A command for `<host>.<service>.devices` about `device`."""

    host: str
    service: str
    device: str
    action: str

    @property
    def fullname(self) -> str:
        return f"{self.host}.{self.service}.{self.device}"

    @property
    def devices_service(self) -> str:
        return f"{self.host}.{self.service}.devices"


@frozen
class ScenarioTarget:
    """Run scenario `name` through `<host>.core.scenario`."""

    host: str
    name: str

    @property
    def service(self) -> str:
        return f"{self.host}.core.scenario"


@frozen
class ControlTarget:
    """A command for the control whose topic level is `level` (raspy.mqtt.controls);
    `host` is always the bridge's own (another's `control` is that hub's)."""

    host: str
    level: str
    action: str


Target = DeviceTarget | ScenarioTarget | ControlTarget


class TopicMap:
    """Topics under one base topic, for the bridge running on `host`."""

    def __init__(self, base: str, host: str) -> None:
        self.base = check_base(base)
        self.host = host
        self._levels = len(self.base.split("/"))

    @property
    def availability(self) -> str:
        """`<base>/<host>/status`: the last will (offline) and online once connected."""
        return f"{self.base}/{self.host}/{STATUS}"

    def state_topic(self, key: str) -> str:
        """The topic of a tree key; MalformedMessage if it has no topic."""
        if key.startswith(DEVICE_TREE):
            device_key = device_of_key(key)
            if device_key is None:
                raise _malformed("bad_device_key", quote(key))
            fullname, field = device_key
            host, service, device = fullname.split(".", 2)
            levels = [host, service, device, *field.split("/")]
        elif key.startswith("/"):
            levels = [self.host, *key[1:].split("/")]
        else:
            raise _malformed("bad_key", quote(key))
        if not all(_LEVEL.fullmatch(level) for level in levels):
            raise _malformed("bad_key", quote(key))
        topic = "/".join([self.base, *levels])
        if len(topic.encode("utf-8")) > MAX_TOPIC_BYTES:
            raise _malformed("topic_too_long", quote(key))
        return topic

    def reserved_device(self, fullname: str) -> str | None:
        """Why a device's topics are not its own, else None: a device, of any
        host, whose service is a reserved level would have the topics of that
        host's controls (`…/control/<device>/set` is a control's command) or
        scenarios. No raspyd of this version has such a service, but another
        program's worker may register `<host>.control.devices`, and an older
        board's keys (or keys written by hand) may still be in the tree."""
        service = fullname.split(".", 2)[1] if fullname.count(".") >= 2 else ""
        if service == CONTROL_SEGMENT:
            return "key_on_control_topic"
        if service == SCENARIO_SEGMENT:
            return "key_on_scenario_topic"
        return None

    def device_topic(self, fullname: str, leaf: str) -> str:
        """`<base>/<host>/<svc>/<device>/<leaf>` of a device's full name."""
        return self.state_topic(value_key(fullname, leaf))

    def scenario_topic(self, name: str, leaf: str) -> str:
        return self.state_topic(f"{SCENARIO_PREFIX}{name}/{leaf}")

    def parse_command(self, topic: str) -> Target:
        """What a command topic asks; MalformedMessage if it is not one."""
        levels = topic.split("/")
        if levels[: self._levels] != self.base.split("/"):
            raise _malformed("not_under_base", quote(topic))
        rest = levels[self._levels :]
        if len(rest) != 4 or not all(_LEVEL.fullmatch(level) for level in rest):
            raise _malformed("bad_command_topic", quote(topic))
        host, service, name, action = rest
        if service == SCENARIO_SEGMENT:
            if action != RUN:
                raise _malformed("unknown_scenario_action", quote(action))
            return ScenarioTarget(host, name)
        if action in NOT_COMMANDS:
            raise _malformed("not_a_command", quote(topic))
        if "." in host or "." in service:
            raise _malformed("bad_command_topic", quote(topic))
        if service == CONTROL_SEGMENT and host == self.host:
            return ControlTarget(host, name, action)
        # (another host's `control`: that hub's; as a device it is never mirrored
        # (reserved_device), so the bridge leaves it unanswered)
        return DeviceTarget(host, service, name, action)

    @property
    def control_prefix(self) -> str:
        """`<base>/<host>/control/`: where this hub's controls' topics are."""
        return f"{self.base}/{self.host}/{CONTROL_SEGMENT}/"

    def control_topic(self, level: str, leaf: str) -> str:
        """`<base>/<host>/control/<level>/<leaf>`: a control's topic on this hub."""
        return f"{self.control_prefix}{level}/{leaf}"

    def command_topic(self, target: Target) -> str:
        """The topic a command for `target` came on (parse_command's inverse)."""
        if isinstance(target, ScenarioTarget):
            return f"{self.base}/{target.host}/{SCENARIO_SEGMENT}/{target.name}/{RUN}"
        if isinstance(target, ControlTarget):
            return self.control_topic(target.level, target.action)
        return (
            f"{self.base}/{target.host}/{target.service}/{target.device}/"
            f"{target.action}"
        )

    def result_topic(self, target: Target) -> str:
        if isinstance(target, ScenarioTarget):
            return (
                f"{self.base}/{target.host}/{SCENARIO_SEGMENT}/{target.name}/{RESULT}"
            )
        if isinstance(target, ControlTarget):  # this hub's only (parse_command)
            return self.control_topic(target.level, RESULT)
        return f"{self.base}/{target.host}/{target.service}/{target.device}/{RESULT}"

    def is_command(self, topic: str, actions: frozenset[str]) -> bool:
        """Does `topic` match one of command_filters(actions)? A tree key published
        there would come back to the bridge as a command."""
        rest = topic.split("/")[self._levels :]
        if len(rest) != 4:
            return False
        if rest[1] == SCENARIO_SEGMENT:
            return rest[3] == RUN  # the reserved level: its other leaves are state
        return rest[3] in actions and rest[3] not in NOT_COMMANDS

    def is_output(self, topic: str) -> bool:
        """Is `topic` one the bridge sends news on, never retained: a command's
        `…/result` (a scenario's too), a button's `…/gesture`? A tree key published
        there, retained, would be replayed to every new subscriber: a stale answer,
        or a gesture that fires Home Assistant's trigger at each of its starts."""
        rest = topic.split("/")[self._levels :]
        if len(rest) != 4:
            return False
        if rest[1] == SCENARIO_SEGMENT:
            return rest[3] == RESULT  # (no button there)
        return rest[3] in (RESULT, GESTURE)

    def scenario_state_host(self, topic: str) -> str | None:
        """The host of a scenario's state topic (`<base>/<h>/scenario/<name>/<key>`,
        any key but `run`), else None. A key that is also an action (`state`, a
        switch's command) brings it back on a command filter; it is never a command."""
        rest = topic.split("/")[self._levels :]
        if len(rest) != 4 or rest[1] != SCENARIO_SEGMENT or rest[3] == RUN:
            return None
        return rest[0] if topic.startswith(f"{self.base}/") else None

    def command_filters(self, actions: frozenset[str]) -> list[str]:
        """Subscriptions for the command topics of `actions` (never a state field,
        so the bridge is not sent back its own state messages)."""
        wanted = sorted(actions - NOT_COMMANDS)
        filters = [f"{self.base}/+/+/+/{action}" for action in wanted]
        return [*filters, f"{self.base}/+/{SCENARIO_SEGMENT}/+/{RUN}"]


def service_prefix(fullname: str) -> str:
    """`/device/<host>.<service>.`: the keys of every device of a device's service
    (a reserved level refuses them all alike: logged once for the prefix)."""
    host, service = fullname.split(".", 2)[:2]
    return f"{DEVICE_TREE}{host}.{service}."


def scenario_of_key(key: str) -> tuple[str, str] | None:
    """`(name, field)` of a `/scenario/<name>/<field>` key, else None."""
    if not key.startswith(SCENARIO_PREFIX):
        return None
    name, slash, field = key[len(SCENARIO_PREFIX) :].partition("/")
    if not slash or not name or not field:
        return None
    return name, field
