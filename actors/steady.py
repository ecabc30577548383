"""SteadyActor: a pykka actor that one failed tell does not stop.

pykka hands an exception raised by on_receive to the asker, but when the message was
told there is nobody to hand it to, and pykka stops the actor: for the edge, the whole
broker. on_receive is not told which it was, and pykka has no public way to know, so
the inbox notes it as the actor thread takes each message out (the envelope's
`reply_to`, pykka's own ask/tell mark). An envelope without that mark (a pykka that
changed), or an inbox pykka did not make through its `_create_actor_inbox` hook, is
taken as asked: the actor then behaves as plain pykka, and says so.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any, Final

import pykka
import structlog

from raspy.ratelimit import LogRateLimiter
from raspy.stats import Stats

log = structlog.get_logger(component="actor")

_NO_MARK: Final = object()


class AskNotingInbox(queue.Queue[Any]):
    """pykka's inbox (a Queue of envelopes) that notes whether the envelope taken
    last was asked (it carries a reply future) or told. Read on the actor's thread."""

    def __init__(self) -> None:
        super().__init__()
        self.asked = True
        self.understood = True  # False once an envelope came without pykka's mark

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        envelope = super().get(block, timeout)
        reply_to = getattr(envelope, "reply_to", _NO_MARK)
        if reply_to is _NO_MARK:
            if self.understood:
                log.error("pykka_envelope_unrecognised", kind=type(envelope).__name__)
            self.understood = False
            self.asked = True  # as plain pykka: the exception goes up
        else:
            self.asked = reply_to is not None
        return envelope


class SteadyActor(pykka.ThreadingActor):
    """Subclasses implement receive(). What it raises for an asked message goes to
    the asker; for a told one it is counted (`<name>.told_failed`), logged (at most
    once a minute per message kind and error type) and the actor carries on. An
    actor that means to end calls self.stop()."""

    _create_actor_inbox = staticmethod(AskNotingInbox)

    def __init__(
        self,
        name: str,
        stats: Stats,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        inbox = self.actor_inbox
        self._inbox = inbox if isinstance(inbox, AskNotingInbox) else None
        if self._inbox is None:  # a pykka that makes its inbox some other way
            log.error("pykka_inbox_unrecognised", kind=type(inbox).__name__)
        self._steady_name = name
        self._steady_stats = stats
        self._steady_monotonic = monotonic
        self._told_log_limiter = LogRateLimiter()
        self._told_log_lock = threading.Lock()  # told_failed runs on other threads too

    @property
    def handling_ask(self) -> bool:
        """Whether the message in hand was asked (someone waits for the answer);
        always True when the inbox cannot tell (then the actor is plain pykka)."""
        return self._inbox is None or self._inbox.asked

    def receive(self, message: Any) -> Any:
        """Handle one message; the return value answers an ask."""
        raise NotImplementedError

    def on_receive(self, message: Any) -> Any:
        try:
            return self.receive(message)
        except Exception as exc:  # the actor's edge: a tell must not stop the actor
            if self.handling_ask:
                raise
            self.told_failed(message, exc)
            return None

    def told_failed(self, message: object, error: BaseException) -> None:
        """A told message failed: count it, log it (rate-limited). Any thread."""
        self._steady_stats.incr(f"{self._steady_name}.told_failed")
        kind = type(message).__name__
        with self._told_log_lock:
            due = self._told_log_limiter.should_log(
                (kind, type(error).__name__), self._steady_monotonic()
            )
        if due:
            log.error(
                "told_message_failed",
                actor=self._steady_name,
                kind=kind,
                error=f"{type(error).__name__}: {error}",
                exc_info=error,
            )
