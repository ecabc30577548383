"""The MQTT bridge's socket owner: paho's client in its external loop (PahoLoop) on
its own I/O Runner, so this thread alone calls into paho. The actor's events come in
through an Inbox; BridgeCore decides what to publish and request, MqttSession when to
connect and how much paho may hold, LinkLog what is counted and logged. A slow or
absent broker never blocks another thread."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Final

import paho.mqtt.client as paho

from raspy.actors.mqtt.client import goodbye, greet, make_client
from raspy.actors.mqtt.events import GetLinkStats
from raspy.actors.worker import LocalClient
from raspy.config import MqttConfig
from raspy.mqtt.core import BridgeCore, Output, SendRequest
from raspy.mqtt.events import Event, Feed
from raspy.mqtt.link_log import LinkLog, link_stats
from raspy.mqtt.session import MqttSession
from raspy.mqtt.sweep import Subscribe, Swept, Unsubscribe
from raspy.stats import Stats
from raspy.transport.inbox import Inbox
from raspy.transport.paho_loop import PahoLoop, reconnect
from raspy.transport.runner import Runner, UnknownCommand

EVENTS_PER_TURN: Final = 5000  # the actor's events taken per turn, at most


class MqttLink:
    """The Runner owner of the MQTT connection (see the module docstring)."""

    _client: paho.Client  # from open() on
    _paho: PahoLoop | None = None

    def __init__(
        self,
        config: MqttConfig,
        core: BridgeCore,
        *,
        client_id: str,
        password: str,
        mdp_client: LocalClient[None],
        monotonic: Callable[[], float],
        stats: Stats,
        on_failure: Callable[[BaseException], None] | None = None,
    ) -> None:
        self.config, self.core = config, core
        availability = core.topics.availability
        self._new_client = partial(
            make_client, config, client_id, password, availability
        )
        self._mdp = mdp_client  # BridgeCore keeps the requests: send() only
        self._monotonic = monotonic
        self._session = MqttSession()
        self._feed = Feed(core)
        self._log = LinkLog(config, stats)
        self._busy = False  # more to do at once: the next poll does not sleep
        self.runner = Runner(
            "mqtt", self, monotonic=monotonic, stats=stats, on_failure=on_failure
        )
        self._inbox: Inbox[Event] = Inbox(self.runner.wakeup)

    def submit(self, event: Event) -> None:
        """From any thread: `event` goes to BridgeCore on the runner's thread."""
        self._inbox.put(event)

    # --- the runner's owner -----------------------------------------------------------
    def open(self, runner: Runner) -> None:
        self._client = self._new_client()
        self._paho = PahoLoop(self._client, runner, self)

    def next_deadline(self) -> float | None:
        if self._busy:
            return self._monotonic()
        return self._session.next_deadline(self.core.next_deadline())

    def on_turn(self, now: float) -> None:
        session, core, client = self._session, self.core, self._client
        self._busy = self._inbox.drain(
            lambda event: self._apply(self._feed(event, now)), EVENTS_PER_TURN
        )
        self._apply(core.tick(now))
        if session.connect_due(now):
            self._connect(now)
        if session.misc_due(now):
            client.loop_misc()  # keepalive pings; notices a dead broker
        session.stable(now)
        messages, more = session.take(core.buffer)
        for msg in messages:
            client.publish(msg.topic, msg.payload, self.config.qos, msg.retain)
        self._log.published(len(messages))
        self._busy = self._busy or more
        self._log.buffer(core.buffer)

    def _apply(self, outputs: list[Output]) -> None:
        for out in outputs:
            match out:
                case SendRequest(request_id=request_id, service=service, body=body):
                    self._mdp.send(request_id, service.encode("utf-8"), (body,))
                case Subscribe(filters=filters):
                    self._client.subscribe([(topic, 0) for topic in filters])
                case Unsubscribe(filters=filters):
                    self._client.unsubscribe(list(filters))
                case Swept():
                    self._log.swept(out)
                    self._busy = True  # the clearing messages wait in the buffer
                case _:
                    self._log.refused(out, self._monotonic())

    def _connect(self, now: float) -> None:
        failure = reconnect(self._client)  # blocks at most CONNECT_TIMEOUT_S
        if failure is not None:
            self._log.connect_failed(failure, self._session.failed(now), now)
            return
        self._session.connecting(now)
        self._log.connecting()

    # --- PahoHandler: paho's callbacks (inside loop_read/loop_write/reconnect) ---------
    def connected(self, refusal: str | None) -> None:
        now = self._monotonic()
        if refusal is not None:
            self._log.connect_refused(refusal, self._session.failed(now), now)
            return
        self._session.connected(now)
        greet(self._client, self.core.topics, self.core.settings.actions)
        self._apply(self.core.connected(now))
        self._busy = True
        self._log.connected()

    def disconnected(self, reason: str) -> None:
        now = self._monotonic()
        if (lost := self._session.closed(now)) is not None:
            self._log.lost(lost, reason, now)
        self.core.disconnected()

    def message(self, topic: str, payload: bytes, retained: bool) -> None:
        if self.core.swept_message(topic, payload, retained):
            return
        self._log.command()
        now = self._monotonic()
        self._apply(self.core.command(topic, payload, now, retained=retained))
        self._busy = True  # a result may wait in the buffer

    def acknowledged(self) -> None:
        self._session.acknowledged()

    def backlog(self) -> None:
        self._busy = True

    # --- control ----------------------------------------------------------------------
    def execute(self, command: object) -> object:
        if isinstance(command, GetLinkStats):
            return link_stats(self._session, self._feed)
        raise UnknownCommand("mqtt", command)

    def close(self) -> None:
        """A clean goodbye while up (a lost connection leaves the will to say it)."""
        try:
            if self._paho is not None and self._session.up:
                goodbye(self._client, self.core.topics)
        finally:
            if self._paho is not None:
                self._paho.close()
