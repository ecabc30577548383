"""The paho client the MQTT link drives: MQTT 3.1.1, a clean session, the last will
(`offline`, retained), credentials and TLS from [mqtt]; what it says first on each
connection (`online`, the command subscriptions) and last on a clean stop."""

from __future__ import annotations

import ssl
from typing import Final

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from raspy.config import MqttConfig
from raspy.mqtt.topics import TopicMap

CONNECT_TIMEOUT_S: Final = 5.0
KEEPALIVE_S: Final = 30
ONLINE: Final = b"online"
OFFLINE: Final = b"offline"


def make_client(
    config: MqttConfig, client_id: str, password: str, availability_topic: str
) -> paho.Client:
    """A client set to connect to [mqtt]'s broker, not connected yet: the link sets
    its callbacks, and the connection is made when it calls reconnect()."""
    client = paho.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=True,
        protocol=paho.MQTTv311,
    )
    client.connect_timeout = CONNECT_TIMEOUT_S
    # 0: paho's own limit off. With one, every PUBACK makes paho scan all the
    # messages it holds (O(n) per ack); the link bounds what it is handed.
    client.max_inflight_messages_set(0)
    client.will_set(availability_topic, OFFLINE, qos=1, retain=True)
    if config.username:
        client.username_pw_set(config.username, password or None)
    if config.tls:
        client.tls_set(
            ca_certs=config.tls_ca_file or None,
            certfile=config.tls_cert_file or None,
            keyfile=config.tls_key_file or None,
            cert_reqs=ssl.CERT_REQUIRED,
        )
    client.connect_async(config.host, config.port, keepalive=KEEPALIVE_S)
    return client


def greet(
    client: paho.Client,
    topics: TopicMap,
    actions: frozenset[str],
    birth_topic: str | None = None,
) -> None:
    """A new connection's first words: `online` (retained), then the subscriptions
    to the command topics of the bridged actions and, with discovery, to Home
    Assistant's birth message (a clean session keeps none across connections)."""
    client.publish(topics.availability, ONLINE, qos=1, retain=True)
    filters = topics.command_filters(actions)
    if birth_topic is not None:
        filters.append(birth_topic)
    client.subscribe([(topic, 1) for topic in filters])


def goodbye(client: paho.Client, topics: TopicMap) -> None:
    """A clean stop's last words: `offline` (the will is only for a lost connection),
    DISCONNECT, written out at once (the runner is ending)."""
    client.publish(topics.availability, OFFLINE, qos=0, retain=True)
    client.disconnect()
    client.loop_write()
