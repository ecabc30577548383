"""The retained messages the MQTT bridge published, as it sent them last (pure).

Each goes out through the bridge's CoalescingBuffer, and only when it changes; a
(re)connect or Home Assistant's birth message queues them all again, since the
broker may have lost them. One the full buffer could not hold before it went out
(lost) is queued again as soon as the buffer has room (refill), at its next write
even of the same payload, and at a requeue: the broker would otherwise keep an older
payload until the next reconnect.

What is lost is bounded on its own, at the buffer's `max_messages`: a topic is lost
at most once (its latest message), and past the bound the cheapest to forget goes.
A state the mirror holds (`sent`) is the cheapest, as every requeue sends it again
(and a change of its value): its topic goes, the newest first. Another retained
message (a deleted key's clear, the sweep's) is kept while a state can go in its
place, else the one that comes is forgotten: its topic keeps its old retained
message at the broker until the next start's sweep. `forgotten` counts them (the
link's `mqtt.forgotten` statistic).
"""

from __future__ import annotations

from raspy.errors import MalformedMessage
from raspy.mqtt.buffer import CoalescingBuffer, Message
from raspy.mqtt.topics import TopicMap


class Mirror:
    """Retained topic -> payload, as sent last (`sent`), over `buffer`."""

    def __init__(self, buffer: CoalescingBuffer, max_lost: int | None = None) -> None:
        self.buffer = buffer
        self.sent: dict[str, bytes] = {}
        # the retained messages the full buffer could not hold, sent again (refill):
        # a state's topic (its payload is the one in `sent`), and any other message
        # by its topic (a clear included). At most `max_lost` in all
        self.lost_states: dict[str, None] = {}
        self.lost_others: dict[str, bytes] = {}
        self.max_lost = buffer.max_messages if max_lost is None else max_lost
        self.forgotten = 0  # lost past max_lost: not sent again before a requeue
        buffer.on_evicted = self._evicted

    @property
    def lost(self) -> int:
        return len(self.lost_states) + len(self.lost_others)

    def _evicted(self, message: Message) -> None:
        topic = message.topic
        if not message.retain or topic in self.lost_states:
            return
        if topic in self.lost_others:
            # the mirror takes its own topics out of `lost` before it queues them:
            # only an older message comes back here (one paho held at a reconnect)
            return
        state = topic in self.sent
        if self.lost >= self.max_lost:
            self.forgotten += 1
            if state or not self.lost_states:
                return  # (a requeue sends a state again)
            self.lost_states.popitem()  # the newest state lost: a requeue's
        if state:
            self.lost_states[topic] = None
        else:
            self.lost_others[topic] = message.payload

    def _found(self, topic: str) -> bool:
        """Was `topic`'s last message lost? It is not any more."""
        if topic in self.lost_states:
            del self.lost_states[topic]
            return True
        return self.lost_others.pop(topic, None) is not None

    def retain(self, topic: str, body: bytes) -> None:
        """`body` retained on `topic` (empty: cleared), queued if it changed (or
        its last message was lost)."""
        lost = self._found(topic)
        if body:
            if self.sent.get(topic) == body and not lost:
                return
            self.sent[topic] = body
        elif self.sent.pop(topic, None) is None and not lost:
            return
        self.buffer.put(Message(topic, body))

    def refill(self) -> int:
        """The lost messages queued again while the buffer has room (the others
        first, then the states, oldest first in each; one newer queued since keeps
        its place); how many."""
        count = 0
        while self.lost and not self.buffer.full:
            if self.lost_others:
                topic = next(iter(self.lost_others))
                message = Message(topic, self.lost_others.pop(topic))
            else:  # (a lost state's topic is in `sent`: retain() takes it out first)
                topic = next(iter(self.lost_states))
                del self.lost_states[topic]
                message = Message(topic, self.sent[topic])
            self.buffer.put_if_absent(message)
            count += 1
        return count

    def requeue(self, configs_prefix: str) -> None:
        """Every retained message, queued again unless a newer one is: those under
        `configs_prefix` (the discovery configs; "" for none) first, then the states
        they name, then the lost clears and others not mirrored."""
        others = self.lost_others  # (what this evicts again is lost anew)
        self.lost_states, self.lost_others = {}, {}
        # sorted() keeps the order within each: configs first, then states
        for topic in sorted(self.sent, key=lambda t: not t.startswith(configs_prefix)):
            self.buffer.put_if_absent(Message(topic, self.sent[topic]))
        for topic, payload in others.items():
            if topic not in self.sent:
                self.buffer.put_if_absent(Message(topic, payload))

    def has_value(self, topics: TopicMap, fullname: str) -> bool:
        """Was a value of the device `fullname` published (retained, not cleared)?"""
        try:
            return topics.device_topic(fullname, "value") in self.sent
        except MalformedMessage:
            return False
