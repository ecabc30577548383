"""The MQTT link's decisions, sans-IO: the actor's events and the broker's messages
into BridgeCore, its outputs sorted into what the link must do (send a request,
subscribe, unsubscribe) and what is only reported (LinkLog), the session's window
onto the buffer, and whether the link's next poll may sleep. Time is passed in; the
link (actors/mqtt/link.py) owns the paho client and carries the actions out.

On each CONNACK the link takes from paho what it still held of the connection before
(unacknowledged, which paho would send again on its own) and hands it here: it goes
back into the buffer (a state one message per topic behind what is already queued;
a command's results each one, in their order, ahead of those answered meanwhile), so
the in-flight count starts again from what paho really holds (only `online`) and
paho never holds more than the session's window.
"""

from __future__ import annotations

from collections.abc import Iterable

from raspy.config import MqttConfig
from raspy.mqtt.buffer import Message
from raspy.mqtt.core import (
    BridgeCore,
    Output,
    Refused,
    SendRequest,
    WriteKey,
    late_is_wrong,
)
from raspy.mqtt.events import Event, Feed
from raspy.mqtt.link_log import LinkLog, link_stats
from raspy.mqtt.session import MqttSession
from raspy.mqtt.sweep import Subscribe, Swept, Unsubscribe
from raspy.stats import Stats

# what the link carries out
Action = SendRequest | Subscribe | Unsubscribe | WriteKey


class LinkCore:
    """One link's state between its I/O calls; see the module docstring."""

    def __init__(
        self,
        config: MqttConfig,
        core: BridgeCore,
        stats: Stats,
        session: MqttSession | None = None,
    ) -> None:
        self.core = core
        self.session = MqttSession() if session is None else session
        self.feed = Feed(core)
        self.log = LinkLog(config, stats)
        self.busy = False  # more to do at once: the next poll does not sleep

    def next_deadline(self, now: float) -> float:
        if self.busy:
            return now
        return self.session.next_deadline(self.core.next_deadline())

    def event(self, event: Event, now: float) -> list[Action]:
        """One of the actor's events (the tree, a reply, a service up)."""
        return self._sort(self.feed(event, now), now)

    def tick(self, now: float) -> list[Action]:
        """Requests timed out, the sweep when due."""
        return self._sort(self.core.tick(now), now)

    def take(self, now: float) -> list[Message]:
        """What to publish now (the window's room); reported and counted."""
        session, buffer = self.session, self.core.buffer
        session.stable(now)
        messages, more = session.take(buffer)
        if messages and self.core.refill():  # room again: what the full buffer lost
            more = not session.full
        self.log.published(len(messages))
        self.busy = self.busy or more
        self.log.buffer(self.core, session.inflight)
        return messages

    # --- the connection ---------------------------------------------------------------
    def connect_failed(self, failure: str, now: float) -> None:
        self.log.connect_failed(failure, self.session.failed(now), now)

    def connecting(self, now: float) -> None:
        self.session.connecting(now)
        self.log.connecting()

    def refused(self, refusal: str, now: float) -> None:
        """The broker said no at CONNACK."""
        self.log.connect_refused(refusal, self.session.failed(now), now)

    def connected(self, now: float, held: Iterable[Message]) -> list[Action]:
        """CONNACK accepted; `held`: what paho still held, taken from it. The count
        is 1 from here: the retained `online` the link publishes at once (QoS 1,
        acknowledged like the others)."""
        session, core = self.session, self.core
        session.connected(now)
        session.handed(1)
        actions = self._sort(core.connected(now), now)  # the mirror again, first
        # in paho's order; a gesture it never got out is not for now. A command's
        # results are each kept, ahead of those answered while away; a state is
        # one per topic, and a queued one is newer
        held = [m for m in held if not late_is_wrong(m)]
        core.buffer.put_news_first([m for m in held if not m.retain])
        for message in {m.topic: m for m in held if m.retain}.values():
            core.buffer.put_if_absent(message)
        self.busy = True
        self.log.connected()
        return actions

    def disconnected(self, reason: str, now: float) -> None:
        if (lost := self.session.closed(now)) is not None:
            self.log.lost(lost, reason, now)
        self.log.news_dropped(self.core.disconnected())

    def message(
        self, topic: str, payload: bytes, retained: bool, now: float
    ) -> list[Action]:
        """A message from the broker: Home Assistant's status, the sweep's, a
        state echo, or a command."""
        core = self.core
        if core.status_message(topic, payload, retained, now):
            self.busy = True  # the mirror may wait in the buffer again
            return []
        if core.swept_message(topic, payload, retained):
            return []
        if core.takes_command(topic):  # not another hub's, nor another tool's
            self.log.command()
        self.busy = True  # a result may wait in the buffer
        return self._sort(core.command(topic, payload, now, retained=retained), now)

    def acknowledged(self) -> None:
        self.session.acknowledged()

    def wrote(
        self, request_id: int, made: bytes | None, reason: str, now: float
    ) -> None:
        """A control's write (WriteKey) was sent as update `made`, or not (None,
        `reason`: its refusal waits in the buffer)."""
        if made is not None:
            self.core.writing(request_id, made)
            return
        self._sort(self.core.write_failed(request_id, reason), now)
        self.busy = True

    def stats(self) -> dict[str, object]:
        return link_stats(self.session, self.feed)

    def _sort(self, outputs: list[Output], now: float) -> list[Action]:
        actions: list[Action] = []
        for out in outputs:
            match out:
                case Refused():
                    self.log.refused(out, now)
                case Swept():
                    self.log.swept(out)
                    self.busy = True  # the clearing messages wait in the buffer
                case _:
                    actions.append(out)
        return actions
