"""Ghosts: retained messages of this hub that nothing in this run published (pure).

A retained message outlives the run that published it: the discovery config of a
device whose whole service was turned off, of a device removed before its first
reading was stored, of a scenario deleted while raspyd was down, or the state topic of
a key deleted while the bridge was off, would stay at the broker (and in Home
Assistant) for ever. So on its first connection the bridge subscribes to its own
retained topics (`filters`), keeps the topics the broker replays that are its own
(`seen`; Home Assistant configs that name this hub's availability topic, or the
hub's own entry on it, or, a button's triggers, this hub as their device's way in,
and whose topic is the one raspy makes of their unique id,
state topics under `<base>/<host>/`), and once its own picture is in (BridgeCore
decides when) clears each one it did not publish in this run. Time is passed in.

The filters never overlap the command subscriptions: MQTT 3.1.1 lets a broker deliver
a message once per matching filter, and a command delivered twice would run twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from typing import Final

from paho.mqtt.client import topic_matches_sub

from raspy import json_text
from raspy.mqtt.discovery import TRIGGER_COMPONENT, UNIQUE_PREFIX, Discovery
from raspy.mqtt.topics import RESULT, STATE_FIELDS, TopicMap
from raspy.records import frozen
from raspy.rules.raspy_keys import RESUME, STATE_KEYS

MAX_SWEEP_TOPICS: Final = 50_000  # retained topics kept for the sweep, at most
# the keys raspy writes for a scenario (its status, and the record of a run in a
# long wait): `/scenario/<n>/<key>` is `<base>/<host>/scenario/<n>/<key>`, a topic
# as deep as a command's
SCENARIO_FIELDS: Final = frozenset((*STATE_KEYS, RESUME))


class Phase(Enum):
    WAITING = "waiting"  # for a connection
    COLLECTING = "collecting"  # subscribed; the broker replays what it retains
    DONE = "done"  # swept once (or off): a reconnect in the same run needs none


@frozen
class Subscribe:
    """Subscribe to `filters` (QoS 0: only the retained replay matters)."""

    filters: tuple[str, ...]


@frozen
class Unsubscribe:
    filters: tuple[str, ...]


@frozen
class Swept:
    """The sweep is over: `cleared` ghosts got an empty retained message; `overflow`
    retained topics were past MAX_SWEEP_TOPICS and not looked at."""

    cleared: int
    collected: int
    overflow: int


class Sweep:
    """One bridge run's sweep of its own retained topics; see the module docstring."""

    def __init__(
        self,
        topics: TopicMap,
        discovery: Discovery | None,
        *,
        settle_s: float,
        max_topics: int = MAX_SWEEP_TOPICS,
    ) -> None:
        self.topics = topics
        self.discovery = discovery
        self.settle_s = settle_s
        self.max_topics = max_topics
        self.phase = Phase.WAITING if settle_s > 0 else Phase.DONE
        self.settle_at = 0.0
        self.next_at = 0.0  # when BridgeCore should look again
        self.filters: tuple[str, ...] = ()
        self.overflow = 0
        self._found: dict[str, str | None] = {}  # topic -> config's unique id, or None
        self._host_levels = [*topics.base.split("/"), topics.host]

    @property
    def collecting(self) -> bool:
        return self.phase is Phase.COLLECTING

    def start(
        self, now: float, actions: frozenset[str], published: Iterable[str]
    ) -> Subscribe | None:
        """A connection is up: what to subscribe to (None: swept already).
        `published`: the retained topics of this run so far (their last levels
        widen the filters at command depth)."""
        if self.phase is not Phase.WAITING:
            return None
        self.filters = self._filters(actions, published)
        self.phase = Phase.COLLECTING
        self.settle_at = self.next_at = now + self.settle_s
        return Subscribe(self.filters)

    def lost(self) -> None:
        """The connection went before the sweep: it starts again with the next one
        (what was collected stays true: those messages were retained)."""
        if self.phase is Phase.COLLECTING:
            self.phase = Phase.WAITING

    def _filters(
        self, actions: frozenset[str], published: Iterable[str]
    ) -> tuple[str, ...]:
        own = "/".join(self._host_levels)
        depth = len(self._host_levels) + 3  # `<base>/<host>/<a>/<b>/<c>`: a command's
        leaves = set(STATE_FIELDS | SCENARIO_FIELDS)
        for topic in published:
            levels = topic.split("/")
            if len(levels) == depth and levels[: depth - 3] == self._host_levels:
                leaves.add(levels[-1])
        # never a command filter's last level (the bridged actions but the fields)
        leaves -= {f.rsplit("/", 1)[-1] for f in self.topics.command_filters(actions)}
        leaves.discard(RESULT)
        filters = [f"{own}/+", f"{own}/+/+"]
        filters += [f"{own}/+/+/{leaf}" for leaf in sorted(leaves)]
        filters.append(f"{own}/+/+/+/+/#")  # deeper than any command topic
        if self.discovery is not None and self.discovery.prefix != self.topics.base:
            # (the same first levels: its filter would match `<base>/+/+/+/config`)
            discovery = self.discovery
            filters.insert(0, f"{discovery.prefix}/+/{discovery.node_id}/+/config")
        return tuple(filters)

    def matches(self, topic: str) -> bool:
        """Is `topic` one the sweep subscribed to (late ones come after it ends too)?"""
        return any(topic_matches_sub(f, topic) for f in self.filters)

    def seen(self, topic: str, payload: bytes, retained: bool) -> None:
        """A message on a sweep filter: kept if it is a retained one of this hub's."""
        if not self.collecting or not retained or not payload:
            return  # live messages are this run's own (or another client's)
        if topic in self._found:
            return
        discovery = self.discovery
        unique: str | None = None
        if discovery is not None and discovery.is_config_topic(topic):
            unique = self._own_config(discovery, topic, payload)
            if unique is None:
                return  # another tool's entry under the same node id
        elif topic == self.topics.availability:
            return
        if len(self._found) >= self.max_topics:
            self.overflow += 1
            return
        self._found[topic] = unique

    def _own_config(
        self, discovery: Discovery, topic: str, payload: bytes
    ) -> str | None:
        """The unique id of a config this hub's bridge made, else None."""
        component = topic[len(discovery.prefix) + 1 :].split("/", 1)[0]
        try:
            config = json_text.loads(payload)
        except ValueError:
            return None
        if not isinstance(config, dict):
            return None
        unique = config.get("unique_id")
        own = config.get("availability_topic") == self.topics.availability
        if component == TRIGGER_COMPONENT:  # a button's: no availability, no id
            unique = discovery.own_trigger_unique(config)
            own = unique is not None
        if not isinstance(unique, str) or not unique.startswith(UNIQUE_PREFIX):
            return None
        if not own and not discovery.is_hub_config(unique, config):
            return None  # another hub's (it names its own availability topic)
        try:  # a JSON escape may name a lone surrogate, which no UTF-8 carries
            made = discovery.topic(component, unique)
        except UnicodeEncodeError:
            return None
        return unique if made == topic else None

    def finish(self) -> tuple[dict[str, str | None], Unsubscribe]:
        """The collected topics (-> unique id of a config, None for a state topic),
        and the subscriptions to end; the sweep is done for this run."""
        found, self._found = self._found, {}
        self.phase = Phase.DONE
        return found, Unsubscribe(self.filters)
