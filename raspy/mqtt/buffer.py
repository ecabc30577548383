"""The bridge's outgoing messages: one retained message per topic, the latest wins,
bounded (pure).

While the broker is away, or slower than the tree, a topic that changes again only
replaces its queued retained message (it keeps its place in the queue, so a busy key
cannot starve the others). A message that is not retained (a command's result, a
gesture) is news, not state: each is queued in its turn and none replaces another of
its topic, so six commands sent in a burst get six answers, and a double press
followed by a long one is two gestures.

At `max_messages` what goes is what is cheapest to lose. A retained message can be
sent again: the buffer hands it to `on_evicted` (the bridge's Mirror, which queues it
again once there is room). News cannot: a result or a gesture that goes is gone. So
when the buffer is full:
- a retained message that comes is itself handed to `on_evicted`, not queued (it is
  the newest retained message; the queued ones, news included, keep their places);
- news that comes takes the place of the newest queued retained message, which is
  handed to `on_evicted`; only when every queued message is news is the one that
  comes dropped (a flood of results never pushes out another result). It goes to
  `on_pushed_out` when one is set: it waited in the queue, so it is to be sent
  again ahead of what was refused as it came.
Each is counted (`dropped`). The newest retained message goes rather than the oldest
so that the queue's head still drains in order (a discovery config stays ahead of
the state it names), and what the Mirror queues again does not push out what waited
longer. Memory stays bounded whatever the tree does.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Sequence

from raspy.records import frozen


@frozen
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
        # each message with its place in the queue (a number that only grows): the
        # retained ones by topic, the news in their turn; take() merges the two
        self._retained: OrderedDict[str, tuple[int, Message]] = OrderedDict()
        self._news: deque[tuple[int, Message]] = deque()
        self._places = 0
        self.on_evicted: Callable[[Message], None] = _kept_nowhere
        # a queued retained message that news pushed out (None: to on_evicted):
        # older than one refused as it came, it is to go out again first
        self.on_pushed_out: Callable[[Message], None] | None = None

    def __len__(self) -> int:
        return len(self._retained) + len(self._news)

    def __contains__(self, topic: str) -> bool:
        """Whether a retained message of `topic` is queued."""
        return topic in self._retained

    @property
    def full(self) -> bool:
        return len(self) >= self.max_messages

    def put(self, message: Message) -> None:
        """Queue `message`, replacing a queued retained one of its topic; when
        full, see the module docstring."""
        retained = self._retained
        if message.retain:
            queued = retained.get(message.topic)
            if queued is not None:  # it keeps its place
                retained[message.topic] = (queued[0], message)
            elif not self.full:
                retained[message.topic] = (self._place(), message)
            else:
                self.dropped += 1
                self.on_evicted(message)  # the newest retained: sent again later
            return
        if self.full:
            self.dropped += 1
            if not retained:
                return  # all news: the one that comes goes
            self._push_out()
        self._news.append((self._place(), message))

    def put_if_absent(self, message: Message) -> None:
        """Queue `message` unless its topic already has a (newer) retained one
        queued (one that is not retained is always queued)."""
        if message.topic not in self._retained:
            self.put(message)

    def put_news_first(self, news: Sequence[Message]) -> None:
        """Queue news that went out before anything queued now (a command's results
        paho held unacknowledged across a reconnect) ahead of everything, in its
        order: each one kept, none replacing another of its topic. When full, as
        `put`: the newest queued retained message makes room, else the one that
        comes is dropped."""
        places = [place for place, _ in self._news]
        places += [place for place, _ in self._retained.values()]
        low = min(places, default=self._places + 1)
        for offset, message in enumerate(reversed(news), start=1):
            if self.full:
                self.dropped += 1
                if not self._retained:
                    continue
                self._push_out()
            self._news.appendleft((low - offset, message))

    def drop(self, stale: Callable[[Message], bool]) -> int:
        """Drop the queued messages `stale` says; returns how many."""
        gone = [topic for topic, (_, m) in self._retained.items() if stale(m)]
        for topic in gone:
            del self._retained[topic]
        kept = deque(item for item in self._news if not stale(item[1]))
        count = len(gone) + len(self._news) - len(kept)
        self._news = kept
        return count

    def take(self, count: int) -> list[Message]:
        """Up to `count` messages, oldest first, removed from the buffer."""
        retained, news = self._retained, self._news
        taken: list[Message] = []
        while len(taken) < count and (retained or news):
            first = next(iter(retained.values()))[0] if retained else None
            if news and (first is None or news[0][0] < first):
                taken.append(news.popleft()[1])
            else:
                taken.append(retained.popitem(last=False)[1][1])
        return taken

    def _push_out(self) -> None:
        """The newest queued retained message out, for news to take its place."""
        message = self._retained.popitem(last=True)[1][1]
        (self.on_pushed_out or self.on_evicted)(message)

    def _place(self) -> int:
        self._places += 1
        return self._places


def _kept_nowhere(message: Message) -> None:
    """A buffer without a Mirror: an evicted message is only counted."""
