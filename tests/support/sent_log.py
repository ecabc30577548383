"""What a client sent, logged as it sends: the proof that it sent nothing more.

A client closes its sockets with LINGER 0, so a message it sends just before it
closes may be dropped on its side, never reaching the fake server that would have
counted it (a socket that has not finished connecting drops it nearly every other
time): a server that got nothing more proves nothing. The log is taken in the
client's own send() call, so nothing sent through pyzmq's Socket.send escapes it. A
client moved to the compiled fast path (raspy.transport.multipart) would bypass it:
a test therefore asserts the whole log, the messages it expects included, so that
such a move fails the test instead of passing as silence.
"""

from __future__ import annotations

import itertools
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import zmq

from support.zmqctx import RecordingContext, checked_context

Frames = list[bytes]


class _LoggedSocket(zmq.Socket[bytes]):
    """A socket whose every whole message is logged on its SentLogContext."""

    def send(self, data: Any, flags: int = 0, *args: Any, **kwargs: Any) -> Any:
        done = super().send(data, flags, *args, **kwargs)
        context = self.context
        if isinstance(context, SentLogContext):
            frame = data.bytes if isinstance(data, zmq.Frame) else bytes(data)
            context.note(self, frame, more=bool(flags & zmq.SNDMORE))
        return done


class SentLogContext(RecordingContext):
    """A checked context whose sockets log each message they send, in order."""

    _socket_class = _LoggedSocket
    # declared here: pyzmq takes any other attribute set for a socket option
    _lock: threading.Lock
    _numbering: Iterator[int]
    _numbers: weakref.WeakKeyDictionary[zmq.Socket[bytes], int]
    _partial: dict[int, Frames]
    _sent: list[tuple[int, Frames]]

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._numbering = itertools.count()
        self._numbers = weakref.WeakKeyDictionary()
        self._partial = {}
        self._sent = []

    def note(self, sock: zmq.Socket[bytes], frame: bytes, *, more: bool) -> None:
        with self._lock:
            number = self._numbers.get(sock)
            if number is None:
                number = self._numbers[sock] = next(self._numbering)
            frames = self._partial.setdefault(number, [])
            frames.append(frame)
            if not more:
                self._sent.append((number, self._partial.pop(number)))

    def sent(self) -> list[tuple[int, Frames]]:
        """(socket, frames) of every whole message sent, in order; sockets are
        numbered from 0 in the order of their first send."""
        with self._lock:
            return list(self._sent)


@contextmanager
def sent_log_context() -> Iterator[SentLogContext]:
    """A SentLogContext, terminated and checked on exit as checked_context's are."""
    with checked_context(made=SentLogContext) as context:
        assert isinstance(context, SentLogContext)
        yield context


def log_own_contexts(monkeypatch: pytest.MonkeyPatch) -> list[SentLogContext]:
    """Every context made by zmq.Context() from now on (a CLI makes its own) is a
    SentLogContext, listed in the returned list; the test's other contexts were made
    before. Their termination is the code's own, and is not checked here."""
    made: list[SentLogContext] = []

    class _Made(SentLogContext):
        def __init__(self) -> None:
            super().__init__()
            made.append(self)

    monkeypatch.setattr(zmq, "Context", _Made)
    return made
