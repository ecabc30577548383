"""Is a part's thread still taking its messages? A part whose actor blocks for ever in
a handler (a deadlock, a read that never returns) is alive to pykka and to every
other check, while the hub stops acting. So the supervisor asks each running part a
question pykka answers by itself on the part's thread, without waiting for it: it
looks at the answer at its next rounds, and a question left unanswered for
`supervisor.hung_after_s` shows the part hung (raspy.cores.supervision.on_hang).

One question a part every PING_EVERY_S at most: on an idle hub each is one wake-up
of that part's thread (two or three context switches, the interpreter's lock taken
from the supervisor's thread), nothing on the supervisor's (it does not wait).
A part hung is seen within hung_after_s + PING_EVERY_S.
"""

from __future__ import annotations

from typing import Any, Final

import pykka
from pykka.messages import ProxyGetAttr

# answered by pykka itself on the part's thread, before any message told after it
# and after its on_start: a restart's proof that it started, too
PING: Final = ProxyGetAttr(attr_path=("actor_urn",))
PING_EVERY_S: Final = 20.0


def ping_every_s(hung_after_s: float) -> float:
    """How often a part is asked: every 20 s, or every half bound under a bound
    shorter than 40 s (a test's), so that a hung part is seen within 1.5 bounds."""
    return min(PING_EVERY_S, hung_after_s / 2)


class Pulse:
    """One part's proof of life: one question at a time, asked without blocking."""

    def __init__(self, every_s: float, now: float) -> None:
        self._every_s = every_s
        self._answer: pykka.Future[Any] | None = None
        self._asked_at = now
        self._next_at = now  # the first round asks

    def silent_for(self, ref: pykka.ActorRef[Any], now: float) -> float:
        """Ask `ref` when a question is due; return how long the one asked has gone
        unanswered (0.0: answered, or none asked). A dead part's question is answered
        by its death: the supervisor sees that on its own."""
        if self._answer is None:
            if now >= self._next_at:
                self._answer = ref.ask(PING, block=False)  # dead: already answered
                self._asked_at = now
            return 0.0
        try:
            self._answer.get(timeout=0)
        except pykka.Timeout:
            return now - self._asked_at
        except Exception:  # noqa: BLE001, S110  # ActorDeadError: it died, seen as such
            pass
        self._answer = None
        self._next_at = now + self._every_s
        return 0.0
