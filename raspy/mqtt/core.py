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
to Home Assistant's birth message (`online` on `<discovery_prefix>/status`: Home
Assistant started, perhaps with a broker that lost what was retained) and then
queues the whole mirror again as a reconnect does, at most once per
REANNOUNCE_EVERY_S, and lists a devices service again when the tree says one of its
devices was configured (`/event/device/<fullname>/configured`), wherever it runs.

A GPIO button's gestures (`/event/<fullname>/single`, `double`, `long`) go out as
they happen on `…/<device>/gesture`, not retained, for the device triggers
discovery announces.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Final

from raspy.devices.gpio_gesture import Gesture
from raspy.devices.gpio_tree import gesture_of_key
from raspy.devices.reading import configured_of_key, device_of_key, value_key
from raspy.devices.template import JsonValue
from raspy.errors import MalformedMessage, quote
from raspy.mqtt import payload as payloads
from raspy.mqtt.buffer import CoalescingBuffer, Message
from raspy.mqtt.discovery import Discovery, fullname_of_unique
from raspy.mqtt.filters import GlobFilter
from raspy.mqtt.listing import device_infos
from raspy.mqtt.sweep import Subscribe, Sweep, Swept, Unsubscribe
from raspy.mqtt.topics import (
    GESTURE,
    DeviceTarget,
    ScenarioTarget,
    Target,
    TopicMap,
    scenario_of_key,
)
from raspy.names import DEVICES_SUFFIX

REQUEST_TIMEOUT_S: Final = 10.0
MAX_PENDING: Final = 256
MAX_CACHED_TOPICS: Final = 100_000
ADMIN_ACTIONS: Final = frozenset({"config", "log", "reset"})  # not over MQTT
# the device-service actions bridged besides the kinds' commands: `set` (the main
# command) and `commands`, the read that tells an MQTT user a device's actions (a
# word that is none gets no `…/result`: the bridge subscribes only to known actions)
SERVICE_ACTIONS: Final = frozenset({"set", "commands"})
READ_ACTIONS: Final = frozenset({"commands"})  # change nothing: every exposed device
# Home Assistant's birth message: `online` on `<discovery_prefix>/status`; any MQTT
# client may publish there, so the re-announce it asks for is rate-limited. The
# bridge's own availability says the same word
BIRTH_TOPIC_LEAF: Final = "status"
BIRTH_PAYLOAD: Final = b"online"
REANNOUNCE_EVERY_S: Final = 5.0


@dataclass(frozen=True, slots=True)
class SendRequest:
    """Send `body` to MDP service `service`; the reply comes back as `request_id`."""

    request_id: int
    service: str
    body: bytes
    # the bridge answers 504 then, and the broker drops it if it is still queued
    patience_s: float = REQUEST_TIMEOUT_S


@dataclass(frozen=True, slots=True)
class Refused:
    """A command or key the bridge would not handle (count it; log it rate-limited)."""

    reason: str
    detail: str


Output = SendRequest | Refused | Subscribe | Unsubscribe | Swept


@dataclass(frozen=True, slots=True)
class _Pending:
    expires_at: float
    target: Target | None  # None: a `list` request for discovery
    action: str
    service: str


@dataclass
class BridgeSettings:
    topics: TopicMap
    exposed: GlobFilter  # tree keys that go out
    commandable: GlobFilter  # device full names MQTT may command
    actions: frozenset[str]  # command actions bridged (set + the kinds' commands)
    discovery: Discovery | None
    scenario_buttons: bool
    max_buffered: int
    # seconds after the first connection before the earlier runs' retained messages
    # this run does not publish are cleared; 0: never (see raspy.mqtt.sweep)
    cleanup_after_s: float = 0.0


@dataclass
class _Known:
    """Discovery bookkeeping: what was announced, per service and per scenario."""

    by_service: dict[str, dict[str, tuple[str, ...]]] = field(
        default_factory=dict
    )  # fullname -> its config topics (its entity's, a button's triggers')
    scenarios: dict[str, str] = field(default_factory=dict)  # name -> config topic
    listing: set[str] = field(default_factory=set)  # services asked, not yet answered
    listed: set[str] = field(default_factory=set)
    # per service, the devices its lists named or a key of which asked a list once:
    # a device found later (a 1-Wire `rescan`) is listed for, an unlisted key not
    # again and again
    named: dict[str, set[str]] = field(default_factory=dict)
    # configured while a `list` was in flight: its reply may predate the change
    again: set[str] = field(default_factory=set)
    # per service, the devices with a value in the tree
    valued: dict[str, set[str]] = field(default_factory=dict)
    # services whose every value was deleted in this run (raspyd deletes those of a
    # service the config turned off at its start): the sweep waits for no `list`
    # of theirs, which no worker may ever answer
    emptied: set[str] = field(default_factory=set)


