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

A part may run actors of its own, which the supervisor does not start (the core's
one actor a scenario): the part answers while one of them is stuck in a handler.
So such a part says which they are (Inner: a snapshot it replaces whole, read from
the supervisor's thread) and each is pinged as the part is (InnerPulses); one
silent past the bound makes the part hung, the log naming it.

How such a thread is asked is itself asked of its part (Asked): without waiting, its
answer taken at a later round, as the part may be busy then.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Sequence
from typing import Any, Final, Generic, TypeVar

import pykka
import structlog
from pykka.messages import ProxyGetAttr

from raspy.cores import supervision
from raspy.cores.supervision import Failed, PartTracker, RestartPolicy
from raspy.records import frozen
from raspy.stats import Stats

log = structlog.get_logger(component="supervisor")

T = TypeVar("T")

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

    @classmethod
    def of(cls, policy: RestartPolicy, now: float) -> Pulse:
        """A pulse asked as often as `policy`'s bound wants (ping_every_s)."""
        return cls(ping_every_s(policy.hung_after_s), now)

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


@frozen
class Inner:
    """A part's own actors (the core's scenario actors), as a part answers how they
    are watched: `kind` names them in the log ("scenario"); `actors()` is each one
    running now (or stopping), with its name, read from the supervisor's thread (a
    tuple the part replaces whole, never edits: one attribute read)."""

    kind: str
    actors: Callable[[], Sequence[tuple[str, pykka.ActorRef[Any]]]]


class InnerPulses:
    """A Pulse for each of a part's own actors: started when one is first seen,
    dropped once it is gone from the part's list."""

    def __init__(self, policy: RestartPolicy) -> None:
        self._policy = policy
        self._pulses: dict[str, Pulse] = {}  # by actor_urn: a name may come again

    def silent(
        self, actors: Sequence[tuple[str, pykka.ActorRef[Any]]], now: float
    ) -> tuple[str, float]:
        """Ask each actor that is due; return the one silent longest, with how long
        ("" and 0.0 when none is)."""
        pulses: dict[str, Pulse] = {}
        worst = ("", 0.0)
        for name, ref in actors:
            pulse = self._pulses.get(ref.actor_urn) or Pulse.of(self._policy, now)
            pulses[ref.actor_urn] = pulse
            silent_s = pulse.silent_for(actor_ask(ref), now)
            if silent_s > worst[1]:
                worst = (name, silent_s)
        self._pulses = pulses
        return worst


class Asked(Generic[T]):
    """A question to a part whose answer is taken when it comes: asked once without
    waiting, looked at without waiting at each poll() until it has answered, then
    kept (asked no more: a part started again is asked by a new Asked). A part
    busy at the first rounds is not taken for one that failed, and no round waits on
    it; one that never answers is its actor's pulse's to see (hung). An answer that
    is an error (the part died: the supervisor sees that on its own) is asked again
    at the next poll: never given up while the part runs."""

    def __init__(
        self, ask: Callable[[], pykka.Future[T]], failed: Callable[[Exception], None]
    ) -> None:
        self._ask = ask
        self._failed = failed  # said so: an answer that is an error, bar a death
        self._asked: pykka.Future[T] | None = None
        self._answer: T | None = None

    @property
    def answer(self) -> T | None:
        """The answer, once a poll() has taken it; None meanwhile. Asks nothing."""
        return self._answer

    def ask(self) -> None:
        """Ask now, unless a question is out or answered."""
        if self._asked is not None or self._answer is not None:
            return
        try:
            self._asked = self._ask()
        except pykka.ActorDeadError:  # seen on its own
            pass
        except Exception as exc:  # noqa: BLE001  # the part's ask may raise any error
            self._failed(exc)

    def poll(self) -> T | None:
        """The answer, once it has come (kept); None meanwhile (asked now if no
        question is out: the last answer was an error)."""
        if self._answer is not None:
            return self._answer
        self.ask()
        if self._asked is None:
            return None
        try:
            answer = self._asked.get(timeout=0)
        except pykka.Timeout:
            return None
        except pykka.ActorDeadError:
            self._asked = None
            return None
        except Exception as exc:  # noqa: BLE001  # the part's answer may be any error
            self._failed(exc)
            self._asked = None
            return None
        self._asked = None
        self._answer = answer
        return answer


def hung_threads(
    pulse: Pulse,
    ask: Ask,
    io_pulse: Pulse | None,
    io_ask: Ask | None,
    tracker: PartTracker,
    now: float,
    stats: Stats,
) -> Failed | None:
    """`ask` of a running part's actor thread when due, then `io_ask` of its I/O
    thread's (None: it has none, or has not said yet how it is asked): the first
    silent past the part's bound is hung (report_hung)."""
    hang = _hung(pulse, ask, tracker, now, stats)
    if hang is not None or io_pulse is None or io_ask is None:
        return hang
    return _hung(io_pulse, io_ask, tracker, now, stats, io_thread=True)


def _hung(
    pulse: Pulse,
    ask: Ask,
    tracker: PartTracker,
    now: float,
    stats: Stats,
    *,
    io_thread: bool = False,
) -> Failed | None:
    """`ask` of a running part's thread when due (`io_thread`: its I/O thread's):
    silent past the part's bound, it is hung (report_hung)."""
    silent_s = pulse.silent_for(ask, now)
    return report_hung(tracker, now, silent_s, stats, io_thread=io_thread)


def inner_hung(
    pulses: InnerPulses,
    inner: Inner,
    tracker: PartTracker,
    now: float,
    stats: Stats,
) -> Failed | None:
    """Each of a running part's own actors asked when due: the one silent longest,
    past the part's bound, makes the part hung (report_hung, naming it)."""
    name, silent_s = pulses.silent(inner.actors(), now)
    if not name:
        return None
    return report_hung(tracker, now, silent_s, stats, inner=(inner.kind, name))


def report_hung(
    tracker: PartTracker,
    now: float,
    silent_s: float,
    stats: Stats,
    in_start: bool = False,
    *,
    io_thread: bool = False,
    inner: tuple[str, str] | None = None,
    previous: bool = False,
) -> Failed | None:
    """A part silent for `silent_s` (`io_thread`: its I/O thread; `inner`: one of
    its own actors, its kind and name; `previous`: the actor it replaces, since its
    stop): past its bound it is hung, said once in the
    log and the counters (an inner actor's kind counted under the part's name too:
    `core.scenarios_hung`); the Failed returned is fatal
    (raspy.cores.supervision.on_hang)."""
    decision = supervision.on_hang(
        tracker,
        now,
        silent_s,
        in_start=in_start,
        io_thread=io_thread,
        inner=None if inner is None else " ".join(inner),
        previous=previous,
    )
    if decision is not None:
        stats.incr(f"supervisor.hung.{tracker.name}")
        named: dict[str, object] = {"previous": True} if previous else {}
        if inner is not None:
            kind, name = inner
            stats.incr(f"{tracker.name}.{kind}s_hung")
            named = {kind: name}
        log.error(
            "component_hung",
            component=tracker.name,
            silent_s=round(silent_s, 1),
            # the bound it is past: a start's is larger (RestartPolicy.start_bound_s)
            hung_after_s=tracker.policy.bound_s(in_start),
            in_start=in_start,
            io_thread=io_thread,
            **named,
        )
    return decision


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
