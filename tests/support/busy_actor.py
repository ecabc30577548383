"""An actor kept busy on purpose, so that its stop times out (a handler still
running: a slow GPIO read, a hung request), until the test lets it go. The one fake
of the tests of parts stopped and started again beside their old actor."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Final

import pykka
import pytest

from raspy import child_set
from raspy.actors import titanic_commits
from raspy.records import frozen

QUICK_STOP_S: Final = 1.5  # a part's stop bound in these tests (raspyd's: 3 s)
QUICK_PREPARE_S: Final = 0.5  # Titanic's PrepareStop bound before it (raspyd's: 3 s)


@frozen
class Busy:
    """Keeps the actor that receives it busy until its Hold's `release` is set."""


@dataclass
class Hold:
    busy: threading.Event = field(default_factory=threading.Event)  # one took Busy
    release: threading.Event = field(default_factory=threading.Event)  # lets go
    held: list[Any] = field(default_factory=list)  # the actors that took one

    def keep_busy(self, ref: pykka.ActorRef[Any]) -> None:
        """`ref`'s actor busy from now until released."""
        ref.tell(Busy())
        assert self.busy.wait(5), "the actor took no Busy"


def hold_busy(
    monkeypatch: pytest.MonkeyPatch, actor: type[pykka.ThreadingActor]
) -> Hold:
    """`actor`'s instances take Busy (Hold.keep_busy); released at the test's end by
    the caller (set `release` in a finally)."""
    hold = Hold()
    receive = actor.on_receive

    def on_receive(self: pykka.ThreadingActor, message: Any) -> Any:
        if isinstance(message, Busy):
            hold.held.append(self)
            hold.busy.set()
            hold.release.wait(60)
            return None
        return receive(self, message)

    monkeypatch.setattr(actor, "on_receive", on_receive)
    return hold


def quick_stops(monkeypatch: pytest.MonkeyPatch) -> None:
    """The supervisor gives up on a part's stop after QUICK_STOP_S, and on Titanic's
    PrepareStop before it after QUICK_PREPARE_S. A held actor ends neither, however
    long the bound: each reload that stopped one waited the full bounds (6 s for a
    held Titanic) only to find out what a shorter one shows. Healthy parts stop well
    within them (tests/integration/test_reload_slow_stops_bound.py takes the same)."""
    monkeypatch.setattr(child_set, "STOP_TIMEOUT_S", QUICK_STOP_S)
    monkeypatch.setattr(titanic_commits, "PREPARE_STOP_S", QUICK_PREPARE_S)
