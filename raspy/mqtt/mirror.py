"""The retained messages the MQTT bridge published, as it sent them last (pure).

Each goes out through the bridge's CoalescingBuffer, and only when it changes; a
(re)connect or Home Assistant's birth message queues them all again, since the
broker may have lost them.
"""

from __future__ import annotations

from raspy.errors import MalformedMessage
from raspy.mqtt.buffer import CoalescingBuffer, Message
from raspy.mqtt.topics import TopicMap


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
        # sorted() keeps the order within each: configs first, then states
        for topic in sorted(self.sent, key=lambda t: not t.startswith(configs_prefix)):
            self.buffer.put_if_absent(Message(topic, self.sent[topic]))

    def has_value(self, topics: TopicMap, fullname: str) -> bool:
        """Was a value of the device `fullname` published (retained, not cleared)?"""
        try:
            return topics.device_topic(fullname, "value") in self.sent
        except MalformedMessage:
            return False
