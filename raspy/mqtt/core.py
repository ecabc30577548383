"""BridgeCore: the MQTT bridge's decisions, sans-IO (time passed in, nothing sent).

It mirrors the exposed part of the Clone tree as retained topics, keeps the Home
Assistant discovery configs in step with what the device services list, turns command
messages into device-service (or scenario) requests and their replies into `…/result`
messages. Outgoing MQTT messages wait in one CoalescingBuffer that the shell drains
while the broker is there; a (re)connect queues the whole mirror again, so a broker
that lost its retained messages gets the latest values. On the first connection it
also clears the retained messages an earlier run left that this one does not publish
(raspy.mqtt.sweep).

With discovery on it also announces the hub itself (raspy.mqtt.discovery), listens
to Home Assistant's birth message (`online` on [mqtt] birth_topic: Home
Assistant started, perhaps with a broker that lost what was retained) and then
queues the whole mirror again as a reconnect does, at most once per
REANNOUNCE_EVERY_S, and lists a devices service again when the tree says one of its
devices was configured (`/event/device/<fullname>/configured`), wherever it runs.

A GPIO button's gestures (`/event/<fullname>/single`, `double`, `long`) go out as
they happen on `…/<device>/gesture`, not retained, for the device triggers
discovery announces.

Its parts: raspy.mqtt.mirror (the retained messages as sent), raspy.mqtt.command
(the commands back to the devices, and every request's reply), raspy.mqtt.announce
(the discovery announcements); this module is the tree's keys into topics, the
broker's comings and goings, and the sweep.
"""

from __future__ import annotations

from typing import Final

from raspy.devices.gpio_gesture import Gesture
from raspy.devices.gpio_tree import gesture_of_key
from raspy.devices.reading import configured_of_key, device_of_key, value_key
from raspy.devices.template import JsonValue
from raspy.errors import MalformedMessage, quote
from raspy.mqtt.announce import Announcer
from raspy.mqtt.buffer import CoalescingBuffer, Message
from raspy.mqtt.command import (
    ADMIN_ACTIONS,
    MAX_PENDING,
    READ_ACTIONS,
    SERVICE_ACTIONS,
    Requests,
)
from raspy.mqtt.controls import ControlMap
from raspy.mqtt.discovery import fullname_of_unique
from raspy.mqtt.mirror import Mirror
from raspy.mqtt.output import (
    REQUEST_TIMEOUT_S,
    BridgeSettings,
    Output,
    Refused,
    SendRequest,
    WriteKey,
)
from raspy.mqtt.sweep import Sweep, Swept
from raspy.mqtt.topics import GESTURE, scenario_of_key, service_prefix

# importable from here as ever (the bridge's actor, tests)
__all__ = [
    "ADMIN_ACTIONS",
    "MAX_PENDING",
    "READ_ACTIONS",
    "REQUEST_TIMEOUT_S",
    "SERVICE_ACTIONS",
    "BridgeCore",
    "BridgeSettings",
    "Output",
    "Refused",
    "SendRequest",
    "WriteKey",
]

MAX_CACHED_TOPICS: Final = 100_000
# Home Assistant's birth message: `online` on its birth topic ([mqtt] birth_topic,
# `homeassistant/status` by default as Home Assistant's, whatever its discovery
# prefix); any MQTT client may publish there, so the re-announce it asks for is
# rate-limited. The bridge's own availability says the same word
BIRTH_PAYLOAD: Final = b"online"
REANNOUNCE_EVERY_S: Final = 5.0


def late_is_wrong(message: Message) -> bool:
    """A gesture, which the link went down before sending: a double press told at
    the next connect, minutes late, would fire Home Assistant's automation then.
    (A command's result still goes: its sender may still be waiting for it.)"""
    return not message.retain and message.topic.endswith(f"/{GESTURE}")


