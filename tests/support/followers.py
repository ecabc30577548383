"""The web face and the MQTT bridge started as followers of the tree (their
start subscribes to Clone prefixes), on the links a test gives them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pykka

from raspy import config as config_mod
from raspy.actors.mqtt import MqttBridgeActor
from raspy.actors.web import WebActor, WebSettings
from raspy.actors.web.server import bind_socket
from raspy.actors.worker import PeerLinks
from raspy.web.login_files import LoginFiles
from support.net import free_port_base

Ref = pykka.ActorRef[Any]


def start_web(links: PeerLinks, data_dir: Path) -> Ref:
    """The web face on an ephemeral port, no controls."""
    settings = WebSettings("127.0.0.1", 0, "testhost", 60.0, LoginFiles(data_dir, ""))
    return WebActor.start(settings, links, bind_socket("127.0.0.1", 0))


def start_mqtt(links: PeerLinks, data_dir: Path) -> Ref:
    """The bridge, its MQTT broker a closed port: the link retries meanwhile."""
    closed_port = free_port_base(span=1)
    config = config_mod.load(
        f"[mqtt]\nenabled = true\nport = {closed_port}\n",
        "test.toml",
        data_dir=str(data_dir),
        hostname="testhost",
    )
    return MqttBridgeActor.start(config.mqtt, "testhost", links)
