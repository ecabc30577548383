"""The retained messages the MQTT bridge published, as it sent them last (pure).

Each goes out through the bridge's CoalescingBuffer, and only when it changes; a
(re)connect or Home Assistant's birth message queues them all again, since the
broker may have lost them. One the full buffer evicted before it went out (`lost`)
is queued again as soon as the buffer has room (refill), at its next write even of
the same payload, and at a requeue: the broker would otherwise keep an older
payload until the next reconnect.
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
        # retained messages the full buffer evicted unsent, by topic (a clear
        # included): sent again (refill)
        self.lost: dict[str, bytes] = {}
        buffer.on_evicted = self._evicted

    def _evicted(self, message: Message) -> None:
        if message.retain:
            self.lost[message.topic] = message.payload

    def retain(self, topic: str, body: bytes) -> None:
        """`body` retained on `topic` (empty: cleared), queued if it changed (or
        its last message was lost)."""
        lost = self.lost.pop(topic, None) is not None
        if body:
            if self.sent.get(topic) == body and not lost:
                return
            self.sent[topic] = body
        elif self.sent.pop(topic, None) is None and not lost:
            return
        self.buffer.put(Message(topic, body))

    def refill(self) -> int:
        """The lost messages queued again while the buffer has room (oldest lost
        first; one newer queued since keeps its place); how many."""
        count = 0
        while self.lost and not self.buffer.full:
            topic = next(iter(self.lost))
            self.buffer.put_if_absent(Message(topic, self.lost.pop(topic)))
            count += 1
        return count

    def requeue(self, configs_prefix: str) -> None:
        """Every retained message, queued again unless a newer one is: those under
        `configs_prefix` (the discovery configs; "" for none) first, then the states
        they name, then the lost clears and others not mirrored."""
        lost, self.lost = self.lost, {}  # (what this evicts again is lost anew)
        # sorted() keeps the order within each: configs first, then states
        for topic in sorted(self.sent, key=lambda t: not t.startswith(configs_prefix)):
            self.buffer.put_if_absent(Message(topic, self.sent[topic]))
        for topic, payload in lost.items():
            if topic not in self.sent:
                self.buffer.put_if_absent(Message(topic, payload))

    def has_value(self, topics: TopicMap, fullname: str) -> bool:
        """Was a value of the device `fullname` published (retained, not cleared)?"""
        try:
            return topics.device_topic(fullname, "value") in self.sent
        except MalformedMessage:
            return False