class BridgeCore:
    """See the module docstring. One owner thread; every method is quick."""

    def __init__(self, settings: BridgeSettings) -> None:
        self.settings = settings
        self.topics = settings.topics
        self.buffer = CoalescingBuffer(settings.max_buffered)
        self._mirror = Mirror(self.buffer)
        self.mirror = self._mirror.sent  # retained topic -> payload, as sent last
        self._topic_of: dict[str, str] = {}  # key -> topic: the same keys change again
        self.controls = ControlMap(settings.controls, settings.topics)
        self._requests = Requests(settings, self._mirror, self.controls)
        self._announcer = Announcer(settings, self._mirror, self._requests)
        self._seeded = False  # the tree as stored is in (the sweep waits for it)
        self._online = False  # connected to the broker (gestures go out only then)
        self._seeding = False
        self._sweep = Sweep(
            settings.topics, settings.discovery, settle_s=settings.cleanup_after_s
        )
        self.reannounced = 0  # birth messages answered (the link's statistics)
        self._reannounced_at: float | None = None
        self._reannounce_at: float | None = None  # one the rate limit held back
        self.birth_topic: str | None = None
        discovery = settings.discovery
        if discovery is not None:
            hub = discovery.hub_entry()  # this run's: the sweep leaves it
            self._mirror.retain(hub.topic, hub.payload())
            birth = settings.birth_topic
            if birth and birth != settings.topics.availability:  # (never its own)
                self.birth_topic = birth
            for level, control in self.controls.by_level.items():
                entry = discovery.control_entry(
                    control,
                    self.controls.topic(level, "value"),
                    self.controls.topic(level, "set"),
                )
                self._mirror.retain(entry.topic, entry.payload())

    @property
    def forgotten(self) -> int:
        """Retained messages the mirror does not hold (deletions) lost past its
        bound (the link's statistics): one so forgotten leaves its topic's old
        message at the broker until the next start's sweep."""
        return self._mirror.forgotten

    # --- the tree -------------------------------------------------------------------
    def seed(self, items: list[tuple[str, bytes]], now: float) -> list[Output]:
        """The tree as stored at start (the subscription brings what is newer)."""
        outputs: list[Output] = []
        self._seeding = True
        try:
            for key, body in items:
                outputs += self.key_changed(key, body, now)
        finally:
            self._seeding = False
        self._seeded = True
        return outputs

    def key_changed(
        self, key: str, body: bytes, now: float, made: bytes = b""
    ) -> list[Output]:
        """A tree key was set (or deleted: empty body); `made`: its update's uuid
        (a control's write this bridge made is answered then)."""
        outputs: list[Output] = []
        announcer = self._announcer
        control_topic = self.controls.state_topic(key)
        if control_topic is not None:
            self._mirror.retain(control_topic, body)
            if made:
                self._requests.written(made, body)
        if self.settings.exposed(key):
            device = device_of_key(key)
            topic = self._topic_of.get(key)  # cached only once it passed the checks
            if topic is None:
                reserved = (
                    None if device is None else self.topics.reserved_device(device[0])
                )
                if reserved is not None and device is not None:
                    # a device of a service named `control` or `scenario` (another
                    # program's worker, an older board): its topics are the
                    # controls' or scenarios' of its host
                    return [Refused(reserved, quote(key), service_prefix(device[0]))]
                try:
                    topic = self.topics.state_topic(key)
                except MalformedMessage as exc:
                    return [Refused(exc.reason, exc.detail)]
                if self.topics.is_command(topic, self.settings.actions):
                    # e.g. /device/<h>.<svc>.lamp/set: retained there, it would
                    # switch the lamp again at every (re)subscription
                    return [Refused("key_on_command_topic", quote(key))]
                if topic.startswith(self.topics.control_prefix):
                    # a key /control/…: the controls' own topics, which this key
                    # would write over
                    return [Refused("key_on_control_topic", quote(key))]
                if topic in (self.topics.availability, self.birth_topic):
                    # a key /status: the bridge's `online`, which every entity's
                    # availability reads (or Home Assistant's birth topic)
                    return [Refused("key_on_status_topic", quote(key))]
                if self.topics.is_output(topic):
                    # e.g. /device/<h>.gpio.button/gesture: a retained `single`
                    # there would fire Home Assistant's trigger at each start
                    return [Refused("key_on_output_topic", quote(key))]
                if len(self._topic_of) < MAX_CACHED_TOPICS:
                    self._topic_of[key] = topic
            self._mirror.retain(topic, body)
            if device is not None:
                outputs += announcer.device_key(device[0], device[1], body, now)
        scenario = scenario_of_key(key)
        if scenario is not None and scenario[1] == "state":
            outputs += announcer.scenario_key(scenario[0], body)
        configured = configured_of_key(key)
        if configured is not None and body and not self._seeding:
            outputs += announcer.configured(configured, now)  # (at seed: listed)
        gesture = gesture_of_key(key)
        if gesture is not None and body and not self._seeding:
            outputs += self._gesture(*gesture)
        return outputs

    def _gesture(self, fullname: str, gesture: Gesture) -> list[Output]:
        """A GPIO button's gesture, as it happens: `…/<device>/gesture` with its
        name, not retained (a broker would replay a retained one to every new
        subscriber: Home Assistant's trigger would fire again at each of its
        starts), and only while the broker is there (one sent at a reconnect
        would fire an automation minutes late). Its device must be exposed."""
        if not self._online or not self.settings.exposed(value_key(fullname)):
            return []
        if self.topics.reserved_device(fullname) is not None:
            return []  # (its value was refused: key_changed)
        try:
            topic = self.topics.device_topic(fullname, GESTURE)
        except MalformedMessage as exc:
            return [Refused(exc.reason, exc.detail)]
        self.buffer.put(Message(topic, gesture.value.encode(), retain=False))
        return []

    # --- discovery ------------------------------------------------------------------
    def service_available(self, service: str, now: float) -> list[Output]:
        """An MDP service got a worker; a devices service is listed (again)."""
        return self._announcer.service_available(service, now)

    def service_gone(self, service: str) -> list[Output]:
        """An MDP service lost its last worker (raspy.mqtt.announce)."""
        return self._announcer.service_gone(service)

    # --- messages from the broker ---------------------------------------------------
    def swept_message(self, topic: str, payload: bytes, retained: bool) -> bool:
        """A message from the broker that is no command (taken: True), or else a
        command: one on the sweep's filters (they never match a command topic), a
        scenario's state back on a command filter (its key `state` is an action too),
        or, with the discovery prefix equal to the base topic, a config of this hub's
        back on the `<base>/+/+/+/config` one; the sweep looks at them as well when
        they are this hub's."""
        host = self.topics.scenario_state_host(topic)
        if host is None and not (self._sweep.matches(topic) or self._config(topic)):
            return False
        if host in (None, self.topics.host):
            self._sweep.seen(topic, payload, retained)
        return True

    def _config(self, topic: str) -> bool:
        """Is `topic` this hub's discovery config's shape, under the base topic?
        There a command `config` would be an admin action, never run (403)."""
        discovery = self.settings.discovery
        return (
            discovery is not None
            and discovery.prefix == self.topics.base
            and discovery.is_config_topic(topic)
        )

    # --- commands and replies (raspy.mqtt.command) ----------------------------------
    def command(
        self, topic: str, payload: bytes, now: float, *, retained: bool = False
    ) -> list[Output]:
        """A message on a command topic: a request, or a refusal on `…/result`
        (a retained one is an old command the broker replays: refused)."""
        return self._requests.command(topic, payload, now, retained=retained)

    def takes_command(self, topic: str) -> bool:
        """Is a message on `topic` a command of this hub's (raspy.mqtt.command)?"""
        return self._requests.takes(topic)

    def writing(self, request_id: int, made: bytes) -> None:
        """A control's write (WriteKey) went to the Clone server as update `made`."""
        self._requests.writing(request_id, made)

    def write_failed(self, request_id: int, reason: str) -> list[Output]:
        """A control's write (WriteKey) could not be sent: a 503 on `…/result`."""
        return self._requests.write_failed(request_id, reason)

    def write_refused(self, made: bytes, reason: str) -> list[Output]:
        """The Clone server will not publish update `made` (a control's write)."""
        return self._requests.refused_write(made, reason)

    def reply(self, request_id: int, frames: list[bytes], now: float) -> list[Output]:
        """A service answered request `request_id` (frames: `[status, json]`)."""

        def listed(service: str, status: int, reply: JsonValue) -> list[Output]:
            return self._announcer.listed(service, status, reply, now)

        return self._requests.reply(request_id, frames, listed)

    def tick(self, now: float) -> list[Output]:
        """Requests with no reply in time (a 504 on `…/result`), the sweep, a failed
        `list` again, when due."""

        def list_expired(service: str) -> list[Output]:
            return self._announcer.list_expired(service, now)

        outputs = self._requests.expire(now, list_expired)
        if self._reannounce_at is not None and now >= self._reannounce_at:
            self._reannounce(now)
        # the sweep first: it holds a failed service's configs for the retry
        return outputs + self._swept(now) + self._announcer.retry_due(now)

    def next_deadline(self) -> float | None:
        deadlines = [self._requests.next_deadline(), self._announcer.next_retry_at()]
        if self._sweep.collecting:
            deadlines.append(self._sweep.next_at)
        if self._reannounce_at is not None:
            deadlines.append(self._reannounce_at)
        return min((d for d in deadlines if d is not None), default=None)

    # --- the sweep of an earlier run's retained messages -----------------------------
    def _swept(self, now: float) -> list[Output]:
        """Once the settle time is over and this run's picture is in (the stored
        tree, and the `list` replies of the device services asked so far: a request
        ends within REQUEST_TIMEOUT_S; none of a service whose values were all
        deleted), clear what was collected and not published."""
        sweep = self._sweep
        if not sweep.collecting or now < sweep.settle_at:
            return []
        ready = self._seeded and not self._announcer.waiting
        if not ready and now < sweep.settle_at + REQUEST_TIMEOUT_S:
            sweep.next_at = sweep.settle_at + REQUEST_TIMEOUT_S
            return []
        found, unsubscribe = sweep.finish()
        cleared = 0
        for topic, unique in found.items():
            if topic in self.mirror or topic in self.buffer or self._kept(unique):
                continue
            if unique is not None and self._announcer.hold(unique, topic):
                continue  # its service's `list` failed: cleared by its next one
            self.buffer.put(Message(topic, b""))
            cleared += 1
        return [unsubscribe, Swept(cleared, len(found), sweep.overflow)]

    def _kept(self, unique: str | None) -> bool:
        """A config of a device of another host (a raspy-poller) is kept while its
        value is in the tree: that board may just not be back yet. This hub's own
        devices and scenarios are all announced by the time of the sweep."""
        if unique is None:
            return False
        fullname = fullname_of_unique(unique)  # a device's, or one of its triggers'
        if fullname.split(".", 1)[0] == self.topics.host:
            return False
        return self._mirror.has_value(self.topics, fullname)

    # --- the broker -----------------------------------------------------------------
    def connected(self, now: float) -> list[Output]:
        """The broker is (back): queue every retained message again (it may have
        lost them); what is already queued is newer and keeps its place. On the
        first connection: the sweep's subscriptions."""
        self._online = True
        self._requeue()
        subscribe = self._sweep.start(now, self.settings.actions, self.mirror)
        return [] if subscribe is None else [subscribe]

    def refill(self) -> int:
        """Retained messages the full buffer evicted, queued again while it has
        room (the link calls it once it took messages out); how many."""
        return self._mirror.refill()

    def _requeue(self) -> None:
        """Every retained message mirrored, queued again unless a newer one is:
        the discovery configs first, then the states they name."""
        discovery = self.settings.discovery
        self._mirror.requeue("" if discovery is None else f"{discovery.prefix}/")

    def status_message(
        self, topic: str, payload: bytes, retained: bool, now: float
    ) -> bool:
        """A message on Home Assistant's status topic (taken: True). `online` live:
        Home Assistant (re)started, maybe with a broker that lost its retained
        messages, and asks every device to announce itself again. A retained one is
        the broker's replay when the bridge subscribes, right after it connected and
        queued everything anyway (MQTT sets the flag only on such a replay, however
        Home Assistant published it), so it is passed over, as is `offline`."""
        if topic != self.birth_topic:
            return False
        if retained or payload != BIRTH_PAYLOAD:
            return True
        last = self._reannounced_at
        if last is not None and now < last + REANNOUNCE_EVERY_S:
            self._reannounce_at = last + REANNOUNCE_EVERY_S  # once, when allowed
            return True
        self._reannounce(now)
        return True

    def _reannounce(self, now: float) -> None:
        """The bridge's `online` first (what every entity's availability reads; a
        broker that lost its retained messages lost it too: it goes out at a
        connect only), then every config and state."""
        self._reannounced_at = now
        self._reannounce_at = None
        self.reannounced += 1
        self.buffer.put_if_absent(Message(self.topics.availability, BIRTH_PAYLOAD))
        self._requeue()

    def disconnected(self) -> int:
        """The link is down: a gesture still queued is not sent at the next
        connect (late_is_wrong); returns how many were dropped."""
        self._online = False
        self._sweep.lost()
        return self.buffer.drop(late_is_wrong)
