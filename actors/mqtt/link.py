"""The MQTT bridge's socket owner: paho's client in its external loop (PahoLoop) on
its own I/O Runner, so this thread alone calls into paho. The actor's events come in
through an Inbox; LinkCore (sans-IO, over BridgeCore, MqttSession and LinkLog) decides
what to publish, request and subscribe, when to connect and how much paho may hold;
this carries it out. A slow or absent broker never blocks another thread."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Final

import paho.mqtt.client as paho

from raspy.actors.clone.publisher import ClonePublisher
from raspy.actors.mqtt.client import goodbye, greet, make_client
from raspy.actors.mqtt.events import GetLinkStats
from raspy.actors.worker import LocalClient
from raspy.clock import Clock
from raspy.config import MqttConfig
from raspy.mqtt.buffer import Message
from raspy.mqtt.core import BridgeCore, SendRequest, WriteKey
from raspy.mqtt.events import Event
from raspy.mqtt.link_core import Action, LinkCore
from raspy.mqtt.sweep import Subscribe, Unsubscribe
from raspy.stats import Stats
from raspy.transport.inbox import Inbox
from raspy.transport.paho_loop import PahoLoop, reconnect
from raspy.transport.runner import Runner, UnknownCommand

EVENTS_PER_TURN: Final = 5000  # the actor's events taken per turn, at most


class MqttLink:
    """The Runner owner of the MQTT connection (see the module docstring)."""

    _client: paho.Client  # from open() on
    _paho: PahoLoop | None = None
    # the controls' writes (raspy.mqtt.controls): set by the actor before the
    # runner starts, when there are controls (it may be used from any thread)
    publisher: ClonePublisher | None = None

    def __init__(
        self,
        config: MqttConfig,
        core: BridgeCore,
        *,
        client_id: str,
        password: str,
        mdp_client: LocalClient[None],
        clock: Clock,
        stats: Stats,
        on_failure: Callable[[BaseException], None] | None = None,
    ) -> None:
        self.config, self.core = config, core
        availability = core.topics.availability
        self._new_client = partial(
            make_client, config, client_id, password, availability
        )
        self._mdp = mdp_client  # BridgeCore keeps the requests: send() only
        self._monotonic = clock.monotonic
        self._state = LinkCore(config, core, stats)
        # the clock, not only its time: on the system clock the runner sleeps until
        # the next deadline instead of waking every second to look
        self.runner = Runner(
            "mqtt", self, clock=clock, stats=stats, on_failure=on_failure
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
        return self._state.next_deadline(self._monotonic())

    def on_turn(self, now: float) -> None:
        state, client = self._state, self._client
        state.busy = self._inbox.drain(
            lambda event: self._do(state.event(event, now)), EVENTS_PER_TURN
        )
        self._do(state.tick(now))
        if state.session.connect_due(now):
            self._connect(now)
        if state.session.misc_due(now):
            client.loop_misc()  # keepalive pings; notices a dead broker
        for msg in state.take(now):
            client.publish(msg.topic, msg.payload, self.config.qos, msg.retain)

    def _do(self, actions: list[Action]) -> None:
        for action in actions:
            match action:
                case SendRequest(
                    request_id=request_id, service=service, body=body, patience_s=wait
                ):
                    self._mdp.send(request_id, service.encode("utf-8"), (body,), wait)
                case Subscribe(filters=filters):
                    self._client.subscribe([(topic, 0) for topic in filters])
                case Unsubscribe(filters=filters):
                    self._client.unsubscribe(list(filters))
                case WriteKey(request_id=request_id, key=key, body=body):
                    self._write(request_id, key, body)

    def _write(self, request_id: int, key: str, body: bytes) -> None:
        """A control's value into the tree, through the in-process publisher the
        web face's controls use too; BridgeCore answers when it comes back."""
        now = self._monotonic()
        if self.publisher is None:
            self._state.wrote(request_id, None, "the tree is not served", now)
            return
        try:
            made = self.publisher.update(key.encode("utf-8"), body)
        except ValueError as exc:
            self._state.wrote(request_id, None, str(exc), now)
            return
        self._state.wrote(request_id, made, "", now)

    def _connect(self, now: float) -> None:
        failure = reconnect(self._client)  # blocks at most CONNECT_TIMEOUT_S
        if failure is not None:
            self._state.connect_failed(failure, now)
        else:
            self._state.connecting(now)

    # --- PahoHandler: paho's callbacks (inside loop_read/loop_write/reconnect) ---------
    def connected(self, refusal: str | None) -> None:
        now = self._monotonic()
        if refusal is not None:
            self._state.refused(refusal, now)
            return
        # what paho held unacknowledged would go again on top of the window
        held = [
            Message(m.topic, bytes(m.payload), bool(m.retain))
            for m in self._client.drop_out_messages()
        ]
        core = self.core
        greet(self._client, core.topics, core.settings.actions, core.birth_topic)
        self._do(self._state.connected(now, held))

    def disconnected(self, reason: str) -> None:
        self._state.disconnected(reason, self._monotonic())

    def message(self, topic: str, payload: bytes, retained: bool) -> None:
        self._do(self._state.message(topic, payload, retained, self._monotonic()))

    def acknowledged(self) -> None:
        self._state.acknowledged()

    def backlog(self) -> None:
        self._state.busy = True

    # --- control ----------------------------------------------------------------------
    def execute(self, command: object) -> object:
        if isinstance(command, GetLinkStats):
            return self._state.stats()
        raise UnknownCommand("mqtt", command)

    def close(self) -> None:
        """A clean goodbye while up (a lost connection leaves the will to say it)."""
        try:
            if self._paho is not None and self._state.session.up:
                goodbye(self._client, self.core.topics)
        finally:
            if self._paho is not None:
                self._paho.close()
