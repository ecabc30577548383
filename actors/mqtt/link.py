"""The MQTT bridge's socket owner: paho's client on its own I/O Runner thread.

paho runs in its "external loop" mode: the runner polls the client's socket, and this
thread alone calls loop_read/loop_write/loop_misc, publish and (re)connect, so the
socket has one owner. Tree changes, MDP replies and service news come in through
submit() (a queue and the runner's wake-up pipe); BridgeCore decides, this moves bytes.
Reconnects follow raspy.backoff; a slow or absent broker never blocks another thread.
"""

from __future__ import annotations

import queue
import ssl
from collections.abc import Callable
from typing import Any, Final

import paho.mqtt.client as paho
import structlog
import zmq
from paho.mqtt.reasoncodes import ReasonCode

from raspy.actors.mqtt.client import OFFLINE, ONLINE, make_client
from raspy.actors.mqtt.events import (
    Event,
    GetLinkStats,
    Replied,
    Seed,
    ServiceUp,
    TreeChanged,
)
from raspy.actors.worker import LocalClient
from raspy.backoff import BackoffPolicy
from raspy.config import MqttConfig
from raspy.mqtt.core import BridgeCore, Output, Refused, SendRequest
from raspy.mqtt.session import MqttSession, Phase
from raspy.ratelimit import LogRateLimiter
from raspy.stats import Stats
from raspy.transport.runner import Runner, UnknownCommand

log = structlog.get_logger(component="mqtt")

KEEPALIVE_S: Final = 30
MAX_INFLIGHT: Final = 1000  # messages handed to paho and not yet acknowledged
TAKE_PER_TURN: Final = 500
EVENTS_PER_TURN: Final = 5000
MISC_INTERVAL_S: Final = 1.0
RECONNECT: Final = BackoffPolicy(initial_s=0.5, max_s=60.0, stable_s=30.0)


