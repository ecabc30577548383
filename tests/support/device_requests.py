"""A registry of simulated devices and a request helper for the device-service
vocabulary tests (tests/unit/test_device_service*.py). Pure: no sockets, no threads."""

from __future__ import annotations

import json
from typing import Any

import pytest

from raspy.devices import service
from raspy.devices.registry import Registry
from raspy.devices.service_vocabulary import Handled
from raspy.devices.simulated import SimulatedFactory

NOW = 1_700_000_400.0


@pytest.fixture(name="registry")
def registry_fixture() -> Registry:
    """Four simulated devices on the `fake` bus (a test imports this, found by name)."""
    registry = Registry("pi", "fake", SimulatedFactory())
    registry.add_all(
        [
            {"name": "attic", "oid": "sensor.temperature", "min": 10, "max": 20},
            {"name": "hall", "oid": "dimmer"},
            {"name": "lamp", "oid": "switch"},
            {"name": "tv", "oid": "media.tv"},
        ]
    )
    return registry


def ask(registry: Registry, **request: Any) -> tuple[bytes, dict[str, Any], Handled]:
    """Send one version-1 request; return the status, the decoded body and the result."""
    handled = service.handle(registry, [json.dumps({"v": 1, **request}).encode()], NOW)
    status, body = handled.reply
    return status, json.loads(body), handled
