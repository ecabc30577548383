"""The retained messages the MQTT bridge published, as it sent them last (pure).

Each goes out through the bridge's CoalescingBuffer, and only when it changes; a
(re)connect or Home Assistant's birth message queues them all again, since the
broker may have lost them.
"""

from __future__ import annotations

from raspy.mqtt.buffer import CoalescingBuffer, Message


class Mirror:
    """Retained topic -> payload, as sent last (`sent`), over `buffer`."""

    def __init__(self, buffer: CoalescingBuffer) -> None:
        self.buffer = buffer
        self.sent: dict[str, bytes] = {}

    def retain(self, topic: str, body: bytes) -> None:
        """`body` retained on `topic` (empty: cleared), queued if it changed."""
        if body:
            if self.sent.get(topic) == body:
                return
            self.sent[topic] = body
        elif self.sent.pop(topic, None) is None:
            return
        self.buffer.put(Message(topic, body))

    def requeue(self, configs_prefix: str) -> None:
        """Every retained message, queued again unless a newer one is: those under
        `configs_prefix` (the discovery configs; "" for none) first, then the states
        they name."""
        sent, prefix = self.sent, configs_prefix
        configs = [t for t in sent if prefix and t.startswith(prefix)]
        states = [t for t in sent if not (prefix and t.startswith(prefix))]
        for topic in [*configs, *states]:
            self.buffer.put_if_absent(Message(topic, sent[topic]))