class MqttLink:
    """The Runner owner of the MQTT connection (see the module docstring)."""

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
        self.config = config
        self.core = core
        self._client_id = client_id
        self._password = password
        self._mdp = mdp_client  # BridgeCore keeps the requests: send() only
        self._monotonic = monotonic
        self._stats = stats
        self._events: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self._session = MqttSession(
            RECONNECT, max_inflight=MAX_INFLIGHT, misc_interval_s=MISC_INTERVAL_S
        )
        self._limiter = LogRateLimiter()
        self._client: paho.Client | None = None
        self._fd: int | None = None
        self._tree_changes = 0  # TreeChanged handled (what the subscription brought)
        self._busy = False
        self._wake_sent = (
            False  # set by submit(), cleared by the runner before draining
        )
        self.runner = Runner(
            "mqtt", self, monotonic=monotonic, stats=stats, on_failure=on_failure
        )

    # --- any thread -------------------------------------------------------------------
    def submit(self, event: Event) -> None:
        """Queue an event; the wake-up pipe is written only when the runner may be
        asleep (it clears the flag before it drains), not once per event."""
        self._events.put(event)
        if not self._wake_sent:
            self._wake_sent = True
            self.runner.wakeup.notify()

    # --- the runner's thread ----------------------------------------------------------
    def open(self, runner: Runner) -> None:
        config = self.config
        client = make_client(
            config, self._client_id, self._password, self.core.topics.availability
        )
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        client.on_socket_open = self._on_socket_open
        client.on_socket_close = self._on_socket_close
        client.on_socket_register_write = self._on_register_write
        client.on_socket_unregister_write = self._on_unregister_write
        client.connect_async(config.host, config.port, keepalive=KEEPALIVE_S)
        self._client = client
        self._runner = runner

    def next_deadline(self) -> float | None:
        now = self._monotonic()
        if self._busy:
            return now
        core = self.core.next_deadline()
        link = self._session.next_deadline()
        return link if core is None else min(core, link)

    def on_turn(self, now: float) -> None:
        self._busy = False
        self._drain_events(now)
        self._apply(self.core.tick(now))
        client = self._client
        assert client is not None
        session = self._session
        if session.connect_due(now):
            self._connect(now)
        if session.misc_due(now):
            client.loop_misc()  # keepalive pings; notices a dead broker
        session.stable(now)
        self._flush()
        self._stats.gauge("mqtt.buffered", len(self.core.buffer))
        self._stats.gauge("mqtt.dropped", self.core.buffer.dropped)

    def _drain_events(self, now: float) -> None:
        core = self.core
        self._wake_sent = False
        for _ in range(EVENTS_PER_TURN):
            try:
                event = self._events.get_nowait()
            except queue.Empty:
                return
            match event:
                case TreeChanged(key=key, body=body):
                    self._tree_changes += 1
                    self._apply(core.key_changed(key, body, now))
                case Replied(request_id=request_id, body=body):
                    self._apply(core.reply(request_id, list(body), now))
                case ServiceUp(service=service):
                    self._apply(core.service_available(service, now))
                case Seed(items=items):
                    self._apply(core.seed(list(items), now))
        self._busy = True  # more are waiting: the next poll does not sleep

    def _apply(self, outputs: list[Output]) -> None:
        for out in outputs:
            match out:
                case SendRequest(request_id=request_id, service=service, body=body):
                    self._mdp.send(request_id, service.encode("utf-8"), (body,))
                case Refused(reason=reason, detail=detail):
                    self._stats.incr(f"mqtt.refused.{reason}")
                    if self._limiter.should_log(reason, self._monotonic()):
                        log.warning("mqtt_input_refused", reason=reason, detail=detail)

    def _flush(self) -> None:
        client = self._client
        assert client is not None
        room = self._session.room(TAKE_PER_TURN)
        if room == 0:
            return
        qos = self.config.qos
        for message in self.core.buffer.take(room):
            self._session.handed(1)
            client.publish(
                message.topic, message.payload, qos=qos, retain=message.retain
            )
            self._stats.incr("mqtt.published")
        if len(self.core.buffer) and not self._session.full:
            self._busy = True

    def _connect(self, now: float) -> None:
        client = self._client
        assert client is not None
        config = self.config
        try:
            client.reconnect()  # blocks at most CONNECT_TIMEOUT_S (this thread only)
        except (OSError, ssl.SSLError, ValueError) as exc:
            self._connect_failed(now, f"{type(exc).__name__}: {exc}")
            return
        self._session.connecting(now)
        log.debug("mqtt_connecting", host=config.host, port=config.port)

    def _connect_failed(self, now: float, reason: str, *, logged: bool = False) -> None:
        retry_in_s = self._session.failed(now)
        self._stats.incr("mqtt.connect_failed")
        if not logged and self._limiter.should_log(("connect", reason), now):
            log.warning(
                "mqtt_connect_failed",
                host=self.config.host,
                port=self.config.port,
                reason=reason,
                retry_in_s=round(retry_in_s, 3),
            )

    # --- paho's callbacks (this thread, inside loop_read/loop_write/reconnect) --------
    def _on_connect(
        self,
        client: paho.Client,
        _userdata: Any,
        _flags: Any,
        reason: ReasonCode,
        _p: Any,
    ) -> None:
        now = self._monotonic()
        if reason.is_failure:
            self._stats.incr("mqtt.connect_refused")
            if self._limiter.should_log(("refused", str(reason)), now):
                log.error(
                    "mqtt_connect_refused",
                    host=self.config.host,
                    port=self.config.port,
                    reason=str(reason),
                    username=self.config.username or None,
                    retry_in_s=round(self._session.next_delay_s(), 3),
                )
            self._connect_failed(now, f"refused: {reason}", logged=True)
            return
        self._session.connected(now)
        client.publish(self.core.topics.availability, ONLINE, qos=1, retain=True)
        filters = self.core.topics.command_filters(self.core.settings.actions)
        client.subscribe([(topic, 1) for topic in filters])
        self.core.connected()
        self._busy = True
        log.info("mqtt_connected", host=self.config.host, port=self.config.port)

    def _on_disconnect(
        self, _c: paho.Client, _u: Any, _f: Any, reason: ReasonCode, _p: Any
    ) -> None:
        now = self._monotonic()
        phase = self._session.phase
        if phase is Phase.CONNECTING:
            self._connect_failed(now, f"closed: {reason}")
        elif phase is Phase.UP:  # DOWN: refused at CONNACK, counted and logged there
            retry_in_s = self._session.failed(now)
            self._stats.incr("mqtt.disconnects")
            log.warning(
                "mqtt_disconnected", reason=str(reason), retry_in_s=round(retry_in_s, 3)
            )

    def _on_message(self, _c: paho.Client, _u: Any, message: paho.MQTTMessage) -> None:
        self._stats.incr("mqtt.commands")
        self._apply(
            self.core.command(
                message.topic,
                bytes(message.payload),
                self._monotonic(),
                retained=bool(message.retain),
            )
        )
        self._busy = True  # a result may wait in the buffer

    def _on_publish(
        self, _c: paho.Client, _u: Any, _mid: int, _reason: Any, _p: Any
    ) -> None:
        self._session.acknowledged()

    def _on_socket_open(self, _c: paho.Client, _u: Any, sock: Any) -> None:
        self._fd = sock.fileno()
        self._runner.register(self._fd, self._on_socket_events)

    def _on_socket_close(self, _c: paho.Client, _u: Any, _sock: Any) -> None:
        if self._fd is not None:
            self._runner.unregister(self._fd)
            self._fd = None

    def _on_register_write(self, _c: paho.Client, _u: Any, _sock: Any) -> None:
        if self._fd is not None:
            self._runner.modify(self._fd, zmq.POLLIN | zmq.POLLOUT)

    def _on_unregister_write(self, _c: paho.Client, _u: Any, _sock: Any) -> None:
        if self._fd is not None:
            self._runner.modify(self._fd, zmq.POLLIN)

    def _on_socket_events(self, events: int) -> None:
        client = self._client
        assert client is not None
        if events & zmq.POLLIN:
            client.loop_read()
            sock = client.socket()
            pending = getattr(sock, "pending", None)  # TLS: bytes already decrypted
            if pending is not None and pending() > 0:
                self._busy = True
                client.loop_read()
        if events & zmq.POLLOUT and self._fd is not None:
            client.loop_write()

    # --- control ----------------------------------------------------------------------
    def execute(self, command: object) -> object:
        if isinstance(command, GetLinkStats):
            return {
                "connected": self._session.up,
                "buffered": len(self.core.buffer),
                "inflight": self._session.inflight,
                "dropped": self.core.buffer.dropped,
                "tree_changes": self._tree_changes,
            }
        raise UnknownCommand("mqtt", command)

    def close(self) -> None:
        """A clean goodbye: `offline` (the will is only for a lost connection)."""
        client = self._client
        try:
            if client is not None and self._session.up:
                client.publish(
                    self.core.topics.availability, OFFLINE, qos=0, retain=True
                )
                client.disconnect()
                client.loop_write()
        finally:
            if client is not None and self._fd is not None:
                self._on_socket_close(client, None, None)
            if client is not None:
                sock = client.socket()
                if sock is not None:
                    sock.close()
