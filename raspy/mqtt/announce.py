"""The MQTT bridge's Home Assistant discovery announcements (pure): when a devices
service is listed, what its `list` reply announces and clears, and a scenario's
button.

A service is listed when it gets a worker, when the tree has a key of a device its
last list did not name (a 1-Wire `rescan`), and when one of its devices was
configured (`/event/device/<fullname>/configured`); a device whose value is deleted
has its configs cleared. A `list` that fails (an error, a reply that is no list, no
reply in time) is asked again with backoff (LIST_RETRY) until one is answered or its
last worker leaves: nothing else may come to ask it (a switch is never read). The
configs are retained messages of the bridge's Mirror; the `list` requests go through
its Requests (raspy.mqtt.command).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Final

from raspy.backoff import Backoff, BackoffPolicy
from raspy.devices.reading import value_key
from raspy.devices.template import JsonValue
from raspy.errors import MalformedMessage, quote
from raspy.mqtt.buffer import Message
from raspy.mqtt.command import Requests
from raspy.mqtt.discovery import fullname_of_unique
from raspy.mqtt.listing import device_infos
from raspy.mqtt.mirror import Mirror
from raspy.mqtt.output import BridgeSettings, Output, Refused
from raspy.mqtt.topics import service_prefix
from raspy.names import DEVICES_SUFFIX

# a service's failed `list` asked again after 2 s, 4 s, ... at most every 5 minutes
LIST_RETRY: Final = BackoffPolicy(initial_s=2.0, max_s=300.0)


def _service_of(fullname: str) -> str:
    """A device's service, `<host>.<svc>`, from its full name."""
    return ".".join(fullname.split(".", 2)[:2])


@dataclass
class _Known:
    """Discovery bookkeeping: what was announced, per service and per scenario."""

    by_service: dict[str, dict[str, tuple[str, ...]]] = field(
        default_factory=dict
    )  # fullname -> its config topics (its entity's, a button's triggers')
    scenarios: dict[str, str] = field(default_factory=dict)  # name -> config topic
    listing: set[str] = field(default_factory=set)  # services asked, not yet answered
    # per service listed once, the devices its lists named or a key of which asked a
    # list once:
    # a device found later (a 1-Wire `rescan`) is listed for, an unlisted key not
    # again and again
    named: dict[str, set[str]] = field(default_factory=dict)
    # configured while a `list` was in flight: its reply may predate the change
    again: set[str] = field(default_factory=set)
    # per service, the devices with a value in the tree
    valued: dict[str, set[str]] = field(default_factory=dict)
    # services whose every value was deleted in this run (raspyd deletes those of a
    # service the config turned off at its start), or whose worker left while they
    # had none: the sweep waits for no `list` of theirs, which no worker may ever
    # answer
    emptied: set[str] = field(default_factory=set)
    # services whose last `list` failed or had no reply: what their devices'
    # configs are is not known, so the sweep clears none of them
    unlisted: set[str] = field(default_factory=set)
    # per such service, the config topics the sweep left for its next `list` (or
    # until its values are all deleted: a service turned off is listed no more)
    held: dict[str, set[str]] = field(default_factory=dict)
    # per such service with a worker, its failures and when it is asked again
    retries: dict[str, Backoff] = field(default_factory=dict)
    retry_at: dict[str, float] = field(default_factory=dict)
    # services whose last worker left, until one comes back: a `list` that was on
    # its way and failed is not asked again (no worker would answer it)
    gone: set[str] = field(default_factory=set)


