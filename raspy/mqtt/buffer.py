"""The bridge's outgoing messages: one per topic, the latest wins, bounded (pure).

While the broker is away, or slower than the tree, a topic that changes again only
replaces its queued message (it keeps its place in the queue, so a busy key cannot
starve the others). Past `max_messages` the oldest queued message is dropped and
counted: memory stays bounded whatever the tree does.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    payload: bytes
    retain: bool = True


class CoalescingBuffer:
    """Messages by topic, in the order their topics were first queued."""

    def __init__(self, max_messages: int) -> None:
        if max_messages < 1:
            raise ValueError(f"max_messages: expected >= 1, got {max_messages}")
        self.max_messages = max_messages
        self.dropped = 0
        self._queue: OrderedDict[str, Message] = OrderedDict()

    def __len__(self) -> int:
        return len(self._queue)

    def __contains__(self, topic: str) -> bool:
        return topic in self._queue

    def put(self, message: Message) -> None:
        """Queue `message`, replacing a queued one of the same topic."""
        queue = self._queue
        if message.topic in queue or len(queue) < self.max_messages:
            queue[message.topic] = message
            return
        queue.popitem(last=False)
        self.dropped += 1
        queue[message.topic] = message

    def put_if_absent(self, message: Message) -> None:
        """Queue `message` unless its topic already has a (newer) one queued."""
        if message.topic not in self._queue:
            self.put(message)

    def drop(self, stale: Callable[[Message], bool]) -> int:
        """Drop the queued messages `stale` says; returns how many."""
        gone = [topic for topic, message in self._queue.items() if stale(message)]
        for topic in gone:
            del self._queue[topic]
        return len(gone)

    def take(self, count: int) -> list[Message]:
        """Up to `count` messages, oldest first, removed from the buffer."""
        queue = self._queue
        taken: list[Message] = []
        while queue and len(taken) < count:
            taken.append(queue.popitem(last=False)[1])
        return taken
