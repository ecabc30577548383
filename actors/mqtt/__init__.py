"""The MQTT bridge in raspyd: a thin actor between the daemon and the MQTT link.

It follows the Clone tree in-process (CloneSubscribe: KeyChanged) under the fixed
prefixes of its subtrees (BridgeCore checks each key against the subtrees' globs), of
the events it acts on (a device configured) and of the controls' keys, whose values
MQTT commands write through the in-process Clone publisher (the link's), is
an in-process MDP client of the device services and the scenario service (its replies
come back as MdpFrames), watches which services are up (for discovery), and hands all
of it to the MqttLink, whose runner thread owns the MQTT socket and the BridgeCore.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pykka
import structlog

from raspy import __version__
from raspy.actors import messages as msgs
from raspy.actors.clone.publisher import ClonePublisher
from raspy.actors.clone.server import subscribe_seeded
from raspy.actors.mqtt.events import GetLinkStats
from raspy.actors.mqtt.link import MqttLink
from raspy.actors.steady import SteadyActor
from raspy.actors.worker import (
    LocalClient,
    LocalReply,
    PeerLinks,
    RejectedReply,
    UnroutableReply,
    leave,
    local_peer_id,
)
from raspy.config import MqttConfig
from raspy.control_tables import declared
from raspy.controls import Control
from raspy.devices.builtin_kinds import BUILTIN
from raspy.devices.gpio_tree import EVENT_TREE
from raspy.devices.reading import CONFIGURED_TREE, DEVICE_TREE
from raspy.errors import ConfigError
from raspy.mqtt.core import SERVICE_ACTIONS, BridgeCore, BridgeSettings
from raspy.mqtt.discovery import Discovery
from raspy.mqtt.events import (
    Replied,
    Seed,
    ServiceDown,
    ServiceUp,
    TreeChanged,
    WriteRefused,
)
from raspy.mqtt.filters import GlobFilter, event_prefixes, minimal_prefixes
from raspy.mqtt.topics import SCENARIO_PREFIX, TopicMap
from raspy.protocol import clone as clone_protocol
from raspy.records import frozen
from raspy.transport.outbox import Outbox

if TYPE_CHECKING:
    from raspy.actors.supervisor import Runtime

log = structlog.get_logger(component="mqtt")

_ASK_TIMEOUT_S: Final = 5.0
CHILD: Final = "mqtt"


@frozen
class _IoFailed:
    error: BaseException


BridgeLinks = PeerLinks  # what the bridge talks to inside raspyd


def read_password(config: MqttConfig) -> str:
    """The password, from the config or its file (first line); ConfigError if unreadable."""
    if not config.password_file:
        return config.password
    try:
        text = Path(config.password_file).read_text("utf-8")
    except (OSError, UnicodeError) as exc:
        raise ConfigError(
            [f"mqtt.password_file: cannot read {config.password_file}: {exc}"]
        ) from exc
    return text.splitlines()[0] if text else ""


def bridge_settings(
    config: MqttConfig, host: str, controls: tuple[Control, ...] = ()
) -> BridgeSettings:
    """The core's settings from [mqtt] and the [[controls]]; every command of every
    built-in kind is bridged, and the service actions `set` and `commands`."""
    topics = TopicMap(config.base_topic, host)
    commandable = GlobFilter(config.command_devices)
    exposed = GlobFilter(config.subtrees, rooted=True)
    discovery = (
        Discovery(
            config.discovery_prefix,
            topics,
            qos=config.qos,
            sw_version=__version__,
            commandable=commandable,
        )
        if config.discovery_prefix
        else None
    )
    return BridgeSettings(
        topics=topics,
        exposed=exposed,
        commandable=commandable,
        actions=BUILTIN.command_names() | SERVICE_ACTIONS,
        discovery=discovery,
        scenario_buttons=config.scenario_buttons,
        max_buffered=config.buffer_max_messages,
        cleanup_after_s=config.cleanup_after_s,
        controls=controls,
        birth_topic=config.birth_topic,
    )


class MqttBridgeActor(SteadyActor):
    """See the module docstring. A told message that fails is counted and logged
    (SteadyActor); only its link thread's failure stops it (then it is restarted)."""

    def __init__(
        self,
        config: MqttConfig,
        host: str,
        links: BridgeLinks,
        controls: tuple[Control, ...] = (),
        max_key_bytes: int = clone_protocol.MAX_KEY_BYTES,
    ) -> None:
        super().__init__("mqtt", links.stats, links.clock.monotonic)
        self._config = config
        self._host = host
        self._links = links
        self._max_key_bytes = max_key_bytes  # the Clone server's
        self._clone = links.tree()
        # the link's thread sends, this one reads the replies: BridgeCore keeps them
        self._client: LocalClient[None] = LocalClient(
            links.outbox, local_peer_id(f"mqtt.{uuid.uuid4().hex[:8]}")
        )
        settings = bridge_settings(config, host, controls)
        core = BridgeCore(settings)
        self._control_keys = tuple(core.controls.by_key)  # those bridged
        # the subtrees' fixed prefixes, the exposed devices' events (a button's
        # gestures), the scenarios' states (discovery's buttons), the devices'
        # config changes (discovery again) and the controls' keys: what may
        # matter; BridgeCore decides what goes out
        exposed = settings.exposed.prefixes()
        watched = [
            *exposed,
            *event_prefixes(exposed, DEVICE_TREE, EVENT_TREE),
            SCENARIO_PREFIX,
            *self._control_keys,
        ]
        if settings.discovery is not None:
            watched.append(CONFIGURED_TREE)
        self._prefixes = minimal_prefixes(watched)
        for key, why in core.controls.skipped:
            log.warning("mqtt_control_not_bridged", key=key, reason=why)
        self.link = MqttLink(
            config,
            core,
            client_id=config.client_id or f"raspy-{host}",
            password=read_password(config),
            mdp_client=self._client,
            clock=links.clock,
            stats=links.stats,
            on_failure=self._io_failed,
        )

    def _io_failed(self, error: BaseException) -> None:
        with contextlib.suppress(pykka.ActorDeadError):
            self.actor_ref.tell(_IoFailed(error))

    def on_start(self) -> None:
        links = self._links
        if self._control_keys:  # before the runner starts: its thread writes
            outbox = self._clone.ask(msgs.GetPublishOutbox(), timeout=_ASK_TIMEOUT_S)
            assert isinstance(outbox, Outbox)
            self.link.publisher = ClonePublisher(outbox, self._max_key_bytes)
        self.link.runner.start()
        try:
            self._client.attach(links.edge, self.actor_ref, _ASK_TIMEOUT_S)
            items: list[tuple[str, bytes]] = []
            for prefix in self._prefixes:
                # a control's write the server drops is said (KeyRefused); the tree
                # where the subscription begins: no change told twice
                refusals = any(k.startswith(prefix) for k in self._control_keys)
                items += subscribe_seeded(
                    self._clone, prefix, self.actor_ref, refusals=refusals
                )
            self.link.submit(Seed(tuple(items)))
            links.edge.ask(msgs.WatchServices(self.actor_ref), timeout=_ASK_TIMEOUT_S)
        except BaseException:  # pykka calls neither on_stop nor on_failure here:
            # the prefixes subscribed before the one that failed are undone too
            leave(links, self.actor_ref, [self._client.owner])
            self.link.runner.stop()
            raise
        config = self._config
        log.info(
            "mqtt_bridge_started",
            host=config.host,
            port=config.port,
            tls=config.tls,
            base_topic=config.base_topic,
            count=len(items),
        )

    def on_stop(self) -> None:
        leave(self._links, self.actor_ref, [self._client.owner])
        self.link.runner.stop()
        log.info("mqtt_bridge_stopped")

    def receive(self, message: Any) -> Any:
        match message:
            case msgs.KeyChanged(key=raw_key, body=body, uuid=made):
                key = raw_key.decode("utf-8", "replace")
                self.link.submit(TreeChanged(key, body, made))
            case msgs.KeyRefused(uuid=made, reason=reason):
                self.link.submit(WriteRefused(made, reason))
            case msgs.MdpFrames(frames=frames, peer_id=peer_id):
                self._on_reply(peer_id, frames)
            case msgs.ServiceAvailabilityChanged(service=service, available=True):
                self.link.submit(ServiceUp(service.decode("utf-8", "replace")))
            case msgs.ServiceAvailabilityChanged(service=service):
                self.link.submit(ServiceDown(service.decode("utf-8", "replace")))
            case _IoFailed():  # logged by its runner (runner_failed)
                self.stop()
            case Started():
                return True  # asked once on_start is done (see start_mqtt)
            case GetLinkStats():  # control (tests, statistics): ask
                return self.link.runner.call(message).result(timeout=_ASK_TIMEOUT_S)
            case _:
                log.warning("unexpected_message", kind=type(message).__name__)
        return None

    def _on_reply(self, peer_id: bytes, frames: tuple[bytes, ...]) -> None:
        match self._client.reply(peer_id, frames):
            case LocalReply(request_id=request_id, body=body):
                self.link.submit(Replied(request_id, body))
            case UnroutableReply():
                self._links.stats.incr("mqtt.unroutable")
            case RejectedReply(error=error):
                self._links.stats.incr(f"mqtt.rejected.{error.reason}")


@dataclass(frozen=True)
class Started:
    """Asked right after start: answered once on_start has subscribed."""


def start_mqtt(rt: Runtime) -> None:
    """Start the bridge when [mqtt] enabled, before the device services (so it hears
    their first readings); again with a new Clone server, else left running."""

    def start(clone: pykka.ActorRef[Any]) -> pykka.ActorRef[Any]:
        max_key_bytes = rt.config.clone.max_key_bytes
        ref = MqttBridgeActor.start(
            rt.config.mqtt,
            rt.hostname,
            rt.peer_links(clone),
            declared(rt.config.controls, max_key_bytes),
            max_key_bytes,
        )
        # pykka runs on_start in the actor's thread: wait for its Clone subscription,
        # so the device services started next cannot publish a first reading unheard
        ref.ask(Started(), timeout=_ASK_TIMEOUT_S)
        return ref

    rt.follow_clone(CHILD, start, enabled=rt.config.mqtt.enabled)
