"""The paho client the MQTT link drives: MQTT 3.1.1, a clean session, the last will
(`offline`, retained), credentials and TLS from [mqtt]."""

from __future__ import annotations

import ssl
from typing import Final

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from raspy.config import MqttConfig

CONNECT_TIMEOUT_S: Final = 5.0
ONLINE: Final = b"online"
OFFLINE: Final = b"offline"


def make_client(
    config: MqttConfig, client_id: str, password: str, availability_topic: str
) -> paho.Client:
    """A client not yet connected; the link sets its callbacks and connects."""
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
    return client
