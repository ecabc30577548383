"""Is a part's thread still taking its messages? A part whose actor blocks for ever in
a handler (a deadlock, a read that never returns) is alive to pykka and to every
other check, while the hub stops acting. So the supervisor asks each running part a
question pykka answers by itself on the part's thread, without waiting for it: it
looks at the answer at its next rounds, and a question left unanswered for
`supervisor.hung_after_s` shows the part hung (raspy.cores.supervision.on_hang).

The edge and the Clone server do their real work on an I/O runner's thread, not on
their actor's: their actor answers its question while that thread is stuck. So each
of them is also asked a no-op command through its runner (raspy.transport.runner:
call() wakes the loop and returns a Future). A Pulse takes any such ask (`Ask`).

One question a thread every PING_EVERY_S at most: on an idle hub each is one wake-up
of that thread (two or three context switches, the interpreter's lock taken from
the supervisor's thread), nothing on the supervisor's (it does not wait).
A part hung is seen within hung_after_s + PING_EVERY_S.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable
from typing import Any, Final

import pykka
from pykka.messages import ProxyGetAttr

# answered by pykka itself on the part's thread, before any message told after it
# and after its on_start: a restart's proof that it started, too
PING: Final = ProxyGetAttr(attr_path=("actor_urn",))
PING_EVERY_S: Final = 20.0

Answer = pykka.Future[Any] | concurrent.futures.Future[Any]
# a question asked without blocking: its answer comes on the thread watched
Ask = Callable[[], Answer]


def ping_every_s(hung_after_s: float) -> float:
    """How often a part is asked: every 20 s, or every half bound under a bound
    shorter than 40 s (a test's), so that a hung part is seen within 1.5 bounds."""
    return min(PING_EVERY_S, hung_after_s / 2)


def actor_ask(ref: pykka.ActorRef[Any]) -> Ask:
    """PING asked of `ref`'s actor (its thread); a dead one's is answered by its
    death."""
    return lambda: ref.ask(PING, block=False)


class Pulse:
    """One thread's proof of life: one question at a time, asked without blocking."""

    def __init__(self, every_s: float, now: float) -> None:
        self._every_s = every_s
        self._answer: Answer | None = None
        self._asked_at = now
        self._next_at = now  # the first round asks

    def silent_for(self, ask: Ask, now: float) -> float:
        """`ask` when a question is due; return how long the one asked has gone
        unanswered (0.0: answered, or none asked). A dead part's question is answered
        by its death (an exception): the supervisor sees that on its own."""
        if self._answer is None:
            if now >= self._next_at:
                self._answer = ask()  # dead: already answered
                self._asked_at = now
            return 0.0
        if not _answered(self._answer):
            return now - self._asked_at
        self._answer = None
        self._next_at = now + self._every_s
        return 0.0


def _answered(answer: Answer) -> bool:
    """Has `answer` come (a value or an exception)? Waits for nothing."""
    try:
        if isinstance(answer, concurrent.futures.Future):
            answer.result(timeout=0)
        else:
            answer.get(timeout=0)
    except (pykka.Timeout, concurrent.futures.TimeoutError):
        return False
    except Exception:  # noqa: BLE001, S110  # ActorDeadError, a stopped runner: seen as such
        pass
    return True