class Announcer:
    """See the module docstring. Does nothing when discovery is off."""

    def __init__(
        self, settings: BridgeSettings, mirror: Mirror, requests: Requests
    ) -> None:
        self.settings = settings
        self._mirror = mirror
        self._requests = requests
        self._known = _Known()

    @property
    def waiting(self) -> bool:
        """A `list` is in flight that a worker is there to answer (the sweep waits
        for it)."""
        return bool(self._known.listing - self._known.emptied)

    def device_key(
        self, fullname: str, leaf: str, body: bytes, now: float
    ) -> list[Output]:
        """A device's key `leaf` was set (or deleted: empty body)."""
        discovery = self.settings.discovery
        if discovery is None:
            return []
        service = _service_of(fullname)
        if leaf == "value":
            self._valued(service, fullname, body)
        if leaf == "value" and not body:
            self._known.named.get(service, set()).discard(fullname)  # may come back
            announced = self._known.by_service.get(service, {})
            topics = announced.pop(fullname, None)
            if topics is not None:
                for topic in topics:
                    self._mirror.retain(topic, b"")
                return []
            # announced before a restart, maybe (a device taken out of the config:
            # its service deletes its keys at start): Home Assistant would keep
            # the entity for ever, so clear each config it could have had
            for config_topic in discovery.device_topics(fullname):
                if config_topic not in self._mirror.sent:
                    self._mirror.buffer.put(Message(config_topic, b""))
            return []
        known = self._known
        if service in known.listing:
            return []
        named = known.named.get(service)  # None: never listed
        if named is not None:
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
            if not valued:  # turned off (a reload), or its devices all gone
                self._emptied(service)

    def _emptied(self, service: str) -> None:
        """A service listed no more (no `list` comes): the sweep waits for none of
        its, and the configs it held for it are cleared."""
        self._known.emptied.add(service)
        self._no_retry(service)
        for topic in sorted(self._known.held.pop(service, set())):
            self._mirror.buffer.put(Message(topic, b""))

    def scenario_key(self, name: str, body: bytes) -> list[Output]:
        """A scenario's state was set (or deleted): its button (scenario_buttons)."""
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
            self._mirror.retain(entry.topic, entry.payload())
        elif not body and name in scenarios:
            self._mirror.retain(scenarios.pop(name), b"")
        return []

    def service_available(self, service: str, now: float) -> list[Output]:
        """An MDP service got a worker; a devices service is listed (again)."""
        if self.settings.discovery is None or not service.endswith(DEVICES_SUFFIX):
            return []
        name = service.removesuffix(DEVICES_SUFFIX)
        self._known.emptied.discard(name)  # up: its `list` is answered soon
        self._known.gone.discard(name)
        if name.count(".") != 1 or name in self._known.listing:
            return []
        return self._list(name, now)

    def service_gone(self, service: str) -> list[Output]:
        """An MDP service lost its last worker (the broker's list of services). A
        devices service with no value in the tree is listed no more until a worker
        comes back, whose `list` announces its configs anew: what the sweep held
        for it goes now, as when its values are all deleted (a reload turned it off;
        one that never had a value gives no such sign), and the sweep waits for no
        `list` of it."""
        if self.settings.discovery is None or not service.endswith(DEVICES_SUFFIX):
            return []
        name = service.removesuffix(DEVICES_SUFFIX)
        self._no_retry(name)  # a worker that comes back is listed then
        self._known.gone.add(name)
        if not self._known.valued.get(name):  # with values: away for a while (a
            self._emptied(name)  # restart), its configs stay
        return []

    def configured(self, fullname: str, now: float) -> list[Output]:
        """A device's config changed (a friendly name, a unit, ...): its service is
        listed again, and listed() sends the configs that changed. One asked already
        may have answered before the change: it is asked once more after."""
        if self.settings.discovery is None or not self.settings.exposed(
            value_key(fullname)
        ):
            return []
        service = _service_of(fullname)
        if service in self._known.listing:
            self._known.again.add(service)
            return []
        return self._list(service, now)

    def _list(self, service: str, now: float) -> list[Output]:
        self._known.listing.add(service)
        body = json.dumps({"v": 1, "action": "list"}).encode()
        return self._requests.request(
            None, "list", f"{service}{DEVICES_SUFFIX}", body, now
        )

    def listed(
        self, devices_service: str, status: int, reply: JsonValue, now: float
    ) -> list[Output]:
        """A `list` request to `devices_service` was answered."""
        service = devices_service.removesuffix(DEVICES_SUFFIX)
        outputs: list[Output]
        if status != 200:
            self._failed(service, now)
            outputs = [Refused("list_failed", f"{devices_service}: {status}")]
        else:
            outputs = self._announce(service, reply, now)
        return outputs + self._answered(service, now)

    def list_expired(self, devices_service: str, now: float) -> list[Output]:
        """A `list` request to `devices_service` had no reply in time."""
        service = devices_service.removesuffix(DEVICES_SUFFIX)
        self._failed(service, now)
        return self._answered(service, now)

    def _failed(self, service: str, now: float) -> None:
        """A `list` of `service` failed: what its devices' configs are is not known
        (the sweep clears none), and it is asked again after a backoff."""
        known = self._known
        known.unlisted.add(service)
        if service in known.emptied or service in known.gone:
            return  # listed no more (a worker that comes back is)
        backoff = known.retries.setdefault(service, Backoff(LIST_RETRY))
        known.retry_at[service] = backoff.failed(now)

    def _no_retry(self, service: str) -> None:
        self._known.retries.pop(service, None)
        self._known.retry_at.pop(service, None)

    def next_retry_at(self) -> float | None:
        """When a failed `list` is next asked again (None: none failed)."""
        return min(self._known.retry_at.values(), default=None)

    def retry_due(self, now: float) -> list[Output]:
        """The failed `list`s due again by `now`, asked (one in flight answers
        first: its failure schedules the next)."""
        known = self._known
        due = sorted(s for s, at in known.retry_at.items() if at <= now)
        outputs: list[Output] = []
        for service in due:
            del known.retry_at[service]
            if service not in known.listing:
                outputs += self._list(service, now)
        return outputs

    def _answered(self, service: str, now: float) -> list[Output]:
        """A `list` of `service` is over, answered or not: it is asked no more."""
        self._known.listing.discard(service)
        return self._list_again(service, now)

    def hold(self, unique: str, topic: str) -> bool:
        """The sweep found `topic`, an earlier run's config (`unique`, its id): is
        it left (True) until its service's next `list`, as the last one failed (or
        is not answered yet)? One the service no longer names is cleared then, and
        all of them if its values are all deleted first (a reload turned it off:
        no `list` comes). Only this hub's devices: another host's are kept by their
        value in the tree; a service whose values were all deleted already (one
        turned off) is cleared at once."""
        fullname = fullname_of_unique(unique)
        if fullname.split(".", 1)[0] != self.settings.topics.host:
            return False
        service = _service_of(fullname)
        known = self._known
        unknown = service in known.unlisted or service in known.listing
        if not unknown or service in known.emptied:
            return False
        known.held.setdefault(service, set()).add(topic)
        return True

    def _announce(self, service: str, reply: JsonValue, now: float) -> list[Output]:
        """A service's `list` reply: the configs of its exposed devices retained,
        those of the devices (or triggers) gone cleared."""
        discovery = self.settings.discovery
        infos = device_infos(reply)
        if discovery is None or infos is None:
            self._failed(service, now)
            return [Refused("bad_list_reply", service)]
        self._known.unlisted.discard(service)
        self._no_retry(service)
        self._known.named.setdefault(service, set()).update(i.fullname for i in infos)
        announced = self._known.by_service.setdefault(service, {})
        current: dict[str, tuple[str, ...]] = {}
        outputs: list[Output] = []
        for info in infos:
            if not self.settings.exposed(value_key(info.fullname)):
                continue
            reserved = self.settings.topics.reserved_device(info.fullname)
            if reserved is not None:  # a switch there would set a control
                prefix = service_prefix(info.fullname)
                outputs.append(Refused(reserved, quote(info.fullname), prefix))
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
                self._mirror.retain(each.topic, each.payload())
        for fullname, topics in announced.items():
            for topic in sorted(set(topics) - set(current.get(fullname, ()))):
                self._mirror.retain(topic, b"")  # removed: its config goes (empty)
        self._known.by_service[service] = current
        held = self._known.held.pop(service, set())
        for topic in sorted(held - {t for ts in current.values() for t in ts}):
            self._mirror.buffer.put(Message(topic, b""))  # the sweep's ghost, late
        return outputs

    def _list_again(self, service: str, now: float) -> list[Output]:
        if service not in self._known.again:
            return []
        self._known.again.discard(service)
        return self._list(service, now)
