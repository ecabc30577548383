"""Routing names (docs/architecture.md "Names and keys"): `<hostname>.<service>`."""

from __future__ import annotations

import ipaddress
import re
import socket
from typing import Final

# one part of a routing name: the <hostname> and <service> of `<host>.<service>...`
NAME_SEGMENT: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
# the MQTT bridge's own levels under `<base>/<host>/` (its scenarios' and controls'
# topics, raspy.mqtt.topics): never a device service's name, whose devices' topics
# would be theirs (`<base>/<host>/control/<device>/set` is a control's command)
CONTROL_SERVICE: Final = "control"
SCENARIO_SERVICE: Final = "scenario"
RESERVED_SERVICES: Final = (CONTROL_SERVICE, SCENARIO_SERVICE)
# the end of a device service's name: `<hostname>.<service>.devices`
DEVICES_SUFFIX: Final = ".devices"
# `<hostname>.echo`: raspyd serves it whatever its config, and a board never does, so
# it tells the hub's own host name (raspy-poller)
ECHO_SERVICE: Final = "echo"
# `<hostname>.http`: the HTTP requests of scenarios' `http:` actions, made by raspyd
# for its own parts only (actors/http_client.py)
HTTP_SERVICE: Final = "http"
# a scenario's or a cron job's name (`/scenario/<name>/…`, `/event/cron/<name>`):
# here, not in the scenario model, so that cron checks one without loading that
NAME_PATTERN: Final = r"[a-z0-9_-]{1,64}"
# a DNS name (the web face's [http] hosts): letters, digits, hyphens, dots
_HOST_NAME: Final = re.compile(
    r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*"
)


def short_hostname(configured: str = "") -> str:
    """The `<hostname>` of service and device names: the configured one, else this
    machine's short name (up to the first dot)."""
    return configured or socket.gethostname().split(".")[0] or "raspy"


def is_loopback(host: str) -> bool:
    """Whether a bind address is this machine only ("localhost" or a loopback IP)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def joined_address(host: str, port: int) -> str:
    """`HOST:PORT`, an IPv6 host in brackets (RFC 3986), as an endpoint and a log
    line write it: the inverse of raspy.cli.endpoints.host_port."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def is_host_name(text: str) -> bool:
    """Is `text` a DNS name (letters, digits, hyphens, dots; no port, no scheme)?"""
    return (
        len(text) <= 253 and _HOST_NAME.fullmatch(text.lower().rstrip(".")) is not None
    )
