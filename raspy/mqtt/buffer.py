"""The bridge's outgoing messages: one retained message per topic, the latest wins,
bounded (pure).

While the broker is away, or slower than the tree, a topic that changes again only
replaces its queued retained message (it keeps its place in the queue, so a busy key
cannot starve the others). A message that is not retained (a command's result, a
gesture) is news, not state: each is queued in its turn and none replaces another of
its topic, so six commands sent in a burst get six answers, and a double press
followed by a long one is two gestures. Past `max_messages` a message that is not retained (a command's
result, a gesture) is dropped and counted: it never takes a retained message's place.
A retained one takes the oldest queued message's, which is counted too and handed to
`on_evicted` (the bridge's Mirror: it sends a lost retained message again). Memory
stays bounded whatever the tree does.
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
        # a retained message by its topic; one that is not by (topic, its number)
        self._queue: OrderedDict[str | tuple[str, int], Message] = OrderedDict()
        self._news = 0  # numbers the messages that are not retained
        self.on_evicted: Callable[[Message], None] = _kept_nowhere

    def __len__(self) -> int:
        return len(self._queue)

    def __contains__(self, topic: str) -> bool:
        """Whether a retained message of `topic` is queued."""
        return topic in self._queue

    @property
    def full(self) -> bool:
        return len(self._queue) >= self.max_messages

    def put(self, message: Message) -> None:
        """Queue `message`, replacing a queued one of the same topic; when full,
        see the module docstring."""
        queue = self._queue
        key: str | tuple[str, int] = message.topic
        if not message.retain:
            self._news += 1
            key = (message.topic, self._news)
        if key in queue or len(queue) < self.max_messages:
            queue[key] = message
            return
        self.dropped += 1
        if not message.retain:
            return  # a flood of results must not push out the values
        evicted = queue.popitem(last=False)[1]
        queue[key] = message
        self.on_evicted(evicted)

    def put_if_absent(self, message: Message) -> None:
        """Queue `message` unless its topic already has a (newer) retained one
        queued (one that is not retained is always queued)."""
        if message.topic not in self._queue:
            self.put(message)

    def drop(self, stale: Callable[[Message], bool]) -> int:
        """Drop the queued messages `stale` says; returns how many."""
        gone = [key for key, message in self._queue.items() if stale(message)]
        for key in gone:
            del self._queue[key]
        return len(gone)

    def take(self, count: int) -> list[Message]:
        """Up to `count` messages, oldest first, removed from the buffer."""
        queue = self._queue
        taken: list[Message] = []
        while queue and len(taken) < count:
            taken.append(queue.popitem(last=False)[1])
        return taken


def _kept_nowhere(message: Message) -> None:
    """A buffer without a Mirror: an evicted message is only counted."""
