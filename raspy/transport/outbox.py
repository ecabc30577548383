"""The outbox: any thread hands messages to a socket owner's I/O thread, in memory.

Two owners read one: the broker edge (in-process MDP peers, channels below) and the
Clone server (in-process publishes, its own channels). A message is a list of frames,
`[channel, ...]`. It is appended to a deque and the owner takes it by reference: no
frame is copied or received one by one, which an inproc PUSH/PULL pair cost per frame
on both sides (about a third of the edge thread's time under Titanic's load, by the
profile). The owner is woken through a self-pipe only when it may be asleep: the first
message after it last looked wakes it, the rest of a burst rides along. Unbounded, as
the PUSH/PULL pairs with HWM 0 were: callers are in-process actors whose own inboxes
bound them.
"""

from __future__ import annotations

import math
import struct
from collections import deque
from collections.abc import Callable, Sequence
from typing import Final

from raspy.transport.wakeup import Wakeup

MDP_CHANNEL: Final = b"M"
# [channel, peer id, patience, *MDP frames]: an in-process client's request that the
# broker must not dispatch once its sender stopped waiting (pack_patience)
MDP_REQUEST_CHANNEL: Final = b"Q"
# [channel, *(service, client id, frame count, *client reply frames)]: a local
# handler's answers (msgs.HandleLocally), several in one message
LOCAL_REPLY_CHANNEL: Final = b"R"
# [channel, *(peer id, patience, frame count, *MDP frames)]: several requests of
# in-process clients of one owner (Titanic's dispatch), each handled as if sent on
# MDP_REQUEST_CHANNEL
MDP_BATCH_CHANNEL: Final = b"N"

# Seconds from when the owner reads the request: relative, so that a sender on a
# test's fake clock and an owner on the real one agree (the read takes microseconds).
_PATIENCE: Final = struct.Struct("!d")


def pack_patience(seconds: float) -> bytes:
    """How long a sender waits for its reply, as an outbox field."""
    return _PATIENCE.pack(seconds)


def unpack_patience(field: bytes) -> float | None:
    """A patience from an outbox field; None if it is not one: not 8 bytes, or NaN
    or infinite, which would make the request's deadline NaN or never."""
    if len(field) != _PATIENCE.size:
        return None
    seconds: float = _PATIENCE.unpack(field)[0]
    return seconds if math.isfinite(seconds) else None


Record = tuple[list[bytes], list[bytes]]  # (the record's fields, its frames)


def split_records(message: list[bytes], head: int) -> tuple[list[Record], bool]:
    """`[channel, *(head - 1 fields, count, *frames)]` as (fields, frames) records,
    and whether the whole message was well formed (records after a bad one are lost)."""
    records: list[Record] = []
    index, end = 1, len(message)
    while index + head <= end:
        count = message[index + head - 1]
        start = index + head
        stop = start + (int(count) if count.isdigit() else end)
        if stop > end:
            return records, False
        records.append((message[index : start - 1], message[start:stop]))
        index = stop
    return records, index == end


# an in-process client's request as the owner reads it: (peer id, patience s, frames)
ClientRequest = tuple[bytes, float, list[bytes]]


def client_requests(message: list[bytes]) -> tuple[list[ClientRequest], int]:
    """The requests of an MDP_REQUEST_CHANNEL or MDP_BATCH_CHANNEL message, and how
    many faults it had: each record whose patience is not one, and a batch that is
    not well formed (the records after its bad one are lost)."""
    if message[0] != MDP_BATCH_CHANNEL:  # one request: [Q, peer, patience, *frames]
        patience_s = unpack_patience(message[2]) if len(message) >= 3 else None
        if patience_s is None:
            return [], 1
        return [(message[1], patience_s, message[3:])], 0
    records, whole = split_records(message, 3)
    requests: list[ClientRequest] = []
    faults = 0 if whole else 1
    for (peer, patience), frames in records:
        patience_s = unpack_patience(patience)
        if patience_s is None:
            faults += 1
        else:
            requests.append((peer, patience_s, frames))
    return requests, faults


class Outbox:
    """Messages `[channel, ...]` from any thread to one owner's I/O thread."""

    def __init__(self) -> None:
        self._messages: deque[list[bytes]] = deque()
        self._wakeup = Wakeup()
        # True from a wake-up until the owner looks: later senders need not wake it.
        # Cleared by the owner before it reads, so a message appended after that read
        # began either is read in it or wakes the owner again (never lost).
        self._woken = False
        self._closed = False

    @property
    def read_fd(self) -> int:
        """Register with the owner's poller: readable when messages wait."""
        return self._wakeup.read_fd

    @property
    def pending(self) -> int:
        """Messages appended and not drained yet (any thread may ask)."""
        return len(self._messages)

    def send(self, frames: Sequence[bytes]) -> None:
        """Queue one message; never waits. After close() the message is dropped."""
        self._append(list(frames))

    def send_mdp(self, peer_id: bytes, frames: list[bytes]) -> None:
        """Frames from an in-process MDP peer (worker or client) to the broker."""
        self._append([MDP_CHANNEL, peer_id, *frames])

    def send_mdp_request(
        self, peer_id: bytes, frames: list[bytes], patience_s: float
    ) -> None:
        """An in-process client's request, not to be dispatched once `patience_s`
        has passed: its sender has stopped waiting for the reply by then."""
        self._append([MDP_REQUEST_CHANNEL, peer_id, pack_patience(patience_s), *frames])

    def send_local_replies(self, records: list[bytes]) -> None:
        """A local handler's answers: `records` as LOCAL_REPLY_CHANNEL describes."""
        records.insert(0, LOCAL_REPLY_CHANNEL)
        self._append(records)

    def send_mdp_batch(self, records: list[bytes]) -> None:
        """Several in-process peers' messages: `records` as MDP_BATCH_CHANNEL says."""
        records.insert(0, MDP_BATCH_CHANNEL)
        self._append(records)

    def _append(self, message: list[bytes]) -> None:
        """send() without the copy: `message` is the caller's and is not used again."""
        if self._closed:
            return
        self._messages.append(message)
        if not self._woken:
            self._woken = True
            self._wakeup.notify()

    def drain(self, handle: Callable[[list[bytes]], object], limit: int) -> int:
        """On the owner's thread: handle(message) for at most `limit` queued messages.

        If more are left, the owner is woken again, so the next poll returns at once.
        """
        if self._closed:
            return 0
        self._wakeup.drain()
        self._woken = False
        messages = self._messages
        count = 0
        while count < limit:
            try:
                message = messages.popleft()
            except IndexError:
                return count
            count += 1
            handle(message)
        if messages:
            self._woken = True
            self._wakeup.notify()
        return count

    def close(self) -> None:
        """The owner is gone: later messages are dropped, the pipe is closed."""
        self._closed = True
        self._messages.clear()
        self._wakeup.close()
