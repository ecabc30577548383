"""Frames and names for BrokerCore tests (tests/unit/test_broker_*.py)."""

from __future__ import annotations

import pytest

from raspy.cores.broker import BrokerCore
from raspy.cores.broker_output import BrokerOutput, Send
from raspy.cores.broker_settings import BrokerSettings
from raspy.cores.broker_state import LOCAL_PREFIX
from raspy.protocol import mdp

V01 = mdp.Version.V01
V02 = mdp.Version.V02
VMJ = mdp.Version.MAJORTOMO
C1 = b"\x00\x80\x00\x00\x01"
C2 = b"\x00\x80\x00\x00\x02"
W1 = b"\x00\x80\x00\x00\x11"
W2 = b"\x00\x80\x00\x00\x12"
L1 = LOCAL_PREFIX + b"echo-actor"
SVC = b"echo"
T0 = 1000.0


def ready(version: mdp.Version, service: bytes = SVC) -> list[bytes]:
    return mdp.encode(mdp.Ready(version, service))


def request(version: mdp.Version, *body: bytes, service: bytes = SVC) -> list[bytes]:
    return mdp.encode(mdp.ClientRequest(version, service, body))


def reply(
    version: mdp.Version, client: bytes, *body: bytes, final: bool = True
) -> list[bytes]:
    return mdp.encode(mdp.WorkerReply(version, client, body, final))


def heartbeat(version: mdp.Version) -> list[bytes]:
    return mdp.encode(mdp.Heartbeat(version))


def disconnect(version: mdp.Version) -> list[bytes]:
    return mdp.encode(mdp.Disconnect(version))


def sends(outputs: list[BrokerOutput]) -> list[Send]:
    return [out for out in outputs if isinstance(out, Send)]


@pytest.fixture(name="core")
def core_fixture() -> BrokerCore:
    """A BrokerCore with default settings."""
    return BrokerCore(BrokerSettings())
