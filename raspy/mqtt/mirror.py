"""The retained messages the MQTT bridge published, as it sent them last (pure).

Each goes out through the bridge's CoalescingBuffer, and only when it changes; a
(re)connect or Home Assistant's birth message sends them all again, since the
broker may have lost them. One the full buffer could not hold before it went out
(lost) is queued again as soon as the buffer has room (refill), at its next write
even of the same payload, and at a requeue: the broker would otherwise keep an older
payload until the next reconnect.

A state the mirror holds (`sent`) is lost by its topic alone, as `sent` has its
payload: a requeue marks every one of them so (the discovery configs first), and
refill queues them as the buffer makes room, however small the buffer is beside
the mirror. What is lost of them is bounded by the mirror itself. Another retained
message (a deleted key's clear, the sweep's) is kept with its payload, at most the
buffer's `max_messages` of them: past that the one that comes is forgotten, and its
topic keeps its old retained message at the broker until the next start's sweep.
`forgotten` counts them (the link's `mqtt.forgotten` statistic).
"""

from __future__ import annotations

from collections import OrderedDict

from raspy.errors import MalformedMessage
from raspy.mqtt.buffer import CoalescingBuffer, Message
from raspy.mqtt.topics import TopicMap


class Mirror:
    """Retained topic -> payload, as sent last (`sent`), over `buffer`."""

    def __init__(self, buffer: CoalescingBuffer, max_lost: int | None = None) -> None:
        self.buffer = buffer
        self.sent: dict[str, bytes] = {}
        # sent again by refill as the buffer has room: topics of `sent` (their
        # payload is the one there), in their turn; and any other retained message
        # by its topic (a clear included), at most `max_lost` of them
        self.lost_states: OrderedDict[str, None] = OrderedDict()
        self.lost_others: OrderedDict[str, bytes] = OrderedDict()
        self.max_lost = buffer.max_messages if max_lost is None else max_lost
        self.forgotten = 0  # others lost past max_lost: never sent again
        buffer.on_evicted = self._evicted
        buffer.on_pushed_out = self._pushed_out

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
        if topic in self.sent:
            self.lost_states[topic] = None  # (bounded by the mirror)
        elif len(self.lost_others) < self.max_lost:
            self.lost_others[topic] = message.payload
        else:
            self.forgotten += 1

    def _pushed_out(self, message: Message) -> None:
        """A queued message news took the place of: lost like one refused as it
        came, but at the head of the turn to send again, as it was queued ahead of
        what waits there (a discovery config of a requeue stays ahead of the states
        still to come)."""
        self._evicted(message)
        topic = message.topic
        if topic in self.lost_states:
            self.lost_states.move_to_end(topic, last=False)
        elif topic in self.lost_others:
            self.lost_others.move_to_end(topic, last=False)

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
        first, then the states, oldest first in each, one news pushed out of the
        queue ahead; one newer queued since keeps its place); how many."""
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
        """Every state of the mirror to send again, unless a newer one is queued:
        those under `configs_prefix` (the discovery configs; "" for none) first,
        then the states they name, queued as the buffer has room (refill; the lost
        clears and others keep their turn ahead). Not through the buffer's
        eviction: a buffer smaller than the mirror would lose the rest."""
        queued = self.buffer
        # sorted() keeps the order within each: configs first, then states
        order = sorted(self.sent, key=lambda t: not t.startswith(configs_prefix))
        self.lost_states = OrderedDict.fromkeys(t for t in order if t not in queued)
        self.refill()

    def has_value(self, topics: TopicMap, fullname: str) -> bool:
        """Was a value of the device `fullname` published (retained, not cleared)?"""
        try:
            return topics.device_topic(fullname, "value") in self.sent
        except MalformedMessage:
            return False