class BridgeCore:
    """See the module docstring. One owner thread; every method is quick."""

    def __init__(self, settings: BridgeSettings) -> None:
        self.settings = settings
        self.topics = settings.topics
        self.buffer = CoalescingBuffer(settings.max_buffered)
        self.mirror: dict[str, bytes] = {}  # retained topic -> payload, as sent last
        self._topic_of: dict[str, str] = {}  # key -> topic: the same keys change again
        self._known = _Known()
        self._pending: dict[int, _Pending] = {}
        self._next_id = 0
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
            self._retain(hub.topic, hub.payload())
            birth = f"{discovery.prefix}/{BIRTH_TOPIC_LEAF}"
            if birth != settings.topics.availability:  # (a prefix of `<base>/<host>`)
                self.birth_topic = birth

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

    def key_changed(self, key: str, body: bytes, now: float) -> list[Output]:
        """A tree key was set (or deleted: empty body)."""
        outputs: list[Output] = []
        if self.settings.exposed(key):
            topic = self._topic_of.get(key)
            if topic is None:
                try:
                    topic = self.topics.state_topic(key)
                except MalformedMessage as exc:
                    return [Refused(exc.reason, exc.detail)]
                if self.topics.is_command(topic, self.settings.actions):
                    # e.g. /device/<h>.<svc>.lamp/set: retained there, it would
                    # switch the lamp again at every (re)subscription
                    return [Refused("key_on_command_topic", quote(key))]
                if len(self._topic_of) < MAX_CACHED_TOPICS:
                    self._topic_of[key] = topic
            self._retain(topic, body)
            device = device_of_key(key)
            if device is not None:
                outputs += self._device_key(device[0], device[1], body, now)
        scenario = scenario_of_key(key)
        if scenario is not None and scenario[1] == "state":
            outputs += self._scenario_key(scenario[0], body)
        configured = configured_of_key(key)
        if configured is not None and body and not self._seeding:
            outputs += self._configured(configured, now)  # (at seed: listed anyway)
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
        try:
            topic = self.topics.device_topic(fullname, GESTURE)
        except MalformedMessage as exc:
            return [Refused(exc.reason, exc.detail)]
        self.buffer.put(Message(topic, gesture.value.encode(), retain=False))
        return []

    def _retain(self, topic: str, body: bytes) -> None:
        if body:
            if self.mirror.get(topic) == body:
                return
            self.mirror[topic] = body
        elif self.mirror.pop(topic, None) is None:
            return
        self.buffer.put(Message(topic, body))

    def _device_key(
        self, fullname: str, leaf: str, body: bytes, now: float
    ) -> list[Output]:
        discovery = self.settings.discovery
        if discovery is None:
            return []
        service = ".".join(fullname.split(".", 2)[:2])  # `<host>.<svc>`
        if leaf == "value":
            self._valued(service, fullname, body)
        if leaf == "value" and not body:
            self._known.named.get(service, set()).discard(fullname)  # may come back
            announced = self._known.by_service.get(service, {})
            topics = announced.pop(fullname, None)
            if topics is not None:
                for topic in topics:
                    self._retain(topic, b"")
                return []
            # announced before a restart, maybe (a device taken out of the config:
            # its service deletes its keys at start): Home Assistant would keep
            # the entity for ever, so clear each config it could have had
            for config_topic in discovery.device_topics(fullname):
                if config_topic not in self.mirror:
                    self.buffer.put(Message(config_topic, b""))
            return []
        known = self._known
        if service in known.listing:
            return []
        if service in known.listed:
            named = known.named.setdefault(service, set())
            if not body or fullname in named:
                return []
            named.add(fullname)  # not in its last list: added since (a rescan)
        return self._list(service, now)

    def _valued(self, service: str, fullname: str, body: bytes) -> None:
        known = self._known
        valued = known.valued.setdefault(service, set())
        if body:
            valued.add(fullname)
            known.emptied.discard(service)
        elif fullname in valued:
            valued.discard(fullname)
            if not valued:
                known.emptied.add(service)

    def _scenario_key(self, name: str, body: bytes) -> list[Output]:
        discovery = self.settings.discovery
        if discovery is None or not self.settings.scenario_buttons:
            return []
        scenarios = self._known.scenarios
        if body and name not in scenarios:
            try:  # any Clone client may write a /scenario/<name>/state key
                entry = discovery.scenario_entry(name)
            except MalformedMessage as exc:
                return [Refused(exc.reason, exc.detail)]
            scenarios[name] = entry.topic
            self._retain(entry.topic, entry.payload())
        elif not body and name in scenarios:
            self._retain(scenarios.pop(name), b"")
        return []

    # --- discovery ------------------------------------------------------------------
    def service_available(self, service: str, now: float) -> list[Output]:
        """An MDP service got a worker; a devices service is listed (again)."""
        if self.settings.discovery is None or not service.endswith(DEVICES_SUFFIX):
            return []
        name = service[: -len(DEVICES_SUFFIX)]
        self._known.emptied.discard(name)  # up: its `list` is answered soon
        if name.count(".") != 1 or name in self._known.listing:
            return []
        return self._list(name, now)

    def _configured(self, fullname: str, now: float) -> list[Output]:
        """A device's config changed (a friendly name, a unit, ...): its service is
        listed again, and _listed sends the configs that changed. One asked already
        may have answered before the change: it is asked once more after."""
        if self.settings.discovery is None or not self.settings.exposed(
            value_key(fullname)
        ):
            return []
        service = ".".join(fullname.split(".", 2)[:2])
        if service in self._known.listing:
            self._known.again.add(service)
            return []
        return self._list(service, now)

    def _list(self, service: str, now: float) -> list[Output]:
        self._known.listing.add(service)
        body = json.dumps({"v": 1, "action": "list"}).encode()
        return self._request(None, "list", f"{service}{DEVICES_SUFFIX}", body, now)

    def _listed(self, service: str, reply: JsonValue) -> list[Output]:
        discovery = self.settings.discovery
        infos = device_infos(reply)
        if discovery is None or infos is None:
            return [Refused("bad_list_reply", service)]
        self._known.listed.add(service)
        self._known.named.setdefault(service, set()).update(i.fullname for i in infos)
        announced = self._known.by_service.setdefault(service, {})
        current: dict[str, tuple[str, ...]] = {}
        outputs: list[Output] = []
        for info in infos:
            if not self.settings.exposed(value_key(info.fullname)):
                continue
            try:  # a name that makes no topic (another host's raspy-poller, say)
                entry = discovery.device_entry(info)
                entries = [] if entry is None else [entry]
                entries += discovery.trigger_entries(info) if entries else []
            except MalformedMessage as exc:
                outputs.append(Refused(exc.reason, exc.detail))
                continue
            if not entries:
                continue
            current[info.fullname] = tuple(e.topic for e in entries)
            for each in entries:
                self._retain(each.topic, each.payload())
        for fullname, topics in announced.items():
            for topic in sorted(set(topics) - set(current.get(fullname, ()))):
                self._retain(topic, b"")  # removed: its config goes (empty retained)
        self._known.by_service[service] = current
        return outputs

    # --- messages from the broker ---------------------------------------------------
    def swept_message(self, topic: str, payload: bytes, retained: bool) -> bool:
        """A message from the broker that is no command (taken: True), or else a
        command: one on the sweep's filters (they never match a command topic), or a
        scenario's state back on a command filter (its key `state` is an action too),
        which the sweep looks at as well when it is this hub's."""
        host = self.topics.scenario_state_host(topic)
        if host is None and not self._sweep.matches(topic):
            return False
        if host in (None, self.topics.host):
            self._sweep.seen(topic, payload, retained)
        return True

    # --- commands -------------------------------------------------------------------
    def command(
        self, topic: str, payload: bytes, now: float, *, retained: bool = False
    ) -> list[Output]:
        """A message on a command topic: a request, or a refusal on `…/result`.

        A retained message is an old command the broker replays on subscribing: it
        is refused, not run again at every restart of the bridge."""
        if retained:
            return [Refused("retained_command", quote(topic))]
        try:
            target = self.topics.parse_command(topic)
        except MalformedMessage as exc:
            return [Refused(exc.reason, exc.detail)]
        if not self._ours(target):
            return []  # another hub's, at the same broker: it answers it
        action = target.action if isinstance(target, DeviceTarget) else "run"
        refusal = self._refusal(target)
        if refusal is not None:
            return self._answer(target, action, *refusal)
        try:
            value = payloads.parse_command(payload)
        except MalformedMessage as exc:
            return self._answer(target, action, 400, exc.reason, exc.detail)
        if len(self._pending) >= MAX_PENDING:
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
        return self._request(target, action, service, body, now)

    def _ours(self, target: Target) -> bool:
        """Is a command this hub's to answer: one for its own host, or for a device
        of another host (a raspy-poller) whose value it mirrors? Several hubs may
        meet at one broker, each subscribed to every host's command topics."""
        if target.host == self.topics.host:
            return True
        if isinstance(target, ScenarioTarget):
            return False
        try:
            return self.topics.device_topic(target.fullname, "value") in self.mirror
        except MalformedMessage:
            return False

    def _refusal(self, target: Target) -> tuple[int, str, str] | None:
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
        body = payloads.result_payload(action, status, payloads.refusal(token, detail))
        self.buffer.put(Message(self.topics.result_topic(target), body, retain=False))
        return [Refused(token, detail)]

    def _request(
        self, target: Target | None, action: str, service: str, body: bytes, now: float
    ) -> list[Output]:
        self._next_id += 1
        expires_at = now + REQUEST_TIMEOUT_S
        self._pending[self._next_id] = _Pending(expires_at, target, action, service)
        return [SendRequest(self._next_id, service, body)]

    def reply(self, request_id: int, frames: list[bytes], now: float) -> list[Output]:
        """A service answered request `request_id` (frames: `[status, json]`)."""
        pending = self._pending.pop(request_id, None)
        if pending is None:
            return []  # timed out already
        status_text = frames[0].decode("ascii", "replace") if frames else ""
        # three digits (a worker may send any frame: int() of 5000 digits raises)
        ok = len(status_text) == 3 and status_text.isdigit()
        status = int(status_text) if ok else 502
        reply = payloads.decode_reply(frames[1]) if len(frames) > 1 else None
        if pending.target is None:
            service = pending.service[: -len(DEVICES_SUFFIX)]
            self._known.listing.discard(service)
            outputs: list[Output]
            if status != 200:
                outputs = [Refused("list_failed", f"{pending.service}: {status}")]
            else:
                outputs = self._listed(service, reply)
            return outputs + self._list_again(service, now)
        result = payloads.result_payload(pending.action, status, reply)
        topic = self.topics.result_topic(pending.target)
        self.buffer.put(Message(topic, result, retain=False))
        return []

    def _list_again(self, service: str, now: float) -> list[Output]:
        if service not in self._known.again:
            return []
        self._known.again.discard(service)
        return self._list(service, now)

    def tick(self, now: float) -> list[Output]:
        """Requests with no reply in time: a 504 on `…/result`; the sweep when due."""
        outputs: list[Output] = []
        for request_id, pending in list(self._pending.items()):
            if pending.expires_at > now:
                continue
            del self._pending[request_id]
            if pending.target is None:
                service = pending.service[: -len(DEVICES_SUFFIX)]
                self._known.listing.discard(service)
                outputs += self._list_again(service, now)
                continue
            outputs += self._answer(
                pending.target, pending.action, 504, "timeout", pending.service
            )
        if self._reannounce_at is not None and now >= self._reannounce_at:
            self._reannounce(now)
        return outputs + self._swept(now)

    def next_deadline(self) -> float | None:
        deadlines = [p.expires_at for p in self._pending.values()]
        if self._sweep.collecting:
            deadlines.append(self._sweep.next_at)
        if self._reannounce_at is not None:
            deadlines.append(self._reannounce_at)
        return min(deadlines, default=None)

    # --- the sweep of an earlier run's retained messages -----------------------------
    def _swept(self, now: float) -> list[Output]:
        """Once the settle time is over and this run's picture is in (the stored
        tree, and the `list` replies of the device services asked so far: a request
        ends within REQUEST_TIMEOUT_S; none of a service whose values were all
        deleted), clear what was collected and not published."""
        sweep = self._sweep
        if not sweep.collecting or now < sweep.settle_at:
            return []
        ready = self._seeded and not self._known.listing - self._known.emptied
        if not ready and now < sweep.settle_at + REQUEST_TIMEOUT_S:
            sweep.next_at = sweep.settle_at + REQUEST_TIMEOUT_S
            return []
        found, unsubscribe = sweep.finish()
        cleared = 0
        for topic, unique in found.items():
            if topic in self.mirror or topic in self.buffer or self._kept(unique):
                continue
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
        try:
            return self.topics.device_topic(fullname, "value") in self.mirror
        except MalformedMessage:
            return False

    # --- the broker -----------------------------------------------------------------
    def connected(self, now: float) -> list[Output]:
        """The broker is (back): queue every retained message again (it may have
        lost them); what is already queued is newer and keeps its place. On the
        first connection: the sweep's subscriptions."""
        self._online = True
        self._requeue()
        subscribe = self._sweep.start(now, self.settings.actions, self.mirror)
        return [] if subscribe is None else [subscribe]

    def _requeue(self) -> None:
        """Every retained message mirrored, queued again unless a newer one is:
        the discovery configs first, then the states they name."""
        discovery = self.settings.discovery
        prefix = "" if discovery is None else f"{discovery.prefix}/"
        configs = [t for t in self.mirror if prefix and t.startswith(prefix)]
        states = [t for t in self.mirror if not (prefix and t.startswith(prefix))]
        for topic in [*configs, *states]:
            self.buffer.put_if_absent(Message(topic, self.mirror[topic]))

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

    def disconnected(self) -> None:
        self._online = False
        self._sweep.lost()
