"""The MQTT link's one control command (what the bridge's actor submits to it is
raspy.mqtt.events)."""

from __future__ import annotations

from raspy.records import frozen


@frozen
class GetLinkStats:
    """A control command: the link's state for tests and statistics."""
